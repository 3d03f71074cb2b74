package prom

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// fakeAPIServer answers TokenReviews and SubjectAccessReviews the way the
// real API server's authenticator and RBAC would for a few fixed tokens (the
// e2e test checks the real one). It records every review it gets.
type fakeAPIServer struct {
	mu      sync.Mutex
	users   map[string]authnv1.UserInfo // token → user
	allowed map[string]bool             // user + " " + verb + " " + path
	fail    error                       // answer every review with this
	tokens  []authnv1.TokenReviewSpec
	sars    []authzv1.SubjectAccessReviewSpec
}

func newFakeAPIServer() *fakeAPIServer {
	return &fakeAPIServer{
		users: map[string]authnv1.UserInfo{
			"prometheus-token": {Username: "system:serviceaccount:monitoring:prometheus", UID: "uid-1",
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:monitoring"},
				Extra:  map[string]authnv1.ExtraValue{"authentication.kubernetes.io/pod-name": {"prometheus-0"}}},
			"plain-pod-token": {Username: "system:serviceaccount:default:default", UID: "uid-2"},
		},
		allowed: map[string]bool{
			"system:serviceaccount:monitoring:prometheus get /metrics": true,
		},
	}
}

func (f *fakeAPIServer) clientset() *fake.Clientset {
	cs := fake.NewClientset()
	cs.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		tr := a.(k8stesting.CreateAction).GetObject().(*authnv1.TokenReview).DeepCopy()
		f.mu.Lock()
		defer f.mu.Unlock()
		f.tokens = append(f.tokens, tr.Spec)
		if f.fail != nil {
			return true, nil, f.fail
		}
		u, ok := f.users[tr.Spec.Token]
		tr.Status = authnv1.TokenReviewStatus{Authenticated: ok, User: u}
		return true, tr, nil
	})
	cs.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authzv1.SubjectAccessReview).DeepCopy()
		f.mu.Lock()
		defer f.mu.Unlock()
		f.sars = append(f.sars, sar.Spec)
		if f.fail != nil {
			return true, nil, f.fail
		}
		na := sar.Spec.NonResourceAttributes
		sar.Status.Allowed = na != nil && f.allowed[sar.Spec.User+" "+na.Verb+" "+na.Path]
		return true, sar, nil
	})
	return cs
}

func (f *fakeAPIServer) calls() (tokenReviews, sars int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.tokens), len(f.sars)
}

// authTest is a protected handler that records what reached it.
type authTest struct {
	api     *fakeAPIServer
	clock   *clocktesting.FakeClock
	az      *authorizer
	h       http.Handler
	reg     *prometheus.Registry
	logs    *bytes.Buffer
	mu      sync.Mutex
	gotAuth []string // Authorization headers the protected handler saw
}

func newAuthTest(t *testing.T, o AuthOptions) *authTest {
	t.Helper()
	at := &authTest{api: newFakeAPIServer(), clock: clocktesting.NewFakeClock(time.Unix(1767225600, 0)),
		reg: prometheus.NewRegistry(), logs: &bytes.Buffer{}}
	o.Client, o.Clock = at.api.clientset(), at.clock
	az, err := newAuthorizer(o, at.reg, slog.New(slog.NewTextHandler(at.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	at.az = az
	at.h = az.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at.mu.Lock()
		at.gotAuth = append(at.gotAuth, r.Header.Get("Authorization"))
		at.mu.Unlock()
		_, _ = w.Write([]byte("metrics"))
	}))
	return at
}

func (at *authTest) do(method, path, authorization string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	w := httptest.NewRecorder()
	at.h.ServeHTTP(w, r)
	return w
}

