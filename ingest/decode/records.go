package decode

import (
	"bytes"
	"fmt"
)

// MaxRecordBytes bounds how far NextRecord follows a JSON value that is not
// closed at the end of its line: the first line end at or past this many
// bytes from the record's start ends the record. A single line is never cut,
// whatever its length.
const MaxRecordBytes = 1 << 20

// Cut says why NextRecord ended a JSON record whose value was not closed.
type Cut uint8

// The reasons a JSON record ends without its value closing.
const (
	// NotCut: the record is whole (its JSON values closed), or it is a
	// non-JSON line.
	NotCut Cut = iota
	// CutAtEnd: the payload ended inside the value.
	CutAtEnd
	// CutAtNext: the next line starts a new record: '{' in its first column
	// (compact or pretty-printed JSON) or a syslog header ("<PRI>").
	CutAtNext
	// CutAtBound: the value ran past MaxRecordBytes.
	CutAtBound
)

// Record is one record of a line-framed payload, found by NextRecord.
type Record struct {
	// Start and End delimit the record in the payload, without surrounding
	// white space. A JSON record may hold newlines.
	Start, End int
	// Next is where the search for the following record starts.
	Next int
	// Lines is how many physical lines the record spans (1 for most).
	Lines int
	// Cut is not NotCut when the record is a JSON value that did not close
	// and spans more than one line: the decoder must reject it whole, with
	// Reason as the reason. A one-line record is never cut (the decoder's
	// parser says where its syntax breaks).
	Cut Cut
}

// Reason says, for a cut record, what happened and what to check. It
// returns "" for a whole record.
func (r Record) Reason() string {
	n := r.End - r.Start
	switch r.Cut {
	case CutAtEnd:
		return fmt.Sprintf("JSON value not closed after %d lines (%d bytes): the payload ends inside it; was the record cut short, or is a closing brace or quote missing?", r.Lines, n)
	case CutAtNext:
		return fmt.Sprintf("JSON value not closed after %d lines (%d bytes): the next line starts a new record ('{' or a syslog header); is a closing brace or quote missing, or a value with an odd number of unescaped quotes?", r.Lines, n)
	case CutAtBound:
		return fmt.Sprintf("JSON value not closed after %d lines (%d bytes): a record may span lines up to %d bytes; the lines after it are read as further records", r.Lines, n, MaxRecordBytes)
	}
	return ""
}

// NextRecord finds the next record of payload at or after off, for the
// formats whose records are JSON objects one per line as written, but which
// real writers split across lines: SOFATracer writes strings without
// escaping (a raw newline inside a value, such as the SQL of a datasource
// digest, ends the physical line), and structlog with an indent, or a copied
// example, pretty-prints an object over many lines.
//
// A line whose first non-blank byte is '{' starts a JSON record, which ends
// at the end of the line on which its value closes: strings are scanned so
// that a newline inside a string is part of it, and braces and brackets are
// counted outside strings. A value closed in the middle of a line takes the
// rest of that line along (another value glued to it with "}{" is followed
// in the same way; other text is left for the decoder to reject). A value
// that does not close ends at the end of the payload, before a line that
// starts a record (a '{' in its first column, unless the value is in an
// array that expects an element, as in an array of objects pretty-printed
// with indent 0; or a syslog header "<PRI>", as g3proxy's syslog lines
// start, which no JSON value continues with), or at the first line end past
// MaxRecordBytes, and Record.Cut says which. A line followed by a line that
// starts a record, or by nothing, is a record of its own without any scan:
// that is the hot path of one record per line. Any other line that holds
// more than white space is a record of one line, as NextLine returns it.
//
// ok is false when no record is left. Decoders loop:
//
//	for off := 0; ; {
//		r, ok := decode.NextRecord(payload, off)
//		if !ok { break }
//		if r.Cut != decode.NotCut { reject payload[r.Start:r.End] with r.Reason() }
//		else { ... payload[r.Start:r.End] ... }
//		off = r.Next
//	}
//
// An unescaped quote inside a value (SOFATracer does not escape them) only
// misleads the scan when a line holds an odd number of them: the line then
// ends inside a "string". If nothing closes that value before the next line
// that starts a record, the line is a record of its own (which its decoder
// rejects) and the lines after it are framed again; at the end of the
// payload everything from it is one cut record.
func NextRecord(payload []byte, off int) (Record, bool) {
	return nextRecord(payload, off, false)
}

// NextRecordSoFar is NextRecord for a payload that is the beginning of a
// longer stream of lines, such as a log file still being written, for a
// shipper that must cut the stream into messages only where a record ends
// (so that NextRecord over each message finds the records it would find
// over the whole stream). payload should end with a line end: a last line
// without one is taken as whole.
//
// A record whose end depends on what follows payload is returned with Cut
// CutAtEnd: a JSON value still open at the end of payload (its next line may
// continue it), including a one-line value that did not close. Every other
// record is exactly the record NextRecord finds at off in the whole stream,
// whatever follows payload. ok is false when no record starts in payload.
func NextRecordSoFar(payload []byte, off int) (Record, bool) {
	return nextRecord(payload, off, true)
}

// nextRecord is NextRecord, or with open NextRecordSoFar.
func nextRecord(payload []byte, off int, open bool) (Record, bool) {
	start, end, next, ok := NextLine(payload, off)
	if !ok {
		return Record{Next: next}, false
	}
	if payload[start] != '{' || (next >= len(payload) && !open) || (next < len(payload) && startsRecord(payload[next:])) {
		// Not JSON, or the hot path: the next line starts a record (or
		// there is none), which ends this one at its line end whether its
		// value closed or not (see jsonRecord), so it needs no scan.
		return Record{Start: start, End: end, Next: next, Lines: 1}, true
	}
	lineEnd := next
	if next > 0 && payload[next-1] == '\n' {
		lineEnd = next - 1
	}
	return jsonRecord(payload, start, lineEnd, next, open), true
}

