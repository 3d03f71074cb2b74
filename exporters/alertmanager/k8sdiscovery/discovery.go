// Package k8sdiscovery finds Alertmanager replicas from the EndpointSlices of a
// Kubernetes Service and hands their URLs to an alertmanager.Client (SetURLs)
// whenever they change, so that every ready replica gets every alert.
//
// It watches, with a client-go informer, the EndpointSlices labelled
// kubernetes.io/service-name=<service> in one namespace, and keeps the
// addresses of ready endpoints on the named port. It needs, in that namespace
// only, this RBAC:
//
//	apiVersion: rbac.authorization.k8s.io/v1
//	kind: Role
//	metadata: {name: kubepulse-alertmanager-discovery, namespace: monitoring}
//	rules:
//	  - apiGroups: [discovery.k8s.io]
//	    resources: [endpointslices]
//	    verbs: [get, list, watch]
//
// with a RoleBinding to the agent's ServiceAccount. Use the Service that
// selects every replica (for the prometheus-operator, alertmanager-operated;
// port "web").
package k8sdiscovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Options say which Service to watch and how to build URLs from its
// endpoints. Validation errors name fields under "alertmanager.discovery.".
type Options struct {
	Namespace string // [namespace] of the Service; required
	Service   string // [service] name; required
	// PortName [portName] is the name of the Service port Alertmanager listens
	// on; empty: the slice's only port (a slice with several is skipped, logged).
	PortName string
	// Scheme [scheme] is http (default) or https.
	Scheme string
	// PathPrefix [pathPrefix] is Alertmanager's route prefix, e.g. /alertmanager.
	PathPrefix string
	// Logger receives discovery's logs; nil discards them.
	Logger *slog.Logger
}

// Target receives the discovered URLs; *alertmanager.Client is one.
type Target interface {
	SetURLs(urls []string) error
}

// Discoverer keeps a Target's URLs equal to the Service's ready endpoints.
type Discoverer struct {
	client kubernetes.Interface
	o      Options
	target Target
	log    *slog.Logger
}

// New checks o and returns a Discoverer; nothing is watched before Run.
func New(client kubernetes.Interface, o Options, target Target) (*Discoverer, error) {
	if o.Scheme == "" {
		o.Scheme = "http"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("alertmanager.discovery.%s: "+format, append([]any{field}, a...)...))
	}
	if o.Namespace == "" {
		bad("namespace", "required")
	} else if msgs := validation.IsDNS1123Label(o.Namespace); len(msgs) > 0 {
		bad("namespace", "%q: %s", o.Namespace, strings.Join(msgs, "; "))
	}
	if o.Service == "" {
		bad("service", "required")
	} else if msgs := validation.IsDNS1035Label(o.Service); len(msgs) > 0 {
		bad("service", "%q: %s", o.Service, strings.Join(msgs, "; "))
	}
	if o.PortName != "" {
		if msgs := validation.IsValidPortName(o.PortName); len(msgs) > 0 {
			bad("portName", "%q: %s", o.PortName, strings.Join(msgs, "; "))
		}
	}
	if o.Scheme != "http" && o.Scheme != "https" {
		bad("scheme", "%q: want http or https", o.Scheme)
	}
	if o.PathPrefix != "" && (!strings.HasPrefix(o.PathPrefix, "/") || strings.ContainsAny(o.PathPrefix, "?#")) {
		bad("pathPrefix", "%q: want a path starting with /", o.PathPrefix)
	}
	if client == nil {
		errs = append(errs, errors.New("alertmanager.discovery: no Kubernetes client"))
	}
	if target == nil {
		errs = append(errs, errors.New("alertmanager.discovery: no target"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Discoverer{client: client, o: o, target: target, log: o.Logger}, nil
}

// Run watches the Service's EndpointSlices until ctx ends and updates the
// target on every change. It returns nil when ctx ends, or an error if the
// informer cannot be set up.
func (d *Discoverer) Run(ctx context.Context) error {
	factory := informers.NewSharedInformerFactoryWithOptions(d.client, 0,
		informers.WithNamespace(d.o.Namespace),
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) {
			lo.LabelSelector = discoveryv1.LabelServiceName + "=" + d.o.Service
		}))
	esInformer := factory.Discovery().V1().EndpointSlices()
	inf := esInformer.Informer()

	changed := make(chan struct{}, 1)
	poke := func(any) {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    poke,
		UpdateFunc: func(_, obj any) { poke(obj) },
		DeleteFunc: poke,
	}); err != nil {
		return fmt.Errorf("alertmanager discovery: %w", err)
	}
	var lastWatchErr string
	if err := inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		// Typically RBAC: say what is missing, once per distinct error.
		if msg := err.Error(); msg != lastWatchErr {
			lastWatchErr = msg
			d.log.Warn("alertmanager discovery: cannot list/watch EndpointSlices (needs get, list, watch on endpointslices.discovery.k8s.io)",
				"namespace", d.o.Namespace, "service", d.o.Service, "err", err)
		}
	}); err != nil {
		return fmt.Errorf("alertmanager discovery: %w", err)
	}

	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return nil // ctx ended first
	}
	poke(nil) // apply the initial list even if it is empty

	var (
		last    []string
		applied bool
	)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
		list, err := esInformer.Lister().EndpointSlices(d.o.Namespace).List(labels.Everything())
		if err != nil {
			d.log.Warn("alertmanager discovery: listing EndpointSlices from the cache", "err", err)
			continue
		}
		urls, skipped := URLs(list, d.o)
		for _, s := range skipped {
			d.log.Warn("alertmanager discovery: EndpointSlice skipped", "namespace", d.o.Namespace, "reason", s)
		}
		if applied && slices.Equal(urls, last) {
			continue
		}
		if err := d.target.SetURLs(urls); err != nil {
			d.log.Error("alertmanager discovery: discovered URLs refused", "err", err)
			continue
		}
		last, applied = urls, true
		d.log.Info("alertmanager replicas discovered", "service", d.o.Namespace+"/"+d.o.Service,
			"count", len(urls), "urls", urls)
	}
}