func TestAuthDecisions(t *testing.T) {
	tests := []struct {
		name, method, path, authorization string
		wantCode                          int
		wantBody                          string
		wantTokenReviews, wantSARs        int
	}{
		{"no credentials", "GET", "/metrics", "", 401, "Unauthorized", 0, 0},
		{"basic auth is not a token", "GET", "/metrics", "Basic dXNlcjpwYXNz", 401, "Unauthorized", 0, 0},
		{"empty bearer", "GET", "/metrics", "Bearer   ", 401, "Unauthorized", 0, 0},
		{"unknown token", "GET", "/metrics", "Bearer stolen-or-expired", 401, "Unauthorized", 1, 0},
		{"a pod without the permission", "GET", "/metrics", "Bearer plain-pod-token", 403,
			`Forbidden: user "system:serviceaccount:default:default" may not get /metrics`, 1, 1},
		{"the scraper", "GET", "/metrics", "Bearer prometheus-token", 200, "metrics", 1, 1},
		{"scheme is case-insensitive", "GET", "/metrics", "bearer prometheus-token", 200, "metrics", 1, 1},
		{"HEAD is get", "HEAD", "/metrics", "Bearer prometheus-token", 200, "", 1, 1},
		{"the scraper on another path", "GET", "/debug/pprof/heap", "Bearer prometheus-token", 403,
			`may not get /debug/pprof/heap`, 1, 1},
		{"another verb", "POST", "/metrics", "Bearer prometheus-token", 403, `may not post /metrics`, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := newAuthTest(t, AuthOptions{})
			w := at.do(tt.method, tt.path, tt.authorization)
			if w.Code != tt.wantCode || !strings.Contains(w.Body.String(), tt.wantBody) {
				t.Errorf("got %d %q, want %d containing %q", w.Code, w.Body.String(), tt.wantCode, tt.wantBody)
			}
			if w.Code == 401 && w.Header().Get("WWW-Authenticate") != `Bearer realm="kubepulse"` {
				t.Errorf("401 without WWW-Authenticate: %v", w.Header())
			}
			if trs, sars := at.api.calls(); trs != tt.wantTokenReviews || sars != tt.wantSARs {
				t.Errorf("%d TokenReviews, %d SubjectAccessReviews; want %d, %d", trs, sars, tt.wantTokenReviews, tt.wantSARs)
			}
			if w.Code == 200 && at.gotAuth[0] != "" {
				t.Errorf("the protected handler saw the token: %q", at.gotAuth[0])
			}
			if w.Code != 200 && len(at.gotAuth) > 0 {
				t.Error("the protected handler ran for a refused request")
			}
		})
	}
}

// TestAuthReviewContents: the SubjectAccessReview carries who the
// TokenReview said the caller is, and asks about the request's path.
func TestAuthReviewContents(t *testing.T) {
	at := newAuthTest(t, AuthOptions{Audiences: []string{"kubepulse"}})
	at.do("GET", "/metrics", "Bearer prometheus-token")
	if got := at.api.tokens[0]; got.Token != "prometheus-token" || len(got.Audiences) != 1 || got.Audiences[0] != "kubepulse" {
		t.Errorf("TokenReview spec %+v", got)
	}
	sar := at.api.sars[0]
	if sar.User != "system:serviceaccount:monitoring:prometheus" || sar.UID != "uid-1" ||
		len(sar.Groups) != 2 || sar.Extra["authentication.kubernetes.io/pod-name"][0] != "prometheus-0" {
		t.Errorf("SAR subject %+v", sar)
	}
	if na := sar.NonResourceAttributes; na == nil || na.Path != "/metrics" || na.Verb != "get" || sar.ResourceAttributes != nil {
		t.Errorf("SAR attributes %+v %+v", sar.NonResourceAttributes, sar.ResourceAttributes)
	}
}

