// Package embedded runs the ClickHouse engine inside the tapline process:
// chDB's libchdb.so (ClickHouse 26.7), loaded with dlopen at run time so that
// building tapline never needs the library.
//
// The engine is a process-wide resource. One process may hold one open
// Engine at a time (chDB boots one server per process and keeps one data
// path); Open refuses a second one with ErrEngineOpen. A file lock on the
// data directory also keeps a second process away from the same data.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tapline/tapline/sink"
)

// ErrEngineOpen is returned by Open while another Engine is open in this
// process. Share the open Engine instead of opening a second one.
var ErrEngineOpen = errors.New("an embedded ClickHouse engine is already open in this process (chDB allows one per process): share it instead of opening another")

// ErrDataDirLocked is returned by Open when another process holds the data
// directory. Query that process (tapline sql finds it through the endpoint
// file it announces) or stop it first.
var ErrDataDirLocked = errors.New("data directory is in use by another tapline process")

// EngineError is an error reported by the ClickHouse engine. Code is the
// ClickHouse error code parsed from the message ("Code: 60. DB::Exception:
// ..."), or 0 when the message carries none.
type EngineError struct {
	Code    int
	Message string
}

// Error returns the engine's message unchanged.
func (e *EngineError) Error() string { return e.Message }

var codeRE = regexp.MustCompile(`Code: (\d+)\.`)

func newEngineError(msg string) *EngineError {
	e := &EngineError{Message: strings.TrimSpace(msg)}
	if m := codeRE.FindStringSubmatch(msg); m != nil {
		e.Code, _ = strconv.Atoi(m[1])
	}
	return e
}

// process guards the one-engine-per-process rule and remembers which
// library file was loaded (dlopen happens once per process).
var process struct {
	mu      sync.Mutex
	lib     *libchdb
	libPath string
	open    bool
}

// Engine is an open embedded ClickHouse engine. It owns a default Pool of
// connections on Config.Database; NewPool opens more pools on other
// databases (tests use one database each). All methods are safe for
// concurrent use.
type Engine struct {
	lib     *libchdb
	dataDir string
	args    []string
	lock    *os.File
	version string

	*Pool // the default pool

	mu      sync.Mutex
	pools   []*Pool
	closed  bool
	control *Pool // one connection for KILL QUERY, opened on first use

	mergeWidths map[string]int // Config.MergeWidths resolved; see Target.SpreadMerges

	stopPurge context.CancelFunc // ends the purge goroutine; nil without one
	purging   sync.WaitGroup
}

// Pool is a set of engine connections whose current database is one
// database. Each statement runs on one connection, so at most as many
// statements as the pool has connections run at once; further callers wait
// for a free connection.
type Pool struct {
	database string
	conns    []cconn
	free     chan cconn
	once     sync.Once
	engine   *Engine
	tags     map[cconn]string // log_comment of each connection of a Tag pool
}

