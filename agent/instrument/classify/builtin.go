package classify

import "strings"

// builtinResources lists the resources and subresources kube-apiserver serves
// itself, per group ("" is core). They are a fixed, small set, so they never
// count against a Limiter's cap: a cluster full of CRDs cannot push "pods"
// into Other. Unknown names in these groups still go through the cap.
var builtinResources = map[string]string{
	"": `bindings componentstatuses configmaps endpoints events limitranges namespaces
		namespaces/status namespaces/finalize nodes nodes/status nodes/proxy
		persistentvolumeclaims persistentvolumeclaims/status persistentvolumes
		persistentvolumes/status pods pods/status pods/log pods/exec pods/attach
		pods/portforward pods/proxy pods/binding pods/eviction pods/ephemeralcontainers
		pods/resize podtemplates replicationcontrollers replicationcontrollers/status
		replicationcontrollers/scale resourcequotas resourcequotas/status secrets
		serviceaccounts serviceaccounts/token services services/status services/proxy`,
	"apps": `controllerrevisions daemonsets daemonsets/status deployments deployments/status
		deployments/scale replicasets replicasets/status replicasets/scale statefulsets
		statefulsets/status statefulsets/scale`,
	"batch":                        `cronjobs cronjobs/status jobs jobs/status`,
	"autoscaling":                  `horizontalpodautoscalers horizontalpodautoscalers/status`,
	"policy":                       `poddisruptionbudgets poddisruptionbudgets/status`,
	"networking.k8s.io":            `ingressclasses ingresses ingresses/status networkpolicies ipaddresses servicecidrs servicecidrs/status`,
	"rbac.authorization.k8s.io":    `clusterrolebindings clusterroles rolebindings roles`,
	"storage.k8s.io":               `csidrivers csinodes csistoragecapacities storageclasses volumeattachments volumeattachments/status volumeattributesclasses`,
	"coordination.k8s.io":          `leases leasecandidates`,
	"discovery.k8s.io":             `endpointslices`,
	"events.k8s.io":                `events`,
	"node.k8s.io":                  `runtimeclasses`,
	"scheduling.k8s.io":            `priorityclasses`,
	"apiextensions.k8s.io":         `customresourcedefinitions customresourcedefinitions/status`,
	"apiregistration.k8s.io":       `apiservices apiservices/status`,
	"authentication.k8s.io":        `tokenreviews selfsubjectreviews`,
	"authorization.k8s.io":         `localsubjectaccessreviews selfsubjectaccessreviews selfsubjectrulesreviews subjectaccessreviews`,
	"certificates.k8s.io":          `certificatesigningrequests certificatesigningrequests/status certificatesigningrequests/approval clustertrustbundles podcertificaterequests podcertificaterequests/status`,
	"flowcontrol.apiserver.k8s.io": `flowschemas flowschemas/status prioritylevelconfigurations prioritylevelconfigurations/status`,
	"resource.k8s.io":              `deviceclasses resourceclaims resourceclaims/status resourceclaimtemplates resourceslices devicetaintrules`,
	"storagemigration.k8s.io":      `storageversionmigrations storageversionmigrations/status`,
	"internal.apiserver.k8s.io":    `storageversions storageversions/status`,
	"admissionregistration.k8s.io": `mutatingwebhookconfigurations validatingwebhookconfigurations validatingadmissionpolicies validatingadmissionpolicies/status validatingadmissionpolicybindings mutatingadmissionpolicies mutatingadmissionpolicybindings`,
}

// builtin maps a Limiter resource key (group|resource|subresource) to its
// label value, for every built-in resource and every non-resource name.
var builtin = func() map[string]string {
	m := map[string]string{}
	add := func(group, resource, sub string) {
		m[group+"|"+resource+"|"+sub] = ResourceLabel(group, resource, sub)
	}
	for group, list := range builtinResources {
		for _, f := range strings.Fields(list) {
			resource, sub, _ := strings.Cut(f, "/")
			add(group, resource, sub)
		}
	}
	for _, r := range []string{NonResourceDiscovery, NonResourceOpenAPI, NonResourceVersion,
		NonResourceHealthz, NonResourceLivez, NonResourceReadyz, NonResourceMetrics, NonResourceOther, Other} {
		add("", r, "")
	}
	return m
}()
