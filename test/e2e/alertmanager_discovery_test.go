//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/kubepulse/kubepulse/exporters/alertmanager"
	"github.com/kubepulse/kubepulse/exporters/alertmanager/k8sdiscovery"
	"github.com/kubepulse/kubepulse/test/e2e/framework"
)

// Replicas found from a Service's EndpointSlices on a real API server, read
// under the documented RBAC only (a ServiceAccount with get/list/watch on
// endpointslices in one namespace): the client sends to the ready replicas,
// drops one that turns not ready, and catches it up when it is ready again.
//
// EndpointSlices may not point at loopback, and the test Alertmanagers listen
// on 127.0.0.1; each replica is reached through a TCP forwarder on this
// machine's non-loopback address, standing in for its pod IP.
func TestAlertmanagerDiscovery(t *testing.T) {
	cluster := framework.SharedCluster(t)
	hostIP := nonLoopbackIPv4(t)
	am := framework.Start(t, "alertmanager", "--replicas", "2")
	amURLs := strings.Split(am["ALERTMANAGER_URLS"], ",")
	var fwdPorts []int32
	var wantURLs []string
	for _, u := range amURLs {
		p := amForward(t, hostIP, strings.TrimPrefix(u, "http://"))
		fwdPorts = append(fwdPorts, p)
		wantURLs = append(wantURLs, "http://"+net.JoinHostPort(hostIP, strconv.Itoa(int(p))))
	}

	ctx := context.Background()
	admin := kubernetes.NewForConfigOrDie(cluster.AdminConfig(t))
	ns := fmt.Sprintf("kubepulse-am-discovery-%d", time.Now().UnixNano()%1e6)
	mustCreate(t, func() error {
		_, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		return err
	})
	t.Cleanup(func() { _ = admin.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })

	// The RBAC documented in docs/alerts.md, and nothing else.
	mustCreate(t, func() error {
		_, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "kubepulse"}}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := admin.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "kubepulse-alertmanager-discovery"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"},
				Verbs: []string{"get", "list", "watch"}}},
		}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := admin.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "kubepulse-alertmanager-discovery"},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "kubepulse-alertmanager-discovery"},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "kubepulse", Namespace: ns}},
		}, metav1.CreateOptions{})
		return err
	})
	// A selectorless Service with one EndpointSlice per replica (each with its
	// own forwarder port), as an operator's controller would publish them.
	mustCreate(t, func() error {
		_, err := admin.CoreV1().Services(ns).Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "alertmanager"},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "web", Port: 9093}}},
		}, metav1.CreateOptions{})
		return err
	})
	epSlices := make([]*discoveryv1.EndpointSlice, len(fwdPorts))
	for i, p := range fwdPorts {
		epSlices[i] = &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("alertmanager-%d", i), Labels: map[string]string{
				discoveryv1.LabelServiceName: "alertmanager", discoveryv1.LabelManagedBy: "kubepulse-e2e"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("web"), Port: ptr.To(p)}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{hostIP},
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
				TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: fmt.Sprintf("alertmanager-%d", i)}}},
		}
		mustCreate(t, func() error {
			var err error
			epSlices[i], err = admin.DiscoveryV1().EndpointSlices(ns).Create(ctx, epSlices[i], metav1.CreateOptions{})
			return err
		})
	}

	// The agent's identity: the ServiceAccount.
	saCfg := rest.CopyConfig(cluster.AdminConfig(t))
	saCfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":kubepulse"}
	sa := kubernetes.NewForConfigOrDie(saCfg)
	if _, err := sa.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err == nil {
		t.Fatal("the ServiceAccount can list pods: the test's RBAC is wider than documented")
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c := runAMClient(t, alertmanager.Options{ResendInterval: time.Second})
	d, err := k8sdiscovery.New(sa, k8sdiscovery.Options{Namespace: ns, Service: "alertmanager", PortName: "web",
		Logger: logger.With("component", "discovery")}, c)
	if err != nil {
		t.Fatal(err)
	}
	dctx, stop := context.WithCancel(ctx)
	ddone := make(chan error, 1)
	go func() { ddone <- d.Run(dctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-ddone; err != nil {
			t.Error(err)
		}
	})

	waitURLs(t, c, wantURLs)
	first := alertmanager.NewAlert(alertmanager.KubeAPIUnreachable, alertmanager.Target{Node: "node-d", Phase: "connect"},
		alertmanager.Numbers{Stat: "failed probes", Unit: alertmanager.Fraction, Current: 1}, time.Now())
	if err := c.Firing(first); err != nil {
		t.Fatal(err)
	}
	for _, u := range amURLs {
		amWaitActive(t, u, `alertname="KubeAPIUnreachable"`, 1)
	}

	// Replica 2 turns not ready: dropped from the set; new alerts go to replica 1 only.
	setReady(t, admin, epSlices[1], false)
	waitURLs(t, c, wantURLs[:1])
	second := alertmanager.NewAlert(alertmanager.KubeAPIClientThrottled, alertmanager.Target{Node: "node-d"},
		alertmanager.Numbers{Stat: "limiter wait p99", Current: 0.8}, time.Now())
	if err := c.Firing(second); err != nil {
		t.Fatal(err)
	}
	amWaitActive(t, amURLs[0], `alertname="KubeAPIClientThrottled"`, 1)
	amWaitActive(t, amURLs[1], `alertname="KubeAPIClientThrottled"`, 0) // no sender for it exists now

	// Ready again: it is caught up at once with everything firing.
	setReady(t, admin, epSlices[1], true)
	waitURLs(t, c, wantURLs)
	amWaitActive(t, amURLs[1], `alertname="KubeAPIClientThrottled"`, 1)
	amWaitActive(t, amURLs[1], `alertname="KubeAPIUnreachable"`, 1)

	// Outside its namespace the ServiceAccount may not read: discovery says
	// what RBAC is missing instead of failing silently, and changes nothing.
	var logs amSyncBuffer
	other := &urlRecorder{}
	d2, err := k8sdiscovery.New(sa, k8sdiscovery.Options{Namespace: "default", Service: "alertmanager", PortName: "web",
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}, other)
	if err != nil {
		t.Fatal(err)
	}
	ctx2, stop2 := context.WithCancel(ctx)
	done2 := make(chan error, 1)
	go func() { done2 <- d2.Run(ctx2) }()
	framework.Eventually(t, 30*time.Second, func() (bool, string) {
		l := logs.String()
		return strings.Contains(l, "forbidden") && strings.Contains(l, "needs get, list, watch on endpointslices.discovery.k8s.io"), l
	})
	stop2()
	if err := <-done2; err != nil {
		t.Error(err)
	}
	if other.calls.Load() != 0 {
		t.Error("discovery without RBAC set URLs")
	}
}

