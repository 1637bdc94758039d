package chhttp

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Who may talk to the endpoint, checked before anything reaches the engine.

// checkOrigin refuses requests a web browser makes on a page's behalf: a
// Host header that is not a loopback name or one of cfg.Hosts (DNS
// rebinding: a page of evil.example whose name resolves to 127.0.0.1), an
// Origin header naming another site, and Sec-Fetch-Site: cross-site.
// clickhouse-go, Grafana's backend, curl and tapline send none of these.
func (h *Handler) checkOrigin(r *http.Request) error {
	host := hostOnly(r.Host)
	if !h.hostAllowed(host) {
		return errorf(codeAccessDenied, "Host %q is not served here: this endpoint answers loopback names%s (a browser page reaching it by another name is refused; add the name with --http-host)", r.Host, h.hostList())
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if o == "null" || err != nil || !h.hostAllowed(hostOnly(u.Host)) {
			return errorf(codeAccessDenied, "cross-site request from Origin %q refused: the endpoint is for ClickHouse clients (Grafana's backend, clickhouse-go, curl), not for web pages", o)
		}
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return errorf(codeAccessDenied, "cross-site browser request refused: the endpoint is for ClickHouse clients, not for web pages")
	}
	return nil
}

// hostAllowed reports whether a Host header's name is served: loopback
// names always, cfg.Hosts when set, any name on a non-loopback listener
// without cfg.Hosts (credentials are required there).
func (h *Handler) hostAllowed(host string) bool {
	if loopback(host) {
		return true
	}
	for _, allowed := range h.cfg.Hosts {
		if strings.EqualFold(host, allowed) {
			return true
		}
	}
	listen, _, _ := net.SplitHostPort(h.cfg.Addr)
	return len(h.cfg.Hosts) == 0 && !loopback(listen) && listen != ""
}

func (h *Handler) hostList() string {
	if len(h.cfg.Hosts) == 0 {
		return ""
	}
	return " and " + strings.Join(h.cfg.Hosts, ", ")
}

// hostOnly strips the port of a Host header value.
func hostOnly(hostport string) string {
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		return strings.Trim(host, "[]")
	}
	return strings.Trim(hostport, "[]")
}

// logins limits failed logins per client address: after a burst of
// failures, one more attempt per interval.
type logins struct {
	mu       sync.Mutex
	limiters map[string]*rate.Limiter
	every    time.Duration
	burst    int
}

func newLogins() *logins {
	return &logins{limiters: map[string]*rate.Limiter{}, every: time.Second, burst: 5}
}

// blocked reports whether addr has used up its failed attempts.
func (l *logins) blocked(addr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.limiters[addr]
	return lim != nil && lim.Tokens() < 1
}

// failed records a failed attempt of addr.
func (l *logins) failed(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.limiters) > 10000 { // bound the table: forget everyone
		l.limiters = map[string]*rate.Limiter{}
	}
	lim := l.limiters[addr]
	if lim == nil {
		lim = rate.NewLimiter(rate.Every(l.every), l.burst)
		l.limiters[addr] = lim
	}
	lim.Allow()
}

// authorize checks the client's credentials when the endpoint has a user.
// Both user and password are compared as SHA-256 digests in constant time,
// so neither their content nor their length shows in the timing; a client
// address with too many failures is refused without a comparison.
func (h *Handler) authorize(r *http.Request) error {
	if h.cfg.User == "" {
		return nil
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		user, pass = r.Header.Get("X-ClickHouse-User"), r.Header.Get("X-ClickHouse-Key")
		if user == "" {
			user, pass = r.URL.Query().Get("user"), r.URL.Query().Get("password")
		}
	}
	if user == "" {
		return errorf(codeRequiredPassword, "this tapline endpoint requires a user and password (HTTP basic auth, or X-ClickHouse-User and X-ClickHouse-Key)")
	}
	addr := hostOnly(r.RemoteAddr)
	if h.logins.blocked(addr) {
		return errorf(codeAuthenticationFailed, "%s: too many failed logins from %s: wait a few seconds", user, addr)
	}
	gotUser, wantUser := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(h.cfg.User))
	gotPass, wantPass := sha256.Sum256([]byte(pass)), sha256.Sum256([]byte(h.cfg.Password))
	okUser := subtle.ConstantTimeCompare(gotUser[:], wantUser[:])
	okPass := subtle.ConstantTimeCompare(gotPass[:], wantPass[:])
	if okUser&okPass != 1 {
		h.logins.failed(addr)
		return errorf(codeAuthenticationFailed, "%s: Authentication failed: password is incorrect, or there is no user with such name", user)
	}
	return nil
}
