package eval

import "math"

// busyProbe is the latency of a probe through a proxy on a busy machine, as
// the agent's end-to-end test recorded it: a fast path (a cached answer,
// about base, ±15 %) for part of the calls, and for the rest a slow path
// spread over two decades (CPU contention, GC, a queue in the proxy) — 1 to
// 100 ms around a 1.5 ms fast path, a median 3–5× the fast path and a
// warm-up p99 40–70× it. Busy spells, in which more calls take the slow
// path, come and go (a two-state Markov chain), so slow samples cluster.
type busyProbe struct {
	base         float64 // the fast path, seconds
	slow         float64 // share of calls on the slow path, calm
	busySlow     float64 // share of calls on the slow path in a busy spell
	mu, sigma    float64 // the slow path: base × exp(mu + sigma·N)
	enter, leave float64 // per-sample chances to start and end a busy spell
	busy         bool
}

func (g *gen) busyProbe() busyProbe {
	return busyProbe{
		base:     g.uniform(0.001, 0.003),
		slow:     g.uniform(0.45, 0.6),
		busySlow: g.uniform(0.75, 0.9),
		mu:       g.uniform(1.8, 2.6),
		sigma:    g.uniform(0.8, 1.1),
		enter:    1.0 / 300, // a spell every 5 minutes or so
		leave:    1.0 / 20,  // lasting 20 s on average
	}
}

// next draws the latency of the next call.
func (g *gen) next(m *busyProbe) float64 {
	if m.busy && g.r.Float64() < m.leave || !m.busy && g.r.Float64() < m.enter {
		m.busy = !m.busy
	}
	slow := m.slow
	if m.busy {
		slow = m.busySlow
	}
	if g.r.Float64() < slow {
		return m.base * math.Exp(m.mu+m.sigma*g.r.NormFloat64())
	}
	return m.base * math.Exp(0.15*g.r.NormFloat64())
}

// noisyWarmupStep is the agent's end-to-end test on a busy machine: a probe
// every second, and a latency injected by a proxy (added to every call)
// twice: first right after the detector's warm-up — 34 to 60 samples of
// heavy-tailed noise, a spread no σ estimate from so few samples pins down —
// then again after two hours of learning. Each injection adds 20–120× the
// fast path (20–120 ms at 1 ms, 60–360 ms at 3 ms; the repro's +40 ms on
// 1.5 ms is 27×): most calls are then slower than the warm-up's p80–p90,
// often than its maximum, though far less than 10 σ of the log-spread.
// Each lasts 2–5 minutes, its window.
func noisyWarmupStep(g *gen) {
	m := g.busyProbe()
	type injection struct {
		start, end int64
		add        float64
	}
	var inj [2]injection
	first := t0 + (34+g.r.Int64N(27))*sec
	second := g.at(2*hour, 2*hour+30*min_, sec)
	for i, s := range [2]int64{first, second} {
		inj[i] = injection{s, s + (120+g.r.Int64N(181))*sec, m.base * math.Exp(g.uniform(math.Log(20), math.Log(120)))}
	}
	for t := t0; t < t0+3*hour; t += sec {
		v := g.next(&m)
		for _, in := range inj {
			if t >= in.start && t < in.end {
				v += in.add
			}
		}
		g.add(t, v)
	}
	for _, in := range inj {
		g.label(in.start, in.end)
	}
}

// noisyStationary is a day of the same busy probe with no injection: the
// heavy tail, the clustered busy spells and a ±10 % daily cycle are normal,
// so every alert is false.
func noisyStationary(g *gen) {
	m := g.busyProbe()
	phase := g.r.Float64()
	for t := t0; t < t0+day; t += sec {
		g.add(t, g.next(&m)*math.Exp(daily(t, 0.1, phase)))
	}
}
