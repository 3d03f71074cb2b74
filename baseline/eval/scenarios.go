package eval

import (
	"math"
	"time"
)

// Scenarios is the evaluation set.
var Scenarios = []Scenario{
	{
		Name:    "stationary-daily",
		Doc:     "7 days of 10 s latency, log-normal noise, daily cycle, rare single outliers; no anomaly (false alerts only)",
		Latency: true,
		gen: func(g *gen) {
			m := g.latencyModel()
			for t := t0; t < t0+7*day; t += 10 * sec {
				g.add(t, g.sample(m, t, 1))
			}
		},
	},
	{
		Name:    "step-50",
		Doc:     "10 s latency (σ 0.2–0.25 in log: p90/p50 ≈ 1.3; daily cycle ±5–15 %), +50 % step in p50 that stays; window 1 h from the step (acceptance: alert within 2 min)",
		Latency: true,
		gen: func(g *gen) {
			m := g.latencyModel()
			m.sigma = g.uniform(0.2, 0.25)
			m.amp = g.uniform(0.05, 0.15)
			step := g.at(8*hour, 20*hour, 10*sec)
			for t := t0; t < t0+day; t += 10 * sec {
				f := 1.0
				if t >= step {
					f = 1.5
				}
				g.add(t, g.sample(m, t, f))
			}
			g.label(step, step+hour)
			g.s.Shifts = append(g.s.Shifts, Span{step, step + hour})
		},
	},
	{
		Name:    "spike-episodes",
		Doc:     "10 s latency, three 1–5 min episodes at 4–10×, plus single-sample outliers that are not anomalies",
		Latency: true,
		gen: func(g *gen) {
			m := g.latencyModel()
			m.outlier = 0.004
			var eps []Span
			for i := range 3 {
				s := g.at(int64(i)*7*hour+4*hour, int64(i)*7*hour+10*hour, 10*sec)
				eps = append(eps, Span{s, s + (1+g.r.Int64N(5))*min_})
			}
			f := g.uniform(4, 10)
			for t := t0; t < t0+day; t += 10 * sec {
				k := 1.0
				for _, e := range eps {
					if t >= e.Start && t < e.End {
						k = f
					}
				}
				g.add(t, g.sample(m, t, k))
			}
			for _, e := range eps {
				g.label(e.Start, e.End+5*min_)
			}
		},
	},
	{
		Name:    "slow-drift",
		Doc:     "10 s latency ramping to 3× over 4 h, then staying; window is the ramp",
		Latency: true,
		gen: func(g *gen) {
			m := g.latencyModel()
			start := g.at(8*hour, 20*hour, 10*sec)
			end := start + 4*hour
			for t := t0; t < t0+2*day; t += 10 * sec {
				lf := 0.0
				switch {
				case t >= end:
					lf = math.Log(3)
				case t >= start:
					lf = math.Log(3) * float64(t-start) / float64(end-start)
				}
				g.add(t, g.sample(m, t, math.Exp(lf)))
			}
			g.label(start, end)
		},
	},
	{
		Name:    "flat-stretch",
		Doc:     "10 s latency, noisy for 6 h, exactly constant for 8 h (a cached answer), noisy again at the same level, then a 2× step",
		Latency: true,
		gen: func(g *gen) {
			m := g.latencyModel()
			m.amp = 0
			step := g.at(18*hour, 22*hour, 10*sec)
			for t := t0; t < t0+day; t += 10 * sec {
				switch {
				case t >= t0+6*hour && t < t0+14*hour:
					g.add(t, m.base)
				case t < step:
					g.add(t, g.sample(m, t, 1))
				default:
					g.add(t, g.sample(m, t, 2))
				}
			}
			g.label(step, step+hour)
			g.s.Shifts = append(g.s.Shifts, Span{step, step + hour})
		},
	},
	{
		Name:    "gaps",
		Doc:     "10 s latency with three 1–6 h gaps; after the second it resumes 2× slower",
		Latency: true,
		gen: func(g *gen) {
			m := g.latencyModel()
			var gaps []Span
			for i := range 3 {
				s := g.at(int64(i)*14*hour+6*hour, int64(i)*14*hour+10*hour, 10*sec)
				gaps = append(gaps, Span{s, s + (1+g.r.Int64N(6))*hour})
			}
			for t := t0; t < t0+2*day; t += 10 * sec {
				f := 1.0
				if t >= gaps[1].End {
					f = 2
				}
				in := false
				for _, gp := range gaps {
					in = in || t >= gp.Start && t < gp.End
				}
				if !in {
					g.add(t, g.sample(m, t, f))
				}
			}
			g.label(gaps[1].End, gaps[1].End+hour)
			g.s.Shifts = append(g.s.Shifts, Span{gaps[1].End, gaps[1].End + hour})
		},
	},
	{
		Name:    "bursty",
		Doc:     "request-driven latency: bursts of 5–40 samples within a second, every 5–60 s; a 1.8× step",
		Latency: true,
		gen: func(g *gen) {
			m := g.latencyModel()
			step := g.at(8*hour, 20*hour, sec)
			for t := t0; t < t0+day; t += (5 + g.r.Int64N(55)) * sec {
				f := 1.0
				if t >= step {
					f = 1.8
				}
				n := 5 + g.r.IntN(36)
				for i := range n {
					g.add(t+int64(i)*int64(time.Second)/int64(n), g.sample(m, t, f))
				}
			}
			g.label(step, step+hour)
			g.s.Shifts = append(g.s.Shifts, Span{step, step + hour})
		},
	},
	{
		Name:    "level-shift-accepted",
		Doc:     "10 s latency that triples for good after a day: one alert, resolved by acceptance, no more",
		Latency: true,
		gen: func(g *gen) {
			m := g.latencyModel()
			step := g.at(day, day+6*hour, 10*sec)
			for t := t0; t < t0+3*day; t += 10 * sec {
				f := 1.0
				if t >= step {
					f = 3
				}
				g.add(t, g.sample(m, t, f))
			}
			g.label(step, step+hour)
			g.s.Shifts = append(g.s.Shifts, Span{step, step + hour})
		},
	},
	{
		Name: "counts-zeros",
		Doc:  "5-minute event counts (Poisson, mean 1.5, daily cycle, many zeros); rate ×5 for 3 h",
		gen: func(g *gen) {
			s := g.at(4*day, 12*day, 5*min_)
			for t := t0; t < t0+14*day; t += 5 * min_ {
				lam := 1.5 * math.Exp(daily(t, 0.5, 0.3))
				if t >= s && t < s+3*hour {
					lam *= 5
				}
				g.add(t, float64(poisson(g.r, lam)))
			}
			g.label(s, s+3*hour)
		},
	},
	{
		Name: "cpu-percent",
		Doc:  "5-minute CPU % (30 ± daily cycle, autocorrelated noise, 0–100); jumps to ~90 % for 2 h",
		gen: func(g *gen) {
			s := g.at(4*day, 12*day, 5*min_)
			ar := 0.0
			for t := t0; t < t0+14*day; t += 5 * min_ {
				ar = 0.8*ar + 3*g.r.NormFloat64()
				v := 30 + 10*math.Sin(2*math.Pi*float64(t-t0)/float64(day)) + ar
				if t >= s && t < s+2*hour {
					v = 90 + 3*g.r.NormFloat64()
				}
				g.add(t, min(max(v, 0), 100))
			}
			g.label(s, s+2*hour)
		},
	},
	{
		Name: "temperature-negative",
		Doc:  "5-minute sensor around 0 (daily ±5, noise 1, goes negative); +12 for 4 h",
		gen: func(g *gen) {
			s := g.at(4*day, 12*day, 5*min_)
			ar := 0.0
			for t := t0; t < t0+14*day; t += 5 * min_ {
				ar = 0.7*ar + 0.7*g.r.NormFloat64()
				v := 5*math.Sin(2*math.Pi*float64(t-t0)/float64(day)) + ar
				if t >= s && t < s+4*hour {
					v += 12
				}
				g.add(t, v)
			}
			g.label(s, s+4*hour)
		},
	},
	{
		Name: "integer-timestamps",
		Doc:  "timestamps 1, 2, 3 … (Unix seconds), seasonal period 24, four single-point spikes of 6–10 σ and a +5 σ level shift",
		gen: func(g *gen) {
			g.s.Integer = true
			const n = 1500
			spikes := map[int64]float64{}
			for i := range 4 {
				spikes[int64(200+i*250)+g.r.Int64N(150)] = g.uniform(6, 10)
			}
			shift := int64(1250 + g.r.Int64N(150))
			base := g.uniform(50, 500)
			sd := base * 0.05
			for i := int64(1); i <= n; i++ {
				v := base + 3*sd*math.Sin(2*math.Pi*float64(i)/24) + sd*g.r.NormFloat64()
				if k, ok := spikes[i]; ok {
					v += k * sd * 3
				}
				if i >= shift {
					v += 5 * sd
				}
				g.add(i*sec, v)
			}
			for i := int64(1); i <= n; i++ {
				if _, ok := spikes[i]; ok {
					g.label(i*sec, (i+3)*sec)
				}
				if i == shift {
					g.label(i*sec, (i+24)*sec)
				}
			}
		},
	},
	{
		Name: "autocorrelated-machine",
		Doc:  "1-minute machine metric with strongly autocorrelated noise (AR(1), φ = 0.97) and a daily cycle; no anomaly",
		gen: func(g *gen) {
			ar := 0.0
			base := g.uniform(10, 1000)
			for t := t0; t < t0+7*day; t += min_ {
				ar = 0.97*ar + 0.03*g.r.NormFloat64()
				g.add(t, base*math.Exp(daily(t, 0.2, 0.6)+ar))
			}
		},
	},
	{
		Name: "traffic-counts",
		Doc:  "5-minute request counts (~2,000, strong daily and weekly cycle, overdispersed); doubles for 2 h",
		gen: func(g *gen) {
			s := g.at(5*day, 12*day, 5*min_)
			for t := t0; t < t0+14*day; t += 5 * min_ {
				wd := (t - t0) / day % 7
				weekly := 1.0
				if wd >= 5 {
					weekly = 0.6
				}
				lam := 2000 * weekly * math.Exp(daily(t, 0.6, 0.3)) * math.Exp(0.05*g.r.NormFloat64())
				if t >= s && t < s+2*hour {
					lam *= 2
				}
				g.add(t, float64(poisson(g.r, lam)))
			}
			g.label(s, s+2*hour)
		},
	},
	{
		Name:    "latency-1min-step",
		Doc:     "1-minute p50 latency (a median of many requests: σ 0.06–0.1 in log, daily cycle ±10 %, 0.2 % of minutes 1.2–1.5× that are not anomalies), 3 days, a +30 % step on day 2–3 that stays; window 1 h",
		Latency: true,
		gen: func(g *gen) {
			m := g.latencyModel()
			m.sigma, m.amp, m.outlier = g.uniform(0.06, 0.1), 0.1, 0
			step := g.at(30*hour, 60*hour, min_)
			for t := t0; t < t0+3*day; t += min_ {
				f := 1.0
				if t >= step {
					f = 1.3
				}
				// A median hides single slow requests: its outliers are mild.
				if g.r.Float64() < 0.002 {
					f *= g.uniform(1.2, 1.5)
				}
				g.add(t, g.sample(m, t, f))
			}
			g.label(step, step+hour)
			g.s.Shifts = append(g.s.Shifts, Span{step, step + hour})
		},
	},
	{
		Name: "calm-spike-1min",
		Doc:  "1-minute machine metric (40 ± 8 daily, AR(1) noise φ 0.9, moderate unlabelled outliers), 4 days, two single-sample spikes of +30–50 on days 2–4; window 10 min from each",
		gen: func(g *gen) {
			var spikes [2]int64
			spikes[0] = g.at(26*hour, 60*hour, min_)
			spikes[1] = g.at(62*hour, 95*hour, min_)
			ar := 0.0
			for t := t0; t < t0+4*day; t += min_ {
				ar = 0.9*ar + g.r.NormFloat64()
				v := 40 + 8*math.Sin(2*math.Pi*float64(t-t0)/float64(day)) + ar
				if g.r.Float64() < 0.002 {
					v += g.uniform(5, 8) // about 3 noise deviations: not an anomaly
				}
				if t == spikes[0] || t == spikes[1] {
					v += g.uniform(30, 50)
				}
				g.add(t, v)
			}
			for _, sp := range spikes {
				g.label(sp, sp+10*min_)
			}
		},
	},
	{
		Name: "drift-5min-daily",
		Doc:  "5-minute metric (100, daily cycle ±20 %, AR noise 5 %), 14 days, ramping to 1.8× over a day from day 5–10, then staying; window is the ramp",
		gen: func(g *gen) {
			start := g.at(5*day, 10*day, 5*min_)
			end := start + day
			ar := 0.0
			for t := t0; t < t0+14*day; t += 5 * min_ {
				ar = 0.5*ar + 0.05*g.r.NormFloat64()
				lf := 0.0
				switch {
				case t >= end:
					lf = math.Log(1.8)
				case t >= start:
					lf = math.Log(1.8) * float64(t-start) / float64(end-start)
				}
				g.add(t, 100*math.Exp(daily(t, 0.2, 0.6)+ar+lf))
			}
			g.label(start, end)
		},
	},
	{
		Name:    "noisy-warmup-step",
		Doc:     "1 s probe latency on a busy machine (heavy-tailed: a 1–3 ms fast path, a slow path over two decades, busy spells), 3 h; +20–120× the fast path added for 2–5 min right after a 34–60-sample warm-up and again after 2 h; each injection is a window",
		Latency: true,
		gen:     noisyWarmupStep,
	},
	{
		Name:    "noisy-stationary",
		Doc:     "1 s probe latency on a busy machine (as noisy-warmup-step, ±10 % daily cycle), 1 day; no anomaly (false alerts only)",
		Latency: true,
		gen:     noisyStationary,
	},
}
