package instrument

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// The phase accuracy tests inject a delay into one step of a real request on
// loopback and check that the phase measures it: within 10% or 2 ms of the
// delay as measured where it was injected (the injecting side times its own
// sleep, so a slow scheduler does not make the test flaky), and that the
// other phases did not absorb it.

const injected = 100 * time.Millisecond

// delayed sleeps for injected and sends how long it really slept.
func delayed(took chan<- time.Duration) {
	start := time.Now()
	time.Sleep(injected)
	took <- time.Since(start)
}

func checkPhase(t *testing.T, o Observation, p Phase, took time.Duration) {
	t.Helper()
	if !within(o.Phases[p], took) {
		t.Errorf("%s = %v, want %v ± max(10%%, 2ms); phases %v", p, o.Phases[p], took, o.Phases)
	}
	for q, d := range o.Phases {
		// The TLS handshake's own CPU time varies a lot (tens of ms under
		// -race on a busy machine): TestPhaseTLS measures it separately.
		if Phase(q) != p && Phase(q) != PhaseTLS && d > took/2 {
			t.Errorf("%s = %v absorbed the %s delay", Phase(q), d, p)
		}
	}
	if o.Phases.Sum() != o.Total {
		t.Errorf("phases sum to %v, total %v", o.Phases.Sum(), o.Total)
	}
}

func TestPhaseServer(t *testing.T) {
	took := make(chan time.Duration, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		delayed(took)
		podHandler(w, r)
	}))
	defer srv.Close()
	col := newCollector()
	get(t, NewTransport(srv.Client().Transport, WithReporter(col)), srv.URL+"/api/v1/namespaces/a/pods/p")
	checkPhase(t, col.wait(t, 1), PhaseServer, <-took)
}

func TestPhaseTransfer(t *testing.T) {
	took := make(chan time.Duration, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(podJSON[:10])
		w.(http.Flusher).Flush()
		delayed(took)
		_, _ = w.Write(podJSON[10:])
	}))
	defer srv.Close()
	col := newCollector()
	get(t, NewTransport(srv.Client().Transport, WithReporter(col)), srv.URL+"/api/v1/namespaces/a/pods/p")
	checkPhase(t, col.wait(t, 1), PhaseTransfer, <-took)
}

func TestPhaseTLS(t *testing.T) {
	took := make(chan time.Duration, 1)
	var delay atomic.Bool
	srv := httptest.NewUnstartedServer(http.HandlerFunc(podHandler))
	srv.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		if delay.Load() {
			delayed(took) // the handshake waits for the server's answer to ClientHello
		}
		return nil, nil
	}}
	srv.StartTLS()
	defer srv.Close()
	// A handshake costs CPU of its own (much more under -race): measure one
	// without the delay first, on a connection of its own.
	col := newCollector()
	fresh := func() http.RoundTripper {
		return NewTransport(srv.Client().Transport.(*http.Transport).Clone(), WithReporter(col))
	}
	get(t, fresh(), srv.URL+"/api/v1/namespaces/a/pods/p")
	plain := col.wait(t, 1).Phases[PhaseTLS]
	delay.Store(true)
	get(t, fresh(), srv.URL+"/api/v1/namespaces/a/pods/p")
	checkPhase(t, col.wait(t, 2), PhaseTLS, plain+<-took)
}

func TestPhaseConnect(t *testing.T) {
	took := make(chan time.Duration, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(podHandler))
	defer srv.Close()
	tr := srv.Client().Transport.(*http.Transport).Clone()
	// Control runs between creating the socket and connect(2): inside the
	// dialer's ConnectStart/ConnectDone, like a slow SYN-ACK.
	tr.DialContext = (&net.Dialer{Control: func(string, string, syscall.RawConn) error {
		delayed(took)
		return nil
	}}).DialContext
	col := newCollector()
	get(t, NewTransport(tr, WithReporter(col)), srv.URL+"/api/v1/namespaces/a/pods/p")
	checkPhase(t, col.wait(t, 1), PhaseConnect, <-took)
}

func TestPhaseDNS(t *testing.T) {
	took := make(chan time.Duration, 2) // A and AAAA
	dnsAddr := fakeDNS(t, func() { delayed(took) })
	srv := httptest.NewTLSServer(http.HandlerFunc(podHandler))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Resolver: &net.Resolver{PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "udp", dnsAddr)
		}}}).DialContext
	col := newCollector()
	// example.com is in httptest's certificate; the fake DNS says it is 127.0.0.1.
	get(t, NewTransport(tr, WithReporter(col)), "https://example.com:"+u.Port()+"/api/v1/namespaces/a/pods/p")
	// The resolver asks for A and AAAA in parallel: DNS lasts as long as the slower.
	d := max(<-took, <-took)
	checkPhase(t, col.wait(t, 1), PhaseDNS, d)
}

// fakeDNS answers every A query with 127.0.0.1 and every other query with no
// records, after calling delay. It is the one fake here: a real resolver
// cannot be told to be slow.
func fakeDNS(t *testing.T, delay func()) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			go func() {
				delay()
				b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired})
				_ = b.StartQuestions()
				_ = b.Question(q)
				_ = b.StartAnswers()
				if q.Type == dnsmessage.TypeA {
					_ = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60},
						dnsmessage.AResource{A: [4]byte{127, 0, 0, 1}})
				}
				msg, err := b.Finish()
				if err == nil {
					_, _ = pc.WriteTo(msg, addr)
				}
			}()
		}
	}()
	return pc.LocalAddr().String()
}

// A request that waits for the only connection (MaxConnsPerHost 1) spends
// that time in conn_wait, not in server.
func TestPhaseConnWait(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("slow") != "" {
			close(arrived)
			<-release
		}
		podHandler(w, r)
	}))
	defer srv.Close()
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.MaxConnsPerHost = 1
	col := newCollector()
	rt := NewTransport(tr, WithReporter(col))
	get(t, rt, srv.URL+"/api/v1/namespaces/a/pods/warm") // open the one connection

	slowDone := make(chan struct{})
	go func() {
		defer close(slowDone)
		get(t, rt, srv.URL+"/api/v1/namespaces/a/pods/busy?slow=1")
	}()
	<-arrived // the slow request holds the connection

	start := time.Now()
	var released time.Time
	go func() {
		time.Sleep(injected)
		released = time.Now()
		close(release)
	}()
	get(t, rt, srv.URL+"/api/v1/namespaces/a/pods/p")
	<-slowDone
	waited := released.Sub(start)

	var o Observation // the last request started
	for _, x := range col.all() {
		if x.Start.After(o.Start) {
			o = x
		}
	}
	if o.Phases[PhaseConnWait] < waited-2*time.Millisecond || o.Phases[PhaseServer] > waited/2 || !o.ConnReused {
		t.Errorf("waiting %v for the busy connection: conn_wait %v, server %v, reused %v",
			waited, o.Phases[PhaseConnWait], o.Phases[PhaseServer], o.ConnReused)
	}
}
