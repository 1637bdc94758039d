package clickhouse_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/internal/clickhousetest"
	"github.com/tapline/tapline/internal/embeddedtest"
	"github.com/tapline/tapline/internal/syncbuf"
	"github.com/tapline/tapline/schema"
	"github.com/tapline/tapline/sink/clickhouse"
)

func TestMain(m *testing.M) { embeddedtest.Main(m) }

// events is a table of the types ClickHouse 18.16 (Debian 12's server)
// knows: no LowCardinality, Map, Bool or DateTime64. The newer types are
// checked against the embedded 26.7 engine in encode_test.go.
var events = schema.NewTable("events",
	schema.Int("batch", "UInt32"),
	schema.Int("seq", "UInt32"),
	schema.String("service"),
	schema.Float64("latency_ms"),
	schema.Int("code", "Int64"),
	schema.NullableInt("size", "UInt64"),
	schema.NullableString("note"),
	schema.StringArray("tags"),
	schema.Int("flag", "UInt8"),
	schema.Column{Name: "ts", CH: "DateTime('UTC')", Arrow: &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}},
)

const eventsDDL = `CREATE TABLE IF NOT EXISTS events (
    batch UInt32, seq UInt32, service String, latency_ms Float64, code Int64,
    size Nullable(UInt64), note Nullable(String), tags Array(String), flag UInt8, ts DateTime('UTC')
) ENGINE = MergeTree ORDER BY (batch, seq)`

// eventsBatch builds batch number b of n rows; row i's values are a
// function of (b, i), so tests can say exactly what the table must hold.
func eventsBatch(mem memory.Allocator, b, n int) arrow.Record {
	rb := events.NewBuilder(mem)
	defer rb.Release()
	for i := 0; i < n; i++ {
		rb.Field(0).(*array.Uint32Builder).Append(uint32(b))
		rb.Field(1).(*array.Uint32Builder).Append(uint32(i))
		rb.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("svc-%d", i%7))
		rb.Field(3).(*array.Float64Builder).Append(float64(i) / 4)
		rb.Field(4).(*array.Int64Builder).Append(int64(i) - 500)
		if i%3 == 0 {
			rb.Field(5).(*array.Uint64Builder).AppendNull()
			rb.Field(6).(*array.StringBuilder).AppendNull()
		} else {
			rb.Field(5).(*array.Uint64Builder).Append(uint64(i * 10))
			rb.Field(6).(*array.StringBuilder).Append(fmt.Sprintf("n\t%d 'q'", i))
		}
		lb := rb.Field(7).(*array.ListBuilder)
		lb.Append(true)
		for k := 0; k < i%3; k++ {
			lb.ValueBuilder().(*array.StringBuilder).Append(fmt.Sprintf("t%d", k))
		}
		rb.Field(8).(*array.Uint8Builder).Append(uint8(i % 2))
		rb.Field(9).(*array.TimestampBuilder).Append(arrow.Timestamp(1_700_000_000 + i))
	}
	return rb.NewRecord()
}

// eventsRowTSV is the TabSeparated line the server must return for
// SELECT * FROM events for row (b, i).
func eventsRowTSV(b, i int) string {
	size, note := `\N`, `\N`
	if i%3 != 0 {
		size, note = fmt.Sprint(i*10), fmt.Sprintf(`n\t%d 'q'`, i)
	}
	tags := "["
	for k := 0; k < i%3; k++ {
		if k > 0 {
			tags += ","
		}
		tags += fmt.Sprintf("'t%d'", k)
	}
	tags += "]"
	ts := time.Unix(int64(1_700_000_000+i), 0).UTC().Format("2006-01-02 15:04:05")
	lat := fmt.Sprint(float64(i) / 4)
	return fmt.Sprintf("%d\t%d\tsvc-%d\t%s\t%d\t%s\t%s\t%s\t%d\t%s", b, i, i%7, lat, int64(i)-500, size, note, tags, i%2, ts)
}

// logBuffer is a slog handler target that tests can read while it is
// written to.
type logBuffer struct{ syncbuf.Buffer }

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func mustDSN(tb testing.TB, dsn string) clickhouse.Config {
	tb.Helper()
	cfg, err := clickhouse.ParseDSN(dsn)
	require.NoError(tb, err)
	return cfg
}

func mustOpen(tb testing.TB, cfg clickhouse.Config) *clickhouse.Target {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tg, err := clickhouse.Open(ctx, cfg)
	require.NoError(tb, err)
	return tg
}

// openServer opens a target on srv's database db (created when missing)
// with fast retries.
func openServer(t *testing.T, srv *clickhousetest.Server, db string, log *logBuffer) *clickhouse.Target {
	t.Helper()
	cfg, err := clickhouse.ParseDSN(srv.DSN(db))
	require.NoError(t, err)
	cfg.CreateDatabase = true
	cfg.RetryMin, cfg.RetryMax = 50*time.Millisecond, 500*time.Millisecond
	cfg.ConnectAttempts = 3
	if log != nil {
		cfg.Logger = log.logger()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tg, err := clickhouse.Open(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tg.Close() })
	return tg
}