// Open loads the engine library (once per process), boots the engine on
// cfg.DataDir and opens the default pool. It fails with ErrEngineOpen while
// another Engine is open in this process and with ErrDataDirLocked while
// another process uses the data directory. Before the engine boots, it
// releases every deduplication token a kill left without its part (see
// repairDedupLogs), so that the replay of that batch is inserted, and
// reports each to cfg.Log.
func Open(ctx context.Context, cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	libPath, err := cfg.ResolveLibrary()
	if err != nil {
		return nil, err
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("embedded engine: data directory %q: %w", cfg.DataDir, err)
	}

	process.mu.Lock()
	defer process.mu.Unlock()
	if process.open {
		return nil, ErrEngineOpen
	}
	if process.lib == nil {
		lib, err := loadLibrary(libPath)
		if err != nil {
			return nil, fmt.Errorf("embedded engine: %w (run `make engine` to fetch it, or set %s)", err, LibraryEnv)
		}
		// Before the first connect: keep the Go runtime's signal handlers
		// (nil dereferences become panics, stack growth and GC keep working).
		lib.disableSignalHandlers()
		process.lib = &lib
		process.libPath = libPath
	} else if process.libPath != libPath {
		return nil, fmt.Errorf("embedded engine: this process already loaded %s; it cannot load %s as well", process.libPath, libPath)
	}

	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded engine: create data directory: %w", err)
	}
	lock, err := lockDir(dataDir)
	if err != nil {
		return nil, err
	}
	repairs, skipped, err := repairDedupLogs(filepath.Join(dataDir, "clickhouse"))
	if err != nil {
		_ = lock.Close()
		return nil, err
	}
	for _, err := range skipped {
		fmt.Fprintf(cfg.log(), "tapline: %v\n", err)
	}
	for _, r := range repairs {
		fmt.Fprintf(cfg.log(), "tapline: embedded engine: %s: the insert of part %s was cut between recording its deduplication token and writing the part (the process was killed); the token is released so that the replay of that batch is inserted (block ID %s)\n", r.Table, r.Part, r.BlockID)
	}
	e := &Engine{lib: process.lib, dataDir: dataDir, lock: lock, mergeWidths: cfg.mergeWidths()}
	e.args = []string{"clickhouse", "--path=" + filepath.Join(dataDir, "clickhouse")}
	if mt, srv := cfg.mergeTree(), cfg.server(); len(mt) > 0 || len(srv) > 0 {
		path, err := writeServerConfig(dataDir, srv, mt)
		if err != nil {
			_ = lock.Close()
			return nil, err
		}
		e.args = append(e.args, "--config-file="+path)
	} else if err := os.Remove(filepath.Join(dataDir, ServerConfigFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		_ = lock.Close()
		return nil, fmt.Errorf("embedded engine: remove the configuration an earlier start wrote: %w (remove %s by hand)", err, filepath.Join(dataDir, ServerConfigFile))
	}
	for _, k := range sortedKeys(cfg.Settings) {
		e.args = append(e.args, "--"+k+"="+cfg.Settings[k])
	}
	p, err := e.NewPool(cfg.database(), cfg.connections())
	if err != nil {
		_ = lock.Close()
		return nil, err
	}
	if err := p.closeFileDatabase(ctx); err != nil {
		p.close()
		_ = lock.Close()
		return nil, err
	}
	e.Pool = p
	e.version = e.lib.version()
	process.open = true
	if every := cfg.memoryPurge(); every > 0 {
		pctx, stop := context.WithCancel(context.Background())
		e.stopPurge = stop
		e.purging.Add(1)
		go e.purge(pctx, every, cfg.memoryPurgeAbove())
	}
	return e, nil
}

// purge returns the allocator's freed pages to the operating system every
// interval until ctx ends (Config.MemoryPurge), at the ticks when the
// process's resident memory is above `above` bytes (all of them when above
// is 0, or when the resident memory cannot be read). A failed purge is
// retried at the next tick: it costs memory, never data.
func (e *Engine) purge(ctx context.Context, every time.Duration, above int64) {
	defer e.purging.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if above > 0 {
				if rss, err := residentBytes(); err == nil && rss <= above {
					continue
				}
			}
			_ = e.Pool.Exec(ctx, "SYSTEM JEMALLOC PURGE", nil)
		}
	}
}

// residentBytes returns the process's resident memory from
// /proc/self/statm (its second field, in pages).
func residentBytes() (int64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("read /proc/self/statm: %q has no resident field", b)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read /proc/self/statm: %w", err)
	}
	return pages * int64(os.Getpagesize()), nil
}

// PoolOptions configure the connections of a pool opened with NewPoolWith.
type PoolOptions struct {
	// Settings are ClickHouse query-level settings applied to each
	// connection when it opens (before ReadOnly), on top of the engine's
	// Config.Settings: limits such as max_execution_time,
	// max_memory_usage, max_result_bytes.
	Settings map[string]string
	// ReadOnly opens the connections with readonly = 1, set after
	// Settings: the engine then refuses every write, DDL, table function
	// and setting change on them (a query's SETTINGS clause included; a
	// setting "changed" to its current value passes). The database must
	// exist already.
	ReadOnly bool
	// Tag, when set, marks each connection's queries with log_comment
	// "<Tag>-<n>", which lets Stream cancel a running statement through
	// KILL QUERY when its context is done, even inside a long computation.
	Tag string
}

// NewPool opens n connections whose current database is database, creating
// the database when missing. The pool is closed with the engine.
func (e *Engine) NewPool(database string, n int) (*Pool, error) {
	return e.NewPoolWith(database, n, PoolOptions{})
}

