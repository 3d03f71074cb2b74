package demo

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// Endpoint is one kind of call the simulated API server answers; each has its
// own latency.
type Endpoint string

// The endpoints the agent's probes and lease watch call.
const (
	Readyz     Endpoint = "readyz"
	NodeCached Endpoint = "node_get_cached" // GET node, resourceVersion=0
	NodeQuorum Endpoint = "node_get_quorum" // GET node, quorum read
	PodsList   Endpoint = "pods_list"       // LIST pods, fieldSelector spec.nodeName
	NodesList  Endpoint = "nodes_list"      // LIST nodes, limit=1
	LeaseGet   Endpoint = "lease_get"       // GET the node's Lease
	LeaseWatch Endpoint = "lease_watch"     // watch delivery delay of Lease renewals
	// Load answers the made-up resources of LoadGroup that
	// `kubepulse demo --load-classes` calls (see RunLoad).
	Load Endpoint = "load"
)

// Latency is the simulated time an endpoint takes: log-normal around Median.
type Latency struct {
	Median time.Duration
	Sigma  float64 // of the log; 0.25 is a moderately noisy server
}

// DefaultLatencies resemble a healthy small control plane: cache reads in a
// couple of milliseconds, reads that reach etcd several times slower.
var DefaultLatencies = map[Endpoint]Latency{
	Readyz:     {Median: 1 * time.Millisecond, Sigma: 0.2},
	NodeCached: {Median: 2 * time.Millisecond, Sigma: 0.25},
	NodeQuorum: {Median: 8 * time.Millisecond, Sigma: 0.3},
	PodsList:   {Median: 4 * time.Millisecond, Sigma: 0.25},
	NodesList:  {Median: 6 * time.Millisecond, Sigma: 0.3},
	LeaseGet:   {Median: 2 * time.Millisecond, Sigma: 0.25},
	LeaseWatch: {Median: 3 * time.Millisecond, Sigma: 0.3},
	Load:       {Median: 3 * time.Millisecond, Sigma: 0.3},
}

// SimOptions configure the simulated API server.
type SimOptions struct {
	NodeName      string        // the node the agent runs on (default "demo-node")
	Namespace     string        // the agent's namespace (default "kubepulse")
	ClusterNodes  int           // node count reported by LIST nodes (default 1)
	LeaseRenewal  time.Duration // how often the node's Lease is renewed (default 2s)
	Latencies     map[Endpoint]Latency
	Seed          uint64
	BodyChunkSize int // bytes per write of a response body (default: one write)
}

// SimServer is an in-process HTTPS server that answers the Kubernetes API
// calls kubepulse makes, with realistic per-endpoint latency, noise and
// injectable slowdowns. It exists for `kubepulse demo` and tests: with it the
// real probes, instrumentation, baselines and exporters run without a cluster.
type SimServer struct {
	opts SimOptions
	srv  *httptest.Server

	mu     sync.Mutex
	rnd    *rand.Rand
	slow   map[Endpoint]float64 // server-time multipliers
	fail   *failure             // answer every request with this error
	rv     int64                // resourceVersion of the Lease
	lease  coordinationv1.Lease
	notify chan struct{} // closed and replaced on every renewal
	expire chan struct{} // closed and replaced by ExpireWatches
	stop   chan struct{}
	done   sync.WaitGroup
	counts map[Endpoint]int
}

