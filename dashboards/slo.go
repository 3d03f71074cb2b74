package dashboards

// SLO is one of the upstream Kubernetes API-call latency SLOs: the p99 of
// the calls it covers, over 5 minutes, stays at or below Seconds. kubepulse
// measures them from the client's side, per node.
type SLO struct {
	Name     string
	Seconds  float64
	Matchers []string // the calls it covers, as label matchers on kubepulse series
}

// SLOs are the API-call latency SLOs of Kubernetes' scalability SIG:
// mutating calls and reads of single objects 1 s, LISTs in a namespace 5 s,
// LISTs across the cluster 30 s. Mutating calls are matched by verb whatever
// their scope (a create names no object yet, but is a single-object call).
var SLOs = []SLO{
	{Name: "Single-object reads", Seconds: 1, Matchers: []string{`verb="get"`, `scope="resource"`}},
	{Name: "Single-object writes", Seconds: 1, Matchers: []string{`verb=~"create|update|patch|apply|delete"`}},
	{Name: "Namespace LISTs", Seconds: 5, Matchers: []string{`verb="list"`, `scope="namespace"`}},
	{Name: "Cluster LISTs", Seconds: 30, Matchers: []string{`verb="list"`, `scope="cluster"`}},
}

// with returns matchers followed by more, in a new slice.
func with(matchers []string, more ...string) []string {
	return append(append([]string(nil), matchers...), more...)
}
