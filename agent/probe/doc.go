// Package probe runs the agent's synthetic API calls from its node and keeps the
// whole cluster's probe traffic within one budget.
//
// The probes are chosen to be cheap for the API server and meaningful for the
// workloads on the node: a GET of this node's Node from the watch cache
// (resourceVersion=0) every cycle and, less often, as a quorum read that reaches
// etcd; a LIST of pods with the kubelet's query shape (fieldSelector
// spec.nodeName) in the agent's own namespace; a cluster-scoped LIST of nodes
// with limit=1, metadata only, whose remainingItemCount also gives the node
// count; and /readyz. None needs read access to pods cluster-wide or to secrets.
//
// Every agent learns the node count and stretches its interval so that
// nodes × requests per cycle / interval stays under the cluster-wide budget
// (ClusterQPS, default 20) whatever the cluster size; intervals are jittered;
// probes are sent one at a time, evenly spaced, never in bursts; failures
// (429, 5xx, timeouts, connection errors) back off exponentially and honour
// Retry-After. Agents without a node count (first install, no checkpoint)
// spread their counting request over StartupSpread and send nothing else
// before it ends, so that a whole cluster starting at once stays in budget.
// The count is refreshed every sixth cycle: a cluster that grows faster than
// 17% within that time (about 1.2 × nodes seconds) can exceed the budget by
// the excess growth until the agents recount. Plan holds that logic without
// clocks or I/O, so that TestClusterBudget simulates 10 to 5,000 agents for
// hours.
package probe
