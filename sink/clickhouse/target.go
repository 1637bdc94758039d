package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/cenkalti/backoff/v5"

	"github.com/tapline/tapline/schema"
	"github.com/tapline/tapline/sink"
)

// Target is a ClickHouse server as a sink.Target. It is safe for
// concurrent use: clickhouse-go pools the connections, and each insert
// takes its own encoder from a per-table pool.
type Target struct {
	cfg     Config
	conn    driver.Conn
	log     *slog.Logger
	version string
	tokens  bool

	encoders sync.Map // table name -> *sync.Pool of *encoder
	retries  atomic.Uint64
}

var _ sink.Target = (*Target)(nil)

// Open connects to the server and learns what it supports. While the
// server cannot be reached (refused, reset, timed out) Open waits with
// exponential backoff between Config.RetryMin and RetryMax, logging each
// attempt's cause at Warn level, up to Config.ConnectAttempts attempts (0:
// until ctx ends). A refusal that waiting cannot cure (wrong credentials,
// unknown database) returns at once. The error never contains the
// password.
func Open(ctx context.Context, cfg Config) (*Target, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	conn, err := chgo.Open(cfg.options())
	if err != nil {
		return nil, fmt.Errorf("clickhouse %s: %s", cfg.Redacted(), scrub(err.Error(), string(cfg.Password)))
	}
	t := &Target{cfg: cfg, conn: conn, log: cfg.logger()}
	if err := t.connect(ctx); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return t, nil
}

// connect pings until the server answers, then reads its version and
// whether it knows insert_deduplication_token.
func (t *Target) connect(ctx context.Context) error {
	attempt := 0
	var last error
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		attempt++
		err := t.classify("connect to ClickHouse at "+t.cfg.Redacted(), t.conn.Ping(ctx))
		var se *sink.Error
		if err != nil && t.cfg.CreateDatabase && errors.As(err, &se) && se.Code == codeUnknownDatabase {
			if err := t.createDatabase(ctx); err != nil {
				return struct{}{}, backoff.Permanent(err)
			}
			err = t.classify("connect to ClickHouse at "+t.cfg.Redacted(), t.conn.Ping(ctx))
		}
		last = err
		switch {
		case err == nil:
		case !sink.IsRetryable(err):
			return struct{}{}, backoff.Permanent(err)
		case t.cfg.ConnectAttempts > 0 && attempt >= t.cfg.ConnectAttempts:
			return struct{}{}, backoff.Permanent(fmt.Errorf("%w (gave up after %d attempts)", err, attempt))
		}
		return struct{}{}, err
	}, backoff.WithBackOff(t.backOff()), backoff.WithMaxElapsedTime(0), backoff.WithNotify(func(err error, delay time.Duration) {
		t.log.Warn("ClickHouse server unreachable; waiting for it", "server", t.cfg.Redacted(), "attempt", attempt, "retry_in", delay, "err", err)
	}))
	if err != nil && ctx.Err() != nil && last != nil {
		return fmt.Errorf("%w (stopped waiting: %v)", last, ctx.Err())
	}
	if err != nil {
		return err
	}
	v, err := t.conn.ServerVersion()
	if err != nil {
		return t.classify("server version", err)
	}
	t.version = fmt.Sprintf("%d.%d.%d", v.Version.Major, v.Version.Minor, v.Version.Patch)
	var n uint64
	if err := t.conn.QueryRow(ctx, "SELECT count() FROM system.settings WHERE name = 'insert_deduplication_token'").Scan(&n); err != nil {
		return t.classify("read server settings", err)
	}
	t.tokens = n > 0
	if !t.tokens {
		t.log.Warn("this ClickHouse server has no insert_deduplication_token: a replayed batch may be written twice (at-least-once); use ClickHouse 22.2 or newer for exactly-once", "server", t.cfg.Redacted(), "version", t.version)
	}
	return nil
}

// createDatabase creates the configured database through a connection to
// the server's "default" database.
func (t *Target) createDatabase(ctx context.Context) error {
	opts := t.cfg.options()
	opts.Auth.Database = "default"
	conn, err := chgo.Open(opts)
	if err != nil {
		return t.classify("create database "+t.cfg.database(), err)
	}
	defer conn.Close()
	stmt := "CREATE DATABASE IF NOT EXISTS " + sink.QuoteIdent(t.cfg.database())
	if t.cfg.Cluster != "" {
		stmt += " ON CLUSTER " + sink.QuoteIdent(t.cfg.Cluster)
	}
	t.log.Info("creating the database", "server", t.cfg.Redacted(), "database", t.cfg.database())
	return t.classify("create database "+t.cfg.database(), conn.Exec(ctx, stmt))
}

// Version returns the server's version, e.g. "24.8.4".
func (t *Target) Version() string { return t.version }

// DedupTokens reports whether the server honours insert_deduplication_token
// (ClickHouse 22.2+). Without it Insert sends no token: replays are
// at-least-once.
func (t *Target) DedupTokens() bool { return t.tokens }

// Retries returns how many insert attempts failed for a retryable reason
// and were tried again, since Open.
func (t *Target) Retries() uint64 { return t.retries.Load() }