// urlRecorder is a discovery target that counts its updates.
type urlRecorder struct{ calls atomic.Int64 }

func (r *urlRecorder) SetURLs([]string) error { r.calls.Add(1); return nil }

type amSyncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *amSyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *amSyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func waitURLs(t *testing.T, c *alertmanager.Client, want []string) {
	t.Helper()
	framework.Eventually(t, 30*time.Second, func() (bool, string) {
		got := c.URLs() // sorted
		want := slices.Sorted(slices.Values(want))
		return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprintf("client URLs %v, want %v", got, want)
	})
}

func setReady(t *testing.T, cs kubernetes.Interface, s *discoveryv1.EndpointSlice, ready bool) {
	t.Helper()
	cur, err := cs.DiscoveryV1().EndpointSlices(s.Namespace).Get(context.Background(), s.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Endpoints[0].Conditions.Ready = ptr.To(ready)
	if _, err := cs.DiscoveryV1().EndpointSlices(s.Namespace).Update(context.Background(), cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func mustCreate(t *testing.T, create func() error) {
	t.Helper()
	if err := create(); err != nil {
		t.Fatal(err)
	}
}

// nonLoopbackIPv4 is an address of this machine an EndpointSlice may hold.
func nonLoopbackIPv4(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.String()
		}
	}
	t.Fatalf("no non-loopback IPv4 address among %v: EndpointSlices cannot point at loopback", addrs)
	return ""
}

// amForward forwards TCP from hostIP:<free port> to target until the test
// ends, and returns the port.
func amForward(t *testing.T, hostIP, target string) int32 {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(hostIP, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer in.Close()
				out, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer out.Close()
				go func() { _, _ = io.Copy(out, in); out.(*net.TCPConn).CloseWrite() }()
				_, _ = io.Copy(in, out)
			}()
		}
	}()
	return int32(l.Addr().(*net.TCPAddr).Port)
}
