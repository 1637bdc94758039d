package clickhouse_test

// These tests run against a real ClickHouse server process: Debian 12's
// clickhouse-server, ClickHouse 18.16, started on loopback by
// clickhousetest (installed by `make clickhouse-server`). 18.16
// has no insert_deduplication_token, so what they prove about replays is
// at-least-once (no row lost); exactly-once rests on the token, which the
// embedded engine's tests (pipeline/) prove on ClickHouse 26.7.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/internal/clickhousetest"
	"github.com/tapline/tapline/schema"
	"github.com/tapline/tapline/sink"
	"github.com/tapline/tapline/sink/clickhouse"
	"github.com/tapline/tapline/sql"
)

// TestServerBatchesLand proves, on ClickHouse 18.16 over the native
// protocol with LZ4, that every row of several batches lands with every
// value intact (strings with tabs and quotes, NULLs, arrays, negative
// integers, fractions, times), read back through Query.
func TestServerBatchesLand(t *testing.T) {
	srv := clickhousetest.Start(t)
	ctx := context.Background()
	tg := openServer(t, srv, "land", nil)
	require.Equal(t, "18.16.1", tg.Version())
	require.False(t, tg.DedupTokens(), "18.16 has no insert_deduplication_token")
	require.NoError(t, tg.Exec(ctx, eventsDDL))

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	var want []string
	for b := 0; b < 3; b++ {
		rec := eventsBatch(mem, b, 500)
		require.NoError(t, tg.Insert(ctx, events, rec, fmt.Sprintf("tok:%d", b)))
		rec.Release()
		for i := 0; i < 500; i++ {
			want = append(want, eventsRowTSV(b, i))
		}
	}
	mem.AssertSize(t, 0)
	out, err := tg.Query(ctx, "SELECT * FROM events ORDER BY batch, seq", "TabSeparated", nil)
	require.NoError(t, err)
	require.Equal(t, strings.Join(want, "\n")+"\n", string(out))

	out, err = tg.Query(ctx, "SELECT service, count() AS n FROM events GROUP BY service ORDER BY service LIMIT 2", "PrettyCompact", nil)
	require.NoError(t, err)
	require.Equal(t, "┌─service─┬───n─┐\n│ svc-0   │ 216 │\n│ svc-1   │ 216 │\n└─────────┴─────┘\n", string(out))
}

// TestServerKilledMidStream kills the 18.16 server (SIGKILL) while batches
// stream in and starts it again. The writer's bounded retries and the
// caller's loop on sink.IsRetryable (what the pipeline does) carry every
// batch through: every row is present afterwards. 18.16 has no
// deduplication tokens, so a batch whose insert was cut off after the
// server committed it may be there twice: the property proven is
// at-least-once, and the duplicates are counted in the log.
func TestServerKilledMidStream(t *testing.T) {
	srv := clickhousetest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	log := &logBuffer{}
	tg := openServer(t, srv, "crash", log)
	require.NoError(t, tg.Exec(ctx, eventsDDL))

	const batches, rows = 40, 400
	var committed atomic.Int32
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for committed.Load() < 10 {
			time.Sleep(5 * time.Millisecond)
		}
		srv.Kill()
		time.Sleep(1500 * time.Millisecond)
		srv.StartAgain()
	}()
	mem := memory.NewGoAllocator()
	var failures int
	for b := 0; b < batches; b++ {
		rec := eventsBatch(mem, b, rows)
		for {
			err := tg.Insert(ctx, events, rec, fmt.Sprintf("tok:%d", b))
			if err == nil {
				break
			}
			require.True(t, sink.IsRetryable(err), "a dead server must give a retryable error, got %v", err)
			failures++
			time.Sleep(100 * time.Millisecond)
		}
		rec.Release()
		committed.Add(1)
	}
	<-killed
	require.Positive(t, tg.Retries()+uint64(failures), "the kill must have been noticed")
	require.Contains(t, log.String(), "retrying")

	out, err := tg.Query(ctx, "SELECT count(), uniqExact(batch, seq) FROM events", "TabSeparated", nil)
	require.NoError(t, err)
	f := strings.Fields(string(out))
	require.Len(t, f, 2)
	require.Equal(t, fmt.Sprint(batches*rows), f[1], "every row present")
	t.Logf("rows %s, distinct %s (18.16 cannot deduplicate a replayed batch); writer retries %d, caller retries %d", f[0], f[1], tg.Retries(), failures)
}

