package chhttp

import (
	"strings"
)

// tokenKind classifies a token of ClickHouse SQL as far as the guard needs.
type tokenKind uint8

const (
	tokIdent  tokenKind = iota + 1 // bare word: SELECT, file, x$1, 1abc
	tokQuoted                      // `quoted` or "quoted" identifier; text is the unquoted name
	tokString                      // 'string', x'hex' or $tag$heredoc$tag$; text is the raw literal
	tokNumber                      // 1, 1.5e-3, 0x1F, .5
	tokPunct                       // punctuation: ( ) , . ; = { } : -> ...
)

// token is one lexical token; pos is its byte offset in the query.
type token struct {
	kind tokenKind
	text string
	pos  int
}

// is reports whether t is the bare keyword kw (case-insensitive).
func (t token) is(kw string) bool { return t.kind == tokIdent && strings.EqualFold(t.text, kw) }

// punct reports whether t is the punctuation p.
func (t token) punct(p string) bool { return t.kind == tokPunct && t.text == p }

// name returns the identifier t names (bare or quoted), lowercased, or "".
func (t token) name() string {
	if t.kind == tokIdent || t.kind == tokQuoted {
		return strings.ToLower(t.text)
	}
	return ""
}

// lexError is a query the lexer refuses; msg says why.
type lexError struct {
	pos int
	msg string
}

// lex splits query into tokens, dropping whitespace and comments. It follows
// ClickHouse's lexer (src/Parsers/Lexer.cpp) wherever a token boundary is at
// stake, because one misplaced boundary (a comment or number that ends
// elsewhere) moves every later quote. The guard only ever vets text that
// the engine itself formatted (formatQuerySingleLine: no comments, no
// heredocs, standard quoting), and that text is what runs; following the
// engine's rules here is the second line of defence. Non-ASCII bytes and
// control characters outside literals and comments are refused: ClickHouse
// reads Unicode quotation marks as quotes and Unicode spaces as spaces.
func lex(query string) ([]token, *lexError) {
	var toks []token
	prev := tokenKind(0) // kind of the previous significant token
	prevText := ""       // and its text
	i, n := 0, len(query)
	emit := func(k tokenKind, end int) {
		toks = append(toks, token{k, query[i:end], i})
		prev, prevText = k, query[i:end]
		i = end
	}
	for i < n {
		c := query[i]
		switch {
		case isSpace(c):
			i++
		case c == '-' && i+1 < n && query[i+1] == '-',
			c == '/' && i+1 < n && query[i+1] == '/',
			c == '#' && i+1 < n && (query[i+1] == ' ' || query[i+1] == '!'):
			// Line comments end at '\n' only, as in ClickHouse.
			if j := strings.IndexByte(query[i:], '\n'); j >= 0 {
				i += j
			} else {
				i = n
			}
		case c == '/' && i+1 < n && query[i+1] == '*':
			end, ok := blockCommentEnd(query, i)
			if !ok {
				return nil, &lexError{i, "unterminated /* comment"}
			}
			i = end
		case c == '\'' || c == '"' || c == '`':
			end, ok := quoteEnd(query, i)
			if !ok {
				return nil, &lexError{i, "unterminated quote " + string(c)}
			}
			if c == '\'' {
				emit(tokString, end)
			} else {
				toks = append(toks, token{tokQuoted, unquote(query[i+1 : end-1]), i})
				prev, prevText = tokQuoted, ""
				i = end
			}
		case c == '$':
			if end, ok := heredocEnd(query, i); ok {
				emit(tokString, end)
			} else if i+1 == n || !isWordChar(query[i+1]) {
				emit(tokPunct, i+1)
			} else {
				emit(tokIdent, wordEnd(query, i+1))
			}
		case (c == 'x' || c == 'X' || c == 'b' || c == 'B') && i+2 < n && query[i+1] == '\'':
			// x'1F' and b'0101': the literal ends at the next quote.
			j := strings.IndexByte(query[i+2:], '\'')
			if j < 0 {
				return nil, &lexError{i, "unterminated quote '"}
			}
			emit(tokString, i+2+j+1)
		case c >= '0' && c <= '9':
			end, word := numberEnd(query, i, prev == tokPunct && prevText == ".")
			if word {
				emit(tokIdent, end)
			} else {
				emit(tokNumber, end)
			}
		case c == '.':
			// A dot after a name, a closing bracket or a number (x.1.1) is
			// the qualifier or tuple access operator; otherwise ".5" starts
			// a number.
			afterOperand := prev == tokIdent || prev == tokQuoted || prev == tokNumber ||
				prev == tokPunct && (prevText == ")" || prevText == "]")
			if i > 0 && (!(i+1 < n && isDigit(query[i+1])) || afterOperand) {
				emit(tokPunct, i+1)
			} else {
				emit(tokNumber, fractionEnd(query, i+1, false))
			}
		case c == '-' && i+1 < n && query[i+1] == '>':
			emit(tokPunct, i+2)
		case isWordChar(c):
			emit(tokIdent, wordEnd(query, i+1))
		case c >= 0x80:
			return nil, &lexError{i, "non-ASCII character outside quotes (ClickHouse reads Unicode quotation marks as quotes): write names in ASCII or `backquotes`"}
		case c < 0x20 || c == 0x7f:
			return nil, &lexError{i, "control character outside quotes"}
		default:
			emit(tokPunct, i+1)
		}
	}
	return toks, nil
}

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

// quoteEnd returns the offset just past the literal that starts with the
// quote at s[i]: a backslash escapes the next byte, a doubled quote is one.
func quoteEnd(s string, i int) (int, bool) {
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
