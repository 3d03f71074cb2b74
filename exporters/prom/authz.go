package prom

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
	"k8s.io/utils/lru"
)

// Defaults of AuthOptions.
const (
	DefaultAuthAllowTTL  = time.Minute
	DefaultAuthDenyTTL   = 10 * time.Second
	DefaultAuthCacheSize = 1024
	DefaultReviewTimeout = 10 * time.Second
)

// AuthOptions turn on authentication and authorization of requests through
// the API server, as controller-runtime's metrics filter does: the bearer
// token of a request is checked with a TokenReview, and the user it names is
// checked with a SubjectAccessReview for the non-resource URL of the request
// path and verb get. No token, or one the API server does not accept, is
// answered 401; a user without the permission gets 403; an API server that
// cannot be asked, 503.
//
// The agent's ServiceAccount needs a ClusterRole with
//
//	rules:
//	- apiGroups: [authentication.k8s.io]
//	  resources: [tokenreviews]
//	  verbs: [create]
//	- apiGroups: [authorization.k8s.io]
//	  resources: [subjectaccessreviews]
//	  verbs: [create]
//
// and a scraper (Prometheus' ServiceAccount) one with
//
//	rules:
//	- nonResourceURLs: [/metrics]
//	  verbs: [get]
//
// (add /debug/pprof/* for profiles, / and /api/v1/status for the status page
// when it is protected). Decisions are cached briefly, keyed by a salted hash
// of the token, never the token itself; tokens are never logged and are
// removed from the request before a protected handler sees it.
type AuthOptions struct {
	// Client is the agent's own clientset (required); it creates the
	// reviews.
	Client kubernetes.Interface
	// Audiences, if set, are the audiences a token must be issued for
	// (TokenReview spec.audiences); empty means the API server's own.
	Audiences []string
	// AllowTTL is how long an accepted token and an allowed request are
	// cached (default 1 minute); DenyTTL how long rejected ones are (default
	// 10 s: a scraper just granted access waits at most that long). Errors
	// are never cached.
	AllowTTL, DenyTTL time.Duration
	// CacheSize bounds each of the two caches (tokens; token × path × verb);
	// the least recently used entry is dropped first. Default 1024.
	CacheSize int
	// Timeout bounds one review call (default 10 s).
	Timeout time.Duration
	// Clock is for tests; nil means the real clock.
	Clock clock.PassiveClock
}

// Auth decisions, the values of kubepulse_http_auth_decisions_total's decision label.
const (
	decisionAllowed         = "allowed"
	decisionUnauthenticated = "unauthenticated"
	decisionForbidden       = "forbidden"
	decisionError           = "error"
)

// authorizer is the middleware AuthOptions describe.
type authorizer struct {
	o         AuthOptions
	salt      [16]byte
	tokens    *lru.Cache // tokenHash → authnEntry
	access    *lru.Cache // accessKey → accessEntry
	decisions *prometheus.CounterVec
	log       *slog.Logger
	warned    everyMinute // review errors logged
}

type tokenHash [sha256.Size]byte

type authnEntry struct {
	user    authnv1.UserInfo
	ok      bool
	expires time.Time
}

type accessKey struct {
	token      tokenHash
	verb, path string
}

type accessEntry struct {
	allowed bool
	expires time.Time
}

func newAuthorizer(o AuthOptions, reg prometheus.Registerer, log *slog.Logger) (*authorizer, error) {
	if o.Client == nil {
		return nil, errors.New("auth.client: a clientset is required to create TokenReviews and SubjectAccessReviews")
	}
	for _, f := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{{"auth.allowTTL", &o.AllowTTL, DefaultAuthAllowTTL}, {"auth.denyTTL", &o.DenyTTL, DefaultAuthDenyTTL}, {"auth.timeout", &o.Timeout, DefaultReviewTimeout}} {
		switch {
		case *f.v == 0:
			*f.v = f.def
		case *f.v < 0:
			return nil, fmt.Errorf("%s: want ≥ 0, got %v", f.name, *f.v)
		}
	}
	switch {
	case o.CacheSize == 0:
		o.CacheSize = DefaultAuthCacheSize
	case o.CacheSize < 0:
		return nil, fmt.Errorf("auth.cacheSize: want ≥ 0, got %d", o.CacheSize)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	a := &authorizer{
		o:      o,
		tokens: lru.New(o.CacheSize),
		access: lru.New(o.CacheSize),
		decisions: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubepulse_http_auth_decisions_total",
			Help: "Requests to protected endpoints (/metrics, /debug/pprof, the status page) by decision: allowed, unauthenticated (401), forbidden (403), error (503: the API server could not be asked).",
		}, []string{"decision"})),
		log: log,
	}
	for _, d := range []string{decisionAllowed, decisionUnauthenticated, decisionForbidden, decisionError} {
		a.decisions.WithLabelValues(d)
	}
	if _, err := rand.Read(a.salt[:]); err != nil {
		return nil, fmt.Errorf("auth: salt: %w", err)
	}
	return a, nil
}

