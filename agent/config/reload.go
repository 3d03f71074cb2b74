package config

import (
	"bytes"
	"context"
	"crypto/sha256"
	"log/slog"
	"os"
	"time"

	"k8s.io/utils/clock"
)

// Reloader polls the configuration file and hands every new, valid
// configuration to a callback. A ConfigMap volume changes by an atomic
// symlink swap, which polling the content sees reliably (inotify on the
// file itself would not). A file that fails to load or validate is logged
// and rejected: the running configuration stays.
type Reloader struct {
	Sources  *Sources
	Interval time.Duration // default 10s
	Clock    clock.WithTicker
	Logger   *slog.Logger
	// Apply receives each new configuration; it runs on the reloader's
	// goroutine.
	Apply func(Config)
	// Rejected, if set, receives every rejected reload.
	Rejected func(error)
}

// Run polls until ctx ends. current is the configuration in force, read from
// the file's content as it is now.
func (r *Reloader) Run(ctx context.Context) {
	path := r.Sources.ConfigFile()
	if path == "" {
		return
	}
	if r.Interval == 0 {
		r.Interval = 10 * time.Second
	}
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	last := digest(path)
	t := r.Clock.NewTicker(r.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		d := digest(path)
		if bytes.Equal(d, last) {
			continue
		}
		last = d
		c, err := r.Sources.Load()
		if err != nil {
			r.Logger.Error("configuration change rejected; keeping the running configuration", "file", path, "err", err)
			if r.Rejected != nil {
				r.Rejected(err)
			}
			continue
		}
		r.Logger.Info("configuration reloaded", "file", path)
		r.Apply(c)
	}
}

func digest(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	h := sha256.Sum256(b)
	return h[:]
}
