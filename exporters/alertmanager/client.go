package alertmanager

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Client sends alerts to every Alertmanager replica it knows. Create it with
// New, start it with Run, tell it about alerts with Firing and Resolved. All
// methods are safe for concurrent use.
type Client struct {
	o     Options // with defaults
	clk   clock.Clock
	log   *slog.Logger
	store *store
	tr    *transport
	creds *credentials
	kick  chan struct{} // capacity 1: wakes the scheduler when an alert must go now

	mu       sync.Mutex
	replicas map[string]*replica // by base URL
	running  bool                // Run is sending: replicas have send loops
	stopped  bool                // Run has returned
}

// New checks o and returns a Client that sends nothing until Run. Errors name
// the option: `alertmanager.urls[1]: "htp://x": want http or https URL`,
// `alertmanager.tls.caFile: open /x: no such file or directory`.
func New(o Options) (*Client, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	urls, _ := normalizeURLs(o.URLs) // validated above
	tr, err := newTransport(o.TLS)
	if err != nil {
		return nil, err
	}
	creds, err := newCredentials(o)
	if err != nil {
		return nil, err
	}
	c := &Client{
		o:        o,
		clk:      o.Clock,
		log:      o.Logger,
		store:    newStore(o),
		tr:       tr,
		creds:    creds,
		kick:     make(chan struct{}, 1),
		replicas: map[string]*replica{},
	}
	for _, u := range urls {
		c.replicas[u] = newReplica(u, o.QueueCapacity)
	}
	return c, nil
}

// Firing tells the Client that a is firing. A new alert (or one firing again
// after it resolved) is sent at once, then re-sent every resend interval; for
// one already firing, the new annotations go with the next resend. Calling it
// on every evaluation is fine. It never blocks; the error only reports an alert
// Alertmanager would reject (no alertname, a bad label name), which is not sent.
func (c *Client) Firing(a Alert) error {
	if err := a.validate(); err != nil {
		return err
	}
	if c.store.firing(&a, c.clk.Now()) {
		c.wakeScheduler()
	}
	return nil
}

// Resolved tells the Client that a stopped firing at "at" (zero or future:
// now). It is sent at once with endsAt = at, re-sent for the resolved resend
// window, then forgotten. It never blocks; errors as for Firing.
func (c *Client) Resolved(a Alert, at time.Time) error {
	if err := a.validate(); err != nil {
		return err
	}
	now := c.clk.Now()
	if at.IsZero() || at.After(now) {
		at = now // an end in the future would keep the alert firing in Alertmanager
	}
	if c.store.resolved(&a, at, now) {
		c.wakeScheduler()
	}
	return nil
}

func (c *Client) wakeScheduler() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// SetURLs replaces the set of Alertmanager replicas (discovery calls it).
// Replicas no longer listed stop at once (what they had queued is discarded);
// new ones get every firing and recently resolved alert immediately. Invalid
// URLs are an error and change nothing.
func (c *Client) SetURLs(urls []string) error {
	norm, err := normalizeURLs(urls)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	keep := map[string]bool{}
	for _, u := range norm {
		keep[u] = true
		if c.replicas[u] != nil {
			continue
		}
		r := newReplica(u, c.o.QueueCapacity)
		r.q.push(c.store.all(c.clk.Now()))
		c.replicas[u] = r
		if c.running {
			go c.sendLoop(r)
		}
		c.log.Info("alertmanager replica added", "url", u)
	}
	for u, r := range c.replicas {
		if keep[u] {
			continue
		}
		delete(c.replicas, u)
		r.cancel()
		c.log.Info("alertmanager replica removed", "url", u, "discarded", r.q.clear())
	}
	return nil
}

// URLs returns the replicas' base URLs, sorted.
func (c *Client) URLs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(maps.Keys(c.replicas))
}

// Run sends alerts until ctx ends, then keeps sending what is queued for at
// most Options.DrainTimeout and returns. It returns an error only if called
// twice. Firing and Resolved may be called before Run: what they record is
// sent once it starts.
func (c *Client) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.running || c.stopped {
		c.mu.Unlock()
		return errors.New("alertmanager: Run called twice")
	}
	c.running = true
	for _, r := range c.replicas {
		go c.sendLoop(r)
	}
	c.mu.Unlock()

	c.schedule(ctx)

	// Shutdown: queue what became due last, then let every replica drain.
	c.broadcast(c.store.due(c.clk.Now()))
	c.mu.Lock()
	c.running, c.stopped = false, true
	replicas := slices.Collect(maps.Values(c.replicas))
	c.mu.Unlock()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.o.DrainTimeout)
	defer cancel()
	// Past the deadline, abort POSTs still in flight.
	stop := context.AfterFunc(dctx, func() {
		for _, r := range replicas {
			r.cancel()
		}
	})
	defer stop()
	for _, r := range replicas {
		r.drain(dctx)
	}
	for _, r := range replicas {
		<-r.done
		if n := r.q.clear(); n > 0 {
			r.dropped.Add(uint64(n))
			c.log.Warn("alertmanager: alerts left unsent at shutdown", "url", r.url, "dropped", n)
		}
		r.cancel()
	}
	return nil
}

// schedule queues alerts for every replica when they are due, until ctx ends.
func (c *Client) schedule(ctx context.Context) {
	for {
		now := c.clk.Now()
		c.broadcast(c.store.due(now))

		var timer clock.Timer
		var fire <-chan time.Time
		if next, ok := c.store.next(); ok {
			timer = c.clk.NewTimer(max(next.Sub(now), 0))
			fire = timer.C()
		}
		select {
		case <-ctx.Done():
		case <-c.kick:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// broadcast queues items for every replica; a full queue drops its oldest.
func (c *Client) broadcast(items []item) {
	if len(items) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.replicas {
		if n := r.q.push(items); n > 0 {
			r.dropped.Add(uint64(n))
		}
	}
}

// ReplicaStats are one replica's counters, for the agent to export as metrics
// (this package does not depend on a metrics library).
type ReplicaStats struct {
	URL           string
	QueueLength   int    // alerts waiting
	QueueCapacity int    // the most that can wait
	Sent          uint64 // alerts Alertmanager accepted
	Dropped       uint64 // alerts given up: queue full, rejected by Alertmanager, left at shutdown
	SendErrors    uint64 // failed POSTs (each may be retried)
	LastError     string // of the last failed POST; empty if none
	LastErrorTime time.Time
	LastSuccess   time.Time // of the last accepted POST; zero if none
}

// Stats returns each replica's counters, sorted by URL.
func (c *Client) Stats() []ReplicaStats {
	c.mu.Lock()
	replicas := slices.Collect(maps.Values(c.replicas))
	c.mu.Unlock()
	out := make([]ReplicaStats, 0, len(replicas))
	for _, r := range replicas {
		out = append(out, r.stats())
	}
	slices.SortFunc(out, func(a, b ReplicaStats) int { return strings.Compare(a.URL, b.URL) })
	return out
}
