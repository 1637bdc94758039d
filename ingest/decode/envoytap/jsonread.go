package envoytap

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tapline/tapline/ingest/decode/jsonscan"
)

// jsonReader fills a TraceWrapper from a JSON document in the shape Envoy's
// tap sinks write (socket traces, socket addresses, base64 or string bodies,
// proto or JSON field names), without protojson's reflection: protojson took
// four fifths of the JSON path's time (134-184k rows/s in the decoder
// benchmarks, against 727k-1.03M with this reader and 0.7-1.1M for the same
// traces in protobuf).
//
// It is a fast path, not a second definition of the format: for anything
// outside that shape (an unknown or duplicate member, null, a second member
// of a oneof, an escape other than \" \\ \/ \b \f \n \r \t, invalid UTF-8, a
// number that is not plain digits, base64 protojson would read differently,
// an HTTP trace, a pipe address) next returns false and the caller decodes
// the document with protojson, which decides. Where next returns true, the
// message equals what protojson.Unmarshal (DiscardUnknown) makes of the same
// document, which ends where the JSON scanner says:
// TestJSONReaderMatchesProtojson and FuzzJSONReaderMatchesProtojson hold it
// to that.
type jsonReader struct {
	sc    jsonscan.Scanner
	unesc jsonscan.Scanner // unescapes a string value's text
	arena []byte           // decoded as_bytes bodies of the current document
}

// next fills w from the JSON document at the start of data (which may go
// on with further documents) and returns the document's length, or false
// when it cannot read it. w is reset first; after false its content is
// unspecified. Byte slices in w point into the reader's arena, valid until
// the next call.
func (r *jsonReader) next(data []byte, w *tapv3.TraceWrapper) (int, bool) {
	w.Reset()
	r.sc.Reset(data)
	r.arena = r.arena[:0]
	if !r.wrapper(w) || r.sc.Err() != nil {
		return 0, false
	}
	return r.sc.Pos(), true
}

// object opens an object value; false for any other value (null included).
func (r *jsonReader) object() bool {
	return r.sc.Peek() == jsonscan.Object && r.sc.EnterObject()
}

