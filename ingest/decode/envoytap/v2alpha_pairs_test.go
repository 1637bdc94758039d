package envoytap

import (
	corev2 "github.com/envoyproxy/go-control-plane/envoy/api/v2/core"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tapv2alpha "github.com/envoyproxy/go-control-plane/envoy/data/tap/v2alpha"
	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// v2alphaPairs lists each socket-trace message of v2alpha with its v3
// counterpart, for TestV2alphaFieldsAgree.
func v2alphaPairs() [][2]protoreflect.MessageDescriptor {
	d := func(m interface{ ProtoReflect() protoreflect.Message }) protoreflect.MessageDescriptor {
		return m.ProtoReflect().Descriptor()
	}
	return [][2]protoreflect.MessageDescriptor{
		{d(&tapv2alpha.TraceWrapper{}), d(&tapv3.TraceWrapper{})},
		{d(&tapv2alpha.SocketBufferedTrace{}), d(&tapv3.SocketBufferedTrace{})},
		{d(&tapv2alpha.SocketStreamedTraceSegment{}), d(&tapv3.SocketStreamedTraceSegment{})},
		{d(&tapv2alpha.SocketEvent{}), d(&tapv3.SocketEvent{})},
		{d(&tapv2alpha.SocketEvent_Read{}), d(&tapv3.SocketEvent_Read{})},
		{d(&tapv2alpha.SocketEvent_Write{}), d(&tapv3.SocketEvent_Write{})},
		{d(&tapv2alpha.SocketEvent_Closed{}), d(&tapv3.SocketEvent_Closed{})},
		{d(&tapv2alpha.Body{}), d(&tapv3.Body{})},
		{d(&tapv2alpha.Connection{}), d(&tapv3.Connection{})},
		{d(&corev2.Address{}), d(&corev3.Address{})},
		{d(&corev2.SocketAddress{}), d(&corev3.SocketAddress{})},
		{d(&corev2.Pipe{}), d(&corev3.Pipe{})},
	}
}
