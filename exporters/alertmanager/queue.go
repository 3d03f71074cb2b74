package alertmanager

import "sync"

// item is one alert as it will be posted: encoded once, shared by every
// replica's queue.
type item struct {
	key  string // the alert's identity (its labels); later items supersede earlier ones
	body []byte // the JSON object of Alertmanager's postableAlert
}

// queue is a bounded FIFO of alerts for one replica. When full, pushing drops the
// oldest item: the newest state of an alert is what Alertmanager needs.
type queue struct {
	mu    sync.Mutex
	ring  []item // fixed size: the capacity
	head  int    // index of the oldest item
	count int
	more  chan struct{} // capacity 1: wakes the send loop
}

func newQueue(capacity int) *queue {
	return &queue{ring: make([]item, capacity), more: make(chan struct{}, 1)}
}

// push appends items, dropping the oldest ones when full, and returns how many
// were dropped.
func (q *queue) push(items []item) (dropped int) {
	q.mu.Lock()
	for _, it := range items {
		tail := (q.head + q.count) % len(q.ring)
		q.ring[tail] = it
		if q.count == len(q.ring) {
			q.head = (q.head + 1) % len(q.ring) // overwrote the oldest
			dropped++
		} else {
			q.count++
		}
	}
	q.mu.Unlock()
	q.wake()
	return dropped
}

// pushFront puts back a batch that could not be sent, ahead of what was queued
// since. Only free room is used: when the queue is full, the oldest items of the
// batch are the ones dropped (newer state has arrived meanwhile).
func (q *queue) pushFront(items []item) (dropped int) {
	q.mu.Lock()
	free := len(q.ring) - q.count
	if len(items) > free {
		dropped = len(items) - free
		items = items[dropped:]
	}
	for i := len(items) - 1; i >= 0; i-- {
		q.head = (q.head - 1 + len(q.ring)) % len(q.ring)
		q.ring[q.head] = items[i]
		q.count++
	}
	q.mu.Unlock()
	return dropped
}

// pop removes and returns up to n of the oldest items, appended to buf.
func (q *queue) pop(n int, buf []item) []item {
	q.mu.Lock()
	defer q.mu.Unlock()
	for n > 0 && q.count > 0 {
		buf = append(buf, q.ring[q.head])
		q.ring[q.head] = item{} // let the body be collected
		q.head = (q.head + 1) % len(q.ring)
		q.count--
		n--
	}
	return buf
}

// clear empties the queue and returns how many items it held.
func (q *queue) clear() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := q.count
	clear(q.ring)
	q.head, q.count = 0, 0
	return n
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.count
}

func (q *queue) wake() {
	select {
	case q.more <- struct{}{}:
	default: // a wake-up is already pending
	}
}
