package webdebug

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/tapline/tapline/internal/decodetest"
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

// benchDecode reports documents as records/s; rows/s counts events and
// documents.
func benchDecode(b *testing.B, payload []byte, records, _ int) {
	decodetest.Bench(b, newDecoder, payload, subject, records, "records")
}
