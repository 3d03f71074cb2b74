package agent

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/kubepulse/kubepulse/agent/alerts"

	"github.com/kubepulse/kubepulse/agent/instrument"
	"github.com/kubepulse/kubepulse/agent/instrument/classify"
	"github.com/kubepulse/kubepulse/agent/probe"
)

// PhaseTotal names the whole request in baseline keys and labels; the other
// phases use instrument.Phase names (dns, connect, tls, conn_wait, server,
// transfer), and the Lease watch uses PhaseDelivery.
const (
	PhaseTotal    = "total"
	PhaseDelivery = "delivery"
)

// series is what a baseline key stands for: the labels it is exported and
// alerted with, and the SLO it is held to.
type series struct {
	Verb, Resource, Scope, Phase, Probe string
	SLO                                 float64 // seconds; 0: none
}

// seriesKey names a baseline series. Probe traffic is keyed by the probe
// (its class is fixed, and a cached and a quorum GET of a Node are the same
// class); other traffic by its class: "get/pods/resource/server".
func seriesKey(o *instrument.Observation, phase string) string {
	if o.Origin != "" {
		return o.Origin + "/" + phase
	}
	return o.Labels.Key + "/" + phase
}

// sloFor returns the upstream API-call latency SLO of a request class, for
// the whole request only: 1 s for single-object calls, 5 s for
// namespace-scoped and 30 s for cluster-scoped collection calls. Non-resource
// calls (readyz, discovery) have none.
func sloFor(c classify.Class, phase string) float64 {
	if phase != PhaseTotal || c.NonResource {
		return 0
	}
	switch c.Verb {
	case classify.VerbWatch, classify.VerbConnect, classify.VerbOther:
		return 0
	}
	switch c.Scope {
	case classify.ScopeResource:
		return 1
	case classify.ScopeNamespace:
		return 5
	default:
		return 30
	}
}

// registry remembers the labels of every key the tracker learns, so that
// collectors and the status page can name them; it is pruned to the keys
// the tracker still holds.
type registry struct {
	mu      sync.RWMutex
	m       map[string]*keyInfo
	charted int // keys with a history
}

type keyInfo struct {
	series
	history *history // nil for keys beyond maxCharted: no chart, no memory
	// driftFiring is set while the key's drift alert fires, so that its
	// samples refresh the alert's numbers.
	driftFiring atomic.Bool
}

// alertTarget is what the key's alerts are about.
func (ki *keyInfo) alertTarget() alerts.Target {
	return alerts.Target{Verb: ki.Verb, Resource: ki.Resource, Phase: alertPhase(ki.Phase), Probe: ki.Probe}
}

// maxCharted bounds the keys that keep a chart history: the probes and the
// watch always do, other traffic (a controller's own classes) up to this
// many — the status page charts only the most interesting ones anyway.
const maxCharted = 64

func newRegistry() *registry { return &registry{m: map[string]*keyInfo{}} }

// info returns the key's info, creating it from s on first sight.
func (r *registry) info(key string, s series) *keyInfo {
	r.mu.RLock()
	ki, ok := r.m[key]
	r.mu.RUnlock()
	if ok {
		return ki
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if ki, ok = r.m[key]; !ok {
		ki = &keyInfo{series: s}
		if s.Probe != "" || r.charted < maxCharted {
			ki.history = new(history)
			r.charted++
		}
		r.m[key] = ki
	}
	return ki
}

// get returns a key's info. A key restored from a checkpoint and not yet
// seen again is named from the key itself (see seriesFromKey).
func (r *registry) get(key string) (*keyInfo, bool) {
	r.mu.RLock()
	ki, ok := r.m[key]
	r.mu.RUnlock()
	if ok {
		return ki, true
	}
	s, ok := seriesFromKey(key)
	if !ok {
		return nil, false
	}
	return r.info(key, s), true
}

// probeSeries are the fixed labels of the agent's own series, by the name
// that prefixes their keys.
var probeSeries = map[string]series{
	string(probe.NodeCached):  {Verb: "get", Resource: "nodes", Scope: "resource"},
	string(probe.NodeQuorum):  {Verb: "get", Resource: "nodes", Scope: "resource"},
	string(probe.PodsOnNode):  {Verb: "list", Resource: "pods", Scope: "namespace"},
	string(probe.ClusterList): {Verb: "list", Resource: "nodes", Scope: "cluster"},
	string(probe.Readyz):      {Verb: "get", Resource: classify.NonResourceReadyz, Scope: "cluster"},
	leaseWatchProbe:           {Verb: "watch", Resource: "leases.coordination.k8s.io", Scope: "resource"},
}

// leaseWatchProbe names the Lease watch's series.
const leaseWatchProbe = "lease_watch"

// seriesFromKey recovers a key's labels from the key: "<probe>/<phase>" or
// "<verb>/<resource>/<scope>/<phase>" (see seriesKey).
func seriesFromKey(key string) (series, bool) {
	i := strings.LastIndexByte(key, '/')
	if i <= 0 {
		return series{}, false
	}
	prefix, phase := key[:i], key[i+1:]
	if s, ok := probeSeries[prefix]; ok {
		s.Phase, s.Probe = phase, prefix
		s.SLO = sloForLabels(s.Verb, s.Scope, s.Resource, phase)
		return s, true
	}
	verb, resource, scope, rest, ok := classify.SplitKey(key)
	if !ok || rest != phase {
		return series{}, false
	}
	return series{Verb: verb, Resource: resource, Scope: scope, Phase: phase,
		SLO: sloForLabels(verb, scope, resource, phase)}, true
}

// sloForLabels is sloFor for a class known only by its labels.
func sloForLabels(verb, scope, resource, phase string) float64 {
	c := classify.Class{Verb: classify.Verb(verb), Scope: classify.Scope(scope)}
	switch resource {
	case classify.NonResourceDiscovery, classify.NonResourceOpenAPI, classify.NonResourceVersion,
		classify.NonResourceHealthz, classify.NonResourceLivez, classify.NonResourceReadyz,
		classify.NonResourceMetrics, classify.NonResourceOther:
		c.NonResource = true
	}
	return sloFor(c, phase)
}

// prune drops the keys for which keep is false.
func (r *registry) prune(keep func(string) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, ki := range r.m {
		if !keep(k) {
			if ki.history != nil {
				r.charted--
			}
			delete(r.m, k)
		}
	}
}

// historyLen is how many recent points each key keeps for its chart.
const historyLen = 180

// point is one sample with the band that was normal when it arrived, kept
// compact (24 bytes): float32 is plenty for a chart.
type point struct {
	t            int64 // Unix nanoseconds
	v, low, high float32
}

// history is a fixed ring of recent points.
type history struct {
	mu   sync.Mutex
	ring [historyLen]point
	n    int // points written in total
}

func (h *history) add(p point) {
	if h == nil {
		return
	}
	h.mu.Lock()
	h.ring[h.n%historyLen] = p
	h.n++
	h.mu.Unlock()
}

// points returns the points, oldest first.
func (h *history) points() []point {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	n := min(h.n, historyLen)
	out := make([]point, 0, n)
	for i := h.n - n; i < h.n; i++ {
		out = append(out, h.ring[i%historyLen])
	}
	return out
}
