// Package jsonscan is a pull scanner for JSON text (RFC 8259) that decoders
// use on their hot path: it walks objects and arrays in place, returns keys
// and string values as byte slices (unescaped only when they contain escapes)
// and never allocates once its scratch buffers have grown.
//
// It is deliberately a little more lenient than the RFC where log writers
// are known to be sloppy: raw control characters inside strings are kept as
// they are (SOFATracer writes values without escaping), and a byte-order mark
// is not special, and invalid UTF-8 is returned byte for byte (ClickHouse
// strings are bytes). Everything else that is not JSON is an error with the byte
// offset where it was found.
package jsonscan

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unsafe"
)

// Kind is the kind of the next JSON value.
type Kind uint8

// The kinds of JSON values; Invalid means the next byte starts no value.
const (
	Invalid Kind = iota
	Object
	Array
	String
	Number
	Bool
	Null
)

var kindNames = [...]string{"invalid", "object", "array", "string", "number", "bool", "null"}

// String names the kind as JSON does ("object", "string", ...).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// SyntaxError says what was wrong and at which byte offset of the input.
type SyntaxError struct {
	Offset int
	Msg    string
}

// Error formats the message with its offset.
func (e *SyntaxError) Error() string { return fmt.Sprintf("json: %s at offset %d", e.Msg, e.Offset) }

// ErrDepth is wrapped by the error returned when nesting exceeds MaxDepth.
var ErrDepth = errors.New("nesting too deep")

// MaxDepth bounds the nesting of objects and arrays the scanner follows, so
// adversarial input cannot exhaust memory or the stack.
const MaxDepth = 512

// Scanner reads one JSON text. The zero value is ready after Reset. A
// Scanner is not safe for concurrent use; reuse one per goroutine.
//
// Byte slices it returns point into the input or into the scanner's scratch
// space: they are valid until the next call that returns a slice of the same
// kind (Key for keys, Str for strings) or until Reset, whichever comes first.
// After the first error every method returns a zero value and Err reports it.
type Scanner struct {
	data   []byte
	pos    int
	err    error
	keyBuf []byte
	strBuf []byte
	comma  []bool // per open container: a member was read, so ',' must come next
}

// Reset makes the scanner read data from its start, keeping scratch space.
func (s *Scanner) Reset(data []byte) {
	s.data = data
	s.pos = 0
	s.err = nil
	s.comma = s.comma[:0]
}

// Err returns the first error, or nil.
func (s *Scanner) Err() error { return s.err }

// Pos returns the byte offset of the next unread byte.
func (s *Scanner) Pos() int { return s.pos }

// Depth returns how many objects and arrays are open.
func (s *Scanner) Depth() int { return len(s.comma) }

// fail keeps the first error and moves to the end of the input, so that
// every later read sees no more input (Peek's fast path relies on it).
func (s *Scanner) fail(msg string) {
	if s.err == nil {
		s.err = &SyntaxError{Offset: s.pos, Msg: msg}
	}
	s.pos = len(s.data)
}

