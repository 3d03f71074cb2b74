package status

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// Fixed snapshots for golden files, the JSON round trip and benchmarks. They
// are built from a seed and a fixed clock, so they are the same on every run.

var t0 = time.Date(2025, 3, 14, 3, 20, 0, 0, time.UTC) // the snapshots' "now"

func ptr[T any](v T) *T { return &v }

// series describes how a key's history is generated.
type series struct {
	base   float64   // typical latency, seconds
	noise  float64   // relative noise (log-normal sigma)
	drift  float64   // factor applied from driftAt (0: none)
	from   time.Time // drift start
	to     time.Time // drift end (zero: still drifting)
	points int
	step   time.Duration
	learn  int // points without a band at the start
}

func (s series) history(rng *rand.Rand) []Point {
	pts := make([]Point, s.points)
	start := t0.Add(-time.Duration(s.points-1) * s.step)
	for i := range pts {
		t := start.Add(time.Duration(i) * s.step)
		v := s.base * math.Exp(s.noise*rng.NormFloat64())
		if s.drift > 0 && !t.Before(s.from) && (s.to.IsZero() || t.Before(s.to)) {
			v *= s.drift
		}
		p := Point{T: t, Value: round6(v), Lower: math.NaN(), Upper: math.NaN()}
		if i >= s.learn {
			// The learned band: a log-normal band around the base that
			// widens slowly while a drift goes on (the baseline adapts).
			w := 1.0
			if s.drift > 0 && !t.Before(s.from) {
				w = 1 + 0.1*math.Min(float64(t.Sub(s.from))/float64(time.Minute), 3)
			}
			p.Lower = round6(s.base * math.Exp(-3*s.noise))
			p.Upper = round6(s.base * math.Exp(3*s.noise) * w)
		}
		pts[i] = p
	}
	return pts
}

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// keyFrom fills a Key from its history: the latest band and value, window
// quantiles from the points.
func keyFrom(verb, resource, scope, probe, phase, state string, h []Point, samples int64, minSamples int) Key {
	k := Key{
		Key: verb + "/" + resource + "/" + scope + "/" + probe + "/" + phase, Verb: verb, Resource: resource,
		Scope: scope, Phase: phase, Probe: probe, State: state, Samples: samples, MinSamples: minSamples,
		Current: math.NaN(), Mean: math.NaN(), Lower: math.NaN(), Upper: math.NaN(),
		P50: math.NaN(), P95: math.NaN(), P99: math.NaN(), Ratio: math.NaN(), History: h,
	}
	if len(h) == 0 {
		return k
	}
	last := h[len(h)-1]
	k.Current, k.Lower, k.Upper, k.LastSample = last.Value, last.Lower, last.Upper, last.T
	if finite(last.Lower) {
		k.Mean = round6(math.Sqrt(last.Lower * last.Upper))
		k.Ratio = math.Round(k.Current/k.Mean*100) / 100
		k.Z = math.Round(math.Log(k.Current/k.Mean)/math.Log(last.Upper/k.Mean)*3*100) / 100
		k.Score = math.Round(math.Max(0, math.Min(1, k.Z/6))*100) / 100
	}
	vals := make([]float64, 0, len(h))
	for _, p := range h[max(0, len(h)-60):] {
		vals = append(vals, p.Value)
	}
	k.P50, k.P95, k.P99 = quantile(vals, 0.5), quantile(vals, 0.95), quantile(vals, 0.99)
	return k
}

