// Package chhttp serves the part of ClickHouse's HTTP interface that
// clickhouse-go's HTTP protocol, Grafana's ClickHouse plugin (which uses
// clickhouse-go), tapline's own CLI and curl users need, backed by a
// sink.Target: normally the embedded engine of a running `tapline run`, so
// that Grafana can read tapline's tables without a ClickHouse server.
//
// What it speaks (https://clickhouse.com/docs/interfaces/http):
//   - GET /ping and GET / answer "Ok.\n".
//   - Queries by GET or POST: the "query" URL parameter, then the body (after
//     a newline); "database" (only the target's own), "default_format" or the
//     X-ClickHouse-Format header, or a FORMAT clause; "param_<name>" values
//     for {name:Type} placeholders; every other parameter is a ClickHouse
//     setting, applied to the query (unknown ones fail as ClickHouse fails).
//   - Every output format the engine has. Native honours
//     client_protocol_version as a server does (see upgradeNative), which is
//     what clickhouse-go's HTTP protocol decodes.
//   - compress=1 (response in ClickHouse's compressed frames, LZ4 or ZSTD by
//     network_compression_method), decompress=1 and Content-Encoding on
//     request bodies, and enable_http_compression=1 with Accept-Encoding
//     (gzip, deflate, br, zstd) on responses.
//   - Credentials by HTTP basic auth, X-ClickHouse-User/X-ClickHouse-Key, or
//     user/password parameters, when Config.User is set.
//   - Errors as ClickHouse writes them: "Code: N. DB::Exception: ...", the
//     code in X-ClickHouse-Exception-Code, and the HTTP status ClickHouse's
//     server uses for that code.
//
// What it refuses is described in guard.go: it is read-only unless
// Config.Writable, and never reaches files, the network, or the engine's
// paths, whatever the configuration. It does not support sessions
// (session_id is ignored), external tables, inline INSERT data, or
// progress headers.
package chhttp

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tapline/tapline/sink"
)

// Secret is a password that never prints: String and GoString return
// "[redacted]" (or "" when empty).
type Secret string

// String returns "[redacted]" unless s is empty.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString returns the same as String, so %#v does not leak it either.
func (s Secret) GoString() string { return s.String() }

// Config configures the endpoint. The zero value serves read-only queries
// without authentication, which Validate accepts only on a loopback Addr.
type Config struct {
	// Addr is the listen address, e.g. "127.0.0.1:8124". Only Validate reads
	// it: the caller listens.
	Addr string
	// User and Password, when User is set, are required from every client
	// that sends a query. Required when Addr is not a loopback address.
	User     string
	Password Secret
	// Writable lets POST requests run INSERT ... SELECT, ALTER TABLE,
	// DELETE, TRUNCATE and OPTIMIZE. Files stay out of reach either way.
	Writable bool
	// MaxExecutionTime bounds each query on the engine (ClickHouse's
	// max_execution_time) unless the client sets that setting; 0 means 5
	// minutes. The embedded engine cannot cancel a running query when a
	// client goes away, so this is what frees its connection.
	MaxExecutionTime time.Duration
}

// Validate reports every problem at once; it does not modify c.
func (c Config) Validate() error {
	var errs []error
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		errs = append(errs, fmt.Errorf("--http %q: want host:port: %w", c.Addr, err))
	} else if !loopback(host) && (c.User == "" || c.Password == "") {
		errs = append(errs, fmt.Errorf("--http %q is reachable beyond this machine: set --http-user and --http-password (TAPLINE_HTTP_PASSWORD), or listen on 127.0.0.1", c.Addr))
	}
	if c.Password != "" && c.User == "" {
		errs = append(errs, errors.New("--http-password is set without --http-user: set both, or neither on loopback"))
	}
	if c.MaxExecutionTime < 0 {
		errs = append(errs, fmt.Errorf("max execution time %v: must be 0 (5 minutes) or positive", c.MaxExecutionTime))
	}
	return errors.Join(errs...)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// maxBody bounds a request body (the query text, after decompression).
const maxBody = 16 << 20

// Handler serves the ClickHouse HTTP interface over a target. It is safe
// for concurrent use; each request runs at most two statements on the
// target (the guard's formatQuerySingleLine, then the query).
type Handler struct {
	cfg    Config
	target sink.Target

	mu  sync.Mutex
	cat *catalog
}

// NewHandler returns a handler for target; cfg must be valid (Validate). The
// target's catalog (its database, setting names, table functions, data
// paths) is read on the first query and kept; a failed read is retried by
// the next query. The handler never closes target.
func NewHandler(cfg Config, target sink.Target) *Handler {
	return &Handler{cfg: cfg, target: target}
}

// catalog is what the handler learns from the engine once.
type catalog struct {
	Database       string   `json:"database"`
	DisplayName    string   `json:"display_name"`
	Timezone       string   `json:"timezone"`
	Version        string   `json:"version"`
	Settings       []string `json:"settings"`
	TableFunctions []string `json:"table_functions"`
	Paths          []string `json:"paths"`

	settings map[string]bool
	policy   policy
}

const catalogQuery = `SELECT currentDatabase() AS database, displayName() AS display_name, timezone() AS timezone,
	version() AS version, (SELECT groupArray(name) FROM system.settings) AS settings,
	(SELECT groupArray(name) FROM system.table_functions) AS table_functions,
	(SELECT groupArray(path) FROM system.disks) AS paths`

