package agent

import (
	"sort"
	"sync"
	"time"

	"github.com/kubepulse/kubepulse/agent/instrument"
	"github.com/kubepulse/kubepulse/agent/status"
)

// splitAlpha is the weight of a new request in the client/server split:
// the means follow roughly the last 20 requests of each call.
const splitAlpha = 0.1

// maxSplitKeys bounds the calls the split keeps.
const maxSplitKeys = 512

// splits keeps, per kind of call, where its time goes: client-go's rate
// limiter, new connections, connection wait, server and transfer.
type splits struct {
	mu sync.Mutex
	m  map[string]*status.Split
}

func newSplits() *splits { return &splits{m: map[string]*status.Split{}} }

func (s *splits) add(key string, o *instrument.Observation) {
	sec := func(d time.Duration) float64 { return d.Seconds() }
	ph := &o.Phases
	parts := [...]float64{
		sec(o.ThrottleWait),
		sec(ph[instrument.PhaseDNS] + ph[instrument.PhaseConnect] + ph[instrument.PhaseTLS]),
		sec(ph[instrument.PhaseConnWait]),
		sec(ph[instrument.PhaseServer]),
		sec(ph[instrument.PhaseTransfer]),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, ok := s.m[key]
	if !ok {
		if len(s.m) >= maxSplitKeys {
			return
		}
		sp = &status.Split{Call: key, Verb: o.Labels.Verb, Resource: o.Labels.Resource, Scope: o.Labels.Scope, Probe: o.Origin}
		s.m[key] = sp
	}
	a := splitAlpha
	if sp.Requests == 0 {
		a = 1
	}
	sp.Requests++
	for i, f := range []*float64{&sp.Throttle, &sp.Connect, &sp.ConnWait, &sp.Server, &sp.Transfer} {
		*f += a * (parts[i] - *f)
	}
	sp.Total = sp.Throttle + sp.Connect + sp.ConnWait + sp.Server + sp.Transfer
}

// list returns the splits, by call.
func (s *splits) list() []status.Split {
	s.mu.Lock()
	out := make([]status.Split, 0, len(s.m))
	for _, sp := range s.m {
		out = append(out, *sp)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Call < out[j].Call })
	return out
}
