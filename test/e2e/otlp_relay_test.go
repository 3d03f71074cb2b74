//go:build e2e

package e2e

import (
	"io"
	"net"
	"sync"
	"testing"
)

// otlpRelay is a TCP forwarder with a fixed address, standing where a Kubernetes
// Service stands in front of a collector: the agent is configured once with
// its address while the receiver behind it restarts. It is needed because
// start-otlp-receiver.sh picks new free ports on every start. While down, its
// port is closed (connections are refused), as when no receiver runs.
type otlpRelay struct {
	t    *testing.T
	addr string // 127.0.0.1:port, fixed for the relay's life

	mu      sync.Mutex
	ln      net.Listener
	backend string
	conns   map[net.Conn]struct{}
}

// startOTLPRelay listens on a free loopback port and forwards to backend
// (host:port). It is closed when the test ends.
func startOTLPRelay(t *testing.T, backend string) *otlpRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &otlpRelay{t: t, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	r.serve(ln, backend)
	t.Cleanup(r.down)
	return r
}

// down closes the listener and every forwarded connection.
func (r *otlpRelay) down() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
	for c := range r.conns {
		c.Close()
	}
	clear(r.conns)
}

// up listens on the same address again, forwarding to a new backend.
func (r *otlpRelay) up(backend string) {
	r.t.Helper()
	ln, err := net.Listen("tcp", r.addr) // Go sets SO_REUSEADDR: no TIME_WAIT trouble
	if err != nil {
		r.t.Fatalf("relay: listen %s again: %v", r.addr, err)
	}
	r.serve(ln, backend)
}

func (r *otlpRelay) serve(ln net.Listener, backend string) {
	r.mu.Lock()
	r.ln, r.backend = ln, backend
	r.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by down
			}
			go r.forward(c, backend)
		}
	}()
}

func (r *otlpRelay) track(cs ...net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln == nil {
		return false
	}
	for _, c := range cs {
		r.conns[c] = struct{}{}
	}
	return true
}

func (r *otlpRelay) forward(c net.Conn, backend string) {
	b, err := net.Dial("tcp", backend)
	if err != nil {
		c.Close()
		return
	}
	if !r.track(c, b) {
		c.Close()
		b.Close()
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(b, c)
	go pipe(c, b)
	<-done
	c.Close()
	b.Close()
	r.mu.Lock()
	delete(r.conns, c)
	delete(r.conns, b)
	r.mu.Unlock()
}
