package envoytap

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Modes, as written to the mode columns.
const (
	modeBuffered = "buffered"
	modeStreamed = "streamed"
)

type eventKind uint8

const (
	kindRead eventKind = iota + 1
	kindWrite
	kindClosed
)

var kindNames = [...]string{kindRead: "read", kindWrite: "write", kindClosed: "closed"}

// addr is an Envoy address rendered for the address columns. The slices
// point into the record's arena, valid until the next record.
type addr struct {
	text []byte // "ip:port", "[v6]:port", a pipe path, "envoy://listener/endpoint"; empty when absent
	host []byte // ip or name without port; the path; "envoy://listener"
	port uint16 // 0 when there is none (or it is out of range)
}

// event is one socket event between parsing and appending.
type event struct {
	tsNs          int64
	index         uint32
	seq           uint64
	kind          eventKind
	endStream     bool
	truncated     bool
	size          int
	bodyBytes     []byte // as_bytes: owned by the decoded message, valid until the next record
	bodyString    string // as_string
	asString      bool
	local, remote addr
}

// conn is a row of envoytap_connections between parsing and appending.
type conn struct {
	local, remote           addr
	sampleRate              float64
	hasSampleRate           bool
	events                  uint32
	firstNs, lastNs         int64
	hasTimes                bool
	bytesRead, bytesWritten uint64
	readTrunc, writeTrunc   bool
	isError, hasError       bool
}

// record is what one TraceWrapper yields: event rows and at most one
// connection row. It is filled completely, and validated, before anything is
// appended, so a record that fails half way appends nothing.
type record struct {
	mode    string
	traceID uint64
	hasConn bool
	conn    conn
	events  []event
	arena   []byte // rendered addresses of this record
}

func (r *record) reset() {
	*r = record{events: r.events[:0], arena: r.arena[:0]}
}

// fromWrapper fills r from w, or says why w is not a socket trace tapline
// can store.
func (r *record) fromWrapper(w *tapv3.TraceWrapper) error {
	r.reset()
	switch t := w.GetTrace().(type) {
	case *tapv3.TraceWrapper_SocketBufferedTrace:
		if t.SocketBufferedTrace == nil {
			break
		}
		return r.fromBuffered(t.SocketBufferedTrace, w.GetConfiguredSampleRate())
	case *tapv3.TraceWrapper_SocketStreamedTraceSegment:
		if t.SocketStreamedTraceSegment == nil {
			break
		}
		return r.fromStreamed(t.SocketStreamedTraceSegment, w.GetConfiguredSampleRate())
	case *tapv3.TraceWrapper_HttpBufferedTrace:
		return errors.New("an HTTP tap trace (http_buffered_trace), not a transport-socket trace: the envoytap format reads socket traces only; publish HTTP tap output to another subject")
	case *tapv3.TraceWrapper_HttpStreamedTraceSegment:
		return errors.New("an HTTP tap trace (http_streamed_trace_segment), not a transport-socket trace: the envoytap format reads socket traces only; publish HTTP tap output to another subject")
	}
	return errors.New("no socket trace: expected a socket_buffered_trace or socket_streamed_trace_segment member")
}

func (r *record) fromBuffered(bt *tapv3.SocketBufferedTrace, rate *typev3.FractionalPercent) error {
	r.mode, r.traceID, r.hasConn = modeBuffered, bt.GetTraceId(), true
	c := &r.conn
	c.local, c.remote = r.addrOf(bt.GetConnection().GetLocalAddress()), r.addrOf(bt.GetConnection().GetRemoteAddress())
	c.sampleRate, c.hasSampleRate = sampleRate(rate)
	for i, ev := range bt.GetEvents() {
		if err := r.addEvent(ev, i, "events"); err != nil {
			return err
		}
		e := &r.events[len(r.events)-1]
		e.local, e.remote = c.local, c.remote
		c.add(e)
	}
	c.readTrunc = c.readTrunc || bt.GetReadTruncated()
	c.writeTrunc = c.writeTrunc || bt.GetWriteTruncated()
	c.isError, c.hasError = c.oneSided(), true
	return nil
}

