package status

import (
	"fmt"
	"sort"
)

// splitView is one row of the client vs server table: the parts of the
// call's time as text and as the segments of a stacked bar.
type splitView struct {
	Call, Name          string
	Requests            string
	Total               string
	Parts               []splitPart
	Client              string // the client's share, e.g. "12 %"
	ClientHeavy         bool   // the client's share is at least half
	BarWidth, BarHeight int
}

type splitPart struct {
	Class, Name, Text string
	X, W              float64 // bar segment, in SVG units of BarWidth
}

const splitBarWidth = 200

// buildSplits orders calls by their total time, slowest first.
func buildSplits(splits []Split) []splitView {
	ss := append([]Split(nil), splits...)
	sort.SliceStable(ss, func(i, j int) bool { return ss[i].Total > ss[j].Total })
	out := make([]splitView, 0, len(ss))
	for _, s := range ss {
		name := s.Verb + " " + s.Resource
		if s.Probe != "" {
			name += " (" + s.Probe + ")"
		}
		v := splitView{Call: s.Call, Name: name, Requests: fmtCount(s.Requests), Total: fmtSeconds(s.Total),
			BarWidth: splitBarWidth, BarHeight: 10}
		x := 0.0
		for _, p := range []struct {
			class, name string
			v           float64
		}{
			{"throttle", "throttle", s.Throttle},
			{"connect", "connect", s.Connect},
			{"connwait", "conn wait", s.ConnWait},
			{"server", "server", s.Server},
			{"transfer", "transfer", s.Transfer},
		} {
			part := splitPart{Class: p.class, Name: p.name, Text: fmtSeconds(p.v)}
			if s.Total > 0 && finite(p.v) && p.v > 0 {
				part.X = r1(x)
				part.W = r1(min(p.v/s.Total, 1) * splitBarWidth)
				x += part.W
			}
			v.Parts = append(v.Parts, part)
		}
		share := s.ClientShare()
		v.Client = fmt.Sprintf("%.0f %%", 100*share)
		v.ClientHeavy = share >= 0.5
		out = append(out, v)
	}
	return out
}
