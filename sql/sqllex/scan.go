package sqllex

import "strings"

// The boundary rules of src/Parsers/Lexer.cpp, one function per token shape.

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHexDigit(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isWordChar(c byte) bool {
	return c == '_' || isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// wordEnd returns the end of the bare word continuing at i (word characters
// and '$').
func wordEnd(s string, i int) int {
	for i < len(s) && (isWordChar(s[i]) || s[i] == '$') {
		i++
	}
	return i
}

// blockCommentEnd returns the offset past the /* comment at s[i]; comments
// nest, as in ClickHouse.
func blockCommentEnd(s string, i int) (int, bool) {
	depth := 1
	j := i + 2
	for j+2 <= len(s) {
		switch {
		case s[j] == '/' && s[j+1] == '*':
			depth++
			j += 2
		case s[j] == '*' && s[j+1] == '/':
			depth--
			j += 2
			if depth == 0 {
				return j, true
			}
		default:
			j++
		}
	}
	return 0, false
}

// QuoteEnd returns the offset just past the quoted literal or identifier
// that starts with the quote (', " or `) at s[i], as ClickHouse reads it: a
// backslash escapes the next byte, a doubled quote is one. ok is false when
// the quote is not closed.
func QuoteEnd(s string, i int) (int, bool) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case q:
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j + 1, true
		}
	}
	return 0, false
}

// heredocEnd returns the offset past the heredoc at s[i]: its tag is
// everything from this '$' to the next '$' (any bytes, as in ClickHouse),
// and it ends after the tag's next occurrence.
func heredocEnd(s string, i int) (int, bool) {
	j := strings.IndexByte(s[i+1:], '$')
	if j < 0 {
		return 0, false
	}
	tag := s[i : i+j+2]
	k := strings.Index(s[i+len(tag):], tag)
	if k < 0 {
		return 0, false
	}
	return i + len(tag) + k + len(tag), true
}

// separator reports whether s[i] is a '_' digit separator: inside a block of
// digits and followed by a digit.
func separator(s string, i int, startOfBlock, hex bool) bool {
	if s[i] != '_' || startOfBlock || i+1 >= len(s) {
		return false
	}
	if hex {
		return isHexDigit(s[i+1])
	}
	return isDigit(s[i+1])
}

// numberEnd returns the end of the number starting at s[i], and whether
// ClickHouse reads it as a bare word instead (digits followed by letters,
// "1abc"). After a '.', only an integer is read (x.1.1).
func numberEnd(s string, i int, afterDot bool) (int, bool) {
	start, n := i, len(s)
	if afterDot {
		i++
		for i < n && (isDigit(s[i]) || separator(s, i, false, false)) {
			i++
		}
	} else {
		hex, block := false, false
		if i+2 < n && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X' || s[i+1] == 'b' || s[i+1] == 'B') {
			valid := false
			if s[i+1] == 'x' || s[i+1] == 'X' {
				valid, hex = isHexDigit(s[i+2]), isHexDigit(s[i+2])
			} else {
				valid = s[i+2] == '0' || s[i+2] == '1'
			}
			if valid {
				i += 2
				block = true
			} else {
				i++
			}
		} else {
			i++
		}
		digit := isDigit
		if hex {
			digit = isHexDigit
		}
		for i < n && (digit(s[i]) || separator(s, i, block, hex)) {
			i++
			block = false
		}
		if i < n && s[i] == '.' {
			i = fractionEnd(s, i+1, hex)
		} else {
			i = exponentEnd(s, i, hex)
		}
	}
	if i < n && isWordChar(s[i]) {
		for i < n && isWordChar(s[i]) {
			i++
		}
		return i, !strings.ContainsAny(s[start:i], ".+-")
	}
	return i, false
}

// fractionEnd reads the digits after a decimal point at i, then an exponent.
func fractionEnd(s string, i int, hex bool) int {
	digit := isDigit
	if hex {
		digit = isHexDigit
	}
	block := true
	for i < len(s) && (digit(s[i]) || separator(s, i, block, hex)) {
		i++
		block = false
	}
	return exponentEnd(s, i, hex)
}

// exponentEnd reads "e[+-]digits" (or "p..." after hex digits) at i; the
// sign is taken only when a byte follows it, as in ClickHouse.
func exponentEnd(s string, i int, hex bool) int {
	n := len(s)
	if !(i+1 < n && (!hex && (s[i] == 'e' || s[i] == 'E') || hex && (s[i] == 'p' || s[i] == 'P'))) {
		return i
	}
	i++
	if i+1 < n && (s[i] == '-' || s[i] == '+') {
		i++
	}
	block := true
	for i < n && (isDigit(s[i]) || separator(s, i, block, false)) {
		i++
		block = false
	}
	return i
}

// unquote resolves the escapes of a quoted identifier's content.
func unquote(s string) string {
	if !strings.ContainsAny(s, "\\\"`") {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			i++
			c = s[i]
		} else if (c == '"' || c == '`') && i+1 < len(s) && s[i+1] == c {
			i++
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// stringValue returns the content of a '...' literal with its escapes
// resolved, or of a heredoc verbatim.
func stringValue(lit string) string {
	if strings.HasPrefix(lit, "$") {
		j := strings.IndexByte(lit[1:], '$') + 2
		return lit[j : len(lit)-j]
	}
	if len(lit) < 2 || lit[0] != '\'' {
		return lit
	}
	body := lit[1 : len(lit)-1]
	if !strings.ContainsAny(body, "\\'") {
		return body
	}
	var sb strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c == '\\' && i+1 < len(body) {
			i++
			switch body[i] {
			case 'n':
				c = '\n'
			case 't':
				c = '\t'
			case 'r':
				c = '\r'
			case '0':
				c = 0
			default:
				c = body[i]
			}
		} else if c == '\'' && i+1 < len(body) && body[i+1] == '\'' {
			i++
		}
		sb.WriteByte(c)
	}
	return sb.String()
}
