package decode

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// frame returns every record NextRecord finds in p as text, with its cut.
type framed struct {
	Text  string
	Lines int
	Cut   Cut
}

func frame(t testing.TB, p string) []framed {
	t.Helper()
	var out []framed
	for off := 0; ; {
		r, ok := NextRecord([]byte(p), off)
		if !ok {
			require.Equal(t, len(p), r.Next)
			break
		}
		require.Greater(t, r.Next, off, "NextRecord must advance")
		require.Equal(t, strings.Count(p[r.Start:r.End], "\n")+1, r.Lines, "Lines counts the record's physical lines")
		out = append(out, framed{p[r.Start:r.End], r.Lines, r.Cut})
		off = r.Next
	}
	return out
}

func TestNextRecordOneLineRecordsAreLines(t *testing.T) {
	t.Parallel()
	// Everything NextLine frames as lines, NextRecord frames the same when
	// every JSON value closes on its line.
	p := " {\"a\":\"}{\\\"\"} \r\n\nnot json\n\t{\"b\":[1,{\"c\":\"]\"}]}{\"d\":2}\n{\"e\":1} trailing\n<13>1 - host app - - - @cee:{\"f\":\"\n{\"last\":true}"
	var lines []string
	for off := 0; ; {
		s, e, next, ok := NextLine([]byte(p), off)
		if !ok {
			break
		}
		lines = append(lines, p[s:e])
		off = next
	}
	var recs []string
	for _, r := range frame(t, p) {
		require.Equal(t, NotCut, r.Cut, r.Text)
		recs = append(recs, r.Text)
	}
	require.Equal(t, lines, recs)
}

func TestNextRecordRawNewlineInString(t *testing.T) {
	t.Parallel()
	p := "{\"sql\":\"SELECT id\r\n  FROM t\nWHERE x = '{'\",\"n\":1}\n{\"next\":1}\n"
	require.Equal(t, []framed{
		{"{\"sql\":\"SELECT id\r\n  FROM t\nWHERE x = '{'\",\"n\":1}", 3, NotCut},
		{"{\"next\":1}", 1, NotCut},
	}, frame(t, p))
}

func TestNextRecordPrettyPrinted(t *testing.T) {
	t.Parallel()
	p := "{\n  \"event\": \"x\",\n  \"nested\": {\n    \"a\": [\n      1\n    ]\n  }\n}\n{\"b\": 1}\n{\n  \"c\": \"}\"\n}"
	require.Equal(t, []framed{
		{"{\n  \"event\": \"x\",\n  \"nested\": {\n    \"a\": [\n      1\n    ]\n  }\n}", 8, NotCut},
		{"{\"b\": 1}", 1, NotCut},
		{"{\n  \"c\": \"}\"\n}", 3, NotCut},
	}, frame(t, p))
}

func TestNextRecordArrayOfObjectsAtColumnZero(t *testing.T) {
	t.Parallel()
	// json.dumps({"a": [{"b": 1}, {"c": [2]}], "d": {}}, indent=0): inside
	// an array that expects an element, a '{' in column 0 continues the
	// record; after it closes, the next '{' in column 0 is a new record.
	rec := "{\n\"a\": [\n{\n\"b\": 1\n},\n{\n\"c\": [\n2\n]\n}\n],\n\"d\": {}\n}"
	require.Equal(t, []framed{
		{rec, 13, NotCut},
		{"{\"e\": 1}", 1, NotCut},
	}, frame(t, rec+"\n{\"e\": 1}\n"))
	// Inside an object a '{' in column 0 is a new record.
	require.Equal(t, []framed{
		{"{\n\"a\": {", 2, CutAtNext},
		{"{\"e\": 1}", 1, NotCut},
	}, frame(t, "{\n\"a\": {\n{\"e\": 1}\n"))
}

func TestNextRecordNotClosed(t *testing.T) {
	t.Parallel()
	// A pretty-printed record cut off by a new record, then one cut off by
	// the end of the payload: each is one record, cut, whole.
	p := "{\n  \"a\": 1,\n{\"b\":2}\n{\n  \"c\": {\n    \"d\": \"x\n"
	require.Equal(t, []framed{
		{"{\n  \"a\": 1,", 2, CutAtNext},
		{"{\"b\":2}", 1, NotCut},
		{"{\n  \"c\": {\n    \"d\": \"x", 3, CutAtEnd},
	}, frame(t, p))
	r, _ := NextRecord([]byte(p), 0)
	require.Contains(t, r.Reason(), "JSON value not closed after 2 lines")
	require.Contains(t, r.Reason(), "starts a new record")
	last := frame(t, p)[2]
	require.Equal(t, CutAtEnd, last.Cut)
}

