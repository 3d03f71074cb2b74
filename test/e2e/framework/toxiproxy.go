package framework

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// FaultProxy is Shopify's toxiproxy, in process: a TCP proxy on a loopback
// port in front of one upstream that injects faults between a client and its
// server — latency, resets — without either knowing. TLS passes through
// untouched (the proxy sees bytes), so a client that trusts the server's
// certificate for 127.0.0.1 keeps trusting it through the proxy.
//
// It also counts the TCP connections it accepts, so a test can tell how often
// a client reconnected (e.g. whether it backs off while the server fails).
type FaultProxy struct {
	t        testing.TB
	proxy    *toxiproxy.Proxy
	accepted atomic.Int64
}

// StartFaultProxy starts a proxy to upstream (host:port) on a free loopback
// port; it stops when the test ends.
func StartFaultProxy(t testing.TB, upstream string) *FaultProxy {
	t.Helper()
	p := &FaultProxy{t: t}
	// toxiproxy logs every accepted client at info level: the hook counts
	// them; warnings and errors go to the test log.
	logger := zerolog.New(io.Discard).Level(zerolog.InfoLevel).Hook(zerolog.HookFunc(
		func(_ *zerolog.Event, level zerolog.Level, msg string) {
			switch {
			case msg == "Accepted client":
				p.accepted.Add(1)
			case level >= zerolog.WarnLevel:
				t.Logf("toxiproxy: %s: %s", level, msg)
			}
		}))
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), logger)
	p.proxy = toxiproxy.NewProxy(server, "upstream", "127.0.0.1:0", upstream)
	if err := p.proxy.Start(); err != nil {
		t.Fatalf("toxiproxy to %s: %v", upstream, err)
	}
	t.Cleanup(p.proxy.Stop)
	return p
}

// Addr is the proxy's listen address (127.0.0.1:port).
func (p *FaultProxy) Addr() string { return p.proxy.Listen }

// Accepted is how many client connections the proxy has accepted so far.
func (p *FaultProxy) Accepted() int64 { return p.accepted.Load() }

// toxic is toxiproxy's JSON form of a toxic.
type toxic struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Stream     string         `json:"stream"`
	Toxicity   float64        `json:"toxicity"`
	Attributes map[string]any `json:"attributes"`
}

func (p *FaultProxy) add(tx toxic) {
	p.t.Helper()
	b, err := json.Marshal(tx)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.proxy.Toxics.AddToxicJson(strings.NewReader(string(b))); err != nil {
		p.t.Fatalf("toxiproxy: add %s: %v", tx.Name, err)
	}
}

// AddLatency delays every chunk the server sends to the client (the
// downstream direction) by latency ± jitter, on open and new connections,
// until Remove(name).
func (p *FaultProxy) AddLatency(name string, latency, jitter time.Duration) {
	p.t.Helper()
	p.add(toxic{Name: name, Type: "latency", Stream: "downstream", Toxicity: 1,
		Attributes: map[string]any{"latency": latency.Milliseconds(), "jitter": jitter.Milliseconds()}})
}

// ResetPeers makes the proxy reset (TCP RST) every connection as soon as the
// client sends anything, open connections included, until Remove(name): the
// client gets no answer at all, as from a server that is gone behind a load
// balancer. The proxy still accepts, so the attempts are counted.
func (p *FaultProxy) ResetPeers(name string) {
	p.t.Helper()
	p.add(toxic{Name: name, Type: "reset_peer", Stream: "upstream", Toxicity: 1,
		Attributes: map[string]any{"timeout": 0}})
}

// Remove removes a toxic added under name.
func (p *FaultProxy) Remove(name string) {
	p.t.Helper()
	if err := p.proxy.Toxics.RemoveToxic(context.Background(), name); err != nil {
		p.t.Fatalf("toxiproxy: remove %s: %v", name, err)
	}
}

// Disable closes the proxy's listener and every connection through it:
// clients get "connection refused", as from a server that is down. These
// attempts are refused by the kernel and not counted.
func (p *FaultProxy) Disable() { p.proxy.Stop() }

// Enable listens again on the same address; toxics added meanwhile apply.
func (p *FaultProxy) Enable() {
	p.t.Helper()
	if err := p.proxy.Start(); err != nil {
		p.t.Fatalf("toxiproxy: listen again on %s: %v", p.Addr(), err)
	}
}