// TestServerDownAtStart starts Open against a server that is not running:
// Open waits with growing backoff and logs why, instead of failing or
// crashing; once the server starts, Open returns and inserts work. With a
// bounded number of attempts it gives up with a clear, retryable error.
func TestServerDownAtStart(t *testing.T) {
	srv := clickhousetest.Start(t)
	srv.Kill()
	cfg, err := clickhouse.ParseDSN(srv.DSN("default"))
	require.NoError(t, err)
	cfg.RetryMin, cfg.RetryMax = 50*time.Millisecond, 400*time.Millisecond

	bounded := cfg
	bounded.ConnectAttempts = 2
	_, err = clickhouse.Open(context.Background(), bounded)
	require.Error(t, err)
	require.True(t, sink.IsRetryable(err), "%v", err)
	require.Contains(t, err.Error(), "connect to ClickHouse at clickhouse://tapline@"+srv.Addr())
	require.Contains(t, err.Error(), "gave up after 2 attempts")
	require.NotContains(t, err.Error(), srv.Password)

	log := &logBuffer{}
	cfg.Logger = log.logger()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	type result struct {
		tg  *clickhouse.Target
		err error
	}
	done := make(chan result, 1)
	go func() {
		tg, err := clickhouse.Open(ctx, cfg)
		done <- result{tg, err}
	}()
	require.Eventually(t, func() bool { return strings.Count(log.String(), "unreachable") >= 3 }, 30*time.Second, 20*time.Millisecond)
	select {
	case r := <-done:
		t.Fatalf("Open returned while the server is down: %v", r.err)
	default:
	}
	require.Contains(t, log.String(), "connection refused")
	require.NotContains(t, log.String(), srv.Password)
	srv.StartAgain()
	r := <-done
	require.NoError(t, r.err)
	defer r.tg.Close()
	require.NoError(t, r.tg.Exec(ctx, eventsDDL))
	rec := eventsBatch(memory.NewGoAllocator(), 0, 10)
	defer rec.Release()
	require.NoError(t, r.tg.Insert(ctx, events, rec, "t"))
}

// TestServerBadCredentials: a wrong password fails Open at once (no
// retries: waiting cannot fix it) with the server's code and what to do,
// and neither the wrong nor the right password appears in the error or
// the log.
func TestServerBadCredentials(t *testing.T) {
	srv := clickhousetest.Start(t)
	cfg, err := clickhouse.ParseDSN(strings.Replace(srv.DSN("default"), srv.Password, "wrong-Secret-42", 1))
	require.NoError(t, err)
	log := &logBuffer{}
	cfg.Logger = log.logger()
	start := time.Now()
	_, err = clickhouse.Open(context.Background(), cfg)
	require.Error(t, err)
	require.Less(t, time.Since(start), 10*time.Second)
	var se *sink.Error
	require.True(t, errors.As(err, &se))
	require.False(t, se.Retryable)
	require.Equal(t, 193, se.Code, "18.16 says WRONG_PASSWORD")
	require.Contains(t, err.Error(), "check the user and password")
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", cfg), fmt.Sprint(cfg), log.String()} {
		require.NotContains(t, s, "wrong-Secret-42")
		require.NotContains(t, s, srv.Password)
	}
}

