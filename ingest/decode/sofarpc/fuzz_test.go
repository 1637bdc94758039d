package sofarpc

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/schema"
)

// FuzzDecode feeds arbitrary payloads, seeded with testdata, and checks the
// record accounting: every record decode.NextRecord frames is accepted or
// rejected, rows per table agree across columns, and nothing panics.
func FuzzDecode(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.log")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	mem := memory.NewGoAllocator()
	f.Fuzz(func(t *testing.T, payload []byte) {
		dec := newDecoder()
		out := decode.Output{Builders: []*schema.Builder{
			dec.Tables()[0].NewBuilder(mem), dec.Tables()[1].NewBuilder(mem),
		}}
		dec.Decode(payload, decode.Meta{Subject: "logs.sofarpc.client.digest"}, &out)
		lines := 0
		for off := 0; ; {
			r, ok := decode.NextRecord(payload, off)
			if !ok {
				break
			}
			lines++
			off = r.Next
		}
		if out.Records+len(out.Rejects) < lines {
			t.Fatalf("%d records framed but %d records + %d rejects", lines, out.Records, len(out.Rejects))
		}
		rows := 0
		for _, b := range out.Builders {
			rec := b.NewRecord()
			for _, col := range rec.Columns() {
				if col.Len() != int(rec.NumRows()) {
					t.Fatalf("column length %d != rows %d", col.Len(), rec.NumRows())
				}
			}
			rows += int(rec.NumRows())
			rec.Release()
		}
		if rows != out.Records {
			t.Fatalf("%d rows for %d records", rows, out.Records)
		}
	})
}
