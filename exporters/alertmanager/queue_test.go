package alertmanager

import (
	"fmt"
	"testing"
)

func keys(items []item) string {
	var k []string
	for _, it := range items {
		k = append(k, it.key)
	}
	return fmt.Sprint(k)
}

func items(keys ...string) []item {
	out := make([]item, len(keys))
	for i, k := range keys {
		out[i] = item{key: k, body: []byte(k)}
	}
	return out
}

func TestQueueDropsOldest(t *testing.T) {
	for _, tc := range []struct {
		name        string
		capacity    int
		pushes      [][]string
		popFirst    int    // pop this many before the last push
		wantDropped []int  // per push
		wantPopped  string // popped before the last push
		wantLeft    string // everything left, oldest first
	}{
		{"fits", 4, [][]string{{"a", "b"}, {"c"}}, 0, []int{0, 0}, "[]", "[a b c]"},
		{"full: oldest go", 3, [][]string{{"a", "b"}, {"c", "d", "e"}}, 0, []int{0, 2}, "[]", "[c d e]"},
		{"one push larger than the queue", 2, [][]string{{"a", "b", "c", "d", "e"}}, 0, []int{3}, "[]", "[d e]"},
		{"wraps around", 3, [][]string{{"a", "b", "c"}, {"d", "e"}}, 2, []int{0, 0}, "[a b]", "[c d e]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := newQueue(tc.capacity)
			popped := "[]"
			for i, p := range tc.pushes {
				if i == len(tc.pushes)-1 && tc.popFirst > 0 {
					popped = keys(q.pop(tc.popFirst, nil))
				}
				if d := q.push(items(p...)); d != tc.wantDropped[i] {
					t.Errorf("push %d dropped %d, want %d", i, d, tc.wantDropped[i])
				}
			}
			if popped != tc.wantPopped {
				t.Errorf("popped %s, want %s", popped, tc.wantPopped)
			}
			if left := keys(q.pop(100, nil)); left != tc.wantLeft {
				t.Errorf("left %s, want %s", left, tc.wantLeft)
			}
			if q.len() != 0 {
				t.Errorf("len %d after popping all", q.len())
			}
		})
	}
}

func TestQueuePushFront(t *testing.T) {
	q := newQueue(4)
	q.push(items("a", "b", "c"))
	batch := q.pop(2, nil)  // a b in flight
	q.push(items("d", "e")) // c d e queued
	// The batch failed: one slot is free, so only its newest item (b) goes back.
	if d := q.pushFront(batch); d != 1 {
		t.Errorf("pushFront dropped %d, want 1", d)
	}
	if got := keys(q.pop(10, nil)); got != "[b c d e]" {
		t.Errorf("queue %s, want [b c d e]", got)
	}
	q.push(items("x"))
	if d := q.pushFront(items("v", "w")); d != 0 {
		t.Errorf("pushFront with room dropped %d", d)
	}
	if got := keys(q.pop(10, nil)); got != "[v w x]" {
		t.Errorf("queue %s, want [v w x]", got)
	}
}

func TestQueueWakesOnce(t *testing.T) {
	q := newQueue(2)
	q.push(items("a"))
	q.push(items("b"))
	<-q.more
	select {
	case <-q.more:
		t.Error("two wake-ups pending; want one")
	default:
	}
	if n := q.clear(); n != 2 || q.len() != 0 {
		t.Errorf("clear = %d, len %d", n, q.len())
	}
}
