package decode

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRejectfLineNumbers(t *testing.T) {
	t.Parallel()
	p := []byte("a\nb\n\nc\nd")
	var o Output
	o.Rejectf(p, 2, 3, "x") // b: line 2
	o.Rejectf(p, 5, 6, "x") // c: line 4
	o.Rejectf(p, 0, 1, "x") // a again (out of order): line 1
	o.Rejectf(p, 7, 8, "x") // d: line 5
	q := []byte("z\ny")
	o.Rejectf(q, 2, 3, "x") // another payload: line 2
	var lines []int
	for _, r := range o.Rejects {
		lines = append(lines, r.Line)
	}
	require.Equal(t, []int{2, 4, 1, 5, 2}, lines)
	for i, r := range o.Rejects[:4] {
		require.Equal(t, LineOf(p, r.Start), r.Line, i)
	}
}

// BenchmarkRejectfManyBadLines shows Rejectf stays linear on a payload of
// 10,000 bad lines.
func BenchmarkRejectfManyBadLines(b *testing.B) {
	p := bytes.Repeat([]byte("not a record at all\n"), 10_000)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var o Output
		for off := 0; ; {
			s, e, next, ok := NextLine(p, off)
			if !ok {
				break
			}
			o.Rejectf(p, s, e, "bad")
			off = next
		}
	}
}

func TestNextLine(t *testing.T) {
	t.Parallel()
	p := []byte("  one \r\n\n \t\ntwo\nthree")
	var got []string
	for off := 0; ; {
		s, e, next, ok := NextLine(p, off)
		if !ok {
			break
		}
		got = append(got, string(p[s:e]))
		off = next
	}
	require.Equal(t, []string{"one", "two", "three"}, got)
}
