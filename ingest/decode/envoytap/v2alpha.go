package envoytap

import (
	"fmt"

	corev2 "github.com/envoyproxy/go-control-plane/envoy/api/v2/core"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tapv2alpha "github.com/envoyproxy/go-control-plane/envoy/data/tap/v2alpha"
	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Binary v2alpha traces, decoded with the v3 types.
//
// Field by field (go-control-plane envoy v1.40.0 generated code), the socket
// messages of envoy.data.tap.v2alpha and envoy.data.tap.v3 agree in names,
// numbers and types: TraceWrapper (socket_buffered_trace 3,
// socket_streamed_trace_segment 4), SocketBufferedTrace (trace_id 1,
// connection 2, events 3, read_truncated 4, write_truncated 5),
// SocketStreamedTraceSegment (trace_id 1, connection 2, event 3), SocketEvent
// (timestamp 1, read 2, write 3, closed 4), Read (data 1), Write (data 1,
// end_stream 2), Body (as_bytes 1, as_string 2, truncated 3), and
// envoy.api.v2.core.Address vs envoy.config.core.v3.Address (socket_address 1,
// pipe 2; SocketAddress protocol 1, address 2, port_value 3, named_port 4,
// resolver_name 5, ipv4_compat 6). v3 only adds fields (SocketEvent.connection
// 5 and seq_num 6, segment events 4, Address.envoy_internal_address 3, ...).
//
// The one difference is Connection: v2alpha numbers local_address 2 and
// remote_address 3 (1 is reserved), v3 numbers them 1 and 2. Read with v3
// types, a v2alpha Connection puts its local address into remote_address and
// leaves its remote address as unknown field 3. JSON is unaffected (same
// names), binary is not: repairV2alpha recognises a Connection holding an
// unknown length-delimited field 3 (Envoy always writes the remote address,
// so every v2alpha connection has it) and re-reads it with the v2alpha types.
// Should a future v3 Connection gain a field 3, this check must be revisited.

// repairV2alpha fixes the connection of a binary v2alpha trace read with v3
// types, in place. It leaves v3 traces alone.
func repairV2alpha(w *tapv3.TraceWrapper) error {
	var c *tapv3.Connection
	switch t := w.GetTrace().(type) {
	case *tapv3.TraceWrapper_SocketBufferedTrace:
		c = t.SocketBufferedTrace.GetConnection()
	case *tapv3.TraceWrapper_SocketStreamedTraceSegment:
		c = t.SocketStreamedTraceSegment.GetConnection()
	}
	if c == nil || !hasV2alphaRemote(c.ProtoReflect().GetUnknown()) {
		return nil
	}
	raw, err := proto.Marshal(c)
	if err != nil {
		return fmt.Errorf("re-encode connection: %w", err)
	}
	var old tapv2alpha.Connection
	if err := proto.Unmarshal(raw, &old); err != nil {
		return fmt.Errorf("read connection as envoy.data.tap.v2alpha.Connection: %w", err)
	}
	local, err := v3Address(old.GetLocalAddress())
	if err != nil {
		return err
	}
	remote, err := v3Address(old.GetRemoteAddress())
	if err != nil {
		return err
	}
	c.Reset()
	c.LocalAddress, c.RemoteAddress = local, remote
	return nil
}

// hasV2alphaRemote reports whether unknown fields hold field 3 as a
// length-delimited value (v2alpha's Connection.remote_address).
func hasV2alphaRemote(unknown []byte) bool {
	for len(unknown) > 0 {
		num, typ, n := protowire.ConsumeField(unknown)
		if n < 0 {
			return false
		}
		if num == 3 && typ == protowire.BytesType {
			return true
		}
		unknown = unknown[n:]
	}
	return false
}

// v3Address converts a v2 core Address to v3; the two are wire-compatible.
func v3Address(a *corev2.Address) (*corev3.Address, error) {
	if a == nil {
		return nil, nil
	}
	raw, err := proto.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("re-encode v2 address: %w", err)
	}
	var n corev3.Address
	if err := proto.Unmarshal(raw, &n); err != nil {
		return nil, fmt.Errorf("read v2 address as v3: %w", err)
	}
	return &n, nil
}