func (h *Handler) catalog(ctx context.Context) (*catalog, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cat != nil {
		return h.cat, nil
	}
	out, err := h.target.Query(ctx, catalogQuery, "JSONEachRow", nil)
	if err != nil {
		return nil, engineError(err, false)
	}
	c := &catalog{}
	if err := json.Unmarshal(out, c); err != nil {
		return nil, fmt.Errorf("read the engine's catalog: %w", err)
	}
	c.settings = map[string]bool{}
	for _, s := range c.Settings {
		c.settings[s] = true
	}
	c.policy = policy{writable: h.cfg.Writable, tableFunctions: map[string]bool{}}
	for _, f := range c.TableFunctions {
		c.policy.tableFunctions[strings.ToLower(f)] = true
	}
	h.cat = c
	return c, nil
}

// ServeHTTP answers GET /ping, queries on / (GET, POST, HEAD), and ClickHouse's
// 404 for any other path. Every failure is written as a ClickHouse error; the
// handler keeps nothing of a request after it returns.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/ping":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		_, _ = io.WriteString(w, "Ok.\n")
	case "/":
		if r.Method != http.MethodGet && r.Method != http.MethodPost && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, POST, HEAD")
			writeError(w, errorf(codeNotImplemented, "method %s: use GET or POST", r.Method))
			return
		}
		if err := h.serveQuery(w, r); err != nil {
			writeError(w, h.scrub(err))
		}
	default:
		writeError(w, errorf(codeUnknownTypeOfQuery, "There is no handle %s: use / for queries and /ping for health checks", r.URL.Path))
	}
}

func (h *Handler) serveQuery(w http.ResponseWriter, r *http.Request) error {
	u := r.URL.Query()
	if u.Get("query") == "" && (r.Method != http.MethodPost || r.ContentLength == 0) {
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		_, _ = io.WriteString(w, "Ok.\n")
		return nil
	}
	if err := h.authorize(r); err != nil {
		return err
	}
	ctx := r.Context()
	cat, err := h.catalog(ctx)
	if err != nil {
		return err
	}
	req, err := h.parseRequest(r, cat)
	if err != nil {
		return err
	}
	text, err := canonical(ctx, h.target, req.query)
	if err != nil {
		return err
	}
	st, err := cat.policy.vet(text)
	if err != nil {
		return err
	}
	if !st.read && r.Method == http.MethodGet {
		return errorf(codeReadonly, "Cannot execute query in readonly mode. For queries over HTTP, method GET implies readonly. You should use method POST for modifying queries")
	}
	for _, name := range st.identParams {
		if v, ok := req.params[name]; ok {
			if err := cat.policy.vetIdentifier(v); err != nil {
				return err
			}
		}
	}
	format := st.format
	if format == "" {
		format = req.format
	}
	query, err := h.withSettings(st, req)
	if err != nil {
		return err
	}
	out, err := h.target.Query(ctx, query, format, req.params)
	if err != nil {
		return engineError(err, false)
	}
	if strings.EqualFold(format, "Native") && req.clientRev > 0 {
		if out, err = upgradeNative(nil, out, req.clientRev); err != nil {
			return errorf(codeNotImplemented, "%v", err)
		}
	}
	hdr := w.Header()
	if req.compress {
		if out, err = compressFrames(nil, out, req.frameMethod, req.zstdLevel); err != nil {
			return errorf(1001, "compress the response: %v", err)
		}
	}
	if req.httpCompress {
		if enc := pickEncoding(r.Header.Get("Accept-Encoding")); enc != "" {
			if out, err = encode(enc, out); err != nil {
				return errorf(1001, "encode the response: %v", err)
			}
			hdr.Set("Content-Encoding", enc)
		}
	}
	hdr.Set("Content-Type", contentType(format))
	hdr.Set("X-ClickHouse-Format", format)
	hdr.Set("X-ClickHouse-Query-Id", req.queryID)
	hdr.Set("X-ClickHouse-Timezone", cat.Timezone)
	hdr.Set("X-ClickHouse-Server-Display-Name", cat.DisplayName)
	hdr.Set("Content-Length", strconv.Itoa(len(out)))
	if r.Method == http.MethodHead {
		return nil
	}
	_, _ = w.Write(out)
	return nil
}

// authorize checks the client's credentials when the endpoint has a user.
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
	okUser := subtle.ConstantTimeCompare([]byte(user), []byte(h.cfg.User)) == 1
	okPass := subtle.ConstantTimeCompare([]byte(pass), []byte(h.cfg.Password)) == 1
	if !okUser || !okPass {
		return errorf(codeAuthenticationFailed, "%s: Authentication failed: password is incorrect, or there is no user with such name", user)
	}
	return nil
}

// scrub turns err into a chError whose text does not show the engine's
// data directory.
func (h *Handler) scrub(err error) *chError {
	var ce *chError
	if !errors.As(err, &ce) {
		ce = &chError{code: 1001, msg: err.Error()}
	}
	h.mu.Lock()
	cat := h.cat
	h.mu.Unlock()
	if cat == nil {
		return ce
	}
	out := *ce
	for _, p := range cat.Paths {
		p = strings.TrimSuffix(p, "/")
		if len(p) > 1 {
			out.text = strings.ReplaceAll(out.text, p, "<data>")
			out.msg = strings.ReplaceAll(out.msg, p, "<data>")
		}
	}
	return &out
}
