package webdebug

import (
	"bytes"
	"unicode/utf8"
)

// The shapes below are the operations of the cross-source latency_1m view:
// one value per endpoint or per statement, whatever the ids and literals
// of a particular request were, so that the number of distinct values stays
// near the number of routes and statements in the application's code.

const (
	maxRouteSegments = 8
	maxRouteLen      = 128
	maxShapeLen      = 120
	maxVerbLen       = 32
)

// appendRoute appends the route shape of a request uri to dst: the path
// without scheme, host, query string and fragment, with empty segments
// dropped and id-like segments (see idLike) replaced by "{id}", at most
// maxRouteSegments segments and about maxRouteLen bytes ("/*" marks a cut).
// An empty path is "/".
func appendRoute(dst, uri []byte) []byte {
	_, path := splitURI(uri)
	if i := bytes.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	start := len(dst)
	segs := 0
	for len(path) > 0 {
		var seg []byte
		if i := bytes.IndexByte(path, '/'); i >= 0 {
			seg, path = path[:i], path[i+1:]
		} else {
			seg, path = path, nil
		}
		if len(seg) == 0 {
			continue
		}
		if segs == maxRouteSegments || len(dst)-start+1+len(seg) > maxRouteLen && !idLike(seg) {
			dst = append(dst, "/*"...)
			return dst
		}
		segs++
		dst = append(dst, '/')
		if idLike(seg) {
			dst = append(dst, "{id}"...)
		} else {
			dst = append(dst, seg...)
		}
	}
	if len(dst) == start {
		dst = append(dst, '/')
	}
	return dst
}

// idLike says whether a path segment is an identifier rather than a route
// word: all digits ("12345"); hex digits and dashes of 8 bytes or more with
// a digit (UUIDs, hashes, Mongo ObjectIds); 16 bytes or more mixing letters
// and digits (tokens); or longer than 64 bytes.
func idLike(seg []byte) bool {
	if len(seg) > 64 {
		return true
	}
	digits, hex, other := 0, 0, 0
	for _, c := range seg {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'a' && c <= 'f', c >= 'A' && c <= 'F', c == '-':
			hex++
		default:
			other++
		}
	}
	switch {
	case digits == len(seg):
		return true
	case other == 0 && digits > 0 && len(seg) >= 8:
		return true
	case digits > 0 && len(seg) >= 16:
		return true
	}
	return false
}

// splitURI splits "scheme://authority/path?q" (or "//authority/path") into
// the authority and the rest; a relative uri has no authority.
func splitURI(uri []byte) (authority, rest []byte) {
	s := uri
	if i := bytes.Index(s, []byte("://")); i > 0 && bytes.IndexAny(s[:i], "/?#") < 0 {
		s = s[i+3:]
	} else if bytes.HasPrefix(s, []byte("//")) {
		s = s[2:]
	} else {
		return nil, uri
	}
	end := len(s)
	if i := bytes.IndexAny(s, "/?#"); i >= 0 {
		end = i
	}
	return s[:end], s[end:]
}