// NewPoolWith opens n connections configured by opts whose current
// database is database. The pool is closed with the engine.
func (e *Engine) NewPoolWith(database string, n int, opts PoolOptions) (*Pool, error) {
	if database == "" || n < 1 {
		return nil, fmt.Errorf("embedded engine: pool needs a database name and at least one connection (got %q, %d)", database, n)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errors.New("embedded engine is closed")
	}
	p := &Pool{database: database, free: make(chan cconn, n), engine: e, tags: map[cconn]string{}}
	db := sink.QuoteIdent(database)
	base := append([]string(nil), e.args...)
	for _, k := range sortedKeys(opts.Settings) {
		base = append(base, "--"+k+"="+opts.Settings[k])
	}
	for i := 0; i < n; i++ {
		args, tag := base, ""
		if opts.Tag != "" {
			tag = fmt.Sprintf("%s-%d-%d", opts.Tag, len(e.pools), i)
			args = append(append([]string(nil), base...), "--log_comment="+tag)
		}
		if opts.ReadOnly {
			args = append(args, "--readonly=1")
		}
		c, err := e.lib.connect(args)
		if err != nil {
			p.closeConns()
			return nil, fmt.Errorf("embedded engine: connect to %s: %w", e.dataDir, err)
		}
		p.conns = append(p.conns, c)
		if tag != "" {
			p.tags[c] = tag
		}
		// Every connection is its own session: each switches to the database.
		if i == 0 && !opts.ReadOnly {
			if _, err := c.queryParams("CREATE DATABASE IF NOT EXISTS "+db, "TabSeparated", nil); err != nil {
				p.closeConns()
				return nil, fmt.Errorf("embedded engine: create database %s: %w", database, err)
			}
		}
		if _, err := c.queryParams("USE "+db, "TabSeparated", nil); err != nil {
			p.closeConns()
			return nil, fmt.Errorf("embedded engine: use database %s: %w", database, err)
		}
		p.free <- c
	}
	e.pools = append(e.pools, p)
	return p, nil
}

// closeFileDatabase replaces clickhouse-local's built-in "default"
// database, an overlay that maps every table name to a file path (SELECT *
// FROM default.`/etc/passwd` reads the file, INSERT appends to it, TRUNCATE
// empties it, even on a read-only connection for reads), with an empty
// Memory database of the same name. tapline never uses it; the overlay
// exists only in memory and returns at every start, so this runs at every
// Open. Dropping it touches no file.
func (p *Pool) closeFileDatabase(ctx context.Context) error {
	r, err := p.Query(ctx, "SELECT engine FROM system.databases WHERE name = 'default'", "TabSeparatedRaw", nil)
	if err != nil {
		return fmt.Errorf("embedded engine: read the default database's engine: %w", err)
	}
	if strings.TrimSpace(string(r.Data)) != "Overlay" {
		return nil
	}
	for _, stmt := range []string{"DROP DATABASE default", "CREATE DATABASE IF NOT EXISTS default ENGINE = Memory"} {
		if err := p.Exec(ctx, stmt, nil); err != nil {
			return fmt.Errorf("embedded engine: replace the file-mapped default database (%s): %w", stmt, err)
		}
	}
	return nil
}

// ServerConfigFile is the engine's server configuration file in the data
// directory. Open writes it at every start from Config.Server and
// Config.MergeTree, or removes it when both are empty maps, so edits to it
// do not last.
const ServerConfigFile = "clickhouse-config.xml"

// writeServerConfig writes the engine's server configuration, the server
// settings and a <merge_tree> section with mergeTree, to
// dataDir/ServerConfigFile and returns its path. Names and values were
// checked by Config.Validate.
func writeServerConfig(dataDir string, server, mergeTree map[string]string) (string, error) {
	var b strings.Builder
	b.WriteString("<!-- Written by tapline at every start of the embedded engine (sink/embedded Config.Server and Config.MergeTree); edits do not last. -->\n<clickhouse>\n")
	settings := func(indent string, m map[string]string) {
		for _, k := range sortedKeys(m) {
			fmt.Fprintf(&b, "%s<%s>%s</%s>\n", indent, k, m[k], k)
		}
	}
	settings("    ", server)
	if len(mergeTree) > 0 {
		b.WriteString("    <merge_tree>\n")
		settings("        ", mergeTree)
		b.WriteString("    </merge_tree>\n")
	}
	b.WriteString("</clickhouse>\n")
	path := filepath.Join(dataDir, ServerConfigFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return "", fmt.Errorf("embedded engine: write its configuration: %w (is the data directory %s writable?)", err, dataDir)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("embedded engine: write its configuration: %w", err)
	}
	return path, nil
}

