package baseline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kubepulse/kubepulse/baseline/checkpoint"
)

// randomTracker builds a tracker whose keys went through random histories:
// log and linear series, learning, pending, firing, accepted shifts, gaps,
// SLO priors, different window fill levels.
func randomTracker(t testing.TB, seed uint64, keys int, cfg Config) *Tracker {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	tr, err := NewTracker(Options{Config: cfg, Prior: func(k string) (float64, bool) {
		if strings.HasSuffix(k, "/slo") {
			return 0.5, true
		}
		return 0, false
	}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for k := range keys {
		key := fmt.Sprintf("get/pods/k%d", k)
		if r.IntN(5) == 0 {
			key += "/slo"
		}
		base := math.Exp(r.NormFloat64() * 2)
		linear := r.IntN(4) == 0
		n := r.IntN(400)
		step := time.Duration(1+r.IntN(60)) * time.Second
		at := t0.Add(time.Duration(r.IntN(3600)) * time.Second)
		shift := r.IntN(max(n, 1))
		for i := range n {
			v := base * math.Exp(0.2*r.NormFloat64())
			if i > shift {
				v *= 3
			}
			if linear {
				v = r.NormFloat64() * 3
			}
			tr.Observe(key, v, at)
			at = at.Add(step)
			if r.IntN(100) == 0 {
				at = at.Add(time.Duration(r.IntN(10)) * time.Hour)
			}
		}
	}
	return tr
}

// trackerState flattens a tracker for comparison.
func trackerState(tr *Tracker) map[string]Detector {
	m := map[string]Detector{}
	for i := range tr.shards {
		tr.shards[i].each(func(e *entry) { m[e.key] = e.d })
	}
	return m
}

func TestCheckpointRoundTripIsExact(t *testing.T) {
	cfgs := map[string]Config{"default": DefaultConfig()}
	small := DefaultConfig()
	small.Window.Buckets, small.Window.Bins, small.Detector.MinSamples = 2, 8, 5
	cfgs["small-window"] = small
	for name, cfg := range cfgs {
		for seed := uint64(1); seed <= 5; seed++ {
			t.Run(fmt.Sprintf("%s/seed%d", name, seed), func(t *testing.T) {
				tr := randomTracker(t, seed, 200, cfg)
				path := filepath.Join(t.TempDir(), "ckpt")
				if err := tr.SaveCheckpoint(path); err != nil {
					t.Fatal(err)
				}
				got, err := NewTracker(Options{Config: cfg, Prior: tr.prior, CheckpointPath: path})
				if err != nil {
					t.Fatal(err)
				}
				want := trackerState(tr)
				have := trackerState(got)
				if len(want) != len(have) {
					t.Fatalf("restored %d keys, want %d", len(have), len(want))
				}
				for k, d := range want {
					if !reflect.DeepEqual(d, have[k]) {
						t.Fatalf("key %s differs after restore:\n got %+v\nwant %+v", k, have[k], d)
					}
				}
				if got.Stats() != tr.Stats() {
					t.Errorf("stats %+v, want %+v", got.Stats(), tr.Stats())
				}
			})
		}
	}
}

// logBuffer captures a tracker's log.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var b bytes.Buffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

func TestRestoreFailuresStartFresh(t *testing.T) {
	cfg := DefaultConfig()
	// damage returns the path to restore from after spoiling a good checkpoint.
	cases := []struct {
		name    string
		damage  func(t *testing.T, path string) string
		wantErr error
		wantLog string
	}{
		{"missing", func(t *testing.T, path string) string { return path + "-nope" }, fs.ErrNotExist, "no baseline checkpoint yet"},
		{"truncated data file", func(t *testing.T, path string) string {
			f := biggestDataFile(t, path)
			st, _ := os.Stat(f)
			if err := os.Truncate(f, st.Size()/2); err != nil {
				t.Fatal(err)
			}
			return path
		}, checkpoint.ErrCorrupt, "truncated"},
		{"flipped byte in data file", func(t *testing.T, path string) string {
			f := biggestDataFile(t, path)
			b, _ := os.ReadFile(f)
			b[len(b)/2] ^= 0x40
			os.WriteFile(f, b, 0o644)
			return path
		}, checkpoint.ErrCorrupt, "checksum mismatch"},
		{"manifest garbage", func(t *testing.T, path string) string {
			os.WriteFile(filepath.Join(path, "MANIFEST"), []byte("hello"), 0o644)
			return path
		}, checkpoint.ErrCorrupt, "bad magic"},
		{"manifest truncated", func(t *testing.T, path string) string {
			m := filepath.Join(path, "MANIFEST")
			b, _ := os.ReadFile(m)
			os.WriteFile(m, b[:len(b)-9], 0o644)
			return path
		}, checkpoint.ErrCorrupt, "checksum"},
		{"data file removed", func(t *testing.T, path string) string {
			os.Remove(biggestDataFile(t, path))
			return path
		}, checkpoint.ErrCorrupt, "files"},
		{"other entry version", func(t *testing.T, path string) string {
			other := path + "-next"
			var w checkpoint.Writer
			w.Add([]byte("x"))
			if err := w.Save(other, checkpoint.Header{Kind: checkpointKind, Version: stateVersion + 1}); err != nil {
				t.Fatal(err)
			}
			return other
		}, checkpoint.ErrVersion, fmt.Sprint("version ", stateVersion+1)},
		{"version 2 (before the exceedance chart)", func(t *testing.T, path string) string {
			old := path + "-v2"
			var w checkpoint.Writer
			w.Add([]byte("x"))
			if err := w.Save(old, checkpoint.Header{Kind: checkpointKind, Version: 2}); err != nil {
				t.Fatal(err)
			}
			return old
		}, checkpoint.ErrVersion, "version 2"},
		{"version 1 (before the CUSUM, long level and daily profile)", func(t *testing.T, path string) string {
			old := path + "-v1"
			var w checkpoint.Writer
			w.Add([]byte("x"))
			if err := w.Save(old, checkpoint.Header{Kind: checkpointKind, Version: 1}); err != nil {
				t.Fatal(err)
			}
			return old
		}, checkpoint.ErrVersion, "version 1"},
		{"other producer", func(t *testing.T, path string) string {
			other := path + "-other"
			var w checkpoint.Writer
			if err := w.Save(other, checkpoint.Header{Kind: "someone/else", Version: stateVersion}); err != nil {
				t.Fatal(err)
			}
			return other
		}, checkpoint.ErrVersion, "someone/else"},
		{"corrupt entry with valid checksums", func(t *testing.T, path string) string {
			other := path + "-bad-entry"
			var w checkpoint.Writer
			w.Add(appendEntry(nil, "good", newDetector(newParams(cfg), 0)))
			w.Add([]byte{3, 'b', 'a', 'd', 1, 2, 3})
			if err := w.Save(other, checkpoint.Header{Kind: checkpointKind, Version: stateVersion}); err != nil {
				t.Fatal(err)
			}
			return other
		}, checkpoint.ErrCorrupt, "entry 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := randomTracker(t, 1, 300, cfg)
			path := filepath.Join(t.TempDir(), "ckpt")
			if err := src.SaveCheckpoint(path); err != nil {
				t.Fatal(err)
			}
			from := tc.damage(t, path)

			log, buf := logBuffer()
			tr, err := NewTracker(Options{Config: cfg, Logger: log, CheckpointPath: from})
			if err != nil {
				t.Fatal(err)
			}
			if n := tr.Stats().Keys; n != 0 {
				t.Errorf("fresh start expected, got %d keys", n)
			}
			if !strings.Contains(buf.String(), tc.wantLog) {
				t.Errorf("log %q does not mention %q", buf.String(), tc.wantLog)
			}

			// Restore on a live tracker keeps its state on failure.
			live := randomTracker(t, 2, 50, cfg)
			before := trackerState(live)
			err = live.Restore(from)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Restore error %v, want %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(trackerState(live), before) {
				t.Error("a failed Restore changed the tracker's state")
			}
		})
	}
}

func biggestDataFile(t *testing.T, path string) string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(path, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	var best string
	var size int64 = -1
	for _, e := range ents {
		if info, _ := e.Info(); strings.HasPrefix(e.Name(), "data.") && info.Size() > size {
			best, size = filepath.Join(path, "cache", e.Name()), info.Size()
		}
	}
	return best
}

func TestRestoreDropsKeysBeyondCapLeastRecentFirst(t *testing.T) {
	cfg := DefaultConfig()
	tr, _ := NewTracker(Options{Config: cfg})
	t0 := time.Unix(1_700_000_000, 0)
	for i := range 10 {
		tr.Observe(fmt.Sprintf("k%d", i), 1, t0.Add(time.Duration(i)*time.Minute))
	}
	path := filepath.Join(t.TempDir(), "ckpt")
	if err := tr.SaveCheckpoint(path); err != nil {
		t.Fatal(err)
	}
	cfg.Store.MaxKeys = 4
	log, buf := logBuffer()
	got, _ := NewTracker(Options{Config: cfg, Logger: log, CheckpointPath: path})
	var keys []string
	for _, s := range got.Statuses() {
		keys = append(keys, s.Key)
	}
	if want := []string{"k6", "k7", "k8", "k9"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("kept %v, want %v", keys, want)
	}
	if !strings.Contains(buf.String(), "dropped=6") {
		t.Errorf("log %q does not report the 6 dropped keys", buf.String())
	}
}

func TestRestoreWithChangedWindowKeepsEWMA(t *testing.T) {
	cfg := DefaultConfig()
	tr := randomTracker(t, 3, 50, cfg)
	path := filepath.Join(t.TempDir(), "ckpt")
	if err := tr.SaveCheckpoint(path); err != nil {
		t.Fatal(err)
	}
	cfg.Window.Bins = 32
	log, buf := logBuffer()
	got, _ := NewTracker(Options{Config: cfg, Logger: log, CheckpointPath: path})
	want := trackerState(tr)
	for k, d := range trackerState(got) {
		w := want[k]
		if d.slow != w.slow || d.fast != w.fast || d.n != w.n || d.state != w.state {
			t.Fatalf("key %s: EWMA state not kept", k)
		}
		if d.win.Count() != 0 {
			t.Fatalf("key %s: window of another layout restored", k)
		}
	}
	if !strings.Contains(buf.String(), "window layout changed") {
		t.Errorf("log %q does not warn about the layout", buf.String())
	}
}

func TestRunCheckpointsSavesPeriodicallyAndOnShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "ckpt")
		tr, _ := NewTracker(Options{Config: DefaultConfig()})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- tr.RunCheckpoints(ctx, path, time.Minute) }()

		synctest.Wait()
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("checkpoint written before the first interval: %v", err)
		}
		tr.Observe("a", 1, time.Unix(100, 0))
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := restoredKeys(t, path); n != 1 {
			t.Fatalf("after one interval: %d keys in checkpoint, want 1", n)
		}
		tr.Observe("b", 1, time.Unix(101, 0))
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := restoredKeys(t, path); n != 2 {
			t.Fatalf("after shutdown: %d keys in checkpoint, want 2", n)
		}
	})
}

