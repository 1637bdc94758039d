package sql

import "strings"

// A tiny ClickHouse SQL lexer for the cluster rendering: it tells words,
// quoted identifiers, string literals, comments, whitespace and single
// punctuation apart, so that renaming a table never touches a comment, a
// string or a longer identifier. Concatenating the tokens' text gives the
// input back unchanged.

type tokKind int

const (
	tokSpace tokKind = iota
	tokComment
	tokWord   // bare identifier or keyword
	tokQuoted // `identifier` or "identifier"
	tokString // 'literal'
	tokOther  // one punctuation or operator byte, or a number's bytes
)

type token struct {
	kind tokKind
	text string
}

func (t token) space() bool { return t.kind == tokSpace || t.kind == tokComment }

func (t token) ident() bool { return t.kind == tokWord || t.kind == tokQuoted }

// word reports whether t is the bare keyword kw (case-insensitive).
func (t token) word(kw string) bool { return t.kind == tokWord && strings.EqualFold(t.text, kw) }

// name is the identifier without its quotes.
func (t token) name() string {
	if t.kind == tokQuoted && len(t.text) >= 2 {
		return t.text[1 : len(t.text)-1]
	}
	return t.text
}

func lex(s string) []token {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		j := i + 1
		kind := tokOther
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			kind = tokSpace
			for j < len(s) && strings.IndexByte(" \t\n\r", s[j]) >= 0 {
				j++
			}
		case c == '-' && j < len(s) && s[j] == '-':
			kind = tokComment
			for j < len(s) && s[j] != '\n' {
				j++
			}
		case c == '/' && j < len(s) && s[j] == '*':
			kind = tokComment
			if end := strings.Index(s[j+1:], "*/"); end >= 0 {
				j = j + 1 + end + 2
			} else {
				j = len(s)
			}
		case c == '\'' || c == '`' || c == '"':
			kind = tokString
			if c != '\'' {
				kind = tokQuoted
			}
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(s))
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			kind = tokWord
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
		case c >= '0' && c <= '9':
			for j < len(s) && (s[j] == '.' || s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
		}
		out = append(out, token{kind: kind, text: s[i:j]})
		i = j
	}
	return out
}