// Describe returns the server without credentials, for messages.
func (t *Target) Describe() string {
	return fmt.Sprintf("ClickHouse server %s at %s", t.version, t.cfg.Redacted())
}

// Exec runs one statement that returns no rows.
func (t *Target) Exec(ctx context.Context, stmt string) error {
	return t.classify("exec", t.conn.Exec(ctx, stmt))
}

// Query runs one read statement and renders its rows in format, on the
// client (see Formats for the formats it renders). params bind {name:Type}
// placeholders on the server (ClickHouse 22.x+ over the native protocol).
func (t *Target) Query(ctx context.Context, query, format string, params map[string]string) ([]byte, error) {
	r, err := newRenderer(format)
	if err != nil {
		return nil, &sink.Error{Op: "query", Err: err}
	}
	if len(params) > 0 {
		ctx = chgo.Context(ctx, chgo.WithParameters(chgo.Parameters(params)))
	}
	rows, err := t.conn.Query(ctx, query)
	if err != nil {
		return nil, t.classify("query", err)
	}
	defer rows.Close()
	out, err := r.render(rows)
	if err != nil {
		return nil, t.classify("query", err)
	}
	return out, nil
}

// Insert writes rec into table as one INSERT over the native protocol and
// returns after the server committed it. See sink.Target. The token goes
// in insert_deduplication_token when the server knows it (DedupTokens).
// Retryable failures are tried again up to Config.InsertAttempts times in
// all, with backoff; the last error is returned (sink.IsRetryable tells
// whether later may work). A table on the server whose columns differ
// from table's fails at once, not retryable, naming each difference.
func (t *Target) Insert(ctx context.Context, table *schema.Table, rec arrow.Record, token string) error {
	op := "insert into " + table.Name()
	if !rec.Schema().Equal(table.Arrow()) {
		return &sink.Error{Op: op, Err: fmt.Errorf("BUG: record schema %v does not match table schema %v", rec.Schema(), table.Arrow())}
	}
	settings := chgo.Settings{}
	if t.tokens && token != "" {
		settings["insert_deduplication_token"] = token
	}
	if t.cfg.Cluster != "" {
		settings["insert_distributed_sync"] = 1
	}
	ictx := chgo.Context(ctx, chgo.WithSettings(settings))
	attempt := 0
	var last error
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		attempt++
		err := t.insertOnce(ictx, op, table, rec)
		last = err
		if err != nil && !sink.IsRetryable(err) {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(t.backOff()), backoff.WithMaxTries(uint(t.cfg.insertAttempts())), backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(func(err error, delay time.Duration) {
			t.retries.Add(1)
			t.log.Warn("insert failed for a temporary reason; retrying", "table", table.Name(), "attempt", attempt, "retry_in", delay, "err", err)
		}))
	if err != nil && ctx.Err() != nil && last != nil {
		return last // the insert's own error says more than the cancellation
	}
	return err
}

func (t *Target) insertOnce(ctx context.Context, op string, table *schema.Table, rec arrow.Record) (err error) {
	b, err := t.conn.PrepareBatch(ctx, sink.InsertStatement(table, ""))
	if err != nil {
		return t.classify(op, err)
	}
	defer func() {
		if err != nil {
			_ = b.Abort()
		}
		_ = b.Close()
	}()
	cols := b.Columns()
	enc, err := t.encoder(table, cols)
	if err != nil {
		return &sink.Error{Op: op, Err: err}
	}
	defer t.putEncoder(table, enc)
	if err := enc.append(cols, rec); err != nil {
		return &sink.Error{Op: op, Err: fmt.Errorf("encode: %w", err)}
	}
	if err := b.Send(); err != nil {
		return t.classify(op, err)
	}
	return nil
}

// encoder returns a pooled encoder for table built for the block's column
// types, or the schema mismatch.
func (t *Target) encoder(table *schema.Table, cols []column.Interface) (*encoder, error) {
	names, types := make([]string, len(cols)), make([]string, len(cols))
	for i, c := range cols {
		names[i], types[i] = c.Name(), string(c.Type())
	}
	p, _ := t.encoders.LoadOrStore(table.Name(), &sync.Pool{})
	if e, ok := p.(*sync.Pool).Get().(*encoder); ok && e.table == table && e.matches(types) {
		return e, nil
	}
	return newEncoder(table, names, types)
}

func (t *Target) putEncoder(table *schema.Table, e *encoder) {
	if p, ok := t.encoders.Load(table.Name()); ok {
		p.(*sync.Pool).Put(e)
	}
}

// Close closes the connections. In-flight calls finish first.
func (t *Target) Close() error { return t.conn.Close() }

// backOff is the delay between attempts: Config.RetryMin doubling to
// RetryMax, with ±10% jitter so that many tapline processes do not retry
// in step.
func (t *Target) backOff() *backoff.ExponentialBackOff {
	return &backoff.ExponentialBackOff{InitialInterval: t.cfg.retryMin(), Multiplier: 2, MaxInterval: t.cfg.retryMax(), RandomizationFactor: 0.1}
}
