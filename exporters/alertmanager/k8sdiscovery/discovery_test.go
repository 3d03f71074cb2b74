package k8sdiscovery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// ep is an endpoint: address, ready (nil: unknown), terminating, pod name.
func ep(addr string, ready *bool, terminating bool, pod string) discoveryv1.Endpoint {
	e := discoveryv1.Endpoint{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: ready}}
	if terminating {
		e.Conditions.Terminating = ptr.To(true)
	}
	if pod != "" {
		e.TargetRef = &corev1.ObjectReference{Kind: "Pod", Namespace: "monitoring", Name: pod, UID: types.UID(pod + "-uid")}
	}
	return e
}

func slice(name, service string, at discoveryv1.AddressType, ports map[string]int32, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name, Namespace: "monitoring", Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: at,
		Endpoints:   eps,
	}
	for n, p := range ports {
		s.Ports = append(s.Ports, discoveryv1.EndpointPort{Name: ptr.To(n), Port: ptr.To(p)})
	}
	slices.SortFunc(s.Ports, func(a, b discoveryv1.EndpointPort) int { return strings.Compare(*a.Name, *b.Name) })
	return s
}

func TestURLs(t *testing.T) {
	yes, no := ptr.To(true), ptr.To(false)
	web := map[string]int32{"web": 9093, "reloader-web": 8080}
	v4 := discoveryv1.AddressTypeIPv4
	for _, tc := range []struct {
		name        string
		o           Options
		slices      []*discoveryv1.EndpointSlice
		want        string
		wantSkipped string
	}{
		{"ready, unknown, not ready, terminating", Options{Service: "am", PortName: "web"},
			[]*discoveryv1.EndpointSlice{slice("am-1", "am", v4, web,
				ep("10.0.0.1", yes, false, "am-0"), ep("10.0.0.2", nil, false, "am-1"),
				ep("10.0.0.3", no, false, "am-2"), ep("10.0.0.4", yes, true, "am-3"))},
			"[http://10.0.0.1:9093 http://10.0.0.2:9093]", "[]"},
		{"several slices, https, prefix", Options{Service: "am", PortName: "web", Scheme: "https", PathPrefix: "/am/"},
			[]*discoveryv1.EndpointSlice{
				slice("am-2", "am", v4, web, ep("10.0.0.9", yes, false, "am-1")),
				slice("am-1", "am", v4, web, ep("10.0.0.1", yes, false, "am-0"))},
			"[https://10.0.0.1:9093/am https://10.0.0.9:9093/am]", "[]"},
		{"dual-stack: one URL per pod, IPv4 preferred", Options{Service: "am", PortName: "web"},
			[]*discoveryv1.EndpointSlice{
				slice("am-v6", "am", discoveryv1.AddressTypeIPv6, web, ep("fd00::1", yes, false, "am-0"), ep("fd00::2", yes, false, "am-1")),
				slice("am-v4", "am", v4, web, ep("10.0.0.1", yes, false, "am-0"))},
			"[http://10.0.0.1:9093 http://[fd00::2]:9093]", "[]"},
		{"no port name: the only port", Options{Service: "am"},
			[]*discoveryv1.EndpointSlice{slice("am-1", "am", v4, map[string]int32{"": 9093}, ep("10.0.0.1", yes, false, ""))},
			"[http://10.0.0.1:9093]", "[]"},
		{"no port name, several ports", Options{Service: "am"},
			[]*discoveryv1.EndpointSlice{slice("am-1", "am", v4, web, ep("10.0.0.1", yes, false, ""))},
			"[]", `[am-1: no port named "" among 2]`},
		{"wrong port name", Options{Service: "am", PortName: "http"},
			[]*discoveryv1.EndpointSlice{slice("am-1", "am", v4, web, ep("10.0.0.1", yes, false, ""))},
			"[]", `[am-1: no port named "http" among 2]`},
		{"other service's slice ignored", Options{Service: "am", PortName: "web"},
			[]*discoveryv1.EndpointSlice{slice("x-1", "other", v4, web, ep("10.0.0.1", yes, false, ""))},
			"[]", "[]"},
		{"FQDN", Options{Service: "am", PortName: "web"},
			[]*discoveryv1.EndpointSlice{slice("am-1", "am", discoveryv1.AddressTypeFQDN, web, ep("am-0.am.monitoring.svc", yes, false, ""))},
			"[http://am-0.am.monitoring.svc:9093]", "[]"},
		{"empty", Options{Service: "am"}, nil, "[]", "[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, skipped := URLs(tc.slices, tc.o)
			if fmt.Sprint(got) != tc.want || fmt.Sprint(skipped) != tc.wantSkipped {
				t.Errorf("URLs = %v, skipped %v; want %s, skipped %s", got, skipped, tc.want, tc.wantSkipped)
			}
		})
	}
}