func quantile(v []float64, q float64) float64 {
	s := append([]float64(nil), v...)
	for i := 1; i < len(s); i++ { // insertion sort: small and dependency-free
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[int(q*float64(len(s)-1))]
}

func baseSnapshot() Snapshot {
	return Snapshot{
		Node: "worker-3", Pod: "kubepulse-x7k2p", Namespace: "kubepulse", Version: "v0.4.0",
		Started: t0.Add(-26*time.Hour - 14*time.Minute), Now: t0, Ready: true,
		Budget: Budget{
			Enabled: true, ClusterQPS: 20, Nodes: 240, Interval: 70 * time.Second, AgentQPS: 0.071,
			LastProbe: t0.Add(-12 * time.Second), NextProbe: t0.Add(58 * time.Second),
			ProbesSent: 6714, ProbesFailed: 3,
		},
		Watch: Watch{Enabled: true, LastDelay: 38 * time.Millisecond, Events: 9342, Restarts: 2, Relists: 0},
		Store: Store{Keys: 16, MaxKeys: 2000, LastCheckpoint: t0.Add(-47 * time.Second)},
	}
}

// fixtureFiring: a TLS handshake drifted 4× at 03:12 and fires; another key is
// pending; an SLO alert resolved earlier; two findings.
func fixtureFiring() Snapshot {
	rng := rand.New(rand.NewPCG(42, 1))
	s := baseSnapshot()
	driftAt := t0.Add(-8 * time.Minute)
	std := func(base, noise float64) series {
		return series{base: base, noise: noise, points: 120, step: 10 * time.Second}
	}
	tls := std(0.0042, 0.12)
	tls.drift, tls.from = 4, driftAt
	fire := keyFrom("get", "nodes", "cluster", "node_get_cached", "tls", "firing", tls.history(rng), 9120, 300)
	fire.FiringSince = ptr(driftAt.Add(50 * time.Second))
	fire.SLO = 1
	slow := std(0.0185, 0.15)
	slow.drift, slow.from = 1.9, t0.Add(-40*time.Second)
	pending := keyFrom("list", "pods", "namespace", "pods_list_node", "server", "pending", slow.history(rng), 8410, 300)
	resolvedKey := std(0.031, 0.18)
	resolvedKey.drift, resolvedKey.from, resolvedKey.to = 3, t0.Add(-17*time.Minute), t0.Add(-11*time.Minute)
	learning := series{base: 0.0061, noise: 0.2, points: 24, step: 70 * time.Second, learn: 24}
	s.Keys = []Key{
		fire,
		pending,
		keyFrom("get", "nodes", "cluster", "node_get_cached", "server", "normal", std(0.0021, 0.1).history(rng), 9120, 300),
		keyFrom("get", "nodes", "cluster", "node_get_cached", "total", "normal", std(0.0093, 0.1).history(rng), 9120, 300),
		keyFrom("get", "nodes", "cluster", "node_get_quorum", "server", "normal", resolvedKey.history(rng), 1520, 300),
		keyFrom("list", "pods", "namespace", "pods_list_node", "transfer", "normal", std(0.0008, 0.2).history(rng), 8410, 300),
		keyFrom("list", "nodes", "cluster", "nodes_list_limit", "server", "normal", std(0.0124, 0.14).history(rng), 1520, 300),
		keyFrom("get", "readyz", "cluster", "readyz", "total", "normal", std(0.0017, 0.08).history(rng), 9120, 300),
		keyFrom("get", "nodes", "cluster", "node_get_cached", "connect", "normal", std(0.00041, 0.25).history(rng), 412, 300),
		keyFrom("get", "nodes", "cluster", "node_get_cached", "dns", "learning", learning.history(rng), 24, 300),
		keyFrom("watch", "leases", "namespace", "", "delivery", "normal", std(0.035, 0.3).history(rng), 9342, 300),
	}
	s.Keys[4].SLO = 1
	s.Store.Keys = len(s.Keys)
	s.Alerts = []Alert{
		{
			Name: "KubeAPILatencyDrift", State: "firing", Severity: "warning",
			Labels: map[string]string{
				"alertname": "KubeAPILatencyDrift", "severity": "warning", "node": "worker-3",
				"verb": "get", "resource": "nodes", "phase": "tls", "scope": "cluster", "probe": "node_get_cached",
			},
			Summary:     "GET nodes from worker-3 is 4× slower than normal in the tls phase",
			Description: "tls phase of get nodes: current 16.9 ms vs baseline 4.2 ms (ratio 4.0, z 11.6) over 9120 samples; p99 21.3 ms.",
			Since:       *fire.FiringSince, Current: 0.0169, Baseline: 0.0042, P99: 0.0213, Z: 11.6, Ratio: 4.02, Samples: 9120,
			RunbookURL: "https://github.com/kubepulse/kubepulse/blob/main/docs/alerts.md#kubeapilatencydrift",
		},
		{
			Name: "KubeAPILatencyDrift", State: "resolved", Severity: "warning",
			Labels: map[string]string{
				"alertname": "KubeAPILatencyDrift", "severity": "warning", "node": "worker-3",
				"verb": "get", "resource": "nodes", "phase": "server", "probe": "node_get_quorum",
			},
			Summary:     "GET nodes (quorum read) from worker-3 was 3× slower than normal in the server phase",
			Description: "server phase of get nodes: 93 ms vs baseline 31 ms (ratio 3.0, z 7.2) over 1490 samples; p99 118 ms.",
			Since:       t0.Add(-16*time.Minute - 20*time.Second), Resolved: ptr(t0.Add(-10*time.Minute - 30*time.Second)),
			Current: 0.093, Baseline: 0.031, P99: 0.118, Z: 7.2, Ratio: 3.0, Samples: 1490,
			RunbookURL: "https://github.com/kubepulse/kubepulse/blob/main/docs/alerts.md#kubeapilatencydrift",
		},
	}
	s.Findings = []Finding{
		{
			ID: "client-throttling", Severity: "warning", Title: "Client-side throttling",
			Advice:   "Requests wait in client-go's own rate limiter before they are sent. Raise QPS and Burst in the rest.Config of the client, or read through an informer cache instead of polling.",
			Evidence: "p99 limiter wait 212 ms over 5m; 38% of requests waited (QPS 5, Burst 10)",
			Since:    t0.Add(-42 * time.Minute),
		},
		{
			ID: "slow-dns", Severity: "info", Title: "Slow DNS lookups",
			Advice:   "Resolving the API server's name takes long on this node. Run NodeLocal DNSCache, or point the client at an IP address.",
			Evidence: "dns phase p95 48 ms (new connections only), 14 lookups in 10m",
			Since:    t0.Add(-3 * time.Hour),
		},
	}
	s.Splits = []Split{
		{Call: "pods_list_node", Verb: "list", Resource: "pods", Scope: "namespace", Probe: "pods_list_node", Requests: 412,
			Total: 0.0163, ConnWait: 0.00004, Server: 0.0158, Transfer: 0.0004},
		{Call: "get/configmaps/resource", Verb: "get", Resource: "configmaps", Scope: "resource", Requests: 9120,
			Total: 0.2131, Throttle: 0.198, Connect: 0.0102, ConnWait: 0.0001, Server: 0.0046, Transfer: 0.0002},
	}
	return s
}

// fixtureLearning: a fresh agent, every key still learning.
func fixtureLearning() Snapshot {
	rng := rand.New(rand.NewPCG(7, 1))
	s := baseSnapshot()
	s.Started = t0.Add(-4 * time.Minute)
	s.Budget.ProbesSent, s.Budget.ProbesFailed = 41, 0
	s.Watch.Events, s.Watch.Restarts = 25, 0
	s.Store.LastCheckpoint = time.Time{}
	for i, ph := range []string{"total", "server", "tls", "connect", "transfer"} {
		n := 6 + 4*i
		h := series{base: 0.002 * float64(i+1), noise: 0.2, points: n, step: 10 * time.Second, learn: n}.history(rng)
		s.Keys = append(s.Keys, keyFrom("get", "nodes", "cluster", "node_get_cached", ph, "learning", h, int64(n), 300))
	}
	s.Store.Keys = len(s.Keys)
	return s
}

// fixtureResolved: the TLS drift of fixtureFiring has ended.
func fixtureResolved() Snapshot {
	rng := rand.New(rand.NewPCG(42, 2))
	s := baseSnapshot()
	tls := series{base: 0.0042, noise: 0.12, points: 120, step: 10 * time.Second,
		drift: 4, from: t0.Add(-15 * time.Minute), to: t0.Add(-6 * time.Minute)}
	k := keyFrom("get", "nodes", "cluster", "node_get_cached", "tls", "normal", tls.history(rng), 9200, 300)
	s.Keys = []Key{k}
	s.Store.Keys = 1
	s.Alerts = []Alert{{
		Name: "KubeAPILatencyDrift", State: "resolved", Severity: "warning",
		Labels: map[string]string{"alertname": "KubeAPILatencyDrift", "severity": "warning", "node": "worker-3",
			"verb": "get", "resource": "nodes", "phase": "tls", "key": k.Key},
		Summary: "GET nodes from worker-3 was 4× slower than normal in the tls phase",
		Since:   t0.Add(-14 * time.Minute), Resolved: ptr(t0.Add(-5*time.Minute - 40*time.Second)),
		Current: 0.0171, Baseline: 0.0042, P99: 0.0215, Z: 11.9, Ratio: 4.07, Samples: 9150,
		RunbookURL: "https://github.com/kubepulse/kubepulse/blob/main/docs/alerts.md#kubeapilatencydrift",
	}}
	return s
}

// fixtureEmpty: the agent has not had an answer from the API server yet.
func fixtureEmpty() Snapshot {
	s := baseSnapshot()
	s.Started = t0.Add(-9 * time.Second)
	s.Ready, s.Reason = false, "no answer from https://10.96.0.1:443 yet: dial tcp 10.96.0.1:443: connect: connection refused"
	s.Budget = Budget{Enabled: true, ClusterQPS: 20, Interval: 10 * time.Second, AgentQPS: 0.5,
		NextProbe: t0.Add(4 * time.Second), Failures: 2, ProbesSent: 2, ProbesFailed: 2}
	s.Watch = Watch{}
	s.Store = Store{MaxKeys: 2000}
	s.Demo = true
	return s
}

// fixtureHostile: names and texts that try to break out of HTML, attributes,
// URLs and SVG, and numbers that are not numbers.
func fixtureHostile() Snapshot {
	s := baseSnapshot()
	s.Node = `<img src=x onerror=alert(1)>`
	s.Pod = `"><script>alert('pod')</script>`
	s.Version = `v1</title><script>alert(2)</script>`
	bad := Key{
		Key: `get/<script>alert("k")</script>/"' onmouseover=alert(3) x='/tls`, Verb: `get`, Resource: `<b>nodes</b>`,
		Phase: `tls"><svg onload=alert(4)>`, State: "firing", Samples: 400, MinSamples: 300,
		Current: math.Inf(1), Mean: math.NaN(), Lower: math.NaN(), Upper: math.Inf(-1),
		P50: math.NaN(), P95: math.NaN(), P99: math.Inf(1), Score: math.NaN(), Z: math.Inf(1), Ratio: math.NaN(),
		FiringSince: ptr(t0.Add(-time.Minute)),
	}
	for i := range 30 {
		p := Point{T: t0.Add(time.Duration(i-29) * 10 * time.Second), Value: 0.01 * float64(i%7), Lower: 0.02, Upper: 0.005}
		switch i % 6 {
		case 1:
			p.Value = math.NaN()
		case 2:
			p.Value = math.Inf(1)
		case 3:
			p.Value, p.Lower, p.Upper = -1, math.Inf(-1), math.NaN()
		case 4:
			p.Value, p.Lower, p.Upper = 0, 0, 0
		}
		bad.History = append(bad.History, p)
	}
	zero := Key{Key: "get/zero/cluster/p/total", Verb: "get", Resource: "zero", Phase: "total", State: "normal",
		History: []Point{{T: t0, Value: 0, Lower: 0, Upper: 0}, {T: t0, Value: 0, Lower: 0, Upper: 0}}}
	none := Key{Key: "get/none/cluster/p/total", Verb: "get", Resource: "none", Phase: "total", State: "learning", MinSamples: 300,
		Current: math.NaN(), Samples: 0}
	row := bad // a second hostile key, normal: a table row when charts are capped
	row.Key, row.State, row.FiringSince, row.Score = bad.Key+`/<i>row</i>`, `normal" onclick="alert(11)`, nil, -1
	s.Keys = []Key{bad, zero, none, row}
	s.Alerts = []Alert{{
		Name: `Drift<script>alert(5)</script>`, State: "firing", Severity: `"><i>x`,
		Labels:     map[string]string{`a"b`: `<script>alert(6)</script>`, "verb": "get", "resource": bad.Resource, "phase": bad.Phase},
		Summary:    `</p><script>alert(7)</script>`,
		RunbookURL: `javascript:alert(8)`,
		Since:      t0.Add(-time.Minute), Current: math.NaN(), Baseline: math.Inf(1), Ratio: math.NaN(), Z: math.Inf(-1),
	}}
	s.Findings = []Finding{{ID: `x" onclick="alert(9)`, Title: `<h1>big</h1>`, Advice: `<a href="javascript:alert(10)">click</a>`,
		Evidence: `&amp; <!-- -->`, Severity: `info"`}}
	s.Budget.ClusterQPS, s.Budget.AgentQPS = math.NaN(), math.Inf(1)
	return s
}

// fixtureMany has n keys with full histories, for benchmarks and the row cap.
func fixtureMany(n int) Snapshot {
	rng := rand.New(rand.NewPCG(1000, uint64(n)))
	s := baseSnapshot()
	verbs := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	phases := []string{"total", "dns", "connect", "tls", "conn_wait", "server", "transfer"}
	s.Keys = make([]Key, 0, n)
	for i := range n {
		verb, phase := verbs[i%len(verbs)], phases[(i/len(verbs))%len(phases)]
		res := "resource" + strconv.Itoa(i/(len(verbs)*len(phases)))
		ser := series{base: 0.001 + 0.05*rng.Float64(), noise: 0.15, points: 120, step: 10 * time.Second}
		state := "normal"
		switch {
		case i%97 == 0:
			state, ser.drift, ser.from = "firing", 3, t0.Add(-5*time.Minute)
		case i%31 == 0:
			state, ser.learn = "learning", 120
		}
		k := keyFrom(verb, res, "cluster", "", phase, state, ser.history(rng), 5000, 300)
		if state == "learning" {
			k.Samples = 120
		}
		if state == "firing" {
			k.FiringSince = ptr(t0.Add(-4 * time.Minute))
		}
		s.Keys = append(s.Keys, k)
	}
	s.Store.Keys = n
	return s
}
