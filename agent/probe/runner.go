package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
)

// Target is what one agent probes: its own node, and pods in its own
// namespace (the only pods its RBAC lets it list).
type Target struct {
	Node      string
	Namespace string
}

// Result is the outcome of one probe.
type Result struct {
	Kind     Kind
	At       time.Time     // when it was sent
	Duration time.Duration // as the runner saw it, throttling included
	Err      error         // nil on success
	Code     int           // HTTP status, 0 if none arrived
	Nodes    int           // node count, for ClusterList
	// ClusterNodes is the node count the budget is divided by now: measured
	// by this or an earlier probe, or known from a checkpoint (0: unknown).
	ClusterNodes int
	Failed       bool          // counted as a failure: the agent backs off
	Next         time.Time     // when the next probe is due
	Interval     time.Duration // the budgeted cycle interval at this node count
	QPS          float64       // this agent's share of the cluster budget
}

// RunnerOptions configure a Runner. Client and Target are required.
type RunnerOptions struct {
	// Client is the core/v1 REST client of an instrumented clientset
	// (clientset.CoreV1().RESTClient()); /readyz goes through it too.
	Client rest.Interface
	Target Target
	Budget BudgetOptions
	Specs  []Spec // default DefaultSpecs
	// KnownNodes is the node count from a checkpoint, if any.
	KnownNodes int
	// Timeout bounds each probe (default 10s); it is also sent to the server.
	Timeout time.Duration
	Clock   clock.WithTicker // default the real clock
	Rand    *rand.Rand       // default seeded from the clock
	Logger  *slog.Logger
	// WithProbe, if set, derives each probe's request context, e.g. to tag
	// the request so its instrumentation Observation names the probe.
	WithProbe func(context.Context, Kind) context.Context
	// OnResult receives every result, on the runner's goroutine.
	OnResult func(Result)
}

// Runner sends the probes of one agent on the schedule its Plan decides.
type Runner struct {
	o    RunnerOptions
	plan *Plan
}

// metadataListAccept asks for object metadata only: a LIST of nodes then
// carries names and counts, never node status.
const metadataListAccept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"

// NewRunner validates the options.
func NewRunner(o RunnerOptions) (*Runner, error) {
	if o.Client == nil {
		return nil, errors.New("probe: no client")
	}
	if o.Target.Node == "" {
		return nil, errors.New("probe: target node name is empty (set NODE_NAME from the downward API)")
	}
	if o.Target.Namespace == "" {
		return nil, errors.New("probe: target namespace is empty (set POD_NAMESPACE from the downward API)")
	}
	if o.Specs == nil {
		o.Specs = DefaultSpecs
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Rand == nil {
		seed := uint64(o.Clock.Now().UnixNano())
		o.Rand = rand.New(rand.NewPCG(seed, seed>>32))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	plan, err := NewPlan(o.Budget, o.Specs, o.KnownNodes, o.Rand)
	if err != nil {
		return nil, err
	}
	return &Runner{o: o, plan: plan}, nil
}

// Run probes until ctx ends.
func (r *Runner) Run(ctx context.Context) error {
	next := r.plan.Start(r.o.Clock.Now())
	for {
		t := r.o.Clock.NewTimer(next.Sub(r.o.Clock.Now()))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
		kind := r.plan.Next()
		res := r.probe(ctx, kind)
		if ctx.Err() != nil {
			return nil
		}
		outcome := Outcome{Nodes: res.Nodes, Failed: res.Failed}
		if s, ok := apierrors.SuggestsClientDelay(res.Err); ok && res.Failed {
			outcome.RetryAfter = time.Duration(s) * time.Second
		}
		next = r.plan.Done(r.o.Clock.Now(), outcome)
		res.Next, res.Interval, res.QPS = next, r.plan.Interval(), r.plan.RequestsPerSecond()
		res.ClusterNodes = r.plan.Nodes()
		if res.Err != nil {
			r.o.Logger.Debug("probe failed", "probe", kind, "code", res.Code, "err", res.Err, "next", next.Sub(res.At))
		}
		if r.o.OnResult != nil {
			r.o.OnResult(res)
		}
	}
}

// probe sends one request. client-go's own retries are off (MaxRetries 0):
// a probe measures one attempt, and backing off is the plan's job.
func (r *Runner) probe(ctx context.Context, kind Kind) Result {
	if r.o.WithProbe != nil {
		ctx = r.o.WithProbe(ctx, kind)
	}
	res := Result{Kind: kind, At: r.o.Clock.Now()}
	c := r.o.Client
	node := r.o.Target.Node
	var req *rest.Request
	switch kind {
	case NodeCached:
		req = c.Get().Resource("nodes").Name(node).Param("resourceVersion", "0")
	case NodeQuorum:
		req = c.Get().Resource("nodes").Name(node)
	case PodsOnNode:
		req = c.Get().Namespace(r.o.Target.Namespace).Resource("pods").
			Param("fieldSelector", fields.OneTermEqualSelector("spec.nodeName", node).String()).
			Param("resourceVersion", "0")
	case ClusterList:
		req = c.Get().Resource("nodes").Param("limit", "1").SetHeader("Accept", metadataListAccept)
	case Readyz:
		req = c.Get().AbsPath("/readyz")
	default:
		res.Err = fmt.Errorf("unknown probe %q", kind)
		return res
	}
	body, err := req.MaxRetries(0).Timeout(r.o.Timeout).Do(ctx).StatusCode(&res.Code).Raw()
	res.Duration = r.o.Clock.Since(res.At)
	if err != nil {
		res.Err = err
		res.Failed = isBackoffError(err)
		return res
	}
	if kind == ClusterList {
		n, err := nodeCount(body)
		if err != nil {
			res.Err = fmt.Errorf("node count: %w", err)
			return res
		}
		res.Nodes = n
	}
	return res
}

// nodeCount reads a one-item page: its items plus remainingItemCount.
func nodeCount(body []byte) (int, error) {
	var list metav1.PartialObjectMetadataList
	if err := json.Unmarshal(body, &list); err != nil {
		return 0, fmt.Errorf("decode list: %w", err)
	}
	n := len(list.Items)
	if list.RemainingItemCount != nil {
		n += int(*list.RemainingItemCount)
	} else if list.Continue != "" {
		return 0, errors.New("list has more pages but no remainingItemCount")
	}
	return n, nil
}

// isBackoffError is true for the failures that mean "ask less": throttling,
// server errors, timeouts and a server that cannot be reached.
func isBackoffError(err error) bool {
	if apierrors.IsTooManyRequests(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsUnexpectedServerError(err) {
		return true
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Code >= 500 {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr)
}