// NewSimServer starts the server on a loopback port with a self-signed
// certificate (HTTP/2, like a real API server).
func NewSimServer(o SimOptions) *SimServer {
	if o.NodeName == "" {
		o.NodeName = "demo-node"
	}
	if o.Namespace == "" {
		o.Namespace = "kubepulse"
	}
	if o.ClusterNodes <= 0 {
		o.ClusterNodes = 1
	}
	if o.LeaseRenewal <= 0 {
		o.LeaseRenewal = 2 * time.Second
	}
	if o.Latencies == nil {
		o.Latencies = DefaultLatencies
	}
	s := &SimServer{
		opts:   o,
		rnd:    rand.New(rand.NewPCG(o.Seed, 0x6b756265)),
		slow:   map[Endpoint]float64{},
		notify: make(chan struct{}),
		expire: make(chan struct{}),
		stop:   make(chan struct{}),
		counts: map[Endpoint]int{},
	}
	s.lease = coordinationv1.Lease{
		TypeMeta:   metav1.TypeMeta{Kind: "Lease", APIVersion: "coordination.k8s.io/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: o.NodeName, Namespace: "kube-node-lease", UID: "00000000-0000-0000-0000-00000000000a"},
	}
	s.renew(time.Now())
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.EnableHTTP2 = true
	s.srv.Config.ErrorLog = nil
	s.srv.StartTLS()
	s.done.Add(1)
	go s.renewLoop()
	return s
}

// URL is the server's https:// base URL.
func (s *SimServer) URL() string { return s.srv.URL }

// RestConfig is a client configuration trusting the server's certificate,
// with a bearer token as a real cluster would ask for (never checked).
func (s *SimServer) RestConfig() *rest.Config {
	return &rest.Config{
		Host:            s.srv.URL,
		BearerToken:     "demo-token",
		TLSClientConfig: rest.TLSClientConfig{CAData: s.caPEM()},
		QPS:             50,
		Burst:           100,
	}
}

func (s *SimServer) caPEM() []byte {
	cert := s.srv.Certificate()
	return pemEncode(cert.Raw)
}

// SetSlowdown multiplies the server time of an endpoint by factor (1 = normal).
func (s *SimServer) SetSlowdown(e Endpoint, factor float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if factor == 1 {
		delete(s.slow, e)
		return
	}
	s.slow[e] = factor
}

type failure struct {
	code       int
	retryAfter time.Duration
}

// SetFailure makes every request fail with an HTTP status (e.g. 429 or 503)
// and, if retryAfter > 0, a Retry-After header; code 0 ends it.
func (s *SimServer) SetFailure(code int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 {
		s.fail = nil
		return
	}
	s.fail = &failure{code: code, retryAfter: retryAfter}
}

// ExpireWatches ends every open watch with a 410 Gone error event, as a real
// API server does when a watcher's resourceVersion has been compacted away.
func (s *SimServer) ExpireWatches() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.expire)
	s.expire = make(chan struct{})
}

// Requests is how many requests an endpoint has answered.
func (s *SimServer) Requests(e Endpoint) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[e]
}

// Close stops the server and its lease renewals.
func (s *SimServer) Close() {
	close(s.stop)
	s.srv.CloseClientConnections()
	s.srv.Close()
	s.done.Wait()
}

// TLSConfig is the server's TLS configuration (for tests that slow handshakes).
func (s *SimServer) TLSConfig() *tls.Config { return s.srv.TLS }

// delay draws the server time of one request.
func (s *SimServer) delay(e Endpoint) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[e]++
	l := s.opts.Latencies[e]
	f := s.slow[e]
	if f == 0 {
		f = 1
	}
	return time.Duration(float64(l.Median) * math.Exp(l.Sigma*s.rnd.NormFloat64()) * f)
}

func (s *SimServer) renewLoop() {
	defer s.done.Done()
	t := time.NewTicker(s.opts.LeaseRenewal)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.mu.Lock()
			s.renew(now)
			s.mu.Unlock()
		}
	}
}

// renew updates the Lease as a kubelet does; s.mu must be held.
func (s *SimServer) renew(now time.Time) {
	s.rv++
	s.lease.ResourceVersion = strconv.FormatInt(s.rv, 10)
	renew := metav1.NewMicroTime(now)
	s.lease.Spec.RenewTime = &renew
	holder := s.opts.NodeName
	s.lease.Spec.HolderIdentity = &holder
	close(s.notify)
	s.notify = make(chan struct{})
}

func (s *SimServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	f := s.fail
	s.mu.Unlock()
	if f != nil {
		if f.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(f.retryAfter.Seconds())))
		}
		s.status(w, f.code, metav1.StatusReasonUnknown, "simulated failure")
		return
	}
	q := r.URL.Query()
	p := r.URL.Path
	nodePath := "/api/v1/nodes/" + s.opts.NodeName
	leases := "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
	switch {
	case p == "/readyz" || p == "/livez" || p == "/healthz":
		s.reply(w, Readyz, "text/plain", []byte("ok"))
	case p == nodePath && r.Method == http.MethodGet:
		e := NodeQuorum
		if q.Get("resourceVersion") == "0" {
			e = NodeCached
		}
		s.replyJSON(w, e, s.node())
	case p == "/api/v1/nodes" && r.Method == http.MethodGet:
		s.replyJSON(w, NodesList, s.nodeList(q.Get("limit")))
	case p == "/api/v1/namespaces/"+s.opts.Namespace+"/pods" && r.Method == http.MethodGet:
		s.replyJSON(w, PodsList, s.podList(q.Get("fieldSelector")))
	case p == leases && q.Get("watch") == "true" || p == leases+"/"+s.opts.NodeName && q.Get("watch") == "true":
		s.watchLease(w, r)
	case p == leases+"/"+s.opts.NodeName && r.Method == http.MethodGet:
		s.mu.Lock()
		l := s.lease.DeepCopy()
		s.mu.Unlock()
		s.replyJSON(w, LeaseGet, l)
	case p == leases && r.Method == http.MethodGet:
		s.mu.Lock()
		list := &coordinationv1.LeaseList{
			TypeMeta: metav1.TypeMeta{Kind: "LeaseList", APIVersion: "coordination.k8s.io/v1"},
			ListMeta: metav1.ListMeta{ResourceVersion: s.lease.ResourceVersion},
			Items:    []coordinationv1.Lease{*s.lease.DeepCopy()},
		}
		s.mu.Unlock()
		s.replyJSON(w, LeaseGet, list)
	case strings.HasPrefix(p, loadPrefix):
		s.serveLoad(w, r)
	default:
		s.status(w, http.StatusNotFound, metav1.StatusReasonNotFound,
			fmt.Sprintf("the simulated API server does not serve %s %s", r.Method, p))
	}
}