// lockDir takes an exclusive, non-blocking flock on dataDir/tapline.lock. The
// lock is released when the returned file is closed or the process exits.
func lockDir(dataDir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dataDir, "tapline.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("embedded engine: lock data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("%w: %s", ErrDataDirLocked, dataDir)
	}
	return f, nil
}

// DataDir returns the absolute data directory the engine runs on.
func (e *Engine) DataDir() string { return e.dataDir }

// Version returns the engine's version string, e.g. "26.7.3".
func (e *Engine) Version() string { return e.version }

// Database returns the pool's current database.
func (p *Pool) Database() string { return p.database }

func (p *Pool) acquire(ctx context.Context) (cconn, error) {
	select {
	case c, ok := <-p.free:
		if !ok {
			return cconn{}, errors.New("embedded engine is closed")
		}
		return c, nil
	case <-ctx.Done():
		return cconn{}, ctx.Err()
	}
}

func (p *Pool) release(c cconn) { p.free <- c }

// Result is what one statement returned: its output in the requested format
// and the engine's counters. RowsWritten includes rows written by dependent
// materialized views.
type Result struct {
	Data        []byte
	RowsRead    uint64
	RowsWritten uint64
	Elapsed     float64
}

// Query runs one statement and returns its output in the given ClickHouse
// output format (for example "TabSeparated", "JSONEachRow", "ArrowStream",
// "PrettyCompactMonoBlock"). params bind {name:Type} placeholders on the
// engine side; values are never spliced into the SQL text. The context only
// bounds the wait for a free connection: a statement that started runs to
// its end.
func (p *Pool) Query(ctx context.Context, query, format string, params map[string]string) (Result, error) {
	c, err := p.acquire(ctx)
	if err != nil {
		return Result{}, err
	}
	defer p.release(c)
	return c.queryParams(query, format, params)
}

// Exec runs statements that return nothing useful (DDL, SET, INSERT ...
// VALUES). See Query for params and ctx.
func (p *Pool) Exec(ctx context.Context, stmt string, params map[string]string) error {
	_, err := p.Query(ctx, stmt, "TabSeparated", params)
	return err
}

// InsertStream runs one INSERT statement (without FORMAT clause) fed with
// chunks in the given input format, for example "ArrowStream", and returns
// after the engine committed it. The chunks are copied by the engine; the
// caller keeps ownership.
func (p *Pool) InsertStream(ctx context.Context, stmt, format string, chunks ...[]byte) (Result, error) {
	c, err := p.acquire(ctx)
	if err != nil {
		return Result{}, err
	}
	defer p.release(c)
	return c.insert(stmt, format, chunks)
}

// Stream runs one statement and hands its output to emit chunk by chunk as
// the engine produces it (chunk boundaries follow the engine's blocks), so
// a result is never held whole in memory. emit must not retain the chunk
// after it returns. The statement is cancelled on the engine when ctx is
// done or emit returns an error; both are checked between chunks (a chunk
// being computed runs to its end, bounded by the connection's
// max_execution_time). ctx also bounds the wait for a free connection.
func (p *Pool) Stream(ctx context.Context, query, format string, params map[string]string, emit func([]byte) error) (Result, error) {
	c, err := p.acquire(ctx)
	if err != nil {
		return Result{}, err
	}
	defer p.release(c)
	tag := p.tags[c]
	if tag == "" || ctx.Done() == nil {
		return c.stream(query, format, params, ctx.Err, emit)
	}
	// A fetch cannot be interrupted on its own connection: when ctx ends
	// mid-statement, KILL QUERY finds the statement by the connection's
	// log_comment. The lock keeps the kill from outliving the statement:
	// the connection returns to the pool (and may run another statement)
	// only after finished is set.
	var mu sync.Mutex
	finished := false
	watchDone := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			mu.Lock()
			if !finished {
				p.engine.kill(tag)
			}
			mu.Unlock()
		case <-watchDone:
		}
	}()
	res, err := c.stream(query, format, params, ctx.Err, emit)
	mu.Lock()
	finished = true
	mu.Unlock()
	close(watchDone)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return res, err
}

// kill cancels the statement running with log_comment tag, without waiting
// for it to stop. Failures are ignored: the connection's
// max_execution_time still ends the statement.
func (e *Engine) kill(tag string) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	ctl := e.control
	e.mu.Unlock()
	if ctl == nil {
		p, err := e.NewPool(e.Pool.database, 1)
		if err != nil {
			return
		}
		e.mu.Lock()
		if e.control == nil {
			e.control = p
		}
		ctl = e.control
		e.mu.Unlock()
	}
	_, _ = ctl.Query(context.Background(), "KILL QUERY WHERE Settings['log_comment'] = {tag:String} ASYNC", "TabSeparated", map[string]string{"tag": tag})
}

