package g3proxy

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/schema"
)

// FuzzDecode feeds arbitrary payloads, seeded with every testdata line, and
// checks the record accounting exactly: every record decode.NextRecord
// frames is one record or one reject, rows agree across columns and with the records, and a
// second decode of the same payload with the same decoder gives equal rows.
func FuzzDecode(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.log")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		for _, line := range bytes.Split(b, []byte("\n")) {
			f.Add(line)
		}
	}
	mem := memory.NewGoAllocator()
	dec := newDecoder()
	f.Fuzz(func(t *testing.T, payload []byte) {
		lines := 0
		for off := 0; ; {
			r, ok := decode.NextRecord(payload, off)
			if !ok {
				break
			}
			lines++
			off = r.Next
		}
		var recs [2]*schema.Builder
		for i := range recs {
			recs[i] = dec.Tables()[0].NewBuilder(mem)
			out := decode.Output{Builders: []*schema.Builder{recs[i]}}
			dec.Decode(payload, decode.Meta{Subject: subject}, &out)
			if out.Records+len(out.Rejects) != lines {
				t.Fatalf("%d records framed but %d records + %d rejects", lines, out.Records, len(out.Rejects))
			}
			for _, rj := range out.Rejects {
				if rj.Start < 0 || rj.End > len(payload) || rj.Start >= rj.End || rj.Reason == "" {
					t.Fatalf("bad reject %+v for %d bytes", rj, len(payload))
				}
			}
			if n := recs[i].Field(0).Len(); n != out.Records {
				t.Fatalf("%d rows for %d records", n, out.Records)
			}
		}
		a, b := recs[0].NewRecord(), recs[1].NewRecord()
		defer a.Release()
		defer b.Release()
		for _, col := range a.Columns() {
			if col.Len() != int(a.NumRows()) {
				t.Fatalf("column length %d != rows %d", col.Len(), a.NumRows())
			}
		}
		if !array.RecordEqual(a, b) {
			t.Fatalf("two decodes of the same payload differ")
		}
	})
}

// FuzzParseDuration checks that every duration Rust's "{:.3?}" prints
// reads back as the value it represents, and that arbitrary text never
// panics.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"100.000ns", "12.345µs", "2.500ms", "441.887s", "1000.000ms", "x", ""} {
		f.Add(uint64(len(s))*997, []byte(s))
	}
	f.Fuzz(func(t *testing.T, ns uint64, text []byte) {
		ParseDuration(text)
		if ns > 1<<63 {
			ns >>= 1 // keep rustDebug3's rounding arithmetic within uint64
		}
		s, exact := rustDebug3(ns)
		got, ok := ParseDuration([]byte(s))
		if !ok || got != exact {
			t.Fatalf("ParseDuration(%q) = %d, %v; want %d", s, got, ok, exact)
		}
	})
}

// FuzzSyslogHost checks that the host is one space-free token of the
// header, or nothing.
func FuzzSyslogHost(f *testing.F) {
	f.Add([]byte("<30>Jun  4 19:17:43 proxy-01 g3proxy[2473]: "))
	f.Add([]byte("<30>1 2025-06-04T18:06:02.751220Z proxy-02 g3proxy 2001 - "))
	f.Fuzz(func(t *testing.T, header []byte) {
		h := syslogHost(header)
		if len(h) == 0 {
			return
		}
		if !bytes.Contains(header, h) || bytes.ContainsAny(h, " ") {
			t.Fatalf("host %q is not a token of %q", h, header)
		}
	})
}