func (s *Scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// AtEnd skips white space and reports whether the input is exhausted.
func (s *Scanner) AtEnd() bool {
	s.skipSpace()
	return s.pos >= len(s.data)
}

// Peek skips white space and returns the kind of the next value without
// consuming it. It returns Invalid at the end of input or on a byte that
// starts no value.
func (s *Scanner) Peek() Kind {
	// Compact JSON, as loggers write it, has no space before a value: one
	// table lookup, small enough to inline at every call. After an error
	// pos is at the end (fail), so the lookup never runs past one.
	if s.pos < len(s.data) {
		if k := startKind[s.data[s.pos]]; k != Invalid {
			return k
		}
	}
	return s.peekSpace()
}

// peekSpace is Peek past white space, or at the end of input or an error.
func (s *Scanner) peekSpace() Kind {
	if s.err != nil {
		return Invalid
	}
	s.skipSpace()
	if s.pos >= len(s.data) {
		return Invalid
	}
	return startKind[s.data[s.pos]]
}

// startKind is the kind of value each byte starts, Invalid for the rest.
var startKind = func() (t [256]Kind) {
	t['{'], t['['], t['"'] = Object, Array, String
	t['t'], t['f'], t['n'] = Bool, Bool, Null
	t['-'] = Number
	for c := '0'; c <= '9'; c++ {
		t[c] = Number
	}
	return t
}()

func (s *Scanner) push() bool {
	if len(s.comma) >= MaxDepth {
		s.fail(ErrDepth.Error())
		s.err = fmt.Errorf("%w: %w", s.err, ErrDepth)
		return false
	}
	s.comma = append(s.comma, false)
	return true
}

// EnterObject consumes '{' and opens an object; iterate it with Key. It
// returns false (and sets Err) when the next value is not an object.
func (s *Scanner) EnterObject() bool {
	if s.Peek() != Object {
		s.fail("expected object")
		return false
	}
	s.pos++
	return s.push()
}

// EnterArray consumes '[' and opens an array; iterate it with Elem. It
// returns false (and sets Err) when the next value is not an array.
func (s *Scanner) EnterArray() bool {
	if s.Peek() != Array {
		s.fail("expected array")
		return false
	}
	s.pos++
	return s.push()
}

// Key reads the next member name of the innermost open object and the ':'
// after it, leaving the scanner before the member's value, which the caller
// must read or Skip. It returns ok=false when the object ends (its '}' is
// consumed) or on error.
func (s *Scanner) Key() (key []byte, ok bool) {
	if s.err != nil || len(s.comma) == 0 {
		if s.err == nil {
			s.fail("Key outside an object")
		}
		return nil, false
	}
	top := len(s.comma) - 1
	// Compact JSON, as loggers write it, has the name right after the '{'
	// or the ',', and its ':' right after it: no white space to skip.
	if p := s.pos; s.comma[top] {
		if p+1 < len(s.data) && s.data[p] == ',' && s.data[p+1] == '"' {
			s.pos = p + 1
			return s.name()
		}
	} else if p < len(s.data) && s.data[p] == '"' {
		s.comma[top] = true
		return s.name()
	}
	s.skipSpace()
	if s.pos >= len(s.data) {
		s.fail("unexpected end of input in object")
		return nil, false
	}
	c := s.data[s.pos]
	if c == '}' {
		s.pos++
		s.comma = s.comma[:top]
		return nil, false
	}
	if s.comma[top] {
		if c != ',' {
			s.fail("expected ',' or '}' after object member")
			return nil, false
		}
		s.pos++
		s.skipSpace()
		if s.pos >= len(s.data) {
			s.fail("unexpected end of input in object")
			return nil, false
		}
		c = s.data[s.pos]
	}
	if c != '"' {
		s.fail("expected member name")
		return nil, false
	}
	s.comma[top] = true
	return s.name()
}

// name reads a member name at s.pos (which is '"') and the ':' after it.
func (s *Scanner) name() ([]byte, bool) {
	key, ok := s.readString(&s.keyBuf)
	if !ok {
		return nil, false
	}
	if s.pos < len(s.data) && s.data[s.pos] == ':' {
		s.pos++
		return key, true
	}
	s.skipSpace()
	if s.pos >= len(s.data) || s.data[s.pos] != ':' {
		s.fail("expected ':' after member name")
		return nil, false
	}
	s.pos++
	return key, true
}

// Elem prepares to read the next element of the innermost open array. It
// returns false when the array ends (its ']' is consumed) or on error; when
// it returns true the caller must read or Skip exactly one value.
func (s *Scanner) Elem() bool {
	if s.err != nil || len(s.comma) == 0 {
		if s.err == nil {
			s.fail("Elem outside an array")
		}
		return false
	}
	s.skipSpace()
	if s.pos >= len(s.data) {
		s.fail("unexpected end of input in array")
		return false
	}
	top := len(s.comma) - 1
	c := s.data[s.pos]
	if c == ']' {
		s.pos++
		s.comma = s.comma[:top]
		return false
	}
	if s.comma[top] {
		if c != ',' {
			s.fail("expected ',' or ']' after array element")
			return false
		}
		s.pos++
	}
	s.comma[top] = true
	return true
}

// Num reads a number value and returns its text, validated against the JSON
// number grammar. The slice points into the input.
func (s *Scanner) Num() ([]byte, bool) {
	if s.Peek() != Number {
		s.fail("expected number")
		return nil, false
	}
	start := s.pos
	i := s.pos
	d := s.data
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		s.pos = i
		s.fail("invalid number")
		return nil, false
	}
	if i < len(d) && d[i] == '.' {
		i++
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			s.pos = i
			s.fail("invalid number")
			return nil, false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			s.pos = i
			s.fail("invalid number")
			return nil, false
		}
	}
	s.pos = i
	return d[start:i], true
}

