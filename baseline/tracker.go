package baseline

import (
	"cmp"
	"hash/maphash"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Tracker. The zero value of every field but Config is
// fine.
type Options struct {
	// Config is the configuration of every key; use DefaultConfig as a base.
	Config Config
	// Prior returns the SLO, in the value's unit, that a key is held to
	// while it is still learning (ok false: none). It is called once, when a
	// key is first seen, and must not block.
	Prior func(key string) (slo float64, ok bool)
	// Logger receives warnings (checkpoint problems) and info (restores);
	// nil discards them. Nothing is logged on the Observe path.
	Logger *slog.Logger
	// CheckpointPath, if set, is restored from at construction; a missing
	// or unusable checkpoint logs a warning and the tracker starts fresh.
	CheckpointPath string
}

// Tracker learns the baselines of many keys and detects their drifts. It is
// safe for concurrent use: keys are spread over independently locked shards,
// so Observe calls for different keys rarely wait for each other.
//
// Memory is bounded by store.maxKeys: a sample for a new key beyond the cap
// is dropped and counted (Stats.Overflow) after idle keys are evicted to make
// room. Keys idle for store.idleTimeout (in sample time) are evicted by
// EvictIdle, which RunCheckpoints calls before every save.
type Tracker struct {
	p      *params
	cfg    Config
	prior  func(string) (float64, bool)
	log    *slog.Logger
	seed   maphash.Seed
	shards []shard // a power of two of them
	mask   uint64
	idle   int64

	keys      atomic.Int64
	overflow  atomic.Uint64
	evictions atomic.Uint64
}

// shard holds a partition of the keys. The map is keyed by the key's 64-bit
// hash, which also chose the shard: a lookup hashes the key string once,
// and the map's own hashing of a uint64 is cheap. Keys whose hashes
// collide (about once in 10¹⁹ pairs) share a chain.
type shard struct {
	mu     sync.Mutex
	m      map[uint64]*entry
	latest int64 // newest sample time seen in this shard
	_      [40]byte
}

type entry struct {
	key  string
	h    uint64 // hashKey(key)
	next *entry // the next key with the same hash
	d    Detector
}

// find returns the entry of key (hash h), or nil. sh is locked.
func (sh *shard) find(h uint64, key string) *entry {
	e := sh.m[h]
	for e != nil && e.key != key {
		e = e.next
	}
	return e
}

// insert adds e (not present yet). sh is locked.
func (sh *shard) insert(e *entry) {
	e.next = sh.m[e.h]
	sh.m[e.h] = e
}

// each calls fn for every entry. sh is locked.
func (sh *shard) each(fn func(e *entry)) {
	for _, e := range sh.m {
		for ; e != nil; e = e.next {
			fn(e)
		}
	}
}

// removeIf removes the entries for which drop is true and returns how
// many. sh is locked.
func (sh *shard) removeIf(drop func(e *entry) bool) int {
	n := 0
	for h, head := range sh.m {
		var keep *entry
		for e := head; e != nil; {
			next := e.next
			if drop(e) {
				n++
			} else {
				e.next, keep = keep, e
			}
			e = next
		}
		if keep == nil {
			delete(sh.m, h)
		} else {
			sh.m[h] = keep
		}
	}
	return n
}

// NewTracker returns a tracker, restored from opts.CheckpointPath when set.
func NewTracker(opts Options) (*Tracker, error) {
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	// A power of two of shards: the shard is a mask of the hash, not a
	// division.
	nshards := 1
	for nshards < opts.Config.Store.Shards {
		nshards *= 2
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Tracker{
		p:      newParams(opts.Config),
		cfg:    opts.Config,
		prior:  opts.Prior,
		log:    log,
		seed:   maphash.MakeSeed(),
		shards: make([]shard, nshards),
		mask:   uint64(nshards - 1),
		idle:   int64(opts.Config.Store.IdleTimeout),
	}
	for i := range t.shards {
		t.shards[i].m = make(map[uint64]*entry)
	}
	if opts.CheckpointPath != "" {
		_ = t.Restore(opts.CheckpointPath) // logged; a fresh start otherwise
	}
	return t, nil
}

// Config returns the tracker's configuration.
func (t *Tracker) Config() Config { return t.cfg }

func (t *Tracker) shard(key string) (*shard, uint64) {
	h := hashKey(t, key)
	return &t.shards[h&t.mask], h
}

func hashKey(t *Tracker, key string) uint64 { return maphash.String(t.seed, key) }

// Observe folds in one sample of key, measured at at, and returns an event
// when an alert starts or ends with it. It does not allocate for a key it
// already tracks. NaN and infinite values are ignored.
func (t *Tracker) Observe(key string, value float64, at time.Time) (ev Event, ok bool) {
	ns := at.UnixNano()
	sh, h := t.shard(key)
	sh.mu.Lock()
	e := sh.find(h, key)
	if e == nil {
		if e = t.add(sh, h, key, ns); e == nil {
			sh.mu.Unlock()
			return ev, false
		}
	}
	if ns > sh.latest {
		sh.latest = ns
	}
	ok = e.d.observe(value, ns, &ev)
	sh.mu.Unlock()
	if ok {
		ev.Key = e.key
	}
	return ev, ok
}

// add creates the entry for a new key, or returns nil (counted) at the cap
// when evicting this shard's idle keys does not make room. sh is locked.
func (t *Tracker) add(sh *shard, h uint64, key string, now int64) *entry {
	maxKeys := int64(t.cfg.Store.MaxKeys)
	if t.keys.Load() >= maxKeys {
		t.evictShard(sh, now)
	}
	if t.keys.Add(1) > maxKeys {
		t.keys.Add(-1)
		t.overflow.Add(1)
		return nil
	}
	var slo float64
	if t.prior != nil {
		if v, ok := t.prior(key); ok && v > 0 && v < 1e300 {
			slo = v
		}
	}
	e := &entry{key: strings.Clone(key), h: h}
	e.d = *newDetector(t.p, slo)
	sh.insert(e)
	return e
}

// evictShard removes the shard's keys idle since before now − idleTimeout.
// sh is locked.
func (t *Tracker) evictShard(sh *shard, now int64) int {
	n := sh.removeIf(func(e *entry) bool { return e.d.n > 0 && now-e.d.last > t.idle })
	if n > 0 {
		t.keys.Add(int64(-n))
		t.evictions.Add(uint64(n))
	}
	return n
}

// EvictIdle removes every key whose last sample is older than
// now − store.idleTimeout and returns how many it removed. now is a sample
// time (e.g. Latest()), not necessarily the wall clock.
func (t *Tracker) EvictIdle(now time.Time) int {
	ns, n := now.UnixNano(), 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n += t.evictShard(sh, ns)
		sh.mu.Unlock()
	}
	return n
}

// Latest returns the newest sample time the tracker has seen (zero before
// any).
func (t *Tracker) Latest() time.Time {
	var l int64
	seen := false
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		if len(sh.m) > 0 || sh.latest != 0 {
			if !seen || sh.latest > l {
				l = sh.latest
			}
			seen = true
		}
		sh.mu.Unlock()
	}
	if !seen {
		return time.Time{}
	}
	return time.Unix(0, l).UTC()
}

