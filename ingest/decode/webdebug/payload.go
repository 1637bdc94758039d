package webdebug

import (
	"bytes"
	"strconv"
	"unsafe"

	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/ingest/decode/jsonscan"
)

// readPayload keeps the event's payload as compact JSON text and reads the
// payload fields tapline computes from (web-debug-proto
// docs/scheme/events.md): a query's target, syntax and text (the target is
// stored, the shape is computed from the text), a request's method, uri and
// Host header (the document's request), a response's status (errors). The
// other documented fields are read from payload by the table's ALIAS
// columns (sql/tables/webdebug_events.sql). It runs after the whole event
// was read, because "type" may follow "payload". A payload that is not an
// object is kept as written (compacted), with no fields read; PHP writes an
// empty payload as "[]", kept as "{}".
func (d *Decoder) readPayload(e *event) {
	raw := e.rawPayload
	if raw == nil {
		return
	}
	if raw[0] == '[' && isBlank(raw[1:len(raw)-1]) {
		e.payload = emptyObject
		return
	}
	e.payload = d.compact(raw)
	typ := typeOf(e.typ)
	if raw[0] != '{' || (typ != typeQuery && typ != typeRequest && typ != typeResponse) {
		return
	}
	ps := &d.ps
	ps.Reset(raw)
	ps.EnterObject()
	for {
		k, ok := ps.Key()
		if !ok {
			break
		}
		switch typ {
		case typeQuery:
			switch string(k) {
			case "target":
				e.target = d.text(ps)
			case "query":
				e.query = d.text(ps)
			case "syntax":
				e.syntax = d.text(ps)
			default:
				ps.Skip()
			}
		case typeRequest:
			d.requestMember(e, k)
		case typeResponse:
			switch string(k) {
			case "status", "statusCode":
				// Not in the docs' payload table, though the event type
				// list says a response carries its "status code".
				if v, ok := d.payloadUint(ps); ok && v <= 999 {
					e.status, e.hasStatus = uint16(v), true
				}
			default:
				ps.Skip()
			}
		}
	}
	if typ == typeRequest && e.query != nil {
		// A legacy (pre-2019-03) "request" event was a database query:
		// payload type (the target), query, parsed, duration, bindings.
		// The current request event's "query" is a param[] array, never a
		// string, so a string query tells the two apart.
		e.legacyQuery = true
	} else if typ == typeRequest {
		e.target = nil
	}
}

// eventType is a documented event type, or typeCustom.
type eventType uint8

const (
	typeCustom eventType = iota
	typeLog
	typeQuery
	typeRequest
	typeResponse
	typeMiddleware
	typeTemplate
	typeEmail
	typeEvent
	typeAccessCheck
)

// typeOf maps an event's "type" to the documented types (case-sensitive,
// as the docs and the PHP emitter write them).
func typeOf(t []byte) eventType {
	switch string(t) {
	case "log":
		return typeLog
	case "query":
		return typeQuery
	case "request":
		return typeRequest
	case "response":
		return typeResponse
	case "middleware":
		return typeMiddleware
	case "template":
		return typeTemplate
	case "email":
		return typeEmail
	case "event":
		return typeEvent
	case "accessCheck":
		return typeAccessCheck
	}
	return typeCustom
}

// requestMember reads one member of a request payload, current or legacy.
func (d *Decoder) requestMember(e *event, k []byte) {
	ps := &d.ps
	switch string(k) {
	case "method":
		e.method = d.text(ps)
	case "uri":
		e.uri = d.text(ps)
	case "headers":
		d.hostHeader(e)
	case "query":
		if ps.Peek() == jsonscan.String {
			e.query = d.text(ps)
		} else {
			ps.Skip()
		}
	case "type":
		// Legacy query request: the target ("mysql"). Cleared again in
		// readPayload when the event turns out to be a current request.
		e.target = d.text(ps)
	case "duration":
		// Legacy query request: the query's duration in the payload.
		if ps.Peek() == jsonscan.Number {
			if v, ok := ps.Float(); ok && v >= 0 {
				e.legacyDuration, e.hasLegacyDuration = v, true
			}
		} else {
			ps.Skip()
		}
	default:
		ps.Skip()
	}
}

// hostHeader finds the Host header in a param[] list of {key, value}
// objects. Keys compare case-insensitively; values may be numbers (the docs'
// own examples put numbers in param values), kept as their text.
func (d *Decoder) hostHeader(e *event) {
	ps := &d.ps
	if ps.Peek() != jsonscan.Array {
		ps.Skip()
		return
	}
	ps.EnterArray()
	for ps.Elem() {
		if ps.Peek() != jsonscan.Object {
			ps.Skip()
			continue
		}
		ps.EnterObject()
		isHost := false
		var value []byte
		for {
			k, ok := ps.Key()
			if !ok {
				break
			}
			switch string(k) {
			case "key":
				if ps.Peek() == jsonscan.String {
					v, _ := ps.Str()
					isHost = bytes.EqualFold(v, []byte("host"))
				} else {
					ps.Skip()
				}
			case "value":
				value = d.text(ps)
			default:
				ps.Skip()
			}
		}
		if isHost && e.host == nil {
			e.host = value
		}
	}
}