// jsonRecord follows the JSON value that starts at payload[start] ('{') on
// the line that ends at lineEnd (its '\n', or len(payload)), whose
// following line starts at next. With open, payload is the beginning of a
// longer stream: a value still open at its end is returned as CutAtEnd.
func jsonRecord(payload []byte, start, lineEnd, next int, open bool) Record {
	var st scan
	i, lines := start, 1
	var firstInStr bool
	var firstEnd, firstNext int
	for {
		var closed bool
		i, closed = st.line(payload[:lineEnd], i)
		if closed {
			j := i
			for j < lineEnd && isSpace(payload[j]) {
				j++
			}
			if j < lineEnd && payload[j] == '{' {
				i = j // values glued on one line: follow the next one too
				continue
			}
			return Record{Start: start, End: trimEnd(payload, start, lineEnd), Next: next, Lines: lines}
		}
		cut := NotCut
		switch {
		case next >= len(payload):
			cut = CutAtEnd
		case startsRecord(payload[next:]) && (payload[next] != '{' || !st.valueDue()):
			cut = CutAtNext
		case lineEnd-start >= MaxRecordBytes:
			cut = CutAtBound
		}
		if lines == 1 {
			firstInStr, firstEnd, firstNext = st.str, lineEnd, next
		}
		switch {
		case cut == NotCut:
		case cut == CutAtEnd && open:
			// The stream may go on: what follows decides.
			return Record{Start: start, End: trimEnd(payload, start, lineEnd), Next: next, Lines: lines, Cut: CutAtEnd}
		case lines == 1:
			// One line that does not close: the decoder says where its
			// syntax breaks, as it does for any broken line.
			return Record{Start: start, End: trimEnd(payload, start, lineEnd), Next: next, Lines: 1}
		case cut == CutAtNext && firstInStr:
			// The first line ended inside a string and what followed did
			// not close it before a new record: no raw newline in a value
			// after all (an odd number of unescaped quotes, say). The first
			// line is a record of its own, the lines after it records again.
			return Record{Start: start, End: trimEnd(payload, start, firstEnd), Next: firstNext, Lines: 1}
		default:
			return Record{Start: start, End: trimEnd(payload, start, lineEnd), Next: next, Lines: lines, Cut: cut}
		}
		// The value goes on: the newline is part of a string or white space.
		i, lines = next, lines+1
		if nl := bytes.IndexByte(payload[next:], '\n'); nl >= 0 {
			lineEnd, next = next+nl, next+nl+1
		} else {
			lineEnd, next = len(payload), len(payload)
		}
	}
}

// startsRecord reports whether the line at the start of p starts a record:
// '{' in its first column, or a syslog header's priority ("<" 1 to 3 digits
// ">", RFC 3164 and 5424), which neither continues a JSON value nor, in the
// formats framed here, a string with a raw newline.
func startsRecord(p []byte) bool {
	if len(p) == 0 {
		return false
	}
	if p[0] == '{' {
		return true
	}
	if p[0] != '<' {
		return false
	}
	for i := 1; i < len(p) && i <= 4; i++ {
		switch c := p[i]; {
		case c == '>':
			return i > 1
		case c < '0' || c > '9':
			return false
		}
	}
	return false
}

func trimEnd(payload []byte, start, end int) int {
	for end > start && isSpace(payload[end-1]) {
		end--
	}
	return end
}

// scan is the state of a JSON value being followed across lines: how many
// objects and arrays are open (and which are arrays, up to 64 deep), whether
// a string is, and the last byte outside strings that was not white space.
type scan struct {
	depth int
	arr   uint64
	str   bool
	last  byte
}

// valueDue reports whether the innermost open container is an array that
// expects an element next: then a line starting with '{' continues the
// value (an array of objects pretty-printed with indent 0) rather than
// starting a new record. Inside an object a key is due, never a '{'.
func (s *scan) valueDue() bool {
	return !s.str && s.depth > 0 && s.depth <= 64 && s.arr&(1<<(s.depth-1)) != 0 && (s.last == '[' || s.last == ',')
}

// line scans b from i to its end. It returns where it stopped and whether
// the outermost value closed there (i is then just after it). It checks no
// syntax beyond quotes and nesting: the decoder parses the record.
func (s *scan) line(b []byte, i int) (int, bool) {
	for i < len(b) {
		if s.str {
			// Find the closing quote: a short loop first (most log values
			// are short), then the vectorised search.
			j, n := i, i+16
			if n > len(b) {
				n = len(b)
			}
			for j < n && b[j] != '"' {
				j++
			}
			if j == n {
				k := bytes.IndexByte(b[j:], '"')
				if k < 0 {
					return len(b), false
				}
				j += k
			}
			if escaped(b, j) {
				i = j + 1
				continue
			}
			s.str, s.last, i = false, '"', j+1
			continue
		}
		c := b[i]
		switch c {
		case ' ', '\t', '\r', '\n':
			i++
			continue
		case '"':
			s.str = true
		case '{', '[':
			if s.depth < 64 {
				if c == '[' {
					s.arr |= 1 << s.depth
				} else {
					s.arr &^= 1 << s.depth
				}
			}
			s.depth++
		case '}', ']':
			s.depth--
			if s.depth <= 0 {
				s.depth = 0
				return i + 1, true
			}
		}
		s.last = c
		i++
	}
	return i, false
}

// escaped reports whether the quote at b[q] is escaped: preceded by an odd
// number of backslashes.
func escaped(b []byte, q int) bool {
	n := 0
	for q-1-n >= 0 && b[q-1-n] == '\\' {
		n++
	}
	return n%2 == 1
}
