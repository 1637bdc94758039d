package jsonscan

import (
	"bytes"
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
	// Most values in logs are short: a byte loop finds the closing quote
	// (or an escape) sooner than two calls into the vectorised search.
	n := len(rest)
	if n > 32 {
		n = 32
	}
	for i := 0; i < n; i++ {
		switch rest[i] {
		case '"':
			s.pos = start + i + 1
			return rest[:i], true
		case '\\':
			return s.unescape(start, buf)
		}
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		s.fail("unterminated string")
		return nil, false
	}
	if bytes.IndexByte(rest[:end], '\\') < 0 {
		s.pos = start + end + 1
		return rest[:end], true
	}
	return s.unescape(start, buf)
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
