package embedded_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/gen"
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/ingest/decode/sofarpc"
	"github.com/tapline/tapline/schema"
	"github.com/tapline/tapline/sink/embedded"
	"github.com/tapline/tapline/sql"
)

// digestRecord decodes n generated SOFARPC digest lines into one record.
func digestRecord(tb testing.TB, n int) arrow.Record {
	tb.Helper()
	dec, err := sofarpc.New(decode.Options{})
	require.NoError(tb, err)
	mem := memory.NewGoAllocator()
	out := decode.Output{Builders: []*schema.Builder{schema.SofarpcDigest.NewBuilder(mem), schema.SofarpcStat.NewBuilder(mem)}}
	g := gen.NewSofarpc(gen.Options{Seed: 3, Start: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)})
	var r gen.Record
	for out.Builders[0].Field(0).Len() < n {
		g.Next(&r)
		if r.Subject == gen.SofarpcClientDigest || r.Subject == gen.SofarpcServerDigest {
			dec.Decode(r.Data, decode.Meta{Subject: r.Subject}, &out)
		}
	}
	out.Builders[1].NewRecord().Release()
	return out.Builders[0].NewRecord()
}

// BenchmarkInsert measures the embedded insert path: Arrow IPC encoding
// plus chdb_stream_insert of sofarpc_digest batches, with the schema's
// materialized views (views=on) and into a plain copy of the table
// (views=off). Each insert carries its own deduplication token, as the
// pipeline's do. rows=100 isolates what every insert pays before its rows
// (docs/performance.md, "What an insert costs whatever its rows"). Besides
// the time, it reports the engine's own CPU per insert from its counters
// (system.events: user-ms/op and sys-ms/op, the kernel's share, both with
// the merges that ran meanwhile; parts/op): the data directory is under
// TMPDIR, so TMPDIR=/dev/shm and a disk's directory compare file systems.
func BenchmarkInsert(b *testing.B) {
	ctx := context.Background()
	e, err := embedded.Open(ctx, embedded.Config{DataDir: b.TempDir()})
	require.NoError(b, err)
	defer e.Close()
	t := embedded.NewTarget(e.Pool)
	require.NoError(b, sql.Apply(ctx, t))
	require.NoError(b, t.Exec(ctx, "CREATE TABLE plain_digest AS sofarpc_digest"))
	plain := schema.NewTable("plain_digest", schema.SofarpcDigest.Columns()...)
	for _, rows := range []int{100, 10_000, 100_000, 400_000} {
		rec := digestRecord(b, rows)
		for _, tc := range []struct {
			name  string
			table *schema.Table
		}{{"views=on", schema.SofarpcDigest}, {"views=off", plain}} {
			b.Run(fmt.Sprintf("rows=%d/%s", rows, tc.name), func(b *testing.B) {
				b.ReportAllocs()
				before := engineEvents(b, t)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					// b.N in the token: the run of N=1 before must not
					// deduplicate this run's first insert.
					tok := fmt.Sprintf("bench:%s:%d:%d:%d", tc.name, rows, b.N, i)
					if err := t.Insert(ctx, tc.table, rec, tok); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				after := engineEvents(b, t)
				b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
				per := func(event string) float64 { return (after[event] - before[event]) / float64(b.N) }
				b.ReportMetric(per("UserTimeMicroseconds")/1000, "user-ms/op")
				b.ReportMetric(per("SystemTimeMicroseconds")/1000, "sys-ms/op")
				b.ReportMetric(per("InsertedCompactParts")+per("InsertedWideParts"), "parts/op")
			})
		}
		rec.Release()
	}
}

// engineEvents reads the engine's cumulative counters (system.events).
func engineEvents(b *testing.B, t *embedded.Target) map[string]float64 {
	b.Helper()
	out, err := t.Query(context.Background(), "SELECT event, value FROM system.events", "TSV", nil)
	require.NoError(b, err)
	m := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, value, ok := strings.Cut(line, "\t")
		if v, err := strconv.ParseFloat(value, 64); ok && err == nil {
			m[name] = v
		}
	}
	return m
}