// wrap protects next.
func (a *authorizer) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r)
		// The token is not the protected handler's business.
		r.Header.Del("Authorization")
		if !ok {
			a.unauthorized(w)
			return
		}
		h := a.hash(token)
		user, ok, err := a.authenticate(r.Context(), h, token)
		if err != nil {
			a.unavailable(w, err)
			return
		}
		if !ok {
			a.unauthorized(w)
			return
		}
		verb := "get"
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			verb = strings.ToLower(r.Method)
		}
		allowed, err := a.authorize(r.Context(), h, user, verb, r.URL.Path)
		if err != nil {
			a.unavailable(w, err)
			return
		}
		if !allowed {
			a.decisions.WithLabelValues(decisionForbidden).Inc()
			http.Error(w, fmt.Sprintf("Forbidden: user %q may not %s %s", user.Username, verb, r.URL.Path), http.StatusForbidden)
			return
		}
		a.decisions.WithLabelValues(decisionAllowed).Inc()
		next.ServeHTTP(w, r)
	})
}

// bearerToken returns the request's bearer token.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

func (a *authorizer) hash(token string) tokenHash {
	h := sha256.New()
	h.Write(a.salt[:])
	h.Write([]byte(token))
	var out tokenHash
	h.Sum(out[:0])
	return out
}

func (a *authorizer) unauthorized(w http.ResponseWriter) {
	a.decisions.WithLabelValues(decisionUnauthenticated).Inc()
	w.Header().Set("WWW-Authenticate", `Bearer realm="kubepulse"`)
	http.Error(w, "Unauthorized: send a ServiceAccount token as Authorization: Bearer", http.StatusUnauthorized)
}

// unavailable answers a request whose review failed. The error is logged at
// most once a minute: the API server being down must not flood the log.
func (a *authorizer) unavailable(w http.ResponseWriter, err error) {
	a.decisions.WithLabelValues(decisionError).Inc()
	if a.warned.allow(a.o.Clock.Now()) {
		a.log.Warn("cannot check a request's credentials with the API server", "err", err)
	}
	http.Error(w, "Service Unavailable: the API server could not check the credentials", http.StatusServiceUnavailable)
}

// authenticate returns who the token belongs to (ok false: nobody).
func (a *authorizer) authenticate(ctx context.Context, h tokenHash, token string) (authnv1.UserInfo, bool, error) {
	now := a.o.Clock.Now()
	if v, ok := a.tokens.Get(h); ok {
		if e := v.(authnEntry); now.Before(e.expires) {
			return e.user, e.ok, nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, a.o.Timeout)
	defer cancel()
	tr, err := a.o.Client.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{
		Spec: authnv1.TokenReviewSpec{Token: token, Audiences: a.o.Audiences},
	}, metav1.CreateOptions{})
	if err != nil {
		return authnv1.UserInfo{}, false, fmt.Errorf("create TokenReview: %w", err)
	}
	ok := tr.Status.Authenticated && tr.Status.User.Username != ""
	ttl := a.o.DenyTTL
	if ok {
		ttl = a.o.AllowTTL
	}
	a.tokens.Add(h, authnEntry{user: tr.Status.User, ok: ok, expires: now.Add(ttl)})
	return tr.Status.User, ok, nil
}

// authorize reports whether user may use verb on the non-resource URL path.
func (a *authorizer) authorize(ctx context.Context, h tokenHash, user authnv1.UserInfo, verb, path string) (bool, error) {
	now := a.o.Clock.Now()
	key := accessKey{token: h, verb: verb, path: path}
	if v, ok := a.access.Get(key); ok {
		if e := v.(accessEntry); now.Before(e.expires) {
			return e.allowed, nil
		}
	}
	extra := make(map[string]authzv1.ExtraValue, len(user.Extra))
	for k, v := range user.Extra {
		extra[k] = authzv1.ExtraValue(v)
	}
	ctx, cancel := context.WithTimeout(ctx, a.o.Timeout)
	defer cancel()
	sar, err := a.o.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{
		Spec: authzv1.SubjectAccessReviewSpec{
			User:                  user.Username,
			UID:                   user.UID,
			Groups:                user.Groups,
			Extra:                 extra,
			NonResourceAttributes: &authzv1.NonResourceAttributes{Path: path, Verb: verb},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("create SubjectAccessReview: %w", err)
	}
	allowed := sar.Status.Allowed && !sar.Status.Denied
	ttl := a.o.DenyTTL
	if allowed {
		ttl = a.o.AllowTTL
	}
	a.access.Add(key, accessEntry{allowed: allowed, expires: now.Add(ttl)})
	return allowed, nil
}