func (r *record) fromStreamed(seg *tapv3.SocketStreamedTraceSegment, rate *typev3.FractionalPercent) error {
	r.mode, r.traceID = modeStreamed, seg.GetTraceId()
	switch p := seg.GetMessagePiece().(type) {
	case *tapv3.SocketStreamedTraceSegment_Connection:
		r.hasConn = true
		c := &r.conn
		c.local, c.remote = r.addrOf(p.Connection.GetLocalAddress()), r.addrOf(p.Connection.GetRemoteAddress())
		c.sampleRate, c.hasSampleRate = sampleRate(rate)
		return nil
	case *tapv3.SocketStreamedTraceSegment_Event:
		if p.Event != nil {
			return r.addEvent(p.Event, -1, "event")
		}
	case *tapv3.SocketStreamedTraceSegment_Events:
		evs := p.Events.GetEvents()
		if len(evs) == 0 {
			return errors.New("streamed segment with an empty events batch (events.events[] has no event)")
		}
		for i, ev := range evs {
			if err := r.addEvent(ev, i, "events.events"); err != nil {
				return err
			}
		}
		return nil
	}
	return errors.New("streamed segment with none of connection, event, events: nothing to store")
}

// Range of DateTime64(9): nanoseconds since the epoch in an int64, and not
// before 1900 (ClickHouse's lower bound).
const (
	minSeconds = -2208988800                 // 1900-01-01T00:00:00Z
	maxSeconds = (1<<63-1)/1_000_000_000 - 1 // 2262-04-11, so that seconds*1e9+nanos cannot overflow
)

// addEvent validates ev and appends it to r.events. i is its index in the
// list it came from (-1 for a single event); path names that list in errors.
func (r *record) addEvent(ev *tapv3.SocketEvent, i int, path string) error {
	where := func() string {
		if i < 0 {
			return path
		}
		return path + "[" + strconv.Itoa(i) + "]"
	}
	ns, err := eventTime(ev.GetTimestamp())
	if err != nil {
		return fmt.Errorf("%s: %w", where(), err)
	}
	e := event{tsNs: ns, seq: ev.GetSeqNum()}
	if i > 0 {
		e.index = uint32(i)
	}
	var body *tapv3.Body
	switch s := ev.GetEventSelector().(type) {
	case *tapv3.SocketEvent_Read_:
		e.kind, body = kindRead, s.Read.GetData()
	case *tapv3.SocketEvent_Write_:
		e.kind, body = kindWrite, s.Write.GetData()
		e.endStream = s.Write.GetEndStream()
	case *tapv3.SocketEvent_Closed_:
		e.kind = kindClosed
	default:
		return fmt.Errorf("%s has none of read, write, closed", where())
	}
	if body != nil {
		e.truncated = body.GetTruncated()
		switch b := body.GetBodyType().(type) {
		case *tapv3.Body_AsBytes:
			e.bodyBytes, e.size = b.AsBytes, len(b.AsBytes)
		case *tapv3.Body_AsString:
			e.bodyString, e.size, e.asString = b.AsString, len(b.AsString), true
		}
	}
	if c := ev.GetConnection(); c != nil {
		e.local, e.remote = r.addrOf(c.GetLocalAddress()), r.addrOf(c.GetRemoteAddress())
	}
	r.events = append(r.events, e)
	return nil
}

func eventTime(ts *timestamppb.Timestamp) (int64, error) {
	if ts == nil {
		return 0, errors.New("no timestamp")
	}
	s, n := ts.GetSeconds(), ts.GetNanos()
	if n < 0 || n > 999_999_999 {
		return 0, fmt.Errorf("timestamp has invalid nanos %d", n)
	}
	if s < minSeconds || s > maxSeconds {
		return 0, fmt.Errorf("timestamp %s is outside 1900..2262, which DateTime64(9) cannot hold", time.Unix(s, int64(n)).UTC().Format(time.RFC3339Nano))
	}
	return s*1e9 + int64(n), nil
}

