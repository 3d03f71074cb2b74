package alertmanager

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// replica is one Alertmanager: its queue, its send loop's lifecycle and its
// counters.
type replica struct {
	url     string // base URL, as configured (without trailing slash)
	postURL string // url + /api/v2/alerts
	q       *queue

	ctx    context.Context // canceled when the replica is removed: abort at once
	cancel context.CancelFunc

	drainOnce sync.Once
	draining  chan struct{}   // closed at shutdown: send what is queued, then stop
	drainCtx  context.Context // bounds the drain; set before draining is closed
	done      chan struct{}   // closed when the send loop has returned

	sent, dropped, sendErrors atomic.Uint64

	mu          sync.Mutex
	lastErr     string
	lastErrTime time.Time
	lastSuccess time.Time
	failing     bool // the last POST failed: log only the transitions
}

func newReplica(base string, capacity int) *replica {
	post, err := url.JoinPath(base, "api", "v2", "alerts")
	if err != nil { // base was validated
		post = base + "/api/v2/alerts"
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &replica{url: base, postURL: post, q: newQueue(capacity), ctx: ctx, cancel: cancel,
		draining: make(chan struct{}), done: make(chan struct{})}
}

// drain asks the send loop to send what is queued within ctx, then return.
func (r *replica) drain(ctx context.Context) {
	r.drainOnce.Do(func() {
		r.drainCtx = ctx
		close(r.draining)
	})
}

func (r *replica) stats() ReplicaStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return ReplicaStats{
		URL:           r.url,
		QueueLength:   r.q.len(),
		QueueCapacity: len(r.q.ring),
		Sent:          r.sent.Load(),
		Dropped:       r.dropped.Load(),
		SendErrors:    r.sendErrors.Load(),
		LastError:     r.lastErr,
		LastErrorTime: r.lastErrTime,
		LastSuccess:   r.lastSuccess,
	}
}

// sendLoop posts r's queue in batches until r is removed or drained. A batch
// that may succeed later goes back to the front of the queue and is retried
// after a backoff; the queue keeps filling meanwhile, dropping its oldest.
func (c *Client) sendLoop(r *replica) {
	defer close(r.done)
	var (
		buf     []item
		backoff time.Duration
	)
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.draining:
			c.drainQueue(r)
			return
		case <-r.q.more:
		}
		for {
			buf = r.q.pop(c.o.BatchSize, buf[:0])
			if len(buf) == 0 {
				break
			}
			err := c.post(r.ctx, r, buf)
			if err == nil {
				backoff = 0
				continue
			}
			var se *statusError
			if errors.As(err, &se) && !se.retryable() {
				r.dropped.Add(uint64(len(buf)))
				continue
			}
			r.dropped.Add(uint64(r.q.pushFront(buf)))
			backoff = c.nextBackoff(backoff)
			t := c.clk.NewTimer(backoff)
			select {
			case <-r.ctx.Done():
				t.Stop()
				return
			case <-r.draining:
				t.Stop()
				c.drainQueue(r)
				return
			case <-t.C():
			}
		}
	}
}

// nextBackoff doubles the wait between retries, from 1s up to
// min(30s, resend interval).
func (c *Client) nextBackoff(d time.Duration) time.Duration {
	ceiling := min(maxBackoff, c.o.ResendInterval)
	if d == 0 {
		return min(time.Second, ceiling)
	}
	return min(2*d, ceiling)
}

// drainQueue makes one attempt at each queued batch before the drain deadline;
// what is left is dropped and counted.
func (c *Client) drainQueue(r *replica) {
	deadline, ok := r.drainCtx.Deadline()
	if !ok {
		deadline = time.Now().Add(c.o.DrainTimeout)
	}
	ctx, cancel := context.WithDeadline(r.ctx, deadline)
	defer cancel()
	var buf []item
	for {
		buf = r.q.pop(c.o.BatchSize, buf[:0])
		if len(buf) == 0 {
			return
		}
		if ctx.Err() != nil {
			r.dropped.Add(uint64(len(buf))) // Run counts what is still queued
			return
		}
		if err := c.post(ctx, r, buf); err != nil {
			r.dropped.Add(uint64(len(buf)))
		}
	}
}

// post sends one batch; it updates r's counters and logs when r starts or stops
// failing.
func (c *Client) post(ctx context.Context, r *replica, batch []item) error {
	body, n := encodeBatch(batch)
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	err := c.do(ctx, r.postURL, body)
	if err != nil && r.ctx.Err() != nil {
		return err // the replica was removed or the drain ran out of time: not its failure
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	now := c.clk.Now()
	if err == nil {
		r.sent.Add(uint64(n))
		r.lastSuccess = now
		if r.failing {
			r.failing = false
			c.log.Info("alertmanager replica recovered", "url", r.url)
		}
		return nil
	}
	r.sendErrors.Add(1)
	r.lastErr, r.lastErrTime = err.Error(), now
	if !r.failing {
		r.failing = true
		c.log.Warn("alertmanager replica failing", "url", r.url, "alerts", n, "queued", r.q.len(), "err", err)
	} else {
		c.log.Debug("alertmanager replica still failing", "url", r.url, "alerts", n, "err", err)
	}
	return err
}

// do POSTs body to u with the configured transport and credentials.
func (c *Client) do(ctx context.Context, u string, body []byte) error {
	rt, reloadErr := c.tr.current()
	if reloadErr != nil {
		c.log.Warn("alertmanager: TLS files changed but cannot be used", "err", reloadErr)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("alertmanager: building request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.o.UserAgent)
	c.creds.apply(req)
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return err // a *url.Error: method, URL (no credentials: validated) and cause
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // reuse the connection
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return &statusError{code: resp.StatusCode, status: resp.Status, msg: strings.TrimSpace(string(msg))}
}

// statusError is a non-2xx answer from Alertmanager.
type statusError struct {
	code        int
	status, msg string
}

func (e *statusError) Error() string {
	if e.msg == "" {
		return "alertmanager answered " + e.status
	}
	return fmt.Sprintf("alertmanager answered %s: %q", e.status, e.msg)
}

// retryable: server errors, timeouts and throttling may pass; other 4xx (a
// rejected alert, wrong credentials) would fail the same way again.
func (e *statusError) retryable() bool {
	return e.code/100 != 4 || e.code == http.StatusRequestTimeout || e.code == http.StatusTooManyRequests
}

// encodeBatch joins the alerts' JSON into one array. When the batch holds the
// same alert more than once (a replica that was catching up), only the newest
// is sent. It returns the body and the number of alerts in it.
func encodeBatch(batch []item) ([]byte, int) {
	last := make(map[string]int, len(batch))
	size := 2
	for i, it := range batch {
		last[it.key] = i
		size += len(it.body) + 1
	}
	b := make([]byte, 0, size)
	b = append(b, '[')
	n := 0
	for i, it := range batch {
		if last[it.key] != i {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, it.body...)
		n++
	}
	return append(b, ']'), n
}