func TestRunCheckpointsEvictsIdleKeys(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Store.IdleTimeout = Duration(time.Hour)
	tr, _ := NewTracker(Options{Config: cfg})
	tr.Observe("old", 1, time.Unix(0, 0))
	tr.Observe("new", 1, time.Unix(2*3600, 0))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	path := filepath.Join(t.TempDir(), "ckpt")
	if err := tr.RunCheckpoints(ctx, path, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, ok := tr.Status("old"); ok {
		t.Error("idle key not evicted")
	}
	if s := tr.Stats(); s.Keys != 1 || s.Evictions != 1 {
		t.Errorf("stats %+v, want 1 key and 1 eviction", s)
	}
}

func restoredKeys(t *testing.T, path string) int {
	t.Helper()
	tr, err := NewTracker(Options{Config: DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Restore(path); err != nil {
		t.Fatal(err)
	}
	return tr.Stats().Keys
}

// FuzzDecodeEntry: arbitrary bytes decode into a valid detector or an
// error, never a panic; whatever decodes re-encodes to the same bytes and
// can keep observing.
func FuzzDecodeEntry(f *testing.F) {
	p := newParams(DefaultConfig())
	tr := randomTracker(f, 9, 20, DefaultConfig())
	tr.shards[0].each(func(e *entry) { f.Add(appendEntry(nil, e.key, &e.d)) })
	for i := range tr.shards[1:] {
		n := 0
		tr.shards[i+1].each(func(e *entry) {
			if n++; n == 1 {
				f.Add(appendEntry(nil, e.key, &e.d))
			}
		})
	}
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, b []byte) {
		key, d, err := decodeEntry(b, p)
		if err != nil {
			return
		}
		if again := appendEntry(nil, key, d); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", again, b)
		}
		for i := range 5 {
			d.ObserveUnixNano(float64(i), d.last+int64(time.Second))
			if s := d.Score(); !(s >= 0 && s <= 1) {
				t.Fatalf("score %v out of [0,1]", s)
			}
		}
	})
}