// add accumulates a buffered trace's event into its connection row.
func (c *conn) add(e *event) {
	c.events++
	if !c.hasTimes || e.tsNs < c.firstNs {
		c.firstNs = e.tsNs
	}
	if !c.hasTimes || e.tsNs > c.lastNs {
		c.lastNs = e.tsNs
	}
	c.hasTimes = true
	switch e.kind {
	case kindRead:
		c.bytesRead += uint64(e.size)
		c.readTrunc = c.readTrunc || e.truncated
	case kindWrite:
		c.bytesWritten += uint64(e.size)
		c.writeTrunc = c.writeTrunc || e.truncated
	}
}

// durationMs is the buffered trace's duration, last minus first event, as
// sql/tables/envoytap_connections.sql defines it.
func (c *conn) durationMs() float64 {
	return float64(c.lastNs-c.firstNs) / 1e6
}

// oneSided is the error the views count (sql/tables/envoytap_connections.sql):
// data in exactly one direction. A direction carried data when bytes were
// captured or its body was truncated (truncated with nothing captured still
// means bytes flowed).
func (c *conn) oneSided() bool {
	read := c.bytesRead > 0 || c.readTrunc
	written := c.bytesWritten > 0 || c.writeTrunc
	return read != written
}

// sampleRate converts TraceWrapper.configured_sample_rate to a fraction.
func sampleRate(p *typev3.FractionalPercent) (float64, bool) {
	if p == nil {
		return 0, false
	}
	den := 100.0
	switch p.GetDenominator() {
	case typev3.FractionalPercent_TEN_THOUSAND:
		den = 10_000
	case typev3.FractionalPercent_MILLION:
		den = 1_000_000
	}
	return float64(p.GetNumerator()) / den, true
}

// addrOf renders an Envoy address the way Envoy prints addresses in its
// logs: "ip:port" ("[v6]:port"), a pipe path, "envoy://listener/endpoint".
// Text and host are written to the record's arena (no allocation once it has
// grown); slices are taken after the last append, and earlier slices stay
// valid when the arena grows because the old backing array is never written
// again.
func (r *record) addrOf(a *corev3.Address) addr {
	switch x := a.GetAddress().(type) {
	case *corev3.Address_SocketAddress:
		sa := x.SocketAddress
		host := sa.GetAddress()
		hostStart := len(r.arena)
		r.arena = append(r.arena, host...)
		textStart := len(r.arena)
		if strings.IndexByte(host, ':') >= 0 {
			r.arena = append(r.arena, '[')
			r.arena = append(r.arena, host...)
			r.arena = append(r.arena, ']')
		} else {
			r.arena = append(r.arena, host...)
		}
		var port uint16
		switch p := sa.GetPortSpecifier().(type) {
		case *corev3.SocketAddress_PortValue:
			if p.PortValue <= 65535 {
				port = uint16(p.PortValue)
			}
			r.arena = append(r.arena, ':')
			r.arena = strconv.AppendUint(r.arena, uint64(p.PortValue), 10)
		case *corev3.SocketAddress_NamedPort:
			r.arena = append(r.arena, ':')
			r.arena = append(r.arena, p.NamedPort...)
		}
		return addr{text: r.arena[textStart:len(r.arena):len(r.arena)], host: r.arena[hostStart:textStart:textStart], port: port}
	case *corev3.Address_Pipe:
		start := len(r.arena)
		r.arena = append(r.arena, x.Pipe.GetPath()...)
		text := r.arena[start:len(r.arena):len(r.arena)]
		return addr{text: text, host: text}
	case *corev3.Address_EnvoyInternalAddress:
		start := len(r.arena)
		r.arena = append(r.arena, "envoy://"...)
		r.arena = append(r.arena, x.EnvoyInternalAddress.GetServerListenerName()...)
		hostEnd := len(r.arena)
		if id := x.EnvoyInternalAddress.GetEndpointId(); id != "" {
			r.arena = append(r.arena, '/')
			r.arena = append(r.arena, id...)
		}
		return addr{text: r.arena[start:len(r.arena):len(r.arena)], host: r.arena[start:hostEnd:hostEnd]}
	}
	return addr{}
}
