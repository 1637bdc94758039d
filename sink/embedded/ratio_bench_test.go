package embedded_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/schema"
	"github.com/tapline/tapline/sink"
	"github.com/tapline/tapline/sink/embedded"
	"github.com/tapline/tapline/sql"
)

// drainBatchRows is the size of the batches a drain of SOFARPC client
// digests closes (by bytes, at about 57.5k rows of 585-byte lines).
const drainBatchRows = 57_500

// BenchmarkInsertVersusJSON reproduces the engine side of issue 11's drain
// figure in one command (make bench-insert): a drain-sized batch of
// generated SOFARPC digests inserted into the real schema, both
// materialized views included, once per iteration as tapline does it
// (Target.Insert: Arrow IPC encoded in Go, format ArrowStream, with a
// deduplication token) and once as the engine's own JSON ingestion of the
// same rows (format JSONEachRow, the JSON written by the engine from those
// rows, the same statement and token scheme). The two alternate inside one
// iteration, in turns, so both see the same machine load, merges and part
// count. Reported: arrow-rows/s, json-rows/s (each from the wall time of its
// own inserts) and arrow/json, their ratio.
//
// Before timing it checks that both paths write the same rows (count and a
// hash of every column), so the ratio compares like with like.
func BenchmarkInsertVersusJSON(b *testing.B) {
	ctx := context.Background()
	e, err := embedded.Open(ctx, embedded.Config{DataDir: b.TempDir()})
	require.NoError(b, err, "the engine library is fetched by `make engine`")
	defer e.Close()
	t := embedded.NewTarget(e.Pool)
	require.NoError(b, sql.Apply(ctx, t))
	rec := digestRecord(b, drainBatchRows)
	defer rec.Release()
	rows := int(rec.NumRows())
	json := engineJSON(b, e, rec)
	requireSameRows(b, e, rec, json)

	digest := schema.SofarpcDigest
	var arrowTime, jsonTime time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		arrowFirst := i%2 == 0
		for turn := 0; turn < 2; turn++ {
			start := time.Now()
			if (turn == 0) == arrowFirst {
				if err := t.Insert(ctx, digest, rec, fmt.Sprintf("bench:arrow:%d", i)); err != nil {
					b.Fatal(err)
				}
				arrowTime += time.Since(start)
				continue
			}
			if _, err := e.InsertStream(ctx, sink.InsertStatement(digest, fmt.Sprintf("bench:json:%d", i)), "JSONEachRow", json); err != nil {
				b.Fatal(err)
			}
			jsonTime += time.Since(start)
		}
	}
	b.StopTimer()
	arrowRate := float64(b.N*rows) / arrowTime.Seconds()
	jsonRate := float64(b.N*rows) / jsonTime.Seconds()
	b.ReportMetric(arrowRate, "arrow-rows/s")
	b.ReportMetric(jsonRate, "json-rows/s")
	b.ReportMetric(arrowRate/jsonRate, "arrow/json")
	b.ReportMetric(0, "ns/op") // an iteration holds both paths: see the rates
}

// engineJSON returns rec's rows as the engine writes them in JSONEachRow,
// columns in the table's order: rec goes through a Memory copy of the
// table, never into the benchmarked one.
func engineJSON(b *testing.B, e *embedded.Engine, rec arrow.Record) []byte {
	b.Helper()
	ctx := context.Background()
	require.NoError(b, e.Exec(ctx, "CREATE TABLE json_source AS sofarpc_digest ENGINE = Memory", nil))
	src := schema.NewTable("json_source", schema.SofarpcDigest.Columns()...)
	t := embedded.NewTarget(e.Pool)
	require.NoError(b, t.Insert(ctx, src, rec, ""))
	r, err := e.Query(ctx, "SELECT "+columnList()+" FROM json_source", "JSONEachRow", nil)
	require.NoError(b, err)
	require.NoError(b, e.Exec(ctx, "DROP TABLE json_source", nil))
	return r.Data
}

// requireSameRows inserts rec (ArrowStream) and json (JSONEachRow) into
// two plain copies of sofarpc_digest and fails unless both hold the same
// number of rows with the same hash over every column.
func requireSameRows(b *testing.B, e *embedded.Engine, rec arrow.Record, json []byte) {
	b.Helper()
	ctx := context.Background()
	t := embedded.NewTarget(e.Pool)
	for _, name := range []string{"same_arrow", "same_json"} {
		require.NoError(b, e.Exec(ctx, "CREATE TABLE "+name+" AS sofarpc_digest ENGINE = Memory", nil))
	}
	require.NoError(b, t.Insert(ctx, schema.NewTable("same_arrow", schema.SofarpcDigest.Columns()...), rec, ""))
	_, err := e.InsertStream(ctx, sink.InsertStatement(schema.NewTable("same_json", schema.SofarpcDigest.Columns()...), ""), "JSONEachRow", json)
	require.NoError(b, err)
	sum := func(table string) string {
		r, err := e.Query(ctx, "SELECT count(), sum(cityHash64(formatRow('TabSeparated', "+columnList()+"))) FROM "+table, "TabSeparated", nil)
		require.NoError(b, err)
		return strings.TrimSpace(string(r.Data))
	}
	arrow, js := sum("same_arrow"), sum("same_json")
	require.Equal(b, arrow, js, "the JSONEachRow baseline must write the rows tapline's Arrow insert writes (count, column hash)")
	require.True(b, strings.HasPrefix(arrow, fmt.Sprint(rec.NumRows())+"\t"), "all %d rows written: %s", rec.NumRows(), arrow)
	for _, name := range []string{"same_arrow", "same_json"} {
		require.NoError(b, e.Exec(ctx, "DROP TABLE "+name, nil))
	}
}

func columnList() string {
	cols := schema.SofarpcDigest.Columns()
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = sink.QuoteIdent(c.Name)
	}
	return strings.Join(names, ", ")
}