// status writes a Kubernetes Status error as the API server does.
func (s *SimServer) status(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Reason: reason, Code: int32(code), Message: msg,
	})
}

func (s *SimServer) replyJSON(w http.ResponseWriter, e Endpoint, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.reply(w, e, "application/json", b)
}

// reply waits the endpoint's server time, then writes the body (in chunks,
// if configured, so that transfer time is visible).
func (s *SimServer) reply(w http.ResponseWriter, e Endpoint, contentType string, body []byte) {
	time.Sleep(s.delay(e))
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	chunk := s.opts.BodyChunkSize
	if chunk <= 0 {
		chunk = len(body)
	}
	for len(body) > 0 {
		n := min(chunk, len(body))
		if _, err := w.Write(body[:n]); err != nil {
			return
		}
		body = body[n:]
	}
}

// watchLease streams the node's Lease on every renewal, each event delayed
// by LeaseWatch's latency (the watch delivery delay the agent measures).
func (s *SimServer) watchLease(w http.ResponseWriter, r *http.Request) {
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush()
	}
	timeout := 5 * time.Minute
	if ts := r.URL.Query().Get("timeoutSeconds"); ts != "" {
		if n, err := strconv.Atoi(ts); err == nil && n > 0 {
			timeout = time.Duration(n) * time.Second
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	enc := json.NewEncoder(w)
	s.mu.Lock()
	expired := s.expire
	s.mu.Unlock()
	for {
		s.mu.Lock()
		next := s.notify
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		case <-expired:
			ev := metav1.WatchEvent{Type: "ERROR"}
			ev.Object.Object = &metav1.Status{
				TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
				Status:   metav1.StatusFailure, Reason: metav1.StatusReasonExpired, Code: http.StatusGone,
				Message: "too old resource version",
			}
			_ = enc.Encode(&ev)
			return
		case <-next:
		}
		time.Sleep(s.delay(LeaseWatch))
		s.mu.Lock()
		ev := metav1.WatchEvent{Type: "MODIFIED"}
		ev.Object.Object = s.lease.DeepCopy()
		s.mu.Unlock()
		if err := enc.Encode(&ev); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
}

func (s *SimServer) node() *corev1.Node {
	return &corev1.Node{
		TypeMeta:   metav1.TypeMeta{Kind: "Node", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: s.opts.NodeName, ResourceVersion: "1", UID: "00000000-0000-0000-0000-000000000001"},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.37.2-demo"},
		},
	}
}

// nodeList answers LIST nodes: with limit, one item and remainingItemCount,
// so the agent can learn the cluster size from a one-item page.
func (s *SimServer) nodeList(limit string) *metav1.PartialObjectMetadataList {
	list := &metav1.PartialObjectMetadataList{
		TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadataList", APIVersion: "meta.k8s.io/v1"},
		ListMeta: metav1.ListMeta{ResourceVersion: "1"},
	}
	n := s.opts.ClusterNodes
	items := n
	if l, err := strconv.Atoi(limit); err == nil && l > 0 && l < n {
		items = l
		remaining := int64(n - l)
		list.RemainingItemCount = &remaining
		list.Continue = "sim-continue"
	}
	for i := range items {
		name := s.opts.NodeName
		if i > 0 {
			name = fmt.Sprintf("sim-node-%d", i)
		}
		list.Items = append(list.Items, metav1.PartialObjectMetadata{
			TypeMeta:   metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/v1"},
			ObjectMeta: metav1.ObjectMeta{Name: name},
		})
	}
	return list
}

func (s *SimServer) podList(fieldSelector string) *corev1.PodList {
	list := &corev1.PodList{
		TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"},
		ListMeta: metav1.ListMeta{ResourceVersion: "1"},
	}
	if fieldSelector == "spec.nodeName="+s.opts.NodeName || fieldSelector == "" || !strings.HasPrefix(fieldSelector, "spec.nodeName=") {
		list.Items = []corev1.Pod{{
			TypeMeta:   metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: "kubepulse-demo", Namespace: s.opts.Namespace},
			Spec:       corev1.PodSpec{NodeName: s.opts.NodeName},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning},
		}}
	}
	return list
}
