// Package baseline learns what normal is for many independent series (API
// call latency per key, or any other metric) and decides when a series has
// drifted above it. It imports only the standard library and fastcache, and
// knows nothing of Kubernetes: a key is an opaque string and a value is a
// number with a time. The same code runs in the agent (Tracker) and in
// `kubepulse backtest` (Detector, package backtest).
//
// # What is learned, and why
//
// Log or linear. Latency is multiplicative and right-skewed (close to
// log-normal): a 2× slowdown is the same shift at 5 ms and at 500 ms, and a
// standard deviation of log(latency) is a relative spread, so one threshold
// fits every key. A series is therefore learned on log(value) when its
// warm-up samples are all positive ("auto", the default). A value ≤ 0 during
// the warm-up switches the series to linear and restarts the warm-up (counts
// with zeros, temperatures, values that go negative); a value ≤ 0 after it
// is clamped to the smallest positive value seen.
//
// Time-decayed EWMAs. Every EWMA forgets by elapsed time, weight
// 2^(−Δt/half-life), so irregular sampling and gaps mean what they say. Two
// guards make the defaults work at any sampling rate without tuning: the
// effective half-life is at least N typical sample spacings (ewma.halfLife
// 1 h, but never fewer than 24 samples, so a 5-minute metric or integer
// timestamps 1, 2, 3 still learn from enough samples), and one gap counts
// for at most 4 spacings, so the first sample after an outage cannot
// outweigh everything learned. Until an EWMA has seen as many samples as
// its memory it is a plain running mean, so the first samples do not
// linger.
//
// Per key, in the learned space:
//   - the slow baseline: EWMA mean and variance (1 h), updated with
//     residuals clipped at ±3σ (Huber) so outliers barely move it; its mean
//     is corrected for lag with Brown's double smoothing, so a daily cycle
//     does not look like a drift on its rising edge;
//   - the fast EWMA ("current"): a half-life of 4 samples (at least 1 s),
//     fed the median of the last three samples — a lone spike never reaches
//     it, a shift does one sample later;
//   - the spread of the fast EWMA around the baseline, measured (so
//     autocorrelated and cyclic series get the wider band they need) with a
//     4× longer memory;
//   - a sliding window (1 h in six 10-minute buckets of a 64-bin histogram
//     in the learned space; see package window) for p50, p95 and p99.
//
// A value repeated exactly (a stuck or cached source) updates the mean but
// not the spread, so the return of ordinary noise after a flat stretch is
// not an alert.
//
// # When it alerts
//
// z = (fast − baseline) / sd, where sd is the larger of the measured spread
// of the fast EWMA and the spread independent samples would give
// (σ·√(Σw²) of the fast EWMA's weights: exact for bursts and gaps, and never
// more than a regular series of the same half-life gets), with σ floored at
// detector.relativeStdDevFloor (5 %) and detector.absoluteStdDevFloor so
// flat series do not turn noise into huge scores, and widened by 1 + 10/n
// while few samples are known.
//
// Only the slow side alerts: faster than normal is never an alert. A key is
// "learning" for its first detector.minSamples samples (score 0; an SLO
// prior, when given, stands in and can fire with reason slo). Then z ≥
// detector.enterZ (4) makes it "pending", and detector.enterSamples (3)
// consecutive such samples make it "firing", provided the fast value is at
// least detector.minRatio (1.1×) of the baseline. It resolves after
// detector.exitSamples samples with z ≤ detector.exitZ (1.5), and may fire
// again only after detector.rearmSamples (90) calm samples: one flickering
// episode, one alert.
//
// While pending or firing the baseline is frozen — the anomaly is not
// learned — and a shadow baseline learns the episode instead. If the alert
// is still firing after detector.acceptAfter (1 h, at least 24 samples), the
// new level is accepted: the baseline adopts the shadow, the alert resolves
// (Event.Accepted), and a lasting shift does not fire for weeks.
//
// Score, for dashboards: 0 for z ≤ 0 and while learning, otherwise
// z²/(z² + enterZ²) — monotone in z, 0.5 at the enter threshold, 0.8 at
// twice it. With an SLO prior while learning: r²/(r²+1) for r = current/SLO.
//
// # Store and checkpoints
//
// Tracker spreads keys over independently locked shards (Observe on an
// existing key takes one shard lock and allocates nothing), caps the number
// of keys (store.maxKeys; a sample for a new key beyond it is dropped and
// counted, after the shard's idle keys are evicted to make room) and evicts
// keys idle for store.idleTimeout in sample time (EvictIdle, and before
// every checkpoint) — there is no wall clock inside the package.
//
// SaveCheckpoint writes every key's complete state (floats as their bits, so
// a restore is exact) through package checkpoint: staged in fastcache,
// saved with its file format, versioned, checksummed per file and per
// entry, and renamed into place atomically. Restore decodes everything into
// fresh maps and swaps them in only when all is valid; a missing, truncated,
// corrupt or other-version checkpoint logs a warning and leaves a fresh (or
// the current) state. RunCheckpoints saves periodically and on shutdown.
//
// Measured speed, memory and detection quality are in BENCHMARKS.md.
package baseline
