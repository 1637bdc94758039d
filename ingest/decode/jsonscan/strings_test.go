package jsonscan

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// nearMisses are bytes that differ from '"' (0x22) or '\\' (0x5c) in one
// bit, or sit next to them, or have the high bit set: where a word-at-a-time
// match would go wrong first.
var nearMisses = []byte{0x00, 0x01, 0x20, 0x21, 0x23, 0x02, 0x62, 0xa2, 0x5b, 0x5d, 0x1c, 0x7c, 0xdc, 0x7f, 0x80, 0xff, 'a'}

// TestQuoteOrEscape checks that the lowest set bit of quoteOrEscape's mask
// is at the first '"' or '\\' of the word, whatever bytes come before and
// after it, and that a word without either gives 0.
func TestQuoteOrEscape(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	var w [8]byte
	for trial := 0; trial < 200_000; trial++ {
		first := rng.IntN(9) // 8: neither in the word
		for i := range w {
			switch {
			case i < first:
				w[i] = nearMisses[rng.IntN(len(nearMisses))]
			case i == first:
				w[i] = `"\`[rng.IntN(2)]
			default:
				w[i] = byte(rng.Uint32())
			}
		}
		m := quoteOrEscape(binary.LittleEndian.Uint64(w[:]))
		if first == 8 {
			require.Zero(t, m, "% x", w)
			continue
		}
		require.NotZero(t, m, "% x", w)
		require.Equal(t, first, bits.TrailingZeros64(m)>>3, "% x", w)
	}
}

// TestStringEnds reads strings of every length up to 80 bytes, made of
// near-miss bytes, ending at a quote, at an escape, or at the end of the
// input, and followed by more JSON, so that every length meets the
// word-at-a-time loop, its byte-wise tail and the vectorised search.
func TestStringEnds(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	var s Scanner
	for n := 0; n <= 80; n++ {
		body := make([]byte, n)
		for i := range body {
			body[i] = nearMisses[rng.IntN(len(nearMisses))]
		}
		in := append(append([]byte{'"'}, body...), `","b":1}`...)
		s.Reset(in)
		got, ok := s.Str()
		require.True(t, ok, "length %d: %v", n, s.Err())
		require.Equal(t, body, got, "length %d", n)
		require.Equal(t, n+2, s.Pos(), "length %d", n)

		// An escape at every position: the string is unescaped there.
		for p := 0; p <= n; p++ {
			in := append(append(append(append([]byte{'"'}, body[:p]...), `\n`...), body[p:]...), `"]`...)
			s.Reset(in)
			got, ok := s.Str()
			require.True(t, ok, "length %d, escape at %d: %v", n, p, s.Err())
			want := append(append(append([]byte{}, body[:p]...), '\n'), body[p:]...)
			require.Equal(t, want, got, "length %d, escape at %d", n, p)
			require.Equal(t, n+4, s.Pos(), "length %d, escape at %d", n, p)
		}

		// No closing quote before the input ends.
		s.Reset(append([]byte{'"'}, body...))
		_, ok = s.Str()
		require.False(t, ok, "length %d unterminated", n)
		require.ErrorContains(t, s.Err(), "unterminated string", "length %d", n)
	}
}

// TestCompactKeys walks an object written without white space and the same
// object with white space around every token: both take Key's paths (the
// compact one and the general one) to the same members.
func TestCompactKeys(t *testing.T) {
	t.Parallel()
	compact := []byte(`{"a":"1","bb":{"c":"2"},"":"3","d\"e":"4"}`)
	spaced := []byte(" { \"a\" :\t\"1\" ,\n\"bb\" : { \"c\" : \"2\" } , \"\" : \"3\" , \"d\\\"e\" : \"4\" } ")
	walk := func(in []byte) []string {
		var s Scanner
		var out []string
		s.Reset(in)
		require.True(t, s.EnterObject())
		for {
			k, ok := s.Key()
			if !ok {
				break
			}
			out = append(out, string(k))
			if s.Peek() == Object {
				raw, ok := s.Skip()
				require.True(t, ok)
				out = append(out, string(bytes.Join(bytes.Fields(raw), nil)))
				continue
			}
			v, ok := s.Str()
			require.True(t, ok)
			out = append(out, string(v))
		}
		require.NoError(t, s.Err())
		require.True(t, s.AtEnd())
		return out
	}
	want := []string{"a", "1", "bb", `{"c":"2"}`, "", "3", `d"e`, "4"}
	require.Equal(t, want, walk(compact))
	require.Equal(t, want, walk(spaced))
	for _, in := range []string{`{"a":"1""b":"2"}`, `{"a":"1" "b":"2"}`, `{"a":"1";"b":"2"}`, `{"a":"1",}`, `{"a""1"}`, `{,"a":"1"}`, `{"a":"1",` + "\n"} {
		var s Scanner
		s.Reset([]byte(in))
		_, ok := s.Skip()
		require.False(t, ok, in)
		require.Error(t, s.Err(), in)
	}
}