// Stats describes the store.
type Stats struct {
	// Keys is the number of keys tracked, Cap the store.maxKeys cap.
	Keys, Cap int
	// Overflow counts samples dropped because the cap was reached.
	Overflow uint64
	// Evictions counts keys removed for being idle.
	Evictions uint64
}

// Stats returns the store's statistics.
func (t *Tracker) Stats() Stats {
	return Stats{
		Keys:      int(t.keys.Load()),
		Cap:       t.cfg.Store.MaxKeys,
		Overflow:  t.overflow.Load(),
		Evictions: t.evictions.Load(),
	}
}

// Snapshot calls fn with the status of every key, in no particular order.
// Statuses are computed one shard at a time under its lock, and fn is called
// after the lock is released, so a slow fn never delays Observe.
func (t *Tracker) Snapshot(fn func(KeyStatus)) {
	var buf []KeyStatus
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		buf = buf[:0]
		sh.each(func(e *entry) {
			s := e.d.Status()
			s.Key = e.key
			buf = append(buf, s)
		})
		sh.mu.Unlock()
		for _, s := range buf {
			fn(s)
		}
	}
}

// Statuses returns the status of every key, sorted by key.
func (t *Tracker) Statuses() []KeyStatus {
	var out []KeyStatus
	t.Snapshot(func(s KeyStatus) { out = append(out, s) })
	slices.SortFunc(out, func(a, b KeyStatus) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

// Status returns the status of one key.
func (t *Tracker) Status(key string) (KeyStatus, bool) {
	sh, h := t.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.find(h, key)
	if e == nil {
		return KeyStatus{}, false
	}
	s := e.d.Status()
	s.Key = e.key
	return s, true
}