// URLs returns the sorted base URLs of the ready endpoints in slices, on the
// port o names, and why any slice was skipped. Readiness follows the
// EndpointSlice API: a nil "ready" condition counts as ready, terminating
// endpoints are not. A pod present in several slices (dual-stack: IPv4 and
// IPv6) is used once, preferring IPv4.
func URLs(list []*discoveryv1.EndpointSlice, o Options) (urls []string, skipped []string) {
	if o.Scheme == "" {
		o.Scheme = "http"
	}
	type target struct {
		url  string
		ipv4 bool
	}
	byPod := map[string]target{} // by endpoint identity (targetRef), else by URL
	for _, s := range list {
		if s == nil || o.Service != "" && s.Labels[discoveryv1.LabelServiceName] != o.Service {
			continue
		}
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 &&
			s.AddressType != discoveryv1.AddressTypeFQDN {
			skipped = append(skipped, fmt.Sprintf("%s: address type %q", s.Name, s.AddressType))
			continue
		}
		port, ok := pickPort(s, o.PortName)
		if !ok {
			if len(s.Endpoints) > 0 {
				skipped = append(skipped, fmt.Sprintf("%s: no port named %q among %d", s.Name, o.PortName, len(s.Ports)))
			}
			continue
		}
		for _, ep := range s.Endpoints {
			if (ep.Conditions.Ready != nil && !*ep.Conditions.Ready) ||
				(ep.Conditions.Terminating != nil && *ep.Conditions.Terminating) || len(ep.Addresses) == 0 {
				continue
			}
			// Addresses of one endpoint are fungible: the API says to use the first.
			host := ep.Addresses[0]
			u := o.Scheme + "://" + net.JoinHostPort(host, strconv.Itoa(int(port))) + strings.TrimRight(o.PathPrefix, "/")
			t := target{url: u, ipv4: s.AddressType == discoveryv1.AddressTypeIPv4}
			key := u
			if ref := ep.TargetRef; ref != nil && ref.Name != "" {
				key = ref.Kind + "/" + ref.Namespace + "/" + ref.Name + "/" + string(ref.UID)
			}
			if prev, seen := byPod[key]; seen && (prev.ipv4 || !t.ipv4) {
				continue
			}
			byPod[key] = t
		}
	}
	for _, t := range byPod {
		urls = append(urls, t.url)
	}
	slices.Sort(urls)
	return slices.Compact(urls), skipped
}

// pickPort returns the slice's port with the given name, or its only port
// when name is empty.
func pickPort(s *discoveryv1.EndpointSlice, name string) (int32, bool) {
	if name == "" {
		if len(s.Ports) == 1 && s.Ports[0].Port != nil {
			return *s.Ports[0].Port, true
		}
		return 0, false
	}
	for _, p := range s.Ports {
		if p.Name != nil && *p.Name == name && p.Port != nil {
			return *p.Port, true
		}
	}
	return 0, false
}