func TestNextRecordOddQuoteFallsBackToLines(t *testing.T) {
	t.Parallel()
	// An odd number of unescaped quotes leaves the first line inside a
	// string; when nothing closes it before the next record, the first
	// line is a (broken) record of its own and the lines after it are
	// framed again, so a plain-text line stays one record.
	p := "{\"m\":\"un\"quoted\"}\nplain text\n{\"ok\":1}\n{\"m\":\"a\"b\"}\nplain\n"
	require.Equal(t, []framed{
		{"{\"m\":\"un\"quoted\"}", 1, NotCut},
		{"plain text", 1, NotCut},
		{"{\"ok\":1}", 1, NotCut},
		// At the end of the payload the record is kept whole (the rule for
		// a value that never closes).
		{"{\"m\":\"a\"b\"}\nplain", 2, CutAtEnd},
	}, frame(t, p))
}

func TestNextRecordBound(t *testing.T) {
	t.Parallel()
	// An open value is followed over lines up to MaxRecordBytes; the line
	// end past the bound ends it, and the lines after are records again.
	line := "  \"k\": \"" + strings.Repeat("v", 1000) + "\",\n"
	n := MaxRecordBytes/len(line) + 2
	p := "{\n" + strings.Repeat(line, n) + "  \"z\": 1\n}\n"
	recs := frame(t, p)
	require.Equal(t, CutAtBound, recs[0].Cut)
	require.GreaterOrEqual(t, len(recs[0].Text), MaxRecordBytes)
	require.Less(t, len(recs[0].Text), MaxRecordBytes+len(line))
	require.Contains(t, Record{Start: 0, End: len(recs[0].Text), Lines: recs[0].Lines, Cut: CutAtBound}.Reason(), "up to 1048576 bytes")
	// The rest: the remaining member lines and "}" one by one.
	require.Equal(t, "}", recs[len(recs)-1].Text)
	// A single line longer than the bound is never cut.
	long := "{\"k\":\"" + strings.Repeat("v", MaxRecordBytes+10) + "\"}"
	require.Equal(t, []framed{{long, 1, NotCut}}, frame(t, long))
}

// FuzzNextRecord checks that NextRecord always advances, keeps its records
// inside the payload, in order, without overlap, and only leaves white
// space between them.
func FuzzNextRecord(f *testing.F) {
	for _, s := range []string{"{\"a\":\"x\ny\"}\n", "{\n}\n{", "}{\"\\\"\n", "{\"a\":\"b\"c\"}\nx\n{}", "\n\n  \t"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		prev := 0
		for off := 0; ; {
			r, ok := NextRecord(p, off)
			if !ok {
				require.Equal(t, len(p), r.Next)
				require.Empty(t, bytes.Trim(p[prev:], " \t\r\n"))
				return
			}
			require.True(t, off <= r.Start && r.Start < r.End && r.End <= r.Next && r.Next <= len(p), "%+v at %d", r, off)
			require.Empty(t, bytes.Trim(p[prev:r.Start], " \t\r\n"))
			require.Equal(t, bytes.Count(p[r.Start:r.End], []byte{'\n'})+1, r.Lines)
			prev, off = r.End, r.Next
		}
	})
}

// soFar frames every whole line of p with NextRecordSoFar, as a shipper
// does with what a file holds so far: the settled records, and where the
// unsettled rest starts.
func soFar(p []byte) (recs []Record, rest int) {
	p = p[:bytes.LastIndexByte(p, '\n')+1]
	for off := 0; ; {
		r, ok := NextRecordSoFar(p, off)
		if !ok {
			return recs, off
		}
		if r.Cut == CutAtEnd {
			return recs, off
		}
		recs = append(recs, r)
		off = r.Next
	}
}

// requireSettledAgree checks the property a shipper relies on: at every
// line end k of p, the records NextRecordSoFar settles in p[:k] are the
// first records NextRecord finds in the whole of p, field for field, and
// NextRecord over a message that starts where they end finds the rest.
func requireSettledAgree(t testing.TB, p []byte) {
	var whole []Record
	for off := 0; ; {
		r, ok := NextRecord(p, off)
		if !ok {
			break
		}
		whole = append(whole, r)
		off = r.Next
	}
	for k := 0; k < len(p); k++ {
		if p[k] != '\n' {
			continue
		}
		recs, rest := soFar(p[:k+1])
		require.LessOrEqual(t, len(recs), len(whole), "prefix %q", p[:k+1])
		if len(recs) > 0 {
			require.Equal(t, whole[:len(recs)], recs, "prefix %q", p[:k+1])
		}
		// Framing again from where the settled records end (the next
		// message's start) finds the same records with shifted offsets.
		for i, off := len(recs), 0; i < len(whole); i++ {
			r, ok := NextRecord(p[rest:], off)
			require.True(t, ok)
			require.Equal(t, whole[i].Start-rest, r.Start, "record %d after a cut at %d in %q", i, rest, p)
			require.Equal(t, whole[i].End-rest, r.End)
			off = r.Next
		}
	}
}

