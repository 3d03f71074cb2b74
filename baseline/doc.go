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
// the warm-up, or two within 1,000 samples of each other later, switch the
// series to linear and restart the warm-up (counts with zeros, temperatures,
// values that go negative); a lone value ≤ 0 later on is clamped to the
// smallest positive value seen (a glitch).
//
// Time-decayed EWMAs. Every EWMA forgets by elapsed time, weight
// 2^(−Δt/half-life), so irregular sampling and gaps mean what they say. Two
// guards make the defaults work at any sampling rate without tuning: the
// effective half-life is at least N typical sample spacings (ewma.halfLife
// 1 h, but never fewer than 24 samples, so a 5-minute metric or integer
// timestamps 1, 2, 3 still learn from enough samples), and one gap counts
// for at most ewma.maxGapSamples spacings or a sixteenth of each memory,
// whichever is longer, so the first sample after an outage moves no memory
// more than 4 % of the way while the pauses between bursts of
// request-driven samples still count for the time they last. Until an EWMA
// has seen as many samples as its memory it is a plain running mean, so the
// first samples do not linger.
//
// Per key, in the learned space:
//   - the daily profile: the typical deviation from the long-horizon level
//     at each hour of the day (UTC), 24 bins read with linear interpolation,
//     each an EWMA over days (ewma.dailyHalfLife, 3 days). It is taken out
//     of every sample once a day of data taught it (fully after two), so a
//     5-minute metric with a ±60 % daily cycle is judged against the same
//     hour of other days, not against the last hour; everything below
//     works on the deseasonalized value;
//   - the slow baseline: EWMA mean and variance (1 h), updated with
//     residuals clipped at ±3σ (Huber) so outliers barely move it; its mean
//     is corrected for lag with Brown's double smoothing, so what is left of
//     a daily cycle does not look like a drift on its rising edge;
//   - the long-horizon level (ewma.longHalfLife, 1 day): slow drifts, which
//     the lag-corrected baseline follows by design, are measured against it;
//   - the fast EWMA ("current"): a half-life of 4 samples (at least 1 s),
//     fed the median of the last three samples — a lone spike never reaches
//     it, a shift does one sample later;
//   - the spreads the charts are measured in, learned with the long memory
//     (they span a whole day of normal excursions): of the fast EWMA around
//     the baseline and around the long level (so autocorrelated and cyclic
//     series get the wider band they need), of short runs of single-sample
//     residuals (the CUSUM's unit: an autocorrelated series wanders further
//     than independent samples would), and of single samples from second
//     differences (x − 2x₁ + x₂ cancels trends and smooth cycles; the spike
//     rule's unit);
//   - a sliding window (1 h in six 10-minute buckets of a 64-bin histogram
//     in the learned space; see package window) for p50, p95 and p99.
//
// A value repeated exactly (a stuck or cached source) updates the mean but
// not the spreads, so the return of ordinary noise after a flat stretch is
// not an alert. Spreads are floored at detector.relativeStdDevFloor (5 %)
// and detector.absoluteStdDevFloor so flat series do not turn noise into
// huge scores, and widened by 1 + 10/n while few samples are known.
//
// # When it alerts
//
// Five charts watch a key; any one of them can start an alert.
//   - The EWMA chart: z = (fast − baseline) / sd, sd the larger of the
//     measured spread of the fast EWMA and the spread independent samples
//     would give (σ·√(Σw²) of the fast EWMA's weights: exact for bursts and
//     gaps). z ≥ detector.enterZ (4.5) makes a key "pending", and
//     detector.enterSamples (3) consecutive such samples make it "firing".
//   - The CUSUM chart (Page): S ← max(0, S + w·(e − k)) over the residuals
//     e of single samples against the baseline, in units of the spread
//     their short runs show, clipped at ±3 (a lone outlier adds at most
//     3 − k); w is the share of a spacing the sample covers, so a burst of
//     near-simultaneous samples does not count as many independent looks.
//     With k = detector.cusumAllowance (1) it is tuned to a sustained shift
//     of 2 standard deviations, which it finds about twice as fast as the
//     EWMA chart at the same false-alarm rate; it fires when S reaches
//     detector.cusumThreshold (5.5), with no persistence of its own. For
//     independent normal noise with 0.2 % gross outliers that is an
//     in-control run length of about 235,000 samples (0.26 false alarms a
//     week at 10 s), and a 2σ shift is found after 5 samples at the median,
//     within 13 on 99 % of keys (TestCUSUMCalibration).
//   - The long-horizon chart: the fast EWMA against the long level, in units
//     of its measured spread, whose upward deviations are clipped at 2 so a
//     drift cannot widen the band it is judged in; zₗ ≥ detector.longZ (4)
//     counts towards firing like the EWMA chart.
//   - The spike rule: a single sample at least detector.spikeZ (12) noise
//     standard deviations above both the previous sample and the baseline,
//     at least 5 of the baseline's standard deviations above it, and twice
//     as far from it as the window's 99.5th percentile fires on that sample:
//     a huge value in a series that is otherwise calm. Ordinary latency
//     outliers (2–5× at a spread of 15–35 %) stay below 12 noise deviations,
//     and a series with routine spikes keeps them in its window.
//   - The exceedance chart, for shifts that are obvious in rank terms when
//     the spread is huge or poorly known — a probe on a busy machine whose
//     34-sample warm-up ran from 1.2 to 105 ms, then every sample above
//     the warm-up's p85 or its maximum, which the charts above, measuring
//     in a log-spread of 1.3 that the shift itself widened, missed. Ranks
//     need no spread: whatever the distribution, a run of samples above
//     nearly all of n exchangeable ones is improbable by a known amount.
//     On well-behaved noise the σ charts are the more efficient; this one
//     is the floor under them. Each sample is put in one of three
//     categories by where it falls among the window's samples: at or below
//     their 90th percentile, up to their 99th (their maximum while the
//     window holds fewer than 100), or beyond; never below the baseline plus
//     1.28 and 2.33 of its standard deviations, so a window that a stuck
//     source made flat does not turn noise into exceedances. A CUSUM adds
//     the log-likelihood ratio of each category, ln(a/p), between the
//     chances a 2σ shift of a normal series gives (a = 0.24, 0.39, 0.37)
//     and the chances p in control. p is exact for exchangeable samples
//     whatever their distribution — (n − q(n−1))/(n+1) for the q-quantile
//     of n samples, so a young window's quantiles, exceeded more often,
//     weigh less — and learned from the categories the key shows (a prior
//     of 20 samples), never below nominal, so ties and discrete values
//     weigh less and nothing weighs more. The ratios are divided by the
//     variance inflation of runs — of exceedances as a two-state Markov
//     chain, (1+λ)/(1−λ), and of short runs of residuals as the CUSUM's
//     unit measures it — and past 2 the chart stands down: a series whose
//     samples wander together (a machine metric) is no set of independent
//     looks, and the charts above judge it in the spread its runs show.
//     The chart is window-limited: an excursion that has not reached
//     detector.exceedanceThreshold (12) within 16 spacings starts again
//     from zero, so it finds changes, not drifts; and while it is above
//     zero its references, ratios and unit stay what they were, so a
//     shift cannot raise the bar it is measured against. It needs 30
//     samples in the window (a 5-minute series is the other charts'). On
//     independent samples its in-control run length is about 950,000
//     samples, a quarter of the CUSUM's false alarms, so the two together
//     stay within the same target; it finds a 2σ shift of a normal series
//     after 6 samples at the median (11 at p90), a 3σ one after 3, and a
//     run of samples beyond the window's p99 after 3 — all measured by
//     TestExceedanceCalibration.
//
// Every chart also wants a relevant effect: the level (or the sample, for
// the CUSUM and spikes) at least detector.minRatio (1.1×) of the baseline.
// Only the slow side alerts: faster than normal is never an alert. A key is
// "learning" for its first detector.minSamples samples (score 0; an SLO
// prior, when given, stands in and can fire with reason slo). An alert
// resolves after detector.exitSamples samples with every z ≤ detector.exitZ
// (1.5), and the key may fire again only once it has been calm for
// detector.rearmSamples (90) samples more than it was restless: one
// flickering episode, one alert.
//
// While pending or firing the baselines, spreads and profile are frozen —
// the anomaly is not learned — and a shadow baseline learns the episode
// instead. If the alert is still firing after detector.acceptAfter (1 h, at
// least 24 samples), the new level is accepted: the baseline and the long
// level adopt the shadow, the alert resolves (Event.Accepted), and a lasting
// shift does not fire for weeks.
//
// A young key's baseline is a running mean (see above): by the time any
// chart is sure of a shift it has learned a good part of it. So when the
// exceedance chart fires, everything learned since its excursion began —
// the baselines, spreads and its own counts, as they were at its last
// zero, the CUSUM's estimate of when the change started — is restored:
// the alert reports the shift against the normal it interrupted, and the
// charts keep seeing it until it ends or is accepted.
//
// Score, for dashboards and backtests: 0 for every chart at or below 0 and
// while learning, otherwise z²/(z² + enterZ²) for the largest chart, each
// scaled so that it gives 0.5 at its own threshold (0.8 at twice it). With
// an SLO prior while learning: r²/(r²+1) for r = current/SLO.
//
// # Store and checkpoints
//
// Tracker spreads keys over independently locked shards (Observe on an
// existing key hashes the key once, takes one shard lock and allocates
// nothing), caps the number of keys (store.maxKeys; a sample for a new key
// beyond it is dropped and counted, after the shard's idle keys are evicted
// to make room) and evicts keys idle for store.idleTimeout in sample time
// (EvictIdle, and before every checkpoint) — there is no wall clock inside
// the package.
//
// SaveCheckpoint writes every key's complete state (floats as their bits, so
// a restore is exact) through package checkpoint: staged in fastcache,
// saved with its file format, versioned, checksummed per file and per
// entry, and renamed into place atomically. Restore decodes everything into
// fresh maps and swaps them in only when all is valid; a missing, truncated,
// corrupt or other-version checkpoint (versions 1 and 2, from before the
// charts above, included) logs a warning and leaves a fresh (or the
// current) state. RunCheckpoints saves periodically and on shutdown.
//
// Measured speed, memory and detection quality are in BENCHMARKS.md.
package baseline