// QueryClass is what a statement does to state that outlives it, as the
// engine's parser decides (chdb.h chdb_query_class).
type QueryClass int

// The classes, in order of restriction.
const (
	// ClassReadOnly: SELECT, SHOW, DESCRIBE, EXPLAIN, EXISTS, CHECK.
	ClassReadOnly QueryClass = iota
	// ClassMutating: INSERT, CREATE, ALTER, DROP, TRUNCATE, RENAME, ...
	ClassMutating
	// ClassMutatingGlobal: functions, named collections, access, writes
	// into the system database.
	ClassMutatingGlobal
	// ClassControl: USE, SET, ATTACH, DETACH, SYSTEM, BACKUP, KILL, INTO
	// OUTFILE, INSERT INTO FUNCTION.
	ClassControl
	// ClassUnknown: did not parse, or not classified; treat as refused.
	ClassUnknown
)

// AnalysisFlags are facts about a statement beyond its class.
type AnalysisFlags uint32

// The flags (chdb.h chdb_query_analysis_flag).
const (
	// FlagHasSecrets: the text carries a credential.
	FlagHasSecrets AnalysisFlags = 1 << 0
	// FlagWritesOnlyTargetDatabase: every persistent write lands in the
	// database the caller named (proven by the engine).
	FlagWritesOnlyTargetDatabase AnalysisFlags = 1 << 1
	// FlagChangesDatabaseLifecycle: creates, drops or renames a database.
	FlagChangesDatabaseLifecycle AnalysisFlags = 1 << 2
)

// Analysis is the engine parser's report on a statement.
type Analysis struct {
	// Statements is how many executable statements the text holds (0 when
	// it does not parse).
	Statements int
	Class      QueryClass
	Flags      AnalysisFlags
}

// Classify parses sql with the engine's own parser and reports what it
// would do, without running it. FlagWritesOnlyTargetDatabase is judged
// against the pool's database.
func (p *Pool) Classify(ctx context.Context, sql string) (Analysis, error) {
	c, err := p.acquire(ctx)
	if err != nil {
		return Analysis{}, err
	}
	defer p.release(c)
	return c.classify(sql, p.database)
}

// InsertFrom runs one INSERT statement (without FORMAT clause) whose data,
// in the given input format, comes from next chunk by chunk until next
// returns io.EOF; the engine copies each chunk. Any other error from next
// cancels the insert uncommitted and is returned.
func (p *Pool) InsertFrom(ctx context.Context, stmt, format string, next func() ([]byte, error)) (Result, error) {
	c, err := p.acquire(ctx)
	if err != nil {
		return Result{}, err
	}
	defer p.release(c)
	return c.insertFrom(stmt, format, next)
}

// InsertWith runs one INSERT statement (without FORMAT clause) whose data,
// in the given input format, fill writes to w: the engine copies the bytes
// of each Write before it returns, so fill may reuse its buffers, and the
// payload is never held whole on the Go side. An error from fill cancels
// the insert uncommitted and is returned; a failed append makes Write
// return the engine's error. ctx bounds the wait for a connection only.
func (p *Pool) InsertWith(ctx context.Context, stmt, format string, fill func(w io.Writer) error) (Result, error) {
	c, err := p.acquire(ctx)
	if err != nil {
		return Result{}, err
	}
	defer p.release(c)
	return c.insertWith(stmt, format, fill)
}

// close waits for running statements, then closes every connection.
func (p *Pool) close() {
	p.once.Do(func() {
		for range p.conns {
			<-p.free
		}
		close(p.free)
		p.closeConns()
	})
}

func (p *Pool) closeConns() {
	for _, c := range p.conns {
		c.close()
	}
	p.conns = nil
}

// Close closes every pool (waiting for running statements) and releases the
// data directory lock. After Close another Engine may be opened in this
// process. Close is idempotent.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	pools := e.pools
	e.mu.Unlock()
	if e.stopPurge != nil {
		e.stopPurge()
		e.purging.Wait()
	}
	for _, p := range pools {
		p.close()
	}
	_ = e.lock.Close()
	process.mu.Lock()
	process.open = false
	process.mu.Unlock()
	return nil
}
