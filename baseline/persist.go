package baseline

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"github.com/kubepulse/kubepulse/baseline/checkpoint"
)

// SaveCheckpoint writes every key's complete state to a checkpoint at path
// (a directory; see package checkpoint), replacing the previous one
// atomically. Each shard is locked only while its keys are encoded into a
// buffer; compressing and writing happen with no lock held.
func (t *Tracker) SaveCheckpoint(path string) error {
	var w checkpoint.Writer
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		sh.each(func(e *entry) {
			w.Append(func(b []byte) []byte { return appendEntry(b, e.key, &e.d) })
		})
		sh.mu.Unlock()
	}
	var meta []byte
	meta = binary.LittleEndian.AppendUint64(meta, t.overflow.Load())
	meta = binary.LittleEndian.AppendUint64(meta, t.evictions.Load())
	if err := w.Save(path, checkpoint.Header{Kind: checkpointKind, Version: stateVersion, Meta: meta}); err != nil {
		return fmt.Errorf("baseline: save checkpoint: %w", err)
	}
	return nil
}

// Restore replaces the tracker's state with the checkpoint at path. The
// checkpoint is decoded completely into fresh maps first and swapped in only
// if every entry is valid: on any error the tracker keeps its state (a fresh
// one when called from NewTracker), logs a warning saying why, and returns
// the error. A missing checkpoint is logged at info level (first start).
//
// Keys beyond store.maxKeys are dropped, least recently seen first. SLO
// priors are asked again for every key, so a changed Prior applies.
func (t *Tracker) Restore(path string) error {
	type restored struct {
		key string
		d   *Detector
	}
	var all []restored
	layoutChanged := 0
	h, err := checkpoint.Load(path, checkpointKind, stateVersion, func(p []byte) error {
		key, d, err := decodeEntry(p, t.p)
		if errors.Is(err, errWindowLayout) {
			layoutChanged++
		} else if err != nil {
			return err
		}
		all = append(all, restored{key, d})
		return nil
	})
	switch {
	case errors.Is(err, fs.ErrNotExist):
		t.log.Info("no baseline checkpoint yet, starting fresh", "path", path)
		return err
	case err != nil:
		t.log.Warn("cannot use the baseline checkpoint, starting fresh: learned baselines are lost", "path", path, "err", err)
		return err
	}
	// The same key twice means the file was not written by SaveCheckpoint.
	seen := make(map[string]struct{}, len(all))
	for _, r := range all {
		if _, dup := seen[r.key]; dup {
			err := fmt.Errorf("%w: %s: key %q appears twice", checkpoint.ErrCorrupt, path, r.key)
			t.log.Warn("cannot use the baseline checkpoint, starting fresh: learned baselines are lost", "path", path, "err", err)
			return err
		}
		seen[r.key] = struct{}{}
	}
	dropped := 0
	if max := t.cfg.Store.MaxKeys; len(all) > max {
		slices.SortFunc(all, func(a, b restored) int { return cmp.Compare(b.d.last, a.d.last) })
		dropped = len(all) - max
		all = all[:max]
	}
	fresh := make([]shard, len(t.shards))
	for i := range fresh {
		fresh[i].m = make(map[uint64]*entry)
	}
	for _, r := range all {
		if t.prior != nil {
			r.d.slo = 0
			if v, ok := t.prior(r.key); ok && v > 0 && v < 1e300 {
				r.d.slo = v
			}
		}
		h := hashKey(t, r.key)
		f := &fresh[h&t.mask]
		f.insert(&entry{key: r.key, h: h, d: *r.d})
		f.latest = max(f.latest, r.d.last)
	}
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		sh.m, sh.latest = fresh[i].m, fresh[i].latest
		sh.mu.Unlock()
	}
	t.keys.Store(int64(len(all)))
	if len(h.Meta) >= 16 {
		t.overflow.Store(binary.LittleEndian.Uint64(h.Meta))
		t.evictions.Store(binary.LittleEndian.Uint64(h.Meta[8:]))
	}
	t.log.Info("restored baselines from checkpoint", "path", path, "keys", len(all))
	if dropped > 0 {
		t.log.Warn("checkpoint holds more keys than store.maxKeys; dropped the least recently seen", "path", path, "dropped", dropped, "maxKeys", t.cfg.Store.MaxKeys)
	}
	if layoutChanged > 0 {
		t.log.Warn("window layout changed since the checkpoint; sliding windows restart empty, EWMA baselines are kept", "path", path, "keys", layoutChanged)
	}
	return nil
}

// RunCheckpoints saves a checkpoint to path every interval, and once more
// when ctx ends (shutdown). Before each save it evicts keys idle for
// store.idleTimeout, measured against the newest sample seen. A failed
// periodic save is logged and retried at the next tick; the error of the
// final save is returned.
func (t *Tracker) RunCheckpoints(ctx context.Context, path string, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("baseline: checkpoint interval: want > 0, got %s", interval)
	}
	tk := time.NewTicker(interval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			t.evictLatest()
			return t.SaveCheckpoint(path)
		case <-tk.C:
			t.evictLatest()
			if err := t.SaveCheckpoint(path); err != nil {
				t.log.Warn("periodic baseline checkpoint failed; will retry", "path", path, "err", err)
			}
		}
	}
}

func (t *Tracker) evictLatest() {
	if l := t.Latest(); !l.IsZero() {
		t.EvictIdle(l)
	}
}
