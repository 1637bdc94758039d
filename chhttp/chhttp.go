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
//   - Every output format the engine has, streamed as the engine produces it. Native honours
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
// How it stays safe (README "Security"): reads run on the endpoint's own
// pool of engine connections opened with readonly = 1 and limits
// (max_execution_time, max_memory_usage, max_result_bytes, the sleep limit,
// max_threads), never on the pipeline's connections; the guard (guard.go,
// allow.go) admits only allowlisted statements, functions, tables and
// settings on the engine's canonical text; results stream to the client
// and the query is cancelled when the client leaves; Host, Origin and
// credentials are checked first. A writable endpoint also accepts INSERT
// ... FORMAT into the database's own tables, nothing else (insert.go). It
// does not support sessions (session_id is ignored), external tables or
// progress headers.
package chhttp

import (
	"context"
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

	"github.com/tapline/tapline/sink/embedded"
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
// without authentication, which Validate accepts only on a loopback Addr;
// zero limits take the defaults named on each field.
type Config struct {
	// Addr is the listen address, e.g. "127.0.0.1:8124". The caller
	// listens; the handler reads it to decide which Host names it serves.
	Addr string
	// Hosts are the names (Host header, without port) the endpoint answers
	// besides loopback names. Empty on a non-loopback Addr means any name.
	Hosts []string
	// User and Password, when User is set, are required from every client
	// that sends a query. Required when Addr is not a loopback address.
	User     string
	Password Secret
	// Writable lets POST requests INSERT ... FORMAT data into the tables of
	// the endpoint's database (so another tapline process can use it as its
	// ClickHouse). Nothing else becomes writable: no DDL, no TRUNCATE, no
	// ALTER, no INSERT ... SELECT, no files.
	Writable bool
	// Connections is the size of the endpoint's own pool of read-only
	// engine connections: at most this many queries run at once; more wait
	// for a free connection (as long as their client waits). 0 means 2.
	Connections int
	// MaxExecutionTime bounds each query (the connections'
	// max_execution_time; a client's own max_execution_time may only
	// shorten it). 0 means 60 seconds.
	MaxExecutionTime time.Duration
	// MaxMemoryUsage bounds one query's memory on the engine
	// (max_memory_usage). 0 means 1 GiB.
	MaxMemoryUsage int64
	// MaxResultBytes bounds a result, on the engine (max_result_bytes, in
	// the engine's uncompressed block bytes) and in what the handler sends
	// (formatted bytes, before compression); a longer answer ends with a
	// ClickHouse error in the body. 0 means 1 GiB.
	MaxResultBytes int64
	// MaxInsertBytes bounds one INSERT's data after decompression. 0 means
	// 256 MiB.
	MaxInsertBytes int64
	// MaxThreads is each query's max_threads: the engine threads one query
	// may use, so that a heavy query leaves cores to ingestion. 0 means 1.
	MaxThreads int
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
	for name, v := range map[string]int64{"max execution time": int64(c.MaxExecutionTime), "max memory usage": c.MaxMemoryUsage,
		"max result bytes": c.MaxResultBytes, "max insert bytes": c.MaxInsertBytes, "connections": int64(c.Connections), "max threads": int64(c.MaxThreads)} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("HTTP endpoint %s %d: must be 0 (the default) or positive", name, v))
		}
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Connections == 0 {
		c.Connections = 2
	}
	if c.MaxExecutionTime == 0 {
		c.MaxExecutionTime = time.Minute
	}
	if c.MaxMemoryUsage == 0 {
		c.MaxMemoryUsage = 1 << 30
	}
	if c.MaxResultBytes == 0 {
		c.MaxResultBytes = 1 << 30
	}
	if c.MaxInsertBytes == 0 {
		c.MaxInsertBytes = 256 << 20
	}
	if c.MaxThreads == 0 {
		c.MaxThreads = 1
	}
	return c
}

