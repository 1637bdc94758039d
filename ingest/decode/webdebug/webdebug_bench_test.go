package webdebug

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/schema"
)

// BenchmarkDecode decodes messages of n real documents (the docs-based
// example with 11 events over three levels, the upstream scheme_v1.json
// example and the PHP emitter's README output, in turn, each pretty-printed
// as upstream wrote it) and reports records/s (documents) and events/s (rows
// of webdebug_events). Builders are flushed every 64k events and regrown
// with schema.ReserveLike, as the pipeline's batches are.
func BenchmarkDecode(b *testing.B) {
	var docs [][]byte
	events := []int{11, 4, 3}
	for _, name := range []string{"events-docs.json", "scheme-v1.json", "php-core-readme.json"} {
		doc, err := os.ReadFile("testdata/" + name)
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, bytes.TrimSpace(doc))
	}
	for _, n := range []int{1, 10, 100} {
		var payload bytes.Buffer
		evs := 0
		for i := 0; i < n; i++ {
			payload.Write(docs[i%len(docs)])
			payload.WriteByte('\n')
			evs += events[i%len(docs)]
		}
		b.Run(fmt.Sprintf("docs_per_msg=%d", n), func(b *testing.B) {
			benchDecode(b, payload.Bytes(), n, evs)
		})
	}
}

func benchDecode(b *testing.B, payload []byte, records, events int) {
	mem := memory.NewGoAllocator()
	dec := newDecoder()
	tables := dec.Tables()
	out := decode.Output{Builders: make([]*array.RecordBuilder, len(tables))}
	for i, t := range tables {
		out.Builders[i] = t.NewBuilder(mem)
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	pending := 0
	for i := 0; i < b.N; i++ {
		dec.Decode(payload, decode.Meta{Subject: subject}, &out)
		pending += events
		if pending >= 1<<16 {
			for _, bl := range out.Builders {
				rec := bl.NewRecord()
				schema.ReserveLike(bl, rec)
				rec.Release()
			}
			pending = 0
		}
	}
	b.StopTimer()
	if len(out.Rejects) > 0 {
		b.Fatalf("unexpected rejects: %v", out.Rejects[0])
	}
	if out.Records != b.N*records {
		b.Fatalf("%d records, want %d", out.Records, b.N*records)
	}
	b.ReportMetric(float64(b.N*records)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.N*events)/b.Elapsed().Seconds(), "events/s")
}
