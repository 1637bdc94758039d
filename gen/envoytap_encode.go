package gen

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Encoding of generated tap connections: JSON exactly as Envoy's file sink
// prints it (MessageUtil::getJsonStringFromMessage with pretty printing and
// always_print_primitive_fields: 1-space indentation, proto field names,
// uint64 as strings, default-valued primitives printed, 0/3/6/9 fractional
// digits), or a length-delimited binary TraceWrapper
// (PROTO_BINARY_LENGTH_DELIMITED). The JSON is written by hand, not with
// protojson, because protojson deliberately varies its whitespace between
// builds and the generator must be deterministic.

func (g *envoytap) encodeBuffered(dst []byte) []byte {
	c := &g.conn
	if c.proto {
		bt := &tapv3.SocketBufferedTrace{TraceId: c.id, Connection: c.connection(), ReadTruncated: c.readTrunc, WriteTruncated: c.writeTrunc}
		for i := range c.events {
			bt.Events = append(bt.Events, c.event(&c.events[i], false))
		}
		return appendDelimited(dst, &tapv3.TraceWrapper{Trace: &tapv3.TraceWrapper_SocketBufferedTrace{SocketBufferedTrace: bt}})
	}
	w := prettyJSON{b: dst}
	w.beginObject()
	w.key("socket_buffered_trace")
	w.beginObject()
	w.key("trace_id")
	w.uint64String(c.id)
	w.key("connection")
	c.connectionJSON(&w)
	w.key("events")
	w.beginArray()
	for i := range c.events {
		w.elem()
		c.eventJSON(&w, &c.events[i], false)
	}
	w.endArray()
	w.key("read_truncated")
	w.bool(c.readTrunc)
	w.key("write_truncated")
	w.bool(c.writeTrunc)
	w.endObject()
	w.endObject()
	return w.b
}

// encodeSegment renders a streamed segment: the connection when evs is nil,
// else one event (a single-event segment) or an events.events[] batch.
func (g *envoytap) encodeSegment(dst []byte, evs []tapEvent) []byte {
	c := &g.conn
	if c.proto {
		seg := &tapv3.SocketStreamedTraceSegment{TraceId: c.id}
		switch {
		case evs == nil:
			seg.MessagePiece = &tapv3.SocketStreamedTraceSegment_Connection{Connection: c.connection()}
		case c.batched:
			batch := &tapv3.SocketEvents{}
			for i := range evs {
				batch.Events = append(batch.Events, c.event(&evs[i], c.perEventConn))
			}
			seg.MessagePiece = &tapv3.SocketStreamedTraceSegment_Events{Events: batch}
		default:
			seg.MessagePiece = &tapv3.SocketStreamedTraceSegment_Event{Event: c.event(&evs[0], c.perEventConn)}
		}
		return appendDelimited(dst, &tapv3.TraceWrapper{Trace: &tapv3.TraceWrapper_SocketStreamedTraceSegment{SocketStreamedTraceSegment: seg}})
	}
	w := prettyJSON{b: dst}
	w.beginObject()
	w.key("socket_streamed_trace_segment")
	w.beginObject()
	w.key("trace_id")
	w.uint64String(c.id)
	switch {
	case evs == nil:
		w.key("connection")
		c.connectionJSON(&w)
	case c.batched:
		w.key("events")
		w.beginObject()
		w.key("events")
		w.beginArray()
		for i := range evs {
			w.elem()
			c.eventJSON(&w, &evs[i], c.perEventConn)
		}
		w.endArray()
		w.endObject()
	default:
		w.key("event")
		c.eventJSON(&w, &evs[0], c.perEventConn)
	}
	w.endObject()
	w.endObject()
	return w.b
}

func appendDelimited(dst []byte, m proto.Message) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		panic("BUG: gen: marshal TraceWrapper: " + err.Error())
	}
	dst = protowire.AppendVarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func (c *tapConn) connection() *tapv3.Connection {
	return &tapv3.Connection{LocalAddress: socketAddress(c.localHost, c.localPort), RemoteAddress: socketAddress(c.remoteHost, c.remotePort)}
}

func socketAddress(host string, port int) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(port)},
	}}}
}

func (c *tapConn) event(e *tapEvent, withConn bool) *tapv3.SocketEvent {
	ev := &tapv3.SocketEvent{Timestamp: timestamppb.New(time.Unix(0, e.ns)), SeqNum: e.seq}
	body := &tapv3.Body{BodyType: &tapv3.Body_AsBytes{AsBytes: e.data}, Truncated: e.truncated}
	switch e.kind {
	case 1:
		ev.EventSelector = &tapv3.SocketEvent_Read_{Read: &tapv3.SocketEvent_Read{Data: body}}
	case 2:
		ev.EventSelector = &tapv3.SocketEvent_Write_{Write: &tapv3.SocketEvent_Write{Data: body, EndStream: e.endStream}}
	default:
		ev.EventSelector = &tapv3.SocketEvent_Closed_{Closed: &tapv3.SocketEvent_Closed{}}
	}
	if withConn {
		ev.Connection = c.connection()
	}
	return ev
}

