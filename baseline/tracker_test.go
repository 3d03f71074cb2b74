package baseline

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestTrackerConcurrentObserve(t *testing.T) {
	tr, err := NewTracker(Options{Config: DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	const workers, keys, per = 8, 50, 400
	var wg sync.WaitGroup
	var events atomic.Int64
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range per {
				k := fmt.Sprintf("get/pods/k%d", r.IntN(keys))
				if _, ok := tr.Observe(k, 0.01*math.Exp(0.2*r.NormFloat64()), t0.Add(time.Duration(i)*time.Second)); ok {
					events.Add(1)
				}
				if i%100 == 0 {
					tr.Snapshot(func(KeyStatus) {})
					tr.Stats()
				}
			}
		})
	}
	wg.Wait()
	st := tr.Stats()
	if st.Keys != keys || st.Overflow != 0 {
		t.Fatalf("stats %+v, want %d keys and no overflow", st, keys)
	}
	var total uint64
	for _, s := range tr.Statuses() {
		total += s.Samples
	}
	if total != workers*per {
		t.Errorf("%d samples recorded, want %d", total, workers*per)
	}
}

func TestTrackerObserveExistingKeyDoesNotAllocate(t *testing.T) {
	tr, _ := NewTracker(Options{Config: DefaultConfig()})
	at := t0
	tr.Observe("list/pods/cluster/server", 0.1, at)
	allocs := testing.AllocsPerRun(1000, func() {
		at = at.Add(10 * time.Second)
		tr.Observe("list/pods/cluster/server", 0.1, at)
	})
	if allocs != 0 {
		t.Errorf("Observe on an existing key allocates %v times", allocs)
	}
}

func TestTrackerKeyCapOverflowAndEviction(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Store.MaxKeys = 3
	cfg.Store.IdleTimeout = Duration(time.Hour)
	tr, _ := NewTracker(Options{Config: cfg})
	for i := range 3 {
		tr.Observe(fmt.Sprintf("k%d", i), 1, t0)
	}
	if _, ok := tr.Observe("k3", 1, t0.Add(time.Minute)); ok {
		t.Fatal("event from an overflowing key")
	}
	if _, tracked := tr.Status("k3"); tracked {
		t.Fatal("key beyond the cap is tracked")
	}
	if st := tr.Stats(); st.Keys != 3 || st.Overflow != 1 || st.Cap != 3 {
		t.Fatalf("stats %+v, want 3 keys, 1 overflow", st)
	}
	// Keep k0 alive; the others go idle. Two hours on, k3 finds room once
	// idle keys of its shard or an explicit EvictIdle free it.
	tr.Observe("k0", 1, t0.Add(90*time.Minute))
	if n := tr.EvictIdle(t0.Add(2 * time.Hour)); n != 2 {
		t.Fatalf("evicted %d, want 2 (k1, k2)", n)
	}
	tr.Observe("k3", 1, t0.Add(2*time.Hour))
	if _, tracked := tr.Status("k3"); !tracked {
		t.Fatal("k3 not tracked after eviction freed room")
	}
	st := tr.Stats()
	if st.Keys != 2 || st.Evictions != 2 || st.Overflow != 1 {
		t.Fatalf("stats %+v", st)
	}
	if got := tr.Latest(); !got.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("Latest() = %s", got)
	}
}