// once marks bit in seen and reports whether it was clear: protojson rejects a
// member given twice and a oneof with two members set.
func once(seen *uint16, bit uint16) bool {
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

// members reads an object value, calling member with each key and the
// scanner before the member's value, which member must read. It reports
// whether the object was read to its end and every member returned true.
func (r *jsonReader) members(member func(key []byte) bool) bool {
	if !r.object() {
		return false
	}
	for {
		k, ok := r.sc.Key()
		if !ok {
			return r.sc.Err() == nil
		}
		if !member(k) {
			return false
		}
	}
}

// boolTo, strTo and uint64To read a scalar member's value into dst, and
// check with once that the member came only once.
func (r *jsonReader) boolTo(dst *bool, seen *uint16, bit uint16) bool {
	v, ok := r.bool()
	*dst = v
	return ok && once(seen, bit)
}

func (r *jsonReader) strTo(dst *string, seen *uint16, bit uint16) bool {
	v, ok := r.str()
	*dst = v
	return ok && once(seen, bit)
}

func (r *jsonReader) uint64To(dst *uint64, seen *uint16, bit uint16) bool {
	v, ok := r.uint(64)
	*dst = v
	return ok && once(seen, bit)
}

func (r *jsonReader) wrapper(w *tapv3.TraceWrapper) bool {
	var seen uint16
	const trace, rate = 1, 2
	return r.members(func(k []byte) bool {
		switch string(k) {
		case "socket_buffered_trace", "socketBufferedTrace":
			t := &tapv3.SocketBufferedTrace{}
			w.Trace = &tapv3.TraceWrapper_SocketBufferedTrace{SocketBufferedTrace: t}
			return once(&seen, trace) && r.buffered(t)
		case "socket_streamed_trace_segment", "socketStreamedTraceSegment":
			t := &tapv3.SocketStreamedTraceSegment{}
			w.Trace = &tapv3.TraceWrapper_SocketStreamedTraceSegment{SocketStreamedTraceSegment: t}
			return once(&seen, trace) && r.segment(t)
		case "configured_sample_rate", "configuredSampleRate":
			w.ConfiguredSampleRate = &typev3.FractionalPercent{}
			return once(&seen, rate) && r.percent(w.ConfiguredSampleRate)
		}
		return false
	})
}

func (r *jsonReader) buffered(t *tapv3.SocketBufferedTrace) bool {
	var seen uint16
	const id, conn, events, readTrunc, writeTrunc = 1, 2, 4, 8, 16
	return r.members(func(k []byte) bool {
		ok := false
		switch string(k) {
		case "trace_id", "traceId":
			return r.uint64To(&t.TraceId, &seen, id)
		case "connection":
			t.Connection = &tapv3.Connection{}
			return once(&seen, conn) && r.connection(t.Connection)
		case "events":
			t.Events, ok = r.events(t.Events[:0], once(&seen, events))
			return ok
		case "read_truncated", "readTruncated":
			return r.boolTo(&t.ReadTruncated, &seen, readTrunc)
		case "write_truncated", "writeTruncated":
			return r.boolTo(&t.WriteTruncated, &seen, writeTrunc)
		}
		return false
	})
}

func (r *jsonReader) segment(t *tapv3.SocketStreamedTraceSegment) bool {
	var seen uint16
	const id, piece = 1, 2
	return r.members(func(k []byte) bool {
		switch string(k) {
		case "trace_id", "traceId":
			return r.uint64To(&t.TraceId, &seen, id)
		case "connection":
			c := &tapv3.Connection{}
			t.MessagePiece = &tapv3.SocketStreamedTraceSegment_Connection{Connection: c}
			return once(&seen, piece) && r.connection(c)
		case "event":
			e := &tapv3.SocketEvent{}
			t.MessagePiece = &tapv3.SocketStreamedTraceSegment_Event{Event: e}
			return once(&seen, piece) && r.event(e)
		case "events":
			evs := &tapv3.SocketEvents{}
			t.MessagePiece = &tapv3.SocketStreamedTraceSegment_Events{Events: evs}
			return once(&seen, piece) && r.socketEvents(evs)
		}
		return false
	})
}

func (r *jsonReader) socketEvents(evs *tapv3.SocketEvents) bool {
	var seen uint16
	return r.members(func(k []byte) bool {
		ok := false
		if string(k) == "events" {
			evs.Events, ok = r.events(evs.Events[:0], once(&seen, 1))
		}
		return ok
	})
}

// events reads an array of events onto dst; ok false reads nothing.
func (r *jsonReader) events(dst []*tapv3.SocketEvent, ok bool) ([]*tapv3.SocketEvent, bool) {
	if !ok || r.sc.Peek() != jsonscan.Array || !r.sc.EnterArray() {
		return dst, false
	}
	for r.sc.Elem() {
		e := &tapv3.SocketEvent{}
		if !r.event(e) {
			return dst, false
		}
		dst = append(dst, e)
	}
	return dst, r.sc.Err() == nil
}

func (r *jsonReader) event(e *tapv3.SocketEvent) bool {
	var seen uint16
	const ts, selector, conn, seq = 1, 2, 4, 8
	return r.members(func(k []byte) bool {
		ok := false
		switch string(k) {
		case "timestamp":
			e.Timestamp, ok = r.timestamp()
			return ok && once(&seen, ts)
		case "read":
			rd := &tapv3.SocketEvent_Read{}
			e.EventSelector = &tapv3.SocketEvent_Read_{Read: rd}
			return once(&seen, selector) && r.readEvent(rd)
		case "write":
			wr := &tapv3.SocketEvent_Write{}
			e.EventSelector = &tapv3.SocketEvent_Write_{Write: wr}
			return once(&seen, selector) && r.write(wr)
		case "closed":
			e.EventSelector = &tapv3.SocketEvent_Closed_{Closed: &tapv3.SocketEvent_Closed{}}
			return once(&seen, selector) && r.members(func([]byte) bool { return false })
		case "connection":
			e.Connection = &tapv3.Connection{}
			return once(&seen, conn) && r.connection(e.Connection)
		case "seq_num", "seqNum":
			return r.uint64To(&e.SeqNum, &seen, seq)
		}
		return false
	})
}

// readEvent reads a read event: an object whose only member is data.
func (r *jsonReader) readEvent(rd *tapv3.SocketEvent_Read) bool {
	var seen uint16
	return r.members(func(k []byte) bool {
		if string(k) != "data" || !once(&seen, 1) {
			return false
		}
		rd.Data = &tapv3.Body{}
		return r.body(rd.Data)
	})
}

func (r *jsonReader) write(w *tapv3.SocketEvent_Write) bool {
	var seen uint16
	return r.members(func(k []byte) bool {
		switch string(k) {
		case "data":
			w.Data = &tapv3.Body{}
			return once(&seen, 1) && r.body(w.Data)
		case "end_stream", "endStream":
			return r.boolTo(&w.EndStream, &seen, 2)
		}
		return false
	})
}

func (r *jsonReader) body(b *tapv3.Body) bool {
	var seen uint16
	const bodyType, truncated = 1, 2
	return r.members(func(k []byte) bool {
		ok := false
		switch string(k) {
		case "as_bytes", "asBytes":
			v := &tapv3.Body_AsBytes{}
			b.BodyType = v
			v.AsBytes, ok = r.base64()
			return ok && once(&seen, bodyType)
		case "as_string", "asString":
			v := &tapv3.Body_AsString{}
			b.BodyType = v
			return r.strTo(&v.AsString, &seen, bodyType)
		case "truncated":
			return r.boolTo(&b.Truncated, &seen, truncated)
		}
		return false
	})
}

func (r *jsonReader) connection(c *tapv3.Connection) bool {
	var seen uint16
	return r.members(func(k []byte) bool {
		switch string(k) {
		case "local_address", "localAddress":
			c.LocalAddress = &corev3.Address{}
			return once(&seen, 1) && r.address(c.LocalAddress)
		case "remote_address", "remoteAddress":
			c.RemoteAddress = &corev3.Address{}
			return once(&seen, 2) && r.address(c.RemoteAddress)
		}
		return false
	})
}

// address reads an Address holding a socket_address; pipes and internal
// addresses go to protojson.
func (r *jsonReader) address(a *corev3.Address) bool {
	var seen uint16
	return r.members(func(k []byte) bool {
		if (string(k) != "socket_address" && string(k) != "socketAddress") || !once(&seen, 1) {
			return false
		}
		sa := &corev3.SocketAddress{}
		a.Address = &corev3.Address_SocketAddress{SocketAddress: sa}
		return r.socketAddress(sa)
	})
}

func (r *jsonReader) socketAddress(sa *corev3.SocketAddress) bool {
	var seen uint16
	const protocol, address, port, resolver, v4compat, netns = 1, 2, 4, 8, 16, 32
	return r.members(func(k []byte) bool {
		ok := false
		switch string(k) {
		case "protocol":
			var v string
			v, ok = r.str()
			p, known := corev3.SocketAddress_Protocol_value[v]
			sa.Protocol = corev3.SocketAddress_Protocol(p)
			return ok && known && once(&seen, protocol)
		case "address":
			return r.strTo(&sa.Address, &seen, address)
		case "port_value", "portValue":
			var v uint64
			v, ok = r.uint(32)
			sa.PortSpecifier = &corev3.SocketAddress_PortValue{PortValue: uint32(v)}
			return ok && once(&seen, port)
		case "named_port", "namedPort":
			v := &corev3.SocketAddress_NamedPort{}
			sa.PortSpecifier = v
			return r.strTo(&v.NamedPort, &seen, port)
		case "resolver_name", "resolverName":
			return r.strTo(&sa.ResolverName, &seen, resolver)
		case "ipv4_compat", "ipv4Compat":
			return r.boolTo(&sa.Ipv4Compat, &seen, v4compat)
		case "network_namespace_filepath", "networkNamespaceFilepath":
			return r.strTo(&sa.NetworkNamespaceFilepath, &seen, netns)
		}
		return false
	})
}

func (r *jsonReader) percent(p *typev3.FractionalPercent) bool {
	var seen uint16
	return r.members(func(k []byte) bool {
		ok := false
		switch string(k) {
		case "numerator":
			var v uint64
			v, ok = r.uint(32)
			p.Numerator = uint32(v)
			return ok && once(&seen, 1)
		case "denominator":
			var v string
			v, ok = r.str()
			d, known := typev3.FractionalPercent_DenominatorType_value[v]
			p.Denominator = typev3.FractionalPercent_DenominatorType(d)
			return ok && known && once(&seen, 2)
		}
		return false
	})
}

// bool reads true or false; anything else (protojson takes no "true") is
// refused.
func (r *jsonReader) bool() (bool, bool) {
	if r.sc.Peek() != jsonscan.Bool {
		return false, false
	}
	return r.sc.Bool()
}

// uint reads an unsigned integer of bits bits written as plain decimal
// digits, bare or quoted (protojson writes 64-bit integers quoted). Signs,
// fractions, exponents, leading zeros and spaces go to protojson.
func (r *jsonReader) uint(bits int) (uint64, bool) {
	var b []byte
	ok := false
	switch r.sc.Peek() {
	case jsonscan.Number:
		b, ok = r.sc.Num()
	case jsonscan.String:
		var esc bool
		b, esc, ok = r.raw()
		ok = ok && !esc
		if ok {
			b = b[1 : len(b)-1]
		}
	}
	if !ok || len(b) == 0 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(unsafe.String(unsafe.SliceData(b), len(b)), 10, bits)
	return v, err == nil
}

// raw reads a string value and returns its text, quotes included, and
// whether it holds a backslash. Raw control characters (which jsonscan
// keeps and protojson refuses) and invalid UTF-8 are refused.
func (r *jsonReader) raw() (text []byte, escaped, ok bool) {
	if r.sc.Peek() != jsonscan.String {
		return nil, false, false
	}
	text, ok = r.sc.Skip()
	if !ok || len(text) < 2 {
		return nil, false, false
	}
	high := false
	for _, c := range text[1 : len(text)-1] {
		switch {
		case c < 0x20:
			return nil, false, false
		case c == '\\':
			escaped = true
		case c >= utf8.RuneSelf:
			high = true
		}
	}
	if high && !utf8.Valid(text) {
		return nil, false, false
	}
	return text, escaped, true
}

// str reads a string value. Escaped text is unescaped by the JSON scanner,
// except \u escapes (surrogates are where JSON readers differ), which go to
// protojson.
func (r *jsonReader) str() (string, bool) {
	text, escaped, ok := r.raw()
	if !ok {
		return "", false
	}
	if !escaped {
		return string(text[1 : len(text)-1]), true
	}
	if bytes.Contains(text, []byte(`\u`)) {
		return "", false
	}
	r.unesc.Reset(text)
	v, ok := r.unesc.Str()
	return string(v), ok
}

// base64 reads a bytes value: standard base64 with padding, as Envoy writes
// it, decoded into the arena. URL-safe or unpadded text (which protojson also
// takes) goes to protojson.
func (r *jsonReader) base64() ([]byte, bool) {
	text, escaped, ok := r.raw()
	if !ok || escaped {
		return nil, false
	}
	b := text[1 : len(text)-1]
	if len(b)%4 != 0 || bytes.ContainsAny(b, "-_\r\n") {
		return nil, false
	}
	if len(b) == 0 {
		return []byte{}, true // as protojson: set, and empty
	}
	start := len(r.arena)
	need := base64.StdEncoding.DecodedLen(len(b))
	if cap(r.arena)-start < need {
		grown := make([]byte, start, 2*cap(r.arena)+need)
		copy(grown, r.arena)
		r.arena = grown
	}
	n, err := base64.StdEncoding.Decode(r.arena[start:start+need], b)
	if err != nil {
		return nil, false
	}
	r.arena = r.arena[:start+n]
	return r.arena[start : start+n : start+n], true
}

// Timestamp bounds protojson enforces (0001-01-01 to 9999-12-31).
const (
	minTimestampSeconds = -62135596800
	maxTimestampSeconds = 253402300799
)

// timestamp reads an RFC 3339 timestamp exactly as protojson does: parsed
// with time.RFC3339Nano, within years 1 to 9999, at most nine fractional
// digits.
func (r *jsonReader) timestamp() (*timestamppb.Timestamp, bool) {
	s, ok := r.str()
	if !ok {
		return nil, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, false
	}
	secs := t.Unix()
	if secs < minTimestampSeconds || secs > maxTimestampSeconds {
		return nil, false
	}
	i := strings.LastIndexByte(s, '.')
	j := strings.LastIndexAny(s, "Z-+")
	if i >= 0 && j >= i && j-i > len(".999999999") {
		return nil, false
	}
	return &timestamppb.Timestamp{Seconds: secs, Nanos: int32(t.Nanosecond())}, true
}
