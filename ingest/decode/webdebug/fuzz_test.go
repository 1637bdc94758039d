package webdebug

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/schema"
)

// FuzzDecode feeds arbitrary payloads, seeded with testdata, and checks the
// record accounting: a payload with anything but white space yields at
// least one record or reject; rejects lie inside the payload, in order,
// without overlapping; there is one document row per accepted record; the
// event rows are exactly the events the document rows count; nothing
// panics. Decoding the same payload again with the same decoder gives the
// same rows.
func FuzzDecode(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.json")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"id":"a","version":1,"events":[{"type":"request","payload":{"uri":"/x/1","method":"GET"},"nested":[{"type":"query","duration":1,"payload":{"target":"t","query":"SELECT 'a', 1 IN (1,2)"}}]},{"type":"response","duration":2,"payload":[]}]}`))
	mem := memory.NewGoAllocator()
	f.Fuzz(func(t *testing.T, payload []byte) {
		dec := newDecoder()
		run := func() (decode.Output, int64, int64, string) {
			out := decode.Output{Builders: []*schema.Builder{
				dec.Tables()[0].NewBuilder(mem), dec.Tables()[1].NewBuilder(mem),
			}}
			dec.Decode(payload, decode.Meta{Subject: subject}, &out)
			evRec := out.Builders[0].NewRecord()
			docRec := out.Builders[1].NewRecord()
			defer evRec.Release()
			defer docRec.Release()
			for _, rec := range []arrow.Record{evRec, docRec} {
				for i, col := range rec.Columns() {
					if int64(col.Len()) != rec.NumRows() {
						t.Fatalf("column %d has %d rows, record %d", i, col.Len(), rec.NumRows())
					}
				}
			}
			counted := int64(0)
			if docRec.NumRows() > 0 {
				events := docRec.Column(schema.WebdebugDocuments.Index("events")).(*array.Uint32)
				for i := 0; i < events.Len(); i++ {
					counted += int64(events.Value(i))
				}
			}
			if counted != evRec.NumRows() {
				t.Fatalf("documents count %d events, %d event rows", counted, evRec.NumRows())
			}
			var js bytes.Buffer
			_ = array.RecordToJSON(evRec, &js)
			for _, b := range out.Builders {
				b.Release()
			}
			return out, evRec.NumRows(), docRec.NumRows(), js.String()
		}
		out, _, docs, rows := run()
		if int64(out.Records) != docs {
			t.Fatalf("%d records but %d document rows", out.Records, docs)
		}
		if len(bytes.TrimSpace(payload)) > 0 && out.Records+len(out.Rejects) == 0 {
			t.Fatalf("payload %q gave no record and no reject", payload)
		}
		prevEnd := 0
		for _, rj := range out.Rejects {
			if rj.Start < prevEnd || rj.End <= rj.Start || rj.End > len(payload) {
				t.Fatalf("reject [%d,%d) after %d in %d bytes", rj.Start, rj.End, prevEnd, len(payload))
			}
			prevEnd = rj.End
		}
		again, _, _, rows2 := run()
		if again.Records != out.Records || len(again.Rejects) != len(out.Rejects) || rows != rows2 {
			t.Fatalf("a second decode differs")
		}
	})
}