func TestNextRecordSoFar(t *testing.T) {
	t.Parallel()
	// Open values at the end wait; closed ones, non-JSON lines and values
	// cut by a following record do not.
	for _, tc := range []struct {
		p    string
		recs int // settled
		rest int // where the unsettled rest starts
	}{
		{"{\"a\":1}\n", 1, 8},
		{"{\"a\":\"x\n", 0, 0},                   // raw newline in a string: may go on
		{"{\n  \"a\": 1\n", 0, 0},                // pretty-printed, not closed yet
		{"{\n  \"a\": 1\n}\n", 1, 13},            // closed on its last line
		{"{\"a\":1}{\"b\":\n", 0, 0},             // a glued value that is open
		{"plain\n{\"a\n", 1, 6},                  // a non-JSON line is a record
		{"{\"a\":\"b\"c\"}\n{\"d\":1}\n", 2, 20}, // odd quotes: cut by the next record
		{"{\n\"a\": 1,\n{\"b\":2}\n", 2, 18},     // not closed, cut by the next record
		{"\n\n  \n", 0, 0},                       // blank lines: no record
	} {
		recs, rest := soFar([]byte(tc.p))
		require.Len(t, recs, tc.recs, "%q", tc.p)
		require.Equal(t, tc.rest, rest, "%q", tc.p)
		requireSettledAgree(t, []byte(tc.p))
	}
	for _, name := range []string{"sofarpc/testdata/rpc-client-digest-docs.log"} {
		b, err := os.ReadFile(name)
		require.NoError(t, err)
		requireSettledAgree(t, b)
	}
}

// FuzzNextRecordSoFar checks requireSettledAgree on any input.
func FuzzNextRecordSoFar(f *testing.F) {
	for _, s := range []string{"{\"a\":\"x\ny\"}\n{\"b\":1}\n", "{\n}\n{\n", "}{\"\\\"\n\n", "{\"a\":\"b\"c\"}\nx\n{}\n", "[\n{\"a\":[\n{\n\"b\":1}]}\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		if len(p) > 4096 {
			return // quadratic check
		}
		requireSettledAgree(t, p)
	})
}

// BenchmarkFraming compares the two framings over the same payload of real
// one-line records (SOFATracer docs' digest lines), the hot path: what
// NextRecord costs beyond NextLine is its scan of quotes and braces.
func BenchmarkFraming(b *testing.B) {
	line, err := os.ReadFile("sofarpc/testdata/rpc-client-digest-docs.log")
	require.NoError(b, err)
	p := bytes.Repeat(line, 1000)
	b.Run("NextLine", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(p)))
		for i := 0; i < b.N; i++ {
			for off := 0; ; {
				_, _, next, ok := NextLine(p, off)
				if !ok {
					break
				}
				off = next
			}
		}
	})
	b.Run("NextRecord", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(p)))
		for i := 0; i < b.N; i++ {
			for off := 0; ; {
				r, ok := NextRecord(p, off)
				if !ok {
					break
				}
				off = r.Next
			}
		}
	})
	// The slow path: records pretty-printed over lines, each line scanned.
	pretty := bytes.Repeat([]byte("{\n  \"event\": \"request_finished\",\n  \"sql\": \"SELECT id\nFROM t\",\n  \"code\": 200\n}\n"), 1000)
	b.Run("NextRecord/multiline", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(pretty)))
		for i := 0; i < b.N; i++ {
			for off := 0; ; {
				r, ok := NextRecord(pretty, off)
				if !ok {
					break
				}
				off = r.Next
			}
		}
	})
}

// TestNextRecordSyslogLineStartsARecord: g3proxy mixes JSON lines with
// syslog lines ("<30>... @cee:{...}"). A JSON line cut short (a transport
// cutting a datagram) must not take the syslog records after it into its
// own dead letter, whether it was cut inside a string or between values,
// and whether the payload ends after them or another JSON record follows.
func TestNextRecordSyslogLineStartsARecord(t *testing.T) {
	t.Parallel()
	sys := "<30>Dec  2 20:14:52 proxy-02 g3proxy[2473]: @cee:{\"task_id\":\"x\",\"k\":\"v\"}"
	for _, cut := range []string{`{"task_id":"a","stage":"Fin`, `{"task_id":"a","stage":`, `{"task_id":"a",`} {
		for _, tail := range []string{"", "\n{\"task_id\":\"b\"}"} {
			p := cut + "\n" + sys + "\n" + sys + tail + "\n"
			got := frame(t, p)
			want := []framed{{cut, 1, NotCut}, {sys, 1, NotCut}, {sys, 1, NotCut}}
			if tail != "" {
				want = append(want, framed{tail[1:], 1, NotCut})
			}
			require.Equal(t, want, got, "payload %q", p)
		}
	}
	// A '<' line that is no syslog header continues a value as before.
	require.Equal(t, []framed{{"{\"a\":\"x\n<b> y\"}", 2, NotCut}}, frame(t, "{\"a\":\"x\n<b> y\"}\n"))
	require.True(t, startsRecord([]byte("<134>1 2026")))
	require.False(t, startsRecord([]byte("<>")))
	require.False(t, startsRecord([]byte("<12345>")))
}
