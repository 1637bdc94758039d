package django

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/internal/decodetest"
	"github.com/tapline/tapline/schema"
)

// FuzzDecode feeds arbitrary payloads, seeded with every testdata file and
// each of its lines, and checks:
//   - accounting: every record decode.NextRecord frames is accepted or
//     rejected, rejects name their line, rows equal accepted records, every column has every
//     row, nothing panics;
//   - agreement with encoding/json: a one-line payload that encoding/json
//     reads as an object with an RFC 3339 "timestamp" (and no deeper nesting
//     than the scanner follows) is accepted, and its event column holds the
//     same text as encoding/json's "event" string.
func FuzzDecode(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.log")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		for _, l := range bytes.Split(b, []byte("\n")) {
			f.Add(l)
		}
	}
	mem := memory.NewGoAllocator()
	f.Fuzz(func(t *testing.T, payload []byte) {
		dec := newDecoder()
		out := decode.Output{Builders: []*schema.Builder{dec.Tables()[0].NewBuilder(mem)}}
		dec.Decode(payload, decode.Meta{Subject: subject}, &out)
		lines := 0
		for off := 0; ; {
			r, ok := decode.NextRecord(payload, off)
			if !ok {
				break
			}
			lines++
			off = r.Next
		}
		if out.Records+len(out.Rejects) != lines {
			t.Fatalf("%d records framed but %d records + %d rejects", lines, out.Records, len(out.Rejects))
		}
		if len(out.Rejects) < 1000 {
			for _, rj := range out.Rejects {
				if want := decode.LineOf(payload, rj.Start); rj.Line != want {
					t.Fatalf("reject at byte %d says line %d, it is line %d", rj.Start, rj.Line, want)
				}
			}
		}
		rec := out.Builders[0].NewRecord()
		defer rec.Release()
		for _, col := range rec.Columns() {
			if col.Len() != int(rec.NumRows()) {
				t.Fatalf("column length %d != rows %d", col.Len(), rec.NumRows())
			}
		}
		if int(rec.NumRows()) != out.Records {
			t.Fatalf("%d rows for %d records", rec.NumRows(), out.Records)
		}

		want, ok := jsonOracle(payload)
		if !ok {
			return
		}
		if out.Records != 1 {
			t.Fatalf("encoding/json reads %q as a record with a valid timestamp, the decoder rejected it: %v", payload, out.Rejects)
		}
		ev := decodetest.Value(t, rec.Column(indexOf("event")), 0).(string)
		if want != nil && ev != *want {
			t.Fatalf("event %q, encoding/json says %q", ev, *want)
		}
	})
}

var rfc3339 = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$`)

// jsonOracle reports whether encoding/json reads payload as one JSON object
// on one line with a "timestamp" that time.Parse accepts as RFC 3339 in the
// years the decoder supports, and returns its "event" when that is a string.
func jsonOracle(payload []byte) (event *string, ok bool) {
	if bytes.ContainsAny(payload, "\n") || !utf8.Valid(payload) || bytes.Count(payload, []byte("["))+bytes.Count(payload, []byte("{")) > 500 {
		return nil, false
	}
	var m map[string]any
	if json.Unmarshal(payload, &m) != nil {
		return nil, false
	}
	ts, isStr := m["timestamp"].(string)
	if !isStr || !rfc3339.MatchString(ts) {
		return nil, false
	}
	tt, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil || tt.Year() < 1900 || tt.Year() > 2261 || tt.UTC().Year() < 1900 || tt.UTC().Year() > 2261 {
		return nil, false
	}
	if s, isStr := m["event"].(string); isStr {
		return &s, true
	}
	return nil, true
}

func indexOf(name string) int {
	for i, c := range newDecoder().Tables()[0].Columns() {
		if c.Name == name {
			return i
		}
	}
	panic("no column " + name)
}