// limits are the settings of the endpoint's connections, set before
// readonly = 1 so that no query can lift them.
func (c Config) limits() map[string]string {
	secs := strconv.FormatFloat(c.MaxExecutionTime.Seconds(), 'f', -1, 64)
	sleep := min(c.MaxExecutionTime, time.Second)
	return map[string]string{
		"max_execution_time":                        secs,
		"max_memory_usage":                          strconv.FormatInt(c.MaxMemoryUsage, 10),
		"max_result_bytes":                          strconv.FormatInt(c.MaxResultBytes, 10),
		"result_overflow_mode":                      "throw",
		"max_threads":                               strconv.Itoa(c.MaxThreads),
		"function_sleep_max_microseconds_per_block": strconv.FormatInt(sleep.Microseconds(), 10),
		"max_query_size":                            strconv.Itoa(maxBody),
		"max_ast_elements":                          "100000",
		"max_expanded_ast_elements":                 "100000",
	}
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// maxBody bounds a query's text (URL and body, after decompression).
const maxBody = 16 << 20

// Handler serves the ClickHouse HTTP interface over the embedded engine.
// It is safe for concurrent use. Queries run on its own pool of read-only
// connections (Config.Connections), inserts of a writable endpoint on a
// pool of one connection: the engine's other pools (the pipeline's) are
// never used, so no client can take their connections.
type Handler struct {
	cfg      Config
	database string
	read     *embedded.Pool
	write    *embedded.Pool
	logins   *logins

	mu  sync.Mutex
	cat *catalog
}

// NewHandler opens the endpoint's pools on eng for database (which must
// exist) and returns the handler; cfg must be valid (Validate). The pools
// close with the engine. The engine's catalog (settings, functions, table
// functions, databases, tables, data paths) is read on the first query and
// kept; a failed read is retried by the next query, and an INSERT into a
// table the catalog does not know reads it again.
func NewHandler(cfg Config, eng *embedded.Engine, database string) (*Handler, error) {
	cfg = cfg.withDefaults()
	h := &Handler{cfg: cfg, database: database, logins: newLogins()}
	var err error
	if h.read, err = eng.NewPoolWith(database, cfg.Connections, embedded.PoolOptions{Settings: cfg.limits(), ReadOnly: true, Tag: "tapline-http"}); err != nil {
		return nil, fmt.Errorf("HTTP endpoint: open its read-only connections: %w", err)
	}
	if cfg.Writable {
		limits := cfg.limits()
		delete(limits, "max_result_bytes")
		if h.write, err = eng.NewPoolWith(database, 1, embedded.PoolOptions{Settings: limits}); err != nil {
			return nil, fmt.Errorf("HTTP endpoint: open its insert connection: %w", err)
		}
	}
	return h, nil
}

// catalog is what the handler learns from the engine.
type catalog struct {
	Database       string   `json:"database"`
	DisplayName    string   `json:"display_name"`
	Timezone       string   `json:"timezone"`
	Version        string   `json:"version"`
	Settings       []string `json:"settings"`
	TableFunctions []string `json:"table_functions"`
	Paths          []string `json:"paths"`
	Functions      []string `json:"functions"`
	Combinators    []string `json:"combinators"`
	Databases      []string `json:"databases"`
	Tables         []string `json:"tables"`

	settings map[string]bool
	tables   map[string]bool
	policy   policy
}

const catalogQuery = `SELECT currentDatabase() AS database, displayName() AS display_name, timezone() AS timezone,
	version() AS version, (SELECT groupArray(name) FROM system.settings) AS settings,
	(SELECT groupArray(name) FROM system.table_functions) AS table_functions,
	(SELECT groupArray(path) FROM system.disks) AS paths,
	(SELECT groupArray(concat(name, '\t', categories, '\t', alias_to, '\t', toString(is_aggregate))) FROM system.functions) AS functions,
	(SELECT groupArray(name) FROM system.aggregate_function_combinators) AS combinators,
	(SELECT groupArray(name) FROM system.databases) AS databases,
	(SELECT groupArray(name) FROM system.tables WHERE database = currentDatabase()) AS tables`

// catalog returns the engine's catalog, reading it when missing or when
// refresh is set.
func (h *Handler) catalog(ctx context.Context, refresh bool) (*catalog, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cat != nil && !refresh {
		return h.cat, nil
	}
	r, err := h.read.Query(ctx, catalogQuery, "JSONEachRow", nil)
	if err != nil {
		return nil, engineError(err, false)
	}
	c := &catalog{}
	if err := json.Unmarshal(r.Data, c); err != nil {
		return nil, fmt.Errorf("read the engine's catalog: %w", err)
	}
	c.settings = set(c.Settings, false)
	c.tables = set(c.Tables, false)
	c.policy = policy{
		database:       c.Database,
		databases:      set(c.Databases, true),
		tableFunctions: set(c.TableFunctions, true),
		functions:      newFunctionSet(c.Functions, c.Combinators),
	}
	h.cat = c
	return c, nil
}

func set(names []string, lower bool) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		if lower {
			n = strings.ToLower(n)
		}
		m[n] = true
	}
	return m
}

