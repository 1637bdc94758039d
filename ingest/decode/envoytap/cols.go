package envoytap

import (
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/tapline/tapline/schema"
)

// cols holds the typed builders of both tables, bound once per set of record
// builders so that appending is free of type assertions.
type cols struct {
	// envoytap_events
	ts                      *array.TimestampBuilder
	envoy, mode, kind, body *schema.StringColumn
	local, remote           *schema.StringColumn
	traceID, seq            *array.Uint64Builder
	index, bytes            *array.Uint32Builder
	endStream, truncated    *array.BooleanBuilder
	// envoytap_connections
	cEnvoy, cMode                            *schema.StringColumn
	cLocal, cLocalHost, cRemote, cRemoteHost *schema.StringColumn
	cTraceID, cBytesRead, cBytesWritten      *array.Uint64Builder
	cLocalPort, cRemotePort                  *array.Uint16Builder
	cSampleRate, cDuration                   *array.Float64Builder
	cEvents                                  *array.Uint32Builder
	cFirst, cLast                            *array.TimestampBuilder
	cReadTrunc, cWriteTrunc, cIsError        *array.BooleanBuilder
}

func (c *cols) bind(events, conns *schema.Builder) {
	t := schema.EnvoytapEvents
	f := func(name string) array.Builder { return events.Field(t.Index(name)) }
	str := func(name string) *schema.StringColumn { return events.Strings(t.Index(name)) }
	c.ts = f("timestamp").(*array.TimestampBuilder)
	c.envoy, c.mode, c.kind, c.body = str("envoy"), str("mode"), str("kind"), str("body")
	c.local, c.remote = str("local_address"), str("remote_address")
	c.traceID, c.seq = f("trace_id").(*array.Uint64Builder), f("seq_num").(*array.Uint64Builder)
	c.index, c.bytes = f("event_index").(*array.Uint32Builder), f("bytes").(*array.Uint32Builder)
	c.endStream, c.truncated = f("end_stream").(*array.BooleanBuilder), f("truncated").(*array.BooleanBuilder)

	s := schema.EnvoytapConnections
	g := func(name string) array.Builder { return conns.Field(s.Index(name)) }
	gstr := func(name string) *schema.StringColumn { return conns.Strings(s.Index(name)) }
	gbool := func(name string) *array.BooleanBuilder { return g(name).(*array.BooleanBuilder) }
	c.cEnvoy, c.cMode = gstr("envoy"), gstr("mode")
	c.cLocal, c.cLocalHost, c.cRemote, c.cRemoteHost = gstr("local_address"), gstr("local_host"), gstr("remote_address"), gstr("remote_host")
	c.cTraceID = g("trace_id").(*array.Uint64Builder)
	c.cBytesRead, c.cBytesWritten = g("bytes_read").(*array.Uint64Builder), g("bytes_written").(*array.Uint64Builder)
	c.cLocalPort, c.cRemotePort = g("local_port").(*array.Uint16Builder), g("remote_port").(*array.Uint16Builder)
	c.cSampleRate, c.cDuration = g("sample_rate").(*array.Float64Builder), g("duration_ms").(*array.Float64Builder)
	c.cEvents = g("events").(*array.Uint32Builder)
	c.cFirst, c.cLast = g("first_event").(*array.TimestampBuilder), g("last_event").(*array.TimestampBuilder)
	c.cReadTrunc, c.cWriteTrunc, c.cIsError = gbool("read_truncated"), gbool("write_truncated"), gbool("is_error")
}

// appendRecord appends every row of r. bodyLimit bounds the body prefix.
func (c *cols) appendRecord(r *record, envoy string, bodyLimit int) {
	for i := range r.events {
		c.appendEvent(r, &r.events[i], envoy, bodyLimit)
	}
	if r.hasConn {
		c.appendConn(r, envoy)
	}
}

func (c *cols) appendEvent(r *record, e *event, envoy string, bodyLimit int) {
	c.ts.Append(arrow.Timestamp(e.tsNs))
	c.envoy.AppendString(envoy)
	c.traceID.Append(r.traceID)
	c.mode.AppendString(r.mode)
	c.index.Append(e.index)
	c.seq.Append(e.seq)
	c.kind.AppendString(kindNames[e.kind])
	c.bytes.Append(uint32(min(e.size, math.MaxUint32)))
	c.endStream.Append(e.endStream)
	c.truncated.Append(e.truncated)
	n := min(e.size, bodyLimit)
	if e.asString {
		c.body.AppendString(e.bodyString[:n])
	} else {
		c.body.Append(e.bodyBytes[:n])
	}
	c.local.Append(e.local.text)
	c.remote.Append(e.remote.text)
}

func (c *cols) appendConn(r *record, envoy string) {
	k := &r.conn
	c.cEnvoy.AppendString(envoy)
	c.cTraceID.Append(r.traceID)
	c.cMode.AppendString(r.mode)
	c.cLocal.Append(k.local.text)
	c.cLocalHost.Append(k.local.host)
	c.cLocalPort.Append(k.local.port)
	c.cRemote.Append(k.remote.text)
	c.cRemoteHost.Append(k.remote.host)
	c.cRemotePort.Append(k.remote.port)
	if k.hasSampleRate {
		c.cSampleRate.Append(k.sampleRate)
	} else {
		c.cSampleRate.AppendNull()
	}
	c.cEvents.Append(k.events)
	if k.hasTimes {
		c.cFirst.Append(arrow.Timestamp(k.firstNs))
		c.cLast.Append(arrow.Timestamp(k.lastNs))
		c.cDuration.Append(k.durationMs())
	} else {
		c.cFirst.AppendNull()
		c.cLast.AppendNull()
		c.cDuration.AppendNull()
	}
	c.cBytesRead.Append(k.bytesRead)
	c.cBytesWritten.Append(k.bytesWritten)
	c.cReadTrunc.Append(k.readTrunc)
	c.cWriteTrunc.Append(k.writeTrunc)
	if k.hasError {
		c.cIsError.Append(k.isError)
	} else {
		c.cIsError.AppendNull()
	}
}
