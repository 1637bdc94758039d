package envoytap

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tapv2alpha "github.com/envoyproxy/go-control-plane/envoy/data/tap/v2alpha"
	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The protobuf testdata (testdata/*.pbld) has one source: the JSON testdata
// of the same name, re-encoded with the generated types as Envoy's
// PROTO_BINARY_LENGTH_DELIMITED sink would write it (v2alpha files with the
// v2alpha types). adversarial-proto.pbld is built by adversarialProto. `go
// test -run TestProtoTestdataIsCurrent -update` rewrites them; without
// -update the test fails when a file is stale.

func updating() bool {
	f := flag.Lookup("update") // registered by decodetest
	return f != nil && f.Value.String() == "true"
}

// lengthDelimited re-encodes every document of a JSON testdata file.
func lengthDelimited(t testing.TB, jsonPath string) []byte {
	t.Helper()
	src, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	v2alpha := strings.Contains(jsonPath, "v2alpha")
	dec := json.NewDecoder(bytes.NewReader(src))
	var out []byte
	for {
		var doc json.RawMessage
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, jsonPath)
		var m proto.Message = &tapv3.TraceWrapper{}
		if v2alpha {
			m = &tapv2alpha.TraceWrapper{}
		}
		require.NoError(t, protojson.Unmarshal(doc, m), jsonPath)
		out = appendDelimited(t, out, m)
	}
	return out
}

func appendDelimited(t testing.TB, out []byte, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	require.NoError(t, err)
	out = protowire.AppendVarint(out, uint64(len(b)))
	return append(out, b...)
}

// adversarialProto is a length-delimited payload with the broken shapes a
// binary stream can have, in this order: a good streamed event; a message
// whose bytes are no protobuf; an empty message; an HTTP trace; a good v2alpha
// connection segment; and a length prefix that announces more bytes than
// follow (the rest is one reject).
func adversarialProto(t testing.TB) []byte {
	t.Helper()
	var out []byte
	good := &tapv3.TraceWrapper{}
	require.NoError(t, protojson.Unmarshal([]byte(`{"socket_streamed_trace_segment":{"trace_id":"5","event":{"timestamp":"2024-03-01T10:00:00.5Z","read":{"data":{"as_bytes":"R0VUIC8gSFRUUC8xLjENCg=="}}}}}`), good))
	out = appendDelimited(t, out, good)
	out = append(out, 4, 0xff, 0xff, 0xff, 0xff) // field 31, wire type 7: invalid
	out = append(out, 0)                         // empty TraceWrapper
	http := &tapv3.TraceWrapper{}
	require.NoError(t, protojson.Unmarshal([]byte(`{"http_buffered_trace":{}}`), http))
	out = appendDelimited(t, out, http)
	old := &tapv2alpha.TraceWrapper{}
	require.NoError(t, protojson.Unmarshal([]byte(`{"socket_streamed_trace_segment":{"trace_id":"6","connection":{"local_address":{"socket_address":{"address":"10.1.0.1","port_value":8080}},"remote_address":{"socket_address":{"address":"10.2.0.9","port_value":40123}}}}}`), old))
	out = appendDelimited(t, out, old)
	cut := appendDelimited(t, nil, good)
	return append(out, cut[:len(cut)-3]...)
}

func TestProtoTestdataIsCurrent(t *testing.T) {
	t.Parallel()
	want := map[string][]byte{"testdata/adversarial-proto.pbld": adversarialProto(t)}
	paths, err := filepath.Glob("testdata/*.json")
	require.NoError(t, err)
	for _, p := range paths {
		if strings.HasPrefix(filepath.Base(p), "adversarial") {
			continue // not all valid JSON: no protobuf twin
		}
		want[strings.TrimSuffix(p, ".json")+".pbld"] = lengthDelimited(t, p)
	}
	for path, b := range want {
		if updating() {
			require.NoError(t, os.WriteFile(path, b, 0o644))
			continue
		}
		got, err := os.ReadFile(path)
		require.NoErrorf(t, err, "missing %s: run `go test ./ingest/decode/envoytap -run TestProtoTestdataIsCurrent -update`", path)
		require.Truef(t, bytes.Equal(b, got), "%s is stale: run `go test ./ingest/decode/envoytap -run TestProtoTestdataIsCurrent -update`", path)
	}
}