// appendHost appends the host of an authority or Host header value to dst:
// without user info and port, lower-cased.
func appendHost(dst, hostport []byte) []byte {
	if i := bytes.LastIndexByte(hostport, '@'); i >= 0 {
		hostport = hostport[i+1:]
	}
	h := hostport
	if len(h) > 0 && h[0] == '[' {
		if i := bytes.IndexByte(h, ']'); i > 0 {
			h = h[1:i]
		}
	} else if i := bytes.LastIndexByte(h, ':'); i >= 0 && bytes.IndexByte(h[:i], ':') < 0 {
		h = h[:i]
	}
	h = bytes.TrimSpace(h)
	for _, c := range h {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendQueryShape appends the shape of a query to dst:
//   - syntax "xml": "xml";
//   - syntax "json", or a query starting with '{' or '[': the text with
//     string and number values replaced by "?" (keys kept);
//   - syntax "sql", or a query whose first word is an SQL statement keyword
//     (the PHP emitter's default syntax is "text", whatever the query):
//     the text with string and number literals and placeholders ("?id",
//     ":id", "$1") replaced by "?", lists of them collapsed to one ("IN
//     (?)", "VALUES (?)"), identifiers kept;
//   - anything else (redis commands, ...): the first word, upper-cased
//     ("GET"), or the syntax when there is no usable word.
//
// White space runs become one space; shapes are cut at maxShapeLen bytes.
func appendQueryShape(dst, query, syntax []byte) []byte {
	q := bytes.TrimSpace(query)
	switch {
	case bytes.EqualFold(syntax, []byte("xml")):
		return append(dst, "xml"...)
	case bytes.EqualFold(syntax, []byte("json")) || (len(q) > 0 && (q[0] == '{' || q[0] == '[')):
		return appendLiteralShape(dst, q, true)
	case bytes.EqualFold(syntax, []byte("sql")) || sqlKeyword(firstWord(q)):
		return appendLiteralShape(dst, q, false)
	}
	w := firstWord(q)
	if len(w) == 0 || len(w) > maxVerbLen {
		if len(syntax) == 0 {
			return append(dst, "text"...)
		}
		return append(dst, syntax...)
	}
	for _, c := range w {
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

func firstWord(q []byte) []byte {
	end := 0
	for end < len(q) && isIdent(q[end]) {
		end++
	}
	return q[:end]
}

var sqlKeywords = []string{"SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH", "CREATE", "ALTER", "DROP", "TRUNCATE", "CALL", "EXEC", "EXECUTE", "BEGIN", "COMMIT", "ROLLBACK", "SET", "SHOW", "EXPLAIN", "MERGE", "UPSERT", "START", "SAVEPOINT", "RELEASE", "LOCK", "UNLOCK", "DESCRIBE", "USE", "GRANT", "REVOKE", "VALUES"}

// sqlKeyword reports whether w is an SQL statement keyword. Redis has SET
// too; "SET a 1" then shapes as "SET a ?", still one value per key name.
func sqlKeyword(w []byte) bool {
	if len(w) < 3 || len(w) > 9 {
		return false
	}
	for _, k := range sqlKeywords {
		if bytes.EqualFold(w, []byte(k)) {
			return true
		}
	}
	return false
}

func isIdent(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// appendLiteralShape replaces literals by "?" (see appendQueryShape). In
// JSON mode a double-quoted string followed by ':' is a key and kept; in SQL
// mode double quotes and backticks quote identifiers, kept.
func appendLiteralShape(dst, q []byte, json bool) []byte {
	start := len(dst)
	space := false
	for i := 0; i < len(q) && len(dst)-start < maxShapeLen; {
		c := q[i]
		switch {
		case isSpace(c):
			space = true
			i++
			continue
		case c == '\'':
			i = skipQuoted(q, i, '\'')
			dst = placeholder(dst, start, space)
		case c == '"':
			j := skipQuoted(q, i, '"')
			k := j
			for k < len(q) && isSpace(q[k]) {
				k++
			}
			if !json || (k < len(q) && q[k] == ':') {
				dst = emit(dst, start, space, q[i:j])
			} else {
				dst = placeholder(dst, start, space)
			}
			i = j
		case c == '`' && !json:
			j := skipQuoted(q, i, '`')
			dst = emit(dst, start, space, q[i:j])
			i = j
		case isDigit(c), c == '.' && i+1 < len(q) && isDigit(q[i+1]):
			j := i + 1
			for j < len(q) && (isIdent(q[j]) || q[j] == '.' || (q[j] == '+' || q[j] == '-') && (q[j-1] == 'e' || q[j-1] == 'E')) {
				j++
			}
			dst = placeholder(dst, start, space)
			i = j
		case c == '?', c == '$' && i+1 < len(q) && isDigit(q[i+1]), c == ':' && !json && i+1 < len(q) && isIdentStart(q[i+1]) && (i == 0 || q[i-1] != ':'):
			// Placeholders: "?", "?id" (the upstream example), "$1", ":id".
			j := i + 1
			for j < len(q) && isIdent(q[j]) {
				j++
			}
			dst = placeholder(dst, start, space)
			i = j
		case isIdent(c):
			j := i + 1
			for j < len(q) && (isIdent(q[j]) || q[j] == '.') {
				j++
			}
			dst = emit(dst, start, space, q[i:j])
			i = j
		case c == ')':
			dst = closeParen(dst, start, space)
			i++
		default:
			dst = emit(dst, start, space, q[i:i+1])
			i++
		}
		space = false
	}
	return cut(dst, start, maxShapeLen)
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

// skipQuoted returns the offset after the string quoted by q starting at
// b[i], honouring backslash escapes and doubled quotes; the end of b when
// the string is not closed.
func skipQuoted(b []byte, i int, q byte) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case q:
			if j+1 < len(b) && b[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(b)
}

func emit(dst []byte, start int, space bool, tok []byte) []byte {
	if space && len(dst) > start {
		dst = append(dst, ' ')
	}
	return append(dst, tok...)
}

// placeholder appends "?", unless it continues a list of placeholders
// ("?, ?" collapses to "?").
func placeholder(dst []byte, start int, space bool) []byte {
	t := dst[start:]
	switch {
	case bytes.HasSuffix(t, []byte("?,")):
		return dst[:len(dst)-1]
	case bytes.HasSuffix(t, []byte("?, ")):
		return dst[:len(dst)-2]
	}
	return emit(dst, start, space, []byte("?"))
}

// closeParen appends ")", collapsing a repeated "(?)" group ("(?), (?)" to
// "(?)", as in multi-row VALUES).
func closeParen(dst []byte, start int, space bool) []byte {
	t := dst[start:]
	if bytes.HasSuffix(t, []byte("(?")) {
		head := t[:len(t)-2]
		for _, sep := range []string{"(?),", "(?), "} {
			if bytes.HasSuffix(head, []byte(sep)) {
				return dst[:start+len(head)-len(sep)+3]
			}
		}
	}
	return emit(dst, start, space, []byte(")"))
}

// cut shortens dst[start:] to at most n bytes, at a UTF-8 boundary, and
// trims a trailing space.
func cut(dst []byte, start, n int) []byte {
	if len(dst)-start > n {
		end := start + n
		for end > start && !utf8.RuneStart(dst[end]) {
			end--
		}
		dst = dst[:end]
	}
	for len(dst) > start && dst[len(dst)-1] == ' ' {
		dst = dst[:len(dst)-1]
	}
	return dst
}
