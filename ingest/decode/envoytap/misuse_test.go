package envoytap

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// TestWrongPayloadOnProtoSubject publishes, on the protobuf subject,
// payloads that are no length-delimited stream, as users have produced
// them (testdata/README.md names the sources): each must be exactly one
// reject covering the whole message, whose reason says what the payload
// looks like, and no rows.
func TestWrongPayloadOnProtoSubject(t *testing.T) {
	t.Parallel()
	read := func(name string) []byte {
		b, err := os.ReadFile(name)
		require.NoError(t, err)
		return b
	}
	grpcFrame, err := hex.DecodeString(string(bytes.TrimSpace(read("testdata/misuse/grpc-frame-issue1389.hex"))))
	require.NoError(t, err)
	for _, c := range []struct {
		name    string
		payload []byte
		reason  string
	}{
		// Envoy's JSON sink output sent to the proto subject.
		{"json-pretty", read("testdata/streaming-batched.json"), "payload is JSON"},
		{"json-compact", compactJSON(t, read("testdata/buffered-flow.json")), "payload is JSON"},
		// The PROTO_TEXT sink output quoted in envoy issue #38582.
		{"proto-text", read("testdata/misuse/issue38582-proto-text.txt"), "payload is text"},
		// One TraceWrapper as the PROTO_BINARY sink writes it: no prefix.
		{"proto-binary", unprefixed(t, read("testdata/buffered-flow.json")), "without a length prefix"},
		// A gRPC length-prefixed frame (5-byte header), golang/protobuf #1389.
		{"grpc-frame", grpcFrame, "not a length-delimited stream"},
		// Bytes that are no protobuf at all.
		{"garbage", []byte{0x7b, 0xff, 0xfe, 0x00, 0x01, 0x02, 0x80}, "not a length-delimited stream"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := decodeOne(t, newDecoder(), SubjectProto+".test-envoy", c.payload)
			defer res.Release()
			require.Equal(t, 0, res.Output.Records)
			require.Len(t, res.Output.Rejects, 1, "one message, one reject: %v", res.Output.Rejects)
			rj := res.Output.Rejects[0]
			require.Equal(t, 0, rj.Start)
			require.Equal(t, len(c.payload), rj.End, "the reject covers the whole message")
			require.Contains(t, rj.Reason, c.reason)
			require.Contains(t, rj.Reason, "PROTO_BINARY_LENGTH_DELIMITED", "the reason says what to configure")
		})
	}
}

// TestGoodFirstMessageKeepsPerMessageRejects checks that the whole-payload
// verdict is only for payloads whose first message is no trace: a stream
// that starts well keeps one reject per bad message (adversarial-proto).
func TestGoodFirstMessageKeepsPerMessageRejects(t *testing.T) {
	t.Parallel()
	res := decodeOne(t, newDecoder(), SubjectProto+".test-envoy", adversarialProto(t))
	defer res.Release()
	require.Equal(t, 2, res.Output.Records)
	require.Len(t, res.Output.Rejects, 4)
}

func compactJSON(t *testing.T, pretty []byte) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(pretty))
	var out bytes.Buffer
	for dec.More() {
		var doc json.RawMessage
		require.NoError(t, dec.Decode(&doc))
		require.NoError(t, json.Compact(&out, doc))
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// unprefixed encodes the first document of a JSON testdata file as one
// TraceWrapper without a length prefix (PROTO_BINARY).
func unprefixed(t *testing.T, src []byte) []byte {
	t.Helper()
	var doc json.RawMessage
	require.NoError(t, json.NewDecoder(bytes.NewReader(src)).Decode(&doc))
	w := &tapv3.TraceWrapper{}
	require.NoError(t, protojson.Unmarshal(doc, w))
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(w)
	require.NoError(t, err)
	return b
}