func TestAuthCache(t *testing.T) {
	at := newAuthTest(t, AuthOptions{AllowTTL: time.Minute, DenyTTL: 10 * time.Second})
	expect := func(step string, code, trs, sars int, authorization string) {
		t.Helper()
		if w := at.do("GET", "/metrics", authorization); w.Code != code {
			t.Fatalf("%s: %d, want %d", step, w.Code, code)
		}
		if gotTR, gotSAR := at.api.calls(); gotTR != trs || gotSAR != sars {
			t.Fatalf("%s: %d TokenReviews, %d SARs in all; want %d, %d", step, gotTR, gotSAR, trs, sars)
		}
	}
	expect("first scrape", 200, 1, 1, "Bearer prometheus-token")
	expect("second scrape: cached", 200, 1, 1, "Bearer prometheus-token")
	at.clock.Step(59 * time.Second)
	expect("within the allow TTL", 200, 1, 1, "Bearer prometheus-token")
	at.clock.Step(2 * time.Second)
	expect("after the allow TTL: asked again", 200, 2, 2, "Bearer prometheus-token")

	expect("unknown token", 401, 3, 2, "Bearer nobody")
	expect("unknown token again: cached", 401, 3, 2, "Bearer nobody")
	expect("forbidden", 403, 4, 3, "Bearer plain-pod-token")
	expect("forbidden again: cached", 403, 4, 3, "Bearer plain-pod-token")
	// Access granted meanwhile: seen once the deny TTL is over.
	at.api.mu.Lock()
	at.api.allowed["system:serviceaccount:default:default get /metrics"] = true
	at.api.mu.Unlock()
	at.clock.Step(11 * time.Second)
	// The token itself is still known (allow TTL): only the SAR is asked again.
	expect("after the deny TTL: the new grant counts", 200, 4, 4, "Bearer plain-pod-token")

	// Keys are salted hashes: the token itself is in no cache.
	if _, ok := at.az.tokens.Get("prometheus-token"); ok {
		t.Error("token cache keyed by the token")
	}
	if _, ok := at.az.tokens.Get(at.az.hash("prometheus-token")); !ok {
		t.Error("token cache lacks the hash of a used token")
	}
	err := testutil.GatherAndCompare(at.reg, strings.NewReader(`
# HELP kubepulse_http_auth_decisions_total Requests to protected endpoints (/metrics, /debug/pprof, the status page) by decision: allowed, unauthenticated (401), forbidden (403), error (503: the API server could not be asked).
# TYPE kubepulse_http_auth_decisions_total counter
kubepulse_http_auth_decisions_total{decision="allowed"} 5
kubepulse_http_auth_decisions_total{decision="error"} 0
kubepulse_http_auth_decisions_total{decision="forbidden"} 2
kubepulse_http_auth_decisions_total{decision="unauthenticated"} 2
`))
	if err != nil {
		t.Error(err)
	}
}

func TestAuthCacheBounded(t *testing.T) {
	at := newAuthTest(t, AuthOptions{CacheSize: 2})
	for _, tok := range []string{"a", "b", "c", "a"} { // "a" was evicted by "c"
		at.do("GET", "/metrics", "Bearer "+tok)
	}
	if trs, _ := at.api.calls(); trs != 4 {
		t.Errorf("%d TokenReviews, want 4 (cache of 2 evicts the oldest)", trs)
	}
	if at.az.tokens.Len() != 2 {
		t.Errorf("cache holds %d tokens, want 2", at.az.tokens.Len())
	}
}

func TestAuthAPIServerDown(t *testing.T) {
	at := newAuthTest(t, AuthOptions{})
	at.api.fail = errors.New("connection refused")
	for range 3 {
		w := at.do("GET", "/metrics", "Bearer prometheus-token")
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "could not check the credentials") {
			t.Fatalf("got %d %q, want 503", w.Code, w.Body.String())
		}
	}
	if trs, _ := at.api.calls(); trs != 3 {
		t.Errorf("%d TokenReviews, want 3: errors are not cached", trs)
	}
	// Logged once per minute, without the token.
	if n := strings.Count(at.logs.String(), "cannot check"); n != 1 {
		t.Errorf("logged %d times, want 1:\n%s", n, at.logs.String())
	}
	at.clock.Step(time.Minute)
	at.do("GET", "/metrics", "Bearer prometheus-token")
	if n := strings.Count(at.logs.String(), "cannot check"); n != 2 {
		t.Errorf("after a minute: logged %d times, want 2", n)
	}
	if strings.Contains(at.logs.String(), "prometheus-token") {
		t.Errorf("the token is in the log:\n%s", at.logs.String())
	}

	// Back: the scrape goes through.
	at.api.mu.Lock()
	at.api.fail = nil
	at.api.mu.Unlock()
	if w := at.do("GET", "/metrics", "Bearer prometheus-token"); w.Code != 200 {
		t.Errorf("after the API server is back: %d", w.Code)
	}
}

func TestAuthOptionsErrors(t *testing.T) {
	cs := fake.NewClientset()
	for _, tt := range []struct {
		o    AuthOptions
		want string
	}{
		{AuthOptions{}, "auth.client: a clientset is required"},
		{AuthOptions{Client: cs, AllowTTL: -time.Second}, "auth.allowTTL: want ≥ 0, got -1s"},
		{AuthOptions{Client: cs, DenyTTL: -time.Second}, "auth.denyTTL: want ≥ 0, got -1s"},
		{AuthOptions{Client: cs, Timeout: -time.Second}, "auth.timeout: want ≥ 0, got -1s"},
		{AuthOptions{Client: cs, CacheSize: -1}, "auth.cacheSize: want ≥ 0, got -1"},
	} {
		_, err := newAuthorizer(tt.o, nil, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: err %v, want %q", tt.o, err, tt.want)
		}
	}
}
