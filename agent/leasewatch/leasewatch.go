// Package leasewatch measures watch health from the node: it watches this
// node's own Lease in kube-node-lease, which the kubelet renews every few
// seconds, and reports how long each renewal took to arrive (event received −
// spec.renewTime: same node, same clock), plus watch restarts and relists.
//
// A slow or stuck watch is what makes controllers and kubelets act on stale
// state; a Lease renewal is the cheapest steady event stream that every node
// already has, so watching it costs the API server one watch per node and no
// extra writes.
package leasewatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
)

// Namespace holds the nodes' Leases.
const Namespace = "kube-node-lease"

// Restart reasons reported to OnRestart.
const (
	ReasonClosed  = "closed"  // the server ended the watch (timeout, rollout): resumed from the last resourceVersion
	ReasonError   = "error"   // the watch could not be started or sent an error event
	ReasonExpired = "expired" // 410 Gone: the resourceVersion is too old, the Lease is read again (a relist)
)

// shortWatch: a watch that ends sooner than this without any event failed.
const shortWatch = time.Second

// Options configure a Watcher. Client and Node are required.
type Options struct {
	Client kubernetes.Interface
	Node   string
	Clock  clock.WithTicker // default the real clock
	Logger *slog.Logger
	// OnDelay receives the delivery delay of every new renewal.
	OnDelay func(delay time.Duration, renewedAt time.Time)
	// OnRestart receives every restart of the watch with its reason.
	OnRestart func(reason string)
	// MaxBackoff caps the wait between failed attempts (default 1m).
	MaxBackoff time.Duration
}

// Watcher watches one node's Lease.
type Watcher struct {
	o         Options
	rnd       *rand.Rand
	lastRenew time.Time
}

// New validates the options.
func New(o Options) (*Watcher, error) {
	if o.Client == nil {
		return nil, errors.New("leasewatch: no client")
	}
	if o.Node == "" {
		return nil, errors.New("leasewatch: node name is empty (set NODE_NAME from the downward API)")
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = time.Minute
	}
	if o.OnDelay == nil {
		o.OnDelay = func(time.Duration, time.Time) {}
	}
	if o.OnRestart == nil {
		o.OnRestart = func(string) {}
	}
	seed := uint64(o.Clock.Now().UnixNano())
	return &Watcher{o: o, rnd: rand.New(rand.NewPCG(seed, 7))}, nil
}

// Run watches until ctx ends: read the Lease, watch from its
// resourceVersion, resume after the server closes the watch, read again
// after 410 Gone, back off after errors.
func (w *Watcher) Run(ctx context.Context) error {
	failures := 0
	rv := ""
	for ctx.Err() == nil {
		if rv == "" {
			lease := &coordinationv1.Lease{}
			err := w.leases().Name(w.o.Node).Do(ctx).Into(lease)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				failures++
				w.o.Logger.Warn("cannot read the node's Lease", "node", w.o.Node, "err", err)
				w.o.OnRestart(ReasonError)
				w.wait(ctx, failures)
				continue
			}
			w.lastRenew = renewTime(lease)
			rv = lease.ResourceVersion
		}
		next, reason, err := w.watch(ctx, rv)
		if ctx.Err() != nil {
			return nil
		}
		switch reason {
		case ReasonClosed:
			failures = 0
			rv = next
		case ReasonExpired:
			rv = ""
		case ReasonError:
			failures++
			rv = next
			w.o.Logger.Warn("lease watch failed", "node", w.o.Node, "err", err)
		}
		w.o.OnRestart(reason)
		if reason != ReasonClosed {
			w.wait(ctx, failures)
		}
	}
	return nil
}

// watch runs one watch from rv and returns the resourceVersion to resume
// from and why it ended.
func (w *Watcher) watch(ctx context.Context, rv string) (string, string, error) {
	// A random timeout spreads the watch restarts of many nodes.
	timeout := int64(300 + w.rnd.IntN(300))
	opts := metav1.ListOptions{
		Watch:               true,
		FieldSelector:       fields.OneTermEqualSelector("metadata.name", w.o.Node).String(),
		ResourceVersion:     rv,
		AllowWatchBookmarks: true,
		TimeoutSeconds:      &timeout,
	}
	wi, err := w.leases().VersionedParams(&opts, scheme.ParameterCodec).
		Timeout(time.Duration(timeout) * time.Second).Watch(ctx)
	if err != nil {
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			return "", ReasonExpired, err
		}
		return rv, ReasonError, fmt.Errorf("start watch: %w", err)
	}
	defer wi.Stop()
	started, events := w.o.Clock.Now(), 0
	for {
		select {
		case <-ctx.Done():
			return rv, ReasonClosed, nil
		case ev, ok := <-wi.ResultChan():
			if !ok {
				// client-go turns a watch whose connection failed (reset,
				// EOF) into an empty watch that closes at once: like its
				// reflector, count that as a failure, or the watch would be
				// retried without backoff for as long as the server is away.
				if events == 0 && w.o.Clock.Since(started) < shortWatch {
					return rv, ReasonError, errors.New("very short watch: closed within a second with no event")
				}
				return rv, ReasonClosed, nil
			}
			events++
			switch ev.Type {
			case watch.Added, watch.Modified:
				lease, ok := ev.Object.(*coordinationv1.Lease)
				if !ok {
					continue
				}
				rv = lease.ResourceVersion
				w.observe(lease)
			case watch.Bookmark:
				if m, err := metaAccessor(ev.Object); err == nil {
					rv = m
				}
			case watch.Error:
				status := apierrors.FromObject(ev.Object)
				var se apierrors.APIStatus
				if errors.As(status, &se) && se.Status().Code == http.StatusGone {
					return "", ReasonExpired, status
				}
				return rv, ReasonError, status
			case watch.Deleted:
				// The node is going away; its Lease will come back if the node does.
				return "", ReasonError, errors.New("the node's Lease was deleted")
			}
		}
	}
}

// leases is a request for the Leases of kube-node-lease without client-go's
// own retries (up to 10, a second apart, on resets and EOFs): backing off is
// the watcher's job, and fixed one-second retries of every node at once are
// what a recovering API server must not get.
func (w *Watcher) leases() *rest.Request {
	return w.o.Client.CoordinationV1().RESTClient().Get().Namespace(Namespace).Resource("leases").MaxRetries(0)
}

// observe reports a renewal once, however many times it is delivered.
func (w *Watcher) observe(l *coordinationv1.Lease) {
	renewed := renewTime(l)
	if renewed.IsZero() || !renewed.After(w.lastRenew) {
		return
	}
	w.lastRenew = renewed
	delay := w.o.Clock.Since(renewed)
	if delay < 0 {
		delay = 0 // the kubelet's clock is ahead (it should be the same clock)
	}
	w.o.OnDelay(delay, renewed)
}

func (w *Watcher) wait(ctx context.Context, failures int) {
	d := min(time.Second<<min(failures, 10), w.o.MaxBackoff)
	d = time.Duration(float64(d) * (0.5 + 0.5*w.rnd.Float64()))
	t := w.o.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C():
	}
}

func renewTime(l *coordinationv1.Lease) time.Time {
	if l.Spec.RenewTime == nil {
		return time.Time{}
	}
	return l.Spec.RenewTime.Time
}

func metaAccessor(obj any) (string, error) {
	type rvGetter interface{ GetResourceVersion() string }
	if g, ok := obj.(rvGetter); ok {
		return g.GetResourceVersion(), nil
	}
	return "", errors.New("object has no resourceVersion")
}
