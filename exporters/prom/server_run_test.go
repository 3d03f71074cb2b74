package prom

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// run starts s.Run and returns a func that stops it and returns Run's error.
func run(t *testing.T, s *Server) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return func() error { cancel(); return <-done }
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestServerGracefulShutdown: a request in flight when ctx ends completes;
// new connections are refused.
func TestServerGracefulShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "finished")
	})
	l := listen(t)
	s := newTestServer(t, ServerOptions{Gatherer: prometheus.NewRegistry(), Listener: l, ShutdownTimeout: time.Minute,
		Mounts: []Mount{{Pattern: "GET /slow", Handler: slow}}})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + l.Addr().String() + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-entered
	cancel()
	// Shutdown closes the listener first: wait until a new connection is refused.
	for {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned %v with a request in flight", err)
	default:
	}
	close(release)
	if b := <-got; b != "finished" {
		t.Errorf("in-flight request got %q", b)
	}
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestServerShutdownDeadline: a request that outlives ShutdownTimeout is cut
// off and Run says so.
func TestServerShutdownDeadline(t *testing.T) {
	entered := make(chan struct{})
	stuck := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done() // until the connection is closed
	})
	l := listen(t)
	s := newTestServer(t, ServerOptions{Gatherer: prometheus.NewRegistry(), Listener: l, ShutdownTimeout: 50 * time.Millisecond,
		Mounts: []Mount{{Pattern: "GET /stuck", Handler: stuck}}})
	stop := run(t, s)
	go func() {
		if resp, err := http.Get("http://" + l.Addr().String() + "/stuck"); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	if err := stop(); err == nil || !strings.Contains(err.Error(), "shutdown: context deadline exceeded") {
		t.Errorf("Run: %v, want a shutdown deadline error", err)
	}
}

func TestServerListenError(t *testing.T) {
	l := listen(t)
	defer l.Close()
	s := newTestServer(t, ServerOptions{Gatherer: prometheus.NewRegistry(), Addr: l.Addr().String()})
	err := s.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "listen on "+l.Addr().String()) {
		t.Errorf("Run: %v, want a listen error naming the address", err)
	}
}

// TestServerReadHeaderTimeout: a client that connects and sends nothing is
// disconnected (slowloris).
func TestServerReadHeaderTimeout(t *testing.T) {
	l := listen(t)
	s := newTestServer(t, ServerOptions{Gatherer: prometheus.NewRegistry(), Listener: l, ReadHeaderTimeout: 100 * time.Millisecond})
	stop := run(t, s)
	defer stop()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte("GET /metrics HTTP/1.1\r\n")) // and never the rest
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))  // a bound for a broken server, not the expectation
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d", resp.StatusCode)
		}
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server kept the half-sent request open")
	}
}

func TestServerHTTPS(t *testing.T) {
	l := listen(t)
	var logs strings.Builder
	s := newTestServer(t, ServerOptions{Gatherer: recordedRegistry(t), Listener: l, TLS: &TLSOptions{},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	stop := run(t, s)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // self-signed
	// The listener exists already: the connection waits until Run serves.
	resp, err := client.Get("https://" + l.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "kubepulse_request_duration_seconds_bucket") {
		t.Errorf("HTTPS scrape: %d %.100q", resp.StatusCode, b)
	}
	if resp.TLS == nil || resp.TLS.PeerCertificates[0].Subject.CommonName != "kubepulse" {
		t.Error("not the self-signed certificate")
	}
	// Plain HTTP on the HTTPS port is refused.
	if resp, err := http.Get("http://" + l.Addr().String() + "/metrics"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP served on the HTTPS port")
		}
	}
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	if !strings.Contains(logs.String(), "scheme=https") {
		t.Errorf("start log: %s", logs.String())
	}
}