// Int reads a number value that must be an integer within int64.
func (s *Scanner) Int() (int64, bool) {
	start := s.pos
	b, ok := s.Num()
	if !ok {
		return 0, false
	}
	v, ok := ParseInt(b)
	if !ok {
		s.pos = start
		s.fail("number is not an int64")
		return 0, false
	}
	return v, true
}

// Float reads a number value as float64.
func (s *Scanner) Float() (float64, bool) {
	b, ok := s.Num()
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	if err != nil {
		// Only range errors remain after grammar validation: ±Inf is kept.
		return v, true
	}
	return v, true
}

// Bool reads true or false.
func (s *Scanner) Bool() (bool, bool) {
	if s.Peek() != Bool {
		s.fail("expected bool")
		return false, false
	}
	if bytes.HasPrefix(s.data[s.pos:], []byte("true")) {
		s.pos += 4
		return true, true
	}
	if bytes.HasPrefix(s.data[s.pos:], []byte("false")) {
		s.pos += 5
		return false, true
	}
	s.fail("invalid literal")
	return false, false
}

// Null consumes null and reports whether the next value was null; any other
// value is left unread.
func (s *Scanner) Null() bool {
	if s.Peek() != Null {
		return false
	}
	if bytes.HasPrefix(s.data[s.pos:], []byte("null")) {
		s.pos += 4
		return true
	}
	s.fail("invalid literal")
	return false
}

// Skip reads one value of any kind, validating it, and returns its raw text
// (a slice of the input).
func (s *Scanner) Skip() ([]byte, bool) {
	k := s.Peek()
	start := s.pos
	switch k {
	case String:
		if _, ok := s.readString(&s.strBuf); !ok {
			return nil, false
		}
	case Number:
		if _, ok := s.Num(); !ok {
			return nil, false
		}
	case Bool:
		if _, ok := s.Bool(); !ok {
			return nil, false
		}
	case Null:
		if !s.Null() {
			return nil, false
		}
	case Object:
		s.EnterObject()
		for {
			if _, ok := s.Key(); !ok {
				break
			}
			if _, ok := s.Skip(); !ok {
				return nil, false
			}
		}
	case Array:
		s.EnterArray()
		for s.Elem() {
			if _, ok := s.Skip(); !ok {
				return nil, false
			}
		}
	default:
		if s.pos >= len(s.data) {
			s.fail("unexpected end of input")
		} else {
			s.fail("invalid character " + strconv.QuoteRuneToASCII(rune(s.data[s.pos])))
		}
		return nil, false
	}
	if s.err != nil {
		return nil, false
	}
	return s.data[start:s.pos], true
}

// ParseInt parses a decimal integer (optional leading '-') without
// allocating. It rejects empty input, other characters and overflow.
func ParseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg = true
		b = b[1:]
	}
	u, ok := ParseUint(b)
	if !ok {
		return 0, false
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
}

// ParseUint parses a decimal unsigned integer without allocating. It rejects
// empty input, signs, other characters and overflow.
func ParseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}