func TestNewValidation(t *testing.T) {
	c := fake.NewClientset()
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{}, "alertmanager.discovery.namespace: required\nalertmanager.discovery.service: required"},
		{Options{Namespace: "Mon", Service: "am"}, `alertmanager.discovery.namespace: "Mon": a lowercase RFC 1123 label`},
		{Options{Namespace: "m", Service: "am", PortName: "web_port"}, `alertmanager.discovery.portName: "web_port": must contain only`},
		{Options{Namespace: "m", Service: "am", Scheme: "ftp"}, `alertmanager.discovery.scheme: "ftp": want http or https`},
		{Options{Namespace: "m", Service: "am", PathPrefix: "am"}, `alertmanager.discovery.pathPrefix: "am": want a path starting with /`},
	} {
		_, err := New(c, tc.o, &recorder{})
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want %q", tc.o, err, tc.want)
		}
	}
}

// recorder is a Target that keeps every URL set it is given.
type recorder struct {
	mu   sync.Mutex
	sets []string
	fail bool
}

func (r *recorder) SetURLs(urls []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("refused")
	}
	r.sets = append(r.sets, fmt.Sprint(urls))
	return nil
}

func (r *recorder) waitLast(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		sets := slices.Clone(r.sets)
		r.mu.Unlock()
		if len(sets) > 0 && sets[len(sets)-1] == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("URL sets %v, want the last to be %s", sets, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// Run follows the slices through client-go's fake clientset (the real API
// server is used in test/e2e/alertmanager_discovery_test.go).
func TestRunFollowsSlices(t *testing.T) {
	yes, no := ptr.To(true), ptr.To(false)
	web := map[string]int32{"web": 9093}
	s1 := slice("am-abc", "am", discoveryv1.AddressTypeIPv4, web, ep("10.0.0.1", yes, false, "am-0"), ep("10.0.0.2", no, false, "am-1"))
	c := fake.NewClientset(s1)
	rec := &recorder{}
	d, err := New(c, Options{Namespace: "monitoring", Service: "am", PortName: "web"}, rec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	rec.waitLast(t, "[http://10.0.0.1:9093]")

	// am-1 becomes ready.
	s1 = s1.DeepCopy()
	s1.Endpoints[1].Conditions.Ready = yes
	if _, err := c.DiscoveryV1().EndpointSlices("monitoring").Update(ctx, s1, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	rec.waitLast(t, "[http://10.0.0.1:9093 http://10.0.0.2:9093]")

	// A second slice; and a slice of another Service, which must not count.
	s2 := slice("am-def", "am", discoveryv1.AddressTypeIPv4, web, ep("10.0.0.3", yes, false, "am-2"))
	other := slice("other-x", "other", discoveryv1.AddressTypeIPv4, web, ep("10.9.9.9", yes, false, "x"))
	for _, s := range []*discoveryv1.EndpointSlice{other, s2} {
		if _, err := c.DiscoveryV1().EndpointSlices("monitoring").Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	rec.waitLast(t, "[http://10.0.0.1:9093 http://10.0.0.2:9093 http://10.0.0.3:9093]")

	// Everything gone: the target is told there is nobody to send to.
	for _, n := range []string{"am-abc", "am-def"} {
		if err := c.DiscoveryV1().EndpointSlices("monitoring").Delete(ctx, n, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	rec.waitLast(t, "[]")
}