// payloadUint reads a non-negative integer (number or numeric string).
func (d *Decoder) payloadUint(ps *jsonscan.Scanner) (uint64, bool) {
	var f float64
	ok := false
	switch ps.Peek() {
	case jsonscan.Number:
		f, ok = ps.Float()
	case jsonscan.String:
		s, _ := ps.Str()
		f, ok = parseNumber(s)
	default:
		ps.Skip()
	}
	if !ok || f < 0 || f >= 1<<63 || f != float64(uint64(f)) {
		return 0, false
	}
	return uint64(f), true
}

var emptyObject = []byte("{}")

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// text reads any value as text: strings unescaped, null as nil, anything
// else as its compact JSON text.
func (d *Decoder) text(sc *jsonscan.Scanner) []byte {
	switch sc.Peek() {
	case jsonscan.String:
		v, _ := sc.Str()
		return d.keep(v)
	case jsonscan.Null:
		sc.Null()
		return nil
	}
	v, _ := sc.Skip()
	return d.compact(v)
}

// anyValue reads any value for the extra map: strings unescaped, anything
// else as its compact JSON text.
func (d *Decoder) anyValue(sc *jsonscan.Scanner) []byte {
	if sc.Peek() == jsonscan.String {
		v, _ := sc.Str()
		return d.keep(v)
	}
	v, _ := sc.Skip()
	return d.compact(v)
}

// parseNumber parses a decimal number written in a string ("15", "15.5").
func parseNumber(b []byte) (float64, bool) {
	if len(b) == 0 || len(b) > 64 {
		return 0, false
	}
	if v, ok := jsonscan.ParseInt(b); ok {
		return float64(v), true
	}
	for _, c := range b {
		if (c < '0' || c > '9') && c != '.' && c != '-' && c != '+' && c != 'e' && c != 'E' {
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	return v, err == nil
}

// compact returns JSON text without the white space between tokens. Text
// without any is returned as it is; otherwise the copy lives in the arena.
// src must be valid JSON (the scanner validated it).
func (d *Decoder) compact(src []byte) []byte {
	i := 0
	for i < len(src) {
		c := src[i]
		if c == '"' {
			i = stringEnd(src, i)
			continue
		}
		if c == ' ' || c == '\n' || c == '\t' || c == '\r' {
			break
		}
		i++
	}
	if i >= len(src) {
		return d.keep(src)
	}
	n := len(d.arena)
	d.arena = append(d.arena, src[:i]...)
	for i < len(src) {
		// i is at white space outside a string: skip it, then copy up to
		// the next white space outside a string.
		for i < len(src) && (src[i] == ' ' || src[i] == '\n' || src[i] == '\t' || src[i] == '\r') {
			i++
		}
		run := i
		for i < len(src) {
			c := src[i]
			if c == '"' {
				i = stringEnd(src, i)
				continue
			}
			if c == ' ' || c == '\n' || c == '\t' || c == '\r' {
				break
			}
			i++
		}
		d.arena = append(d.arena, src[run:i]...)
	}
	return d.arena[n:len(d.arena):len(d.arena)]
}

// stringEnd returns the offset after the JSON string starting at b[i]
// (a '"'), or len(b) when it is not closed.
func stringEnd(b []byte, i int) int {
	i++
	for {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return len(b)
		}
		i += q
		// The quote is escaped when an odd number of backslashes precede it.
		bs := 0
		for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
			bs++
		}
		i++
		if bs%2 == 0 {
			return i
		}
	}
}

// keep returns v if it points into the current document, or a copy in the
// arena if it points into a scanner's scratch space (escaped strings),
// which the next read overwrites. Arena copies stay valid for the document:
// the arena is only truncated between documents, and growing it leaves the
// earlier backing array untouched.
func (d *Decoder) keep(v []byte) []byte {
	if len(v) == 0 || inside(d.rec, v) || inside(d.arena, v) {
		return v
	}
	n := len(d.arena)
	d.arena = append(d.arena, v...)
	return d.arena[n:len(d.arena):len(d.arena)]
}

func inside(buf, v []byte) bool {
	if len(buf) == 0 || len(v) == 0 {
		return false
	}
	b0 := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	v0 := uintptr(unsafe.Pointer(unsafe.SliceData(v)))
	return v0 >= b0 && v0 < b0+uintptr(len(buf))
}

// quote is a short quoted copy of a value for error messages.
func quote(v []byte) string {
	if len(v) == 0 {
		return "nothing"
	}
	return decode.Quote(v, 40)
}