// TestServerSchemaMismatch: a server table whose column type differs from
// what tapline sends fails the insert at once, not retryable, naming the
// column and both types.
func TestServerSchemaMismatch(t *testing.T) {
	srv := clickhousetest.Start(t)
	ctx := context.Background()
	tg := openServer(t, srv, "mismatch", nil)
	require.NoError(t, tg.Exec(ctx, strings.Replace(eventsDDL, "code Int64", "code Int32", 1)))
	rec := eventsBatch(memory.NewGoAllocator(), 0, 10)
	defer rec.Release()
	err := tg.Insert(ctx, events, rec, "t")
	require.Error(t, err)
	require.False(t, sink.IsRetryable(err))
	require.Contains(t, err.Error(), "column code is Int32 on the server, tapline sends Int64")
	require.Zero(t, tg.Retries())

	err = tg.Insert(ctx, schema.NewTable("nope", events.Columns()...), rec, "t")
	require.Error(t, err)
	require.False(t, sink.IsRetryable(err))
	require.Contains(t, err.Error(), "ClickHouse error 60")
}

// TestServerMigrations applies versioned migrations to 18.16 (tables and
// a materialized view of types it knows), twice, and reads their status;
// a changed file is reported, not re-run; the column check names the
// difference between schema/ and the server.
func TestServerMigrations(t *testing.T) {
	srv := clickhousetest.Start(t)
	ctx := context.Background()
	tg := openServer(t, srv, "migrate", nil)
	fsys := fstest.MapFS{
		"tables/events.sql":         {Data: []byte(eventsDDL + ";\n")},
		"tables/events_count.sql":   {Data: []byte("-- per batch\nCREATE TABLE IF NOT EXISTS events_count (batch UInt32, n UInt64) ENGINE = SummingMergeTree ORDER BY batch")},
		"views/events_count_mv.sql": {Data: []byte("CREATE MATERIALIZED VIEW IF NOT EXISTS events_count_mv TO events_count AS SELECT batch, count() AS n FROM events GROUP BY batch")},
	}
	ms, err := sql.MigrationsFrom(fsys, sql.RenderOptions{})
	require.NoError(t, err)
	sts, err := sql.StatusOf(ctx, tg, ms)
	require.NoError(t, err)
	for _, s := range sts {
		require.Equal(t, sql.Pending, s.State)
	}
	for range 2 {
		sts, err = sql.Migrate(ctx, tg, ms, sql.RenderOptions{})
		require.NoError(t, err)
		for _, s := range sts {
			require.Equal(t, sql.Applied, s.State, s.Version)
		}
	}
	out, err := tg.Query(ctx, "SELECT version FROM tapline_migrations ORDER BY version", "TabSeparated", nil)
	require.NoError(t, err)
	require.Equal(t, "tables/events.sql\ntables/events_count.sql\nviews/events_count_mv.sql\n", string(out), "each migration recorded once")

	rec := eventsBatch(memory.NewGoAllocator(), 7, 25)
	defer rec.Release()
	require.NoError(t, tg.Insert(ctx, events, rec, "t"))
	out, err = tg.Query(ctx, "SELECT batch, sum(n) FROM events_count GROUP BY batch", "TabSeparated", nil)
	require.NoError(t, err)
	require.Equal(t, "7\t25\n", string(out), "the view saw the insert")

	require.NoError(t, sql.CheckColumns(ctx, tg, []*schema.Table{events}))
	other := schema.NewTable("events", append(events.Columns()[:9:9], schema.Int("extra", "UInt8"))...)
	err = sql.CheckColumns(ctx, tg, []*schema.Table{other, schema.NewTable("absent", schema.String("x"))})
	require.ErrorContains(t, err, "events.extra is missing (tapline sends UInt8)")
	require.ErrorContains(t, err, "events.ts has no DEFAULT and tapline does not send it")
	require.ErrorContains(t, err, "table absent does not exist")

	fsys["tables/events_count.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE IF NOT EXISTS events_count (batch UInt64, n UInt64) ENGINE = SummingMergeTree ORDER BY batch")}
	ms, err = sql.MigrationsFrom(fsys, sql.RenderOptions{})
	require.NoError(t, err)
	sts, err = sql.Migrate(ctx, tg, ms, sql.RenderOptions{})
	require.NoError(t, err)
	require.Equal(t, sql.Changed, sts[1].State)
}