func (c *tapConn) connectionJSON(w *prettyJSON) {
	w.beginObject()
	w.key("local_address")
	socketAddressJSON(w, c.localHost, c.localPort)
	w.key("remote_address")
	socketAddressJSON(w, c.remoteHost, c.remotePort)
	w.endObject()
}

func socketAddressJSON(w *prettyJSON, host string, port int) {
	w.beginObject()
	w.key("socket_address")
	w.beginObject()
	w.key("protocol")
	w.str("TCP")
	w.key("address")
	w.str(host)
	w.key("port_value")
	w.b = strconv.AppendInt(w.b, int64(port), 10)
	w.key("resolver_name")
	w.str("")
	w.key("ipv4_compat")
	w.bool(false)
	w.key("network_namespace_filepath")
	w.str("")
	w.endObject()
	w.endObject()
}

func (c *tapConn) eventJSON(w *prettyJSON, e *tapEvent, withConn bool) {
	w.beginObject()
	w.key("timestamp")
	w.timestamp(e.ns)
	switch e.kind {
	case 1:
		w.key("read")
		w.beginObject()
		w.key("data")
		c.bodyJSON(w, e)
		w.endObject()
	case 2:
		w.key("write")
		w.beginObject()
		w.key("data")
		c.bodyJSON(w, e)
		w.key("end_stream")
		w.bool(e.endStream)
		w.endObject()
	default:
		w.key("closed")
		w.beginObject()
		w.endObject()
	}
	if withConn {
		w.key("connection")
		c.connectionJSON(w)
	}
	if c.seqNums {
		w.key("seq_num")
		w.uint64String(e.seq)
	}
	w.endObject()
}

func (c *tapConn) bodyJSON(w *prettyJSON, e *tapEvent) {
	w.beginObject()
	if c.asString {
		w.key("as_string")
		w.strBytes(e.data)
	} else {
		w.key("as_bytes")
		w.b = append(w.b, '"')
		w.b = base64.StdEncoding.AppendEncode(w.b, e.data)
		w.b = append(w.b, '"')
	}
	w.key("truncated")
	w.bool(e.truncated)
	w.endObject()
}

// prettyJSON writes JSON the way protobuf's C++ printer pretty-prints it.
type prettyJSON struct {
	b       []byte
	members []int // per open object or array: members written so far
}

func (w *prettyJSON) newline() {
	w.b = append(w.b, '\n')
	for range w.members {
		w.b = append(w.b, ' ')
	}
}

func (w *prettyJSON) beginObject() { w.b = append(w.b, '{'); w.members = append(w.members, 0) }
func (w *prettyJSON) beginArray()  { w.b = append(w.b, '['); w.members = append(w.members, 0) }
func (w *prettyJSON) endObject()   { w.end('}') }
func (w *prettyJSON) endArray()    { w.end(']') }

func (w *prettyJSON) end(c byte) {
	n := w.members[len(w.members)-1]
	w.members = w.members[:len(w.members)-1]
	if n > 0 {
		w.newline()
	}
	w.b = append(w.b, c)
}

// elem starts the next element of the innermost array.
func (w *prettyJSON) elem() {
	top := &w.members[len(w.members)-1]
	if *top > 0 {
		w.b = append(w.b, ',')
	}
	*top++
	w.newline()
}

// key starts the next member of the innermost object.
func (w *prettyJSON) key(k string) {
	w.elem()
	w.str(k)
	w.b = append(w.b, ": "...)
}

func (w *prettyJSON) bool(v bool)  { w.b = strconv.AppendBool(w.b, v) }
func (w *prettyJSON) str(s string) { w.strBytes([]byte(s)) }
func (w *prettyJSON) uint64String(v uint64) {
	w.b = strconv.AppendUint(append(w.b, '"'), v, 10)
	w.b = append(w.b, '"')
}

func (w *prettyJSON) timestamp(ns int64) {
	// 0, 3, 6 or 9 fractional digits, as protobuf's JSON printers write them.
	x := time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000000")
	x = strings.TrimSuffix(x, "000")
	x = strings.TrimSuffix(x, "000")
	x = strings.TrimSuffix(x, ".000")
	w.b = append(w.b, '"')
	w.b = append(w.b, x...)
	w.b = append(w.b, `Z"`...)
}

// strBytes writes a JSON string: quotes, backslashes and control characters
// escaped, valid UTF-8 as is.
func (w *prettyJSON) strBytes(s []byte) {
	const hex = "0123456789abcdef"
	w.b = append(w.b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			w.b = append(w.b, '\\', c)
		case c == '\n':
			w.b = append(w.b, '\\', 'n')
		case c == '\r':
			w.b = append(w.b, '\\', 'r')
		case c == '\t':
			w.b = append(w.b, '\\', 't')
		case c < 0x20:
			w.b = append(w.b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		case c < utf8.RuneSelf:
			w.b = append(w.b, c)
		default:
			_, n := utf8.DecodeRune(s[i:])
			w.b = append(w.b, s[i:i+n]...)
			i += n
			continue
		}
		i++
	}
	w.b = append(w.b, '"')
}
