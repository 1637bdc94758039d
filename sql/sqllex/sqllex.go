// Package sqllex splits ClickHouse SQL into tokens the way ClickHouse's own
// lexer does (src/Parsers/Lexer.cpp), wherever a token boundary is at
// stake: one misplaced boundary (a comment or a number that ends
// elsewhere) moves every later quote, so a reader that disagrees with the
// engine about where a string starts can be fooled about what runs.
//
// It serves two readers: the HTTP endpoint's guard (chhttp), which vets
// the significant tokens of a query, and the cluster rendering of the
// schema (sql), which rewrites names and needs every byte back. Lex is
// lossless: whitespace and comments are tokens too, and concatenating the
// tokens' Text gives the input back. Significant drops them.
//
// Non-ASCII bytes and control characters outside literals and comments
// are refused: ClickHouse reads Unicode quotation marks as quotes and
// Unicode spaces as spaces, and this lexer does not follow it there.
package sqllex

import (
	"fmt"
	"strings"
)

// Kind classifies a token.
type Kind uint8

// The kinds of token.
const (
	// Space is a run of ASCII whitespace.
	Space Kind = iota + 1
	// Comment is a line comment (--, //, "# " or "#!", up to but not
	// including the newline) or a /* block comment */ (they nest).
	Comment
	// Word is a bare word: a keyword or an unquoted name (SELECT, file,
	// x$1, and 1abc, which ClickHouse reads as a name).
	Word
	// Quoted is a `quoted` or "quoted" identifier; Name gives it unquoted.
	Quoted
	// String is a 'string', x'hex', b'bits' or $tag$heredoc$tag$ literal.
	String
	// Number is a numeric literal: 1, 1.5e-3, 0x1F, 0b101, 1_000, .5.
	Number
	// Punct is punctuation or an operator: ( ) , . ; = { } : -> and any
	// other single ASCII byte.
	Punct
)

// Token is one token of a query.
type Token struct {
	Kind Kind
	// Text is the token's bytes exactly as in the query (quotes and
	// escapes included).
	Text string
	// Pos is the byte offset of Text in the query.
	Pos int
}

// Trivia reports whether t is whitespace or a comment.
func (t Token) Trivia() bool { return t.Kind == Space || t.Kind == Comment }

// IsIdent reports whether t is a name: a bare word or a quoted identifier.
func (t Token) IsIdent() bool { return t.Kind == Word || t.Kind == Quoted }

// Is reports whether t is the bare word kw, compared case-insensitively.
// A quoted identifier is never a keyword.
func (t Token) Is(kw string) bool { return t.Kind == Word && strings.EqualFold(t.Text, kw) }

// IsPunct reports whether t is the punctuation p.
func (t Token) IsPunct(p string) bool { return t.Kind == Punct && t.Text == p }

// Name returns the name t spells, with a quoted identifier's quotes removed
// and its escapes resolved; "" when t is not a name.
func (t Token) Name() string {
	switch t.Kind {
	case Word:
		return t.Text
	case Quoted:
		return unquote(t.Text[1 : len(t.Text)-1])
	}
	return ""
}

// StringValue returns the value of a String token: a '...' literal's
// content with its escapes resolved, or a heredoc's body verbatim; x'..'
// and b'..' literals are returned as written.
func (t Token) StringValue() string { return stringValue(t.Text) }

// Error is a query the lexer refuses.
type Error struct {
	// Pos is the byte offset of the offending token.
	Pos int
	// Msg says what is wrong, without the position.
	Msg string
}

// Error returns the message with the 1-based position, as ClickHouse
// reports syntax errors.
func (e *Error) Error() string { return fmt.Sprintf("%s at position %d", e.Msg, e.Pos+1) }

// Lex splits query into tokens, whitespace and comments included, so that
// concatenating the tokens' Text gives query back. On failure the error is
// an *Error and no tokens are returned.
func Lex(query string) ([]Token, error) { return lex(query, true) }

// Significant is Lex without the whitespace and comment tokens.
func Significant(query string) ([]Token, error) { return lex(query, false) }

// lex is Lex, keeping or dropping the trivia.
func lex(query string, trivia bool) ([]Token, error) {
	var toks []Token
	var prev Token // the previous significant token
	i, n := 0, len(query)
	emit := func(k Kind, end int) {
		t := Token{k, query[i:end], i}
		toks = append(toks, t)
		prev = t
		i = end
	}
	skip := func(k Kind, end int) {
		if trivia {
			toks = append(toks, Token{k, query[i:end], i})
		}
		i = end
	}
	for i < n {
		c := query[i]
		switch {
		case isSpace(c):
			j := i + 1
			for j < n && isSpace(query[j]) {
				j++
			}
			skip(Space, j)
		case c == '-' && i+1 < n && query[i+1] == '-',
			c == '/' && i+1 < n && query[i+1] == '/',
			c == '#' && i+1 < n && (query[i+1] == ' ' || query[i+1] == '!'):
			// Line comments end at '\n' only, as in ClickHouse.
			if j := strings.IndexByte(query[i:], '\n'); j >= 0 {
				skip(Comment, i+j)
			} else {
				skip(Comment, n)
			}
		case c == '/' && i+1 < n && query[i+1] == '*':
			end, ok := blockCommentEnd(query, i)
			if !ok {
				return nil, &Error{i, "unterminated /* comment"}
			}
			skip(Comment, end)
		case c == '\'' || c == '"' || c == '`':
			end, ok := QuoteEnd(query, i)
			if !ok {
				return nil, &Error{i, "unterminated quote " + string(c)}
			}
			if c == '\'' {
				emit(String, end)
			} else {
				emit(Quoted, end)
			}
		case c == '$':
			if end, ok := heredocEnd(query, i); ok {
				emit(String, end)
			} else if i+1 == n || !isWordChar(query[i+1]) {
				emit(Punct, i+1)
			} else {
				emit(Word, wordEnd(query, i+1))
			}
		case (c == 'x' || c == 'X' || c == 'b' || c == 'B') && i+2 < n && query[i+1] == '\'':
			// x'1F' and b'0101': the literal ends at the next quote.
			j := strings.IndexByte(query[i+2:], '\'')
			if j < 0 {
				return nil, &Error{i, "unterminated quote '"}
			}
			emit(String, i+2+j+1)
		case c >= '0' && c <= '9':
			end, word := numberEnd(query, i, prev.IsPunct("."))
			if word {
				emit(Word, end)
			} else {
				emit(Number, end)
			}
		case c == '.':
			// A dot after a name, a closing bracket or a number (x.1.1) is
			// the qualifier or tuple access operator; otherwise ".5" starts
			// a number.
			afterOperand := prev.IsIdent() || prev.Kind == Number || prev.IsPunct(")") || prev.IsPunct("]")
			if i > 0 && (!(i+1 < n && isDigit(query[i+1])) || afterOperand) {
				emit(Punct, i+1)
			} else {
				emit(Number, fractionEnd(query, i+1, false))
			}
		case c == '-' && i+1 < n && query[i+1] == '>':
			emit(Punct, i+2)
		case isWordChar(c):
			emit(Word, wordEnd(query, i+1))
		case c >= 0x80:
			return nil, &Error{i, "non-ASCII character outside quotes (ClickHouse reads Unicode quotation marks as quotes): write names in ASCII or `backquotes`"}
		case c < 0x20 || c == 0x7f:
			return nil, &Error{i, "control character outside quotes"}
		default:
			emit(Punct, i+1)
		}
	}
	return toks, nil
}
