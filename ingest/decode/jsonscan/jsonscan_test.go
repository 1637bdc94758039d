package jsonscan

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestObjectWalk(t *testing.T) {
	t.Parallel()
	var s Scanner
	s.Reset([]byte(` {"a": "x\"y\u00e9\ud83d\ude00", "n": -12.5e3, "i": 42, "b": true, "z": null, "o": {"k": [1, "two", {}]}, "e": []} `))
	require.True(t, s.EnterObject())
	got := map[string]any{}
	for {
		k, ok := s.Key()
		if !ok {
			break
		}
		key := string(k)
		switch key {
		case "a":
			v, ok := s.Str()
			require.True(t, ok)
			got[key] = string(v)
		case "n":
			v, ok := s.Float()
			require.True(t, ok)
			got[key] = v
		case "i":
			v, ok := s.Int()
			require.True(t, ok)
			got[key] = v
		case "b":
			v, ok := s.Bool()
			require.True(t, ok)
			got[key] = v
		case "z":
			require.True(t, s.Null())
			got[key] = nil
		default:
			raw, ok := s.Skip()
			require.True(t, ok)
			got[key] = string(raw)
		}
	}
	require.NoError(t, s.Err())
	require.True(t, s.AtEnd())
	require.Equal(t, map[string]any{
		"a": "x\"yé😀", "n": -12500.0, "i": int64(42), "b": true, "z": nil,
		"o": `{"k": [1, "two", {}]}`, "e": "[]",
	}, got)
}

func TestErrors(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`{"a" 1}`, `{"a":1,}`, `{"a":1 "b":2}`, `[1 2]`, `{"a":"x`, `{"a":tru}`, `{"a":01}`, `{"a":1.}`,
		`{"a":"\x"}`, `{"a":"\u12G4"}`, `{`, `[`, `{"a":-}`, `nul`, `{"a":1e}`,
	} {
		var s Scanner
		s.Reset([]byte(in))
		_, ok := s.Skip()
		require.False(t, ok, in)
		require.Error(t, s.Err(), in)
		var se *SyntaxError
		require.ErrorAs(t, s.Err(), &se, in)
	}
}

func TestDepthLimit(t *testing.T) {
	t.Parallel()
	in := make([]byte, 0, 2*MaxDepth+4)
	for i := 0; i <= MaxDepth; i++ {
		in = append(in, '[')
	}
	var s Scanner
	s.Reset(in)
	_, ok := s.Skip()
	require.False(t, ok)
	require.ErrorIs(t, s.Err(), ErrDepth)
}

func TestParseInt(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"0": 0, "42": 42, "-7": -7, "9223372036854775807": 1<<63 - 1, "-9223372036854775808": -1 << 63} {
		v, ok := ParseInt([]byte(in))
		require.True(t, ok, in)
		require.Equal(t, want, v, in)
	}
	for _, in := range []string{"", "-", "1a", "9223372036854775808", "+1", " 1", "1.0"} {
		_, ok := ParseInt([]byte(in))
		require.False(t, ok, in)
	}
}

// FuzzSkip checks that the scanner accepts exactly what encoding/json calls
// valid (the one documented leniency, raw control characters in strings,
// aside), and that strings unescape to what encoding/json decodes.
func FuzzSkip(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[1,"x",{"b":[null,true,false]}]`, `"a\u00e9\n"`, `-0.5e-3`, `{"a":"\ud800"}`, `{}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var s Scanner
		s.Reset(in)
		raw, ok := s.Skip()
		whole := ok && s.AtEnd()
		if whole && !json.Valid(in) {
			for _, c := range in {
				if c < 0x20 {
					return // documented leniency
				}
			}
			t.Fatalf("scanner accepted invalid JSON %q", in)
		}
		if !whole && json.Valid(in) {
			t.Fatalf("scanner rejected valid JSON %q: %v", in, s.Err())
		}
		// Invalid UTF-8 is kept byte for byte (ClickHouse strings are bytes);
		// encoding/json would replace it with U+FFFD.
		if whole && len(raw) > 0 && raw[0] == '"' && utf8.Valid(in) {
			var want string
			if err := json.Unmarshal(in, &want); err == nil {
				s.Reset(in)
				got, ok := s.Str()
				if !ok || string(got) != want {
					t.Fatalf("Str(%q) = %q, want %q", in, got, want)
				}
			}
		}
	})
}

// TestPeekKinds checks Peek against the JSON grammar for every byte a value
// may start with, with and without white space before it, and that it says
// Invalid once the scanner has failed, wherever the failure left off.
func TestPeekKinds(t *testing.T) {
	t.Parallel()
	want := func(c byte) Kind {
		switch {
		case c == '{':
			return Object
		case c == '[':
			return Array
		case c == '"':
			return String
		case c == 't' || c == 'f':
			return Bool
		case c == 'n':
			return Null
		case c == '-' || c >= '0' && c <= '9':
			return Number
		}
		return Invalid
	}
	var s Scanner
	for c := 0; c < 256; c++ {
		for _, space := range []string{"", " ", "\t\r\n "} {
			// A white-space byte is skipped too, and the 'x' after it starts no value.
			s.Reset(append([]byte(space), byte(c), 'x'))
			require.Equal(t, want(byte(c)), s.Peek(), "byte %q after %q", byte(c), space)
			require.NoError(t, s.Err(), "Peek does not fail")
		}
	}
	s.Reset(nil)
	require.Equal(t, Invalid, s.Peek(), "empty input")

	// A failed read leaves the rest of the input unread: every later Peek is
	// Invalid, not the kind of the byte where the failure happened.
	for _, in := range []string{`{"a" "b"}`, `[1, 2 3]`, `{"a": tru}`, `"\q"`} {
		s.Reset([]byte(in))
		_, _ = s.Skip()
		require.Error(t, s.Err(), in)
		require.Equal(t, Invalid, s.Peek(), "Peek after the error of %s", in)
		_, ok := s.Str()
		require.False(t, ok, in)
	}
}
