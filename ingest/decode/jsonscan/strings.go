package jsonscan

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// Str reads a string value and returns its unescaped bytes (see Scanner for
// their lifetime). It fails when the next value is not a string.
func (s *Scanner) Str() ([]byte, bool) {
	if s.Peek() != String {
		s.fail("expected string")
		return nil, false
	}
	return s.readString(&s.strBuf)
}

// readString reads the string at s.pos (which is '"').
func (s *Scanner) readString(buf *[]byte) ([]byte, bool) {
	start := s.pos + 1
	rest := s.data[start:]
	// Most values in logs are short: eight bytes at a time (quoteOrEscape)
	// find the closing quote (or an escape) sooner than two calls into the
	// vectorised search; longer strings take the vectorised search.
	i := 0
	for ; i+8 <= len(rest) && i < 32; i += 8 {
		if m := quoteOrEscape(binary.LittleEndian.Uint64(rest[i:])); m != 0 {
			j := i + bits.TrailingZeros64(m)>>3
			if rest[j] == '\\' {
				return s.unescape(start, buf)
			}
			s.pos = start + j + 1
			return rest[:j], true
		}
	}
	if i < 32 {
		// Fewer than eight bytes are left before the input ends.
		for ; i < len(rest); i++ {
			switch rest[i] {
			case '"':
				s.pos = start + i + 1
				return rest[:i], true
			case '\\':
				return s.unescape(start, buf)
			}
		}
		s.fail("unterminated string")
		return nil, false
	}
	end := bytes.IndexByte(rest[i:], '"')
	if end < 0 {
		s.fail("unterminated string")
		return nil, false
	}
	end += i
	if bytes.IndexByte(rest[i:end], '\\') < 0 {
		s.pos = start + end + 1
		return rest[:end], true
	}
	return s.unescape(start, buf)
}

// Byte-wise constants for quoteOrEscape.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// quoteOrEscape returns w (eight bytes of input, the first in the lowest
// byte) with the high bit of its first '"' or '\\' byte set, and bits of
// later bytes perhaps set too; 0 when none of the eight is either. So the
// lowest set bit, and only it, tells where the first one is. (A byte is
// zero after the XOR exactly when it matches; subtracting ones sets the
// high bit of the lowest zero byte, and a borrow can only disturb bytes
// above it.)
func quoteOrEscape(w uint64) uint64 {
	q := w ^ (ones * '"')
	e := w ^ (ones * '\\')
	return ((q-ones)&^q | (e-ones)&^e) & highs
}

func (s *Scanner) unescape(start int, buf *[]byte) ([]byte, bool) {
	out := (*buf)[:0]
	i := start
	for i < len(s.data) {
		c := s.data[i]
		switch c {
		case '"':
			s.pos = i + 1
			*buf = out
			return out, true
		case '\\':
			if i+1 >= len(s.data) {
				s.pos = i
				s.fail("unterminated escape")
				return nil, false
			}
			e := s.data[i+1]
			i += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, n := s.readHex4(i)
				if n < 0 {
					return nil, false
				}
				i = n
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+1 < len(s.data) && s.data[i] == '\\' && s.data[i+1] == 'u' {
						if v, n2 := s.readHex4(i + 2); n2 >= 0 {
							if d := utf16.DecodeRune(r, v); d != utf8.RuneError {
								r2, i = d, n2
							}
						} else {
							return nil, false
						}
					}
					if r2 < 0 {
						r = utf8.RuneError
					} else {
						r = r2
					}
				}
				out = utf8.AppendRune(out, r)
			default:
				s.pos = i - 2
				s.fail("invalid escape")
				return nil, false
			}
		default:
			// Copy the run up to the next quote or backslash at once.
			j := i + 1
			for j < len(s.data) && s.data[j] != '"' && s.data[j] != '\\' {
				j++
			}
			out = append(out, s.data[i:j]...)
			i = j
		}
	}
	s.pos = len(s.data)
	s.fail("unterminated string")
	return nil, false
}

func (s *Scanner) readHex4(i int) (rune, int) {
	if i+4 > len(s.data) {
		s.pos = i
		s.fail("short \\u escape")
		return 0, -1
	}
	var r rune
	for _, c := range s.data[i : i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			s.pos = i
			s.fail("invalid \\u escape")
			return 0, -1
		}
	}
	return r, i + 4
}