func TestTrackerNewKeyEvictsIdleKeysOfItsShardAtTheCap(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Store.MaxKeys, cfg.Store.Shards = 1, 1
	cfg.Store.IdleTimeout = Duration(time.Minute)
	tr, _ := NewTracker(Options{Config: cfg})
	tr.Observe("old", 1, t0)
	tr.Observe("new", 1, t0.Add(time.Hour))
	if _, ok := tr.Status("new"); !ok {
		t.Fatal("an idle key did not make room for a new one")
	}
	if st := tr.Stats(); st.Keys != 1 || st.Evictions != 1 || st.Overflow != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestTrackerPriorsAndEvents(t *testing.T) {
	calls := map[string]int{}
	var mu sync.Mutex
	tr, _ := NewTracker(Options{Config: DefaultConfig(), Prior: func(k string) (float64, bool) {
		mu.Lock()
		calls[k]++
		mu.Unlock()
		switch k {
		case "get/pods/namespace/server":
			return 1, true
		case "list/pods/cluster/server":
			return 30, true
		}
		return 0, false
	}})
	var evs []Event
	for i := range 10 {
		if ev, ok := tr.Observe("get/pods/namespace/server", 2.5, t0.Add(time.Duration(i)*time.Second)); ok {
			evs = append(evs, ev)
		}
		tr.Observe("list/pods/cluster/server", 2.5, t0.Add(time.Duration(i)*time.Second))
	}
	if len(evs) != 1 || evs[0].Key != "get/pods/namespace/server" || evs[0].Reason != ReasonSLO || evs[0].SLO != 1 {
		t.Fatalf("events %v, want one SLO alert for the single-object key", evs)
	}
	s, _ := tr.Status("get/pods/namespace/server")
	if s.State != StateFiring || s.Reason != ReasonSLO || s.FiringSince.IsZero() || s.Score <= 0.5 {
		t.Errorf("status %+v", s)
	}
	if s, _ := tr.Status("list/pods/cluster/server"); s.State != StateLearning || s.SLO != 30 {
		t.Errorf("list status %+v", s)
	}
	if calls["get/pods/namespace/server"] != 1 {
		t.Errorf("prior called %d times for one key, want once", calls["get/pods/namespace/server"])
	}
}

func TestStatusesAreSortedAndComplete(t *testing.T) {
	tr, _ := NewTracker(Options{Config: DefaultConfig()})
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		for _, k := range []string{"b", "a", "c"} {
			tr.Observe(k, 0.05*math.Exp(0.1*r.NormFloat64()), t0.Add(time.Duration(i)*10*time.Second))
		}
	}
	ss := tr.Statuses()
	if len(ss) != 3 || ss[0].Key != "a" || ss[2].Key != "c" {
		t.Fatalf("statuses %v", ss)
	}
	s := ss[0]
	if s.State != StateNormal || s.Samples != 500 || s.WindowCount == 0 || s.Spacing != 10*time.Second {
		t.Errorf("status %+v", s)
	}
	for name, v := range map[string]float64{"mean": s.Mean, "p50": s.P50, "p95": s.P95, "p99": s.P99, "current": s.Current} {
		if math.Abs(v/0.05-1) > 0.5 {
			t.Errorf("%s = %v, want near 0.05", name, v)
		}
	}
	if !(s.P50 <= s.P95 && s.P95 <= s.P99) {
		t.Errorf("quantiles out of order: %v %v %v", s.P50, s.P95, s.P99)
	}
	if !s.LastSample.Equal(t0.Add(499 * 10 * time.Second)) {
		t.Errorf("last sample %s", s.LastSample)
	}
}

func TestNewTrackerRejectsInvalidConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Store.Shards = 0
	if _, err := NewTracker(Options{Config: cfg}); err == nil {
		t.Fatal("invalid config accepted")
	}
}

// TestShardHashCollisionsChain: keys whose 64-bit hashes collide (forced
// here; about once in 10¹⁹ pairs in life) are found, listed and evicted
// each on its own.
func TestShardHashCollisionsChain(t *testing.T) {
	sh := shard{m: map[uint64]*entry{}}
	for i, k := range []string{"a", "b", "c", "d"} {
		e := &entry{key: k, h: 7}
		e.d.last = int64(i)
		sh.insert(e)
	}
	sh.insert(&entry{key: "e", h: 9})
	for _, k := range []string{"a", "b", "c", "d"} {
		if e := sh.find(7, k); e == nil || e.key != k {
			t.Fatalf("find(%q) = %v", k, e)
		}
	}
	if sh.find(7, "e") != nil || sh.find(9, "a") != nil {
		t.Fatal("found a key under another hash")
	}
	if n := sh.removeIf(func(e *entry) bool { return e.key == "b" || e.key == "d" || e.key == "e" }); n != 3 {
		t.Fatalf("removed %d, want 3", n)
	}
	var left []string
	sh.each(func(e *entry) { left = append(left, e.key) })
	slices.Sort(left)
	if !slices.Equal(left, []string{"a", "c"}) || len(sh.m) != 1 {
		t.Fatalf("left %v (%d hashes), want [a c] under one hash", left, len(sh.m))
	}
	if sh.find(7, "a") == nil || sh.find(7, "c") == nil || sh.find(7, "b") != nil {
		t.Fatal("chain broken after removal")
	}
}
