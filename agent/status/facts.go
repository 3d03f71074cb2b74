package status

import "time"

// The agent's own health: probe budget, Lease watch and baseline store, as
// lines of name, value and whether it needs attention.

func budgetFacts(b *Budget, now time.Time) ([]fact, bool) {
	if !b.Enabled {
		return nil, false
	}
	failed := fmtCount(b.ProbesFailed)
	if b.ProbesSent > 0 && b.ProbesFailed > 0 {
		failed += " (" + fmtNum(100*float64(b.ProbesFailed)/float64(b.ProbesSent)) + "%)"
	}
	nodes, nodesNote := fmtCount(b.Nodes), ""
	if b.Nodes <= 0 {
		nodes, nodesNote = unknown, "not counted yet"
	}
	facts := []fact{
		{ID: "clusterQPS", Name: "Cluster budget", Value: fmtQPS(b.ClusterQPS), Note: "all agents together"},
		{ID: "nodes", Name: "Nodes sharing it", Value: nodes, Note: nodesNote},
		{ID: "agentQPS", Name: "This agent's share", Value: fmtQPS(b.AgentQPS)},
		{ID: "interval", Name: "Probe round every", Value: fmtDuration(b.Interval)},
		{ID: "lastProbe", Name: "Last probe", Value: fmtWhen(b.LastProbe, now)},
		{ID: "nextProbe", Name: "Next probe", Value: fmtWhen(b.NextProbe, now)},
		{ID: "probesSent", Name: "Probes sent", Value: fmtCount(b.ProbesSent)},
		{ID: "probesFailed", Name: "Probes failed", Value: failed, Warn: b.ProbesFailed > 0},
		{ID: "failures", Name: "Failing in a row", Value: fmtCount(b.Failures), Warn: b.Failures > 0,
			Note: backoffNote(b.Failures)},
	}
	return facts, b.Failures > 0
}

func backoffNote(n int) string {
	if n > 0 {
		return "backing off"
	}
	return ""
}

func watchFacts(w *Watch) []fact {
	if !w.Enabled {
		return nil
	}
	return []fact{
		{ID: "lastDelay", Name: "Last delivery delay", Value: fmtSeconds(w.LastDelay.Seconds()), Note: "received − renewTime"},
		{ID: "events", Name: "Events", Value: fmtCount(w.Events)},
		{ID: "restarts", Name: "Restarts", Value: fmtCount(w.Restarts), Warn: w.Restarts > 0},
		{ID: "relists", Name: "Relists", Value: fmtCount(w.Relists), Warn: w.Relists > 0},
	}
}

func storeFacts(s *Store, now time.Time) ([]fact, bool) {
	keys := fmtCount(s.Keys)
	full := false
	if s.MaxKeys > 0 {
		keys += " of " + fmtCount(s.MaxKeys)
		full = s.Keys*10 >= s.MaxKeys*9
	}
	facts := []fact{
		{ID: "keys", Name: "Keys", Value: keys, Warn: full, Note: map[bool]string{true: "near the cap"}[full]},
		{ID: "overflow", Name: "Overflow", Value: fmtCount(s.Overflow), Warn: s.Overflow > 0,
			Note: map[bool]string{true: "samples of new keys dropped at the cap"}[s.Overflow > 0]},
		{ID: "evictions", Name: "Evictions", Value: fmtCount(s.Evictions)},
		{ID: "lastCheckpoint", Name: "Last checkpoint", Value: fmtWhen(s.LastCheckpoint, now)},
	}
	return facts, full || s.Overflow > 0
}
