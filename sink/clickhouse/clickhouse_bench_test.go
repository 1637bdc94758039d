package clickhouse_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/internal/clickhousetest"
	"github.com/tapline/tapline/internal/embeddedtest"
	"github.com/tapline/tapline/sink"
)

// BenchmarkInsert writes the same batches of the events table through the
// server writer (ClickHouse 18.16 over the native protocol with LZ4, a
// server process on loopback) and the embedded writer (ClickHouse 26.7
// in-process, Arrow IPC): rows/s and allocations per batch, commit included.
//
//	go test -run '^$' -bench BenchmarkInsert -benchmem -count 3 ./sink/clickhouse/
func BenchmarkInsert(b *testing.B) {
	ctx := context.Background()
	srv := clickhousetest.Start(b)
	cfg := mustDSN(b, srv.DSN("bench"))
	cfg.CreateDatabase = true
	server := mustOpen(b, cfg)
	defer server.Close()
	targets := []struct {
		name string
		t    sink.Target
	}{{"server", server}, {"embedded", embeddedtest.Target(b, 1)}}
	for _, tg := range targets {
		require.NoError(b, tg.t.Exec(ctx, eventsDDL))
	}
	for _, rows := range []int{1_000, 10_000, 100_000} {
		rec := eventsBatch(memory.NewGoAllocator(), 1, rows)
		for _, tg := range targets {
			b.Run(fmt.Sprintf("%s/rows=%d", tg.name, rows), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(recordBytes(rec))
				for i := 0; i < b.N; i++ {
					if err := tg.t.Insert(ctx, events, rec, fmt.Sprintf("bench:%d:%d", rows, i)); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			})
		}
		rec.Release()
	}
}

// recordBytes is the size of rec's Arrow buffers: the bytes a batch
// carries, for MB/s.
func recordBytes(rec arrow.Record) int64 {
	var n int64
	for _, c := range rec.Columns() {
		for _, buf := range c.Data().Buffers() {
			if buf != nil {
				n += int64(buf.Len())
			}
		}
		for _, ch := range c.Data().Children() {
			for _, buf := range ch.Buffers() {
				if buf != nil {
					n += int64(buf.Len())
				}
			}
		}
	}
	return n
}