// ServeHTTP answers GET /ping, queries on / (GET, POST, HEAD), and ClickHouse's
// 404 for any other path. Every failure is written as a ClickHouse error; the
// handler keeps nothing of a request after it returns.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.checkOrigin(r); err != nil {
		writeError(w, err.(*chError))
		return
	}
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
		out := &output{w: w}
		if err := h.serveQuery(out, r); err != nil {
			out.fail(h.scrub(err))
		}
	default:
		writeError(w, errorf(codeUnknownTypeOfQuery, "There is no handle %s: use / for queries and /ping for health checks", r.URL.Path))
	}
}

func (h *Handler) serveQuery(out *output, r *http.Request) error {
	u := r.URL.Query()
	if u.Get("query") == "" && (r.Method != http.MethodPost || r.ContentLength == 0) {
		out.w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		_, _ = io.WriteString(out.w, "Ok.\n")
		return nil
	}
	if err := h.authorize(r); err != nil {
		return err
	}
	ctx := r.Context()
	cat, err := h.catalog(ctx, false)
	if err != nil {
		return err
	}
	req, err := h.parseRequest(r, cat)
	if err != nil {
		return err
	}
	if h.cfg.Writable && r.Method == http.MethodPost {
		if stmt, ok := splitInsert(r, req); ok {
			return h.serveInsert(ctx, out, r, req, stmt)
		}
	}
	if err := req.readQueryBody(r); err != nil {
		return err
	}
	text, err := canonical(ctx, h.read, req.query)
	if err != nil {
		return err
	}
	if text, err = bindIdentifiers(text, req.params); err != nil {
		return err
	}
	st, err := cat.policy.vet(text)
	if err != nil {
		return err
	}
	format := st.format
	if format == "" {
		format = req.format
	}
	limit := h.cfg.MaxExecutionTime
	if req.maxExecution > 0 && req.maxExecution < limit {
		limit = req.maxExecution
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	out.start = func() {
		hdr := out.w.Header()
		hdr.Set("Content-Type", contentType(format))
		hdr.Set("X-ClickHouse-Format", format)
		hdr.Set("X-ClickHouse-Query-Id", req.queryID)
		hdr.Set("X-ClickHouse-Timezone", cat.Timezone)
		hdr.Set("X-ClickHouse-Server-Display-Name", cat.DisplayName)
	}
	if r.Method == http.MethodHead {
		out.begin()
		return nil
	}
	if err := out.configure(r, req, format, h.cfg.MaxResultBytes); err != nil {
		return err
	}
	if st.kind == "SELECT" || st.kind == "WITH" {
		_, err = h.read.Stream(ctx, st.text, format, req.params, out.write)
	} else {
		// The engine streams SELECT only; SHOW, DESCRIBE, EXISTS and
		// EXPLAIN answer a few rows.
		var res embedded.Result
		if res, err = h.read.Query(ctx, st.text, format, req.params); err == nil {
			err = out.write(res.Data)
		}
	}
	if err == nil {
		err = out.finish()
	}
	if err != nil && ctx.Err() == context.DeadlineExceeded && r.Context().Err() == nil {
		return errorf(159, "Timeout exceeded: the query ran longer than %v (this endpoint's limit, or the client's max_execution_time)", limit)
	}
	if err != nil {
		var ce *chError
		if errors.As(err, &ce) {
			return ce
		}
		return engineError(err, false)
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
