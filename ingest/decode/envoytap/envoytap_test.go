package envoytap

import (
	"encoding/base64"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/internal/decodetest"
	"github.com/tapline/tapline/schema"
)

func newDecoder() decode.Decoder {
	d, err := New(decode.Options{})
	if err != nil {
		panic(err)
	}
	return d
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func decodeOne(t *testing.T, dec decode.Decoder, subject string, payload []byte) *decodetest.Result {
	t.Helper()
	return decodetest.Decode(t, dec, memory.NewGoAllocator(), decodetest.Input{Subject: subject, Payload: payload})
}

// cell returns column name of row i of rec as a Go value (nil for NULL);
// timestamps as RFC 3339 with nanoseconds.
func cell(t *testing.T, tbl *schema.Table, rec arrow.Record, name string, i int) any {
	t.Helper()
	return decodetest.Cell(t, tbl, rec, name, i, time.RFC3339Nano)
}

// requireRow asserts every column of row i.
func requireRow(t *testing.T, tbl *schema.Table, rec arrow.Record, i int, want map[string]any) {
	t.Helper()
	require.Len(t, want, len(tbl.Columns()), "every column of %s is asserted", tbl.Name())
	for name, v := range want {
		require.Equal(t, v, cell(t, tbl, rec, name, i), "%s row %d column %s", tbl.Name(), i, name)
	}
}

// TestStreamingFlow decodes Envoy's own streaming unit test output
// (tap_config_impl_test.cc StreamingFlow) as the file sink writes it: four
// documents glued with "}{".
func TestStreamingFlow(t *testing.T) {
	t.Parallel()
	res := decodeOne(t, newDecoder(), "logs.envoytap.json.edge-1", readFile(t, "testdata/streaming-flow.json"))
	defer res.Release()
	require.Empty(t, res.Output.Rejects)
	require.Equal(t, 4, res.Output.Records)
	require.Equal(t, 3, res.Rows(0))
	require.Equal(t, 1, res.Rows(1))

	ev, et := res.Records[0], schema.EnvoytapEvents
	base := map[string]any{"envoy": "edge-1", "trace_id": uint64(1), "mode": "streamed", "event_index": uint32(0),
		"end_stream": false, "truncated": false, "local_address": "", "remote_address": ""}
	row := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	requireRow(t, et, ev, 0, row(map[string]any{"timestamp": "1970-01-01T00:00:00Z", "seq_num": uint64(1), "kind": "read", "bytes": uint32(5), "body": "hello"}))
	requireRow(t, et, ev, 1, row(map[string]any{"timestamp": "1970-01-01T00:00:01Z", "seq_num": uint64(6), "kind": "write", "bytes": uint32(5), "body": "world", "end_stream": true}))
	requireRow(t, et, ev, 2, row(map[string]any{"timestamp": "1970-01-01T00:00:02Z", "seq_num": uint64(12), "kind": "closed", "bytes": uint32(0), "body": ""}))

	requireRow(t, schema.EnvoytapConnections, res.Records[1], 0, map[string]any{
		"envoy": "edge-1", "trace_id": uint64(1), "mode": "streamed",
		"local_address": "127.0.0.1:1000", "local_host": "127.0.0.1", "local_port": uint16(1000),
		"remote_address": "10.0.0.3:50000", "remote_host": "10.0.0.3", "remote_port": uint16(50000),
		"sample_rate": nil, "events": uint32(0), "first_event": nil, "last_event": nil, "duration_ms": nil,
		"bytes_read": uint64(0), "bytes_written": uint64(0), "read_truncated": false, "write_truncated": false,
		"is_error": nil,
	})
}

// TestBufferedFlow decodes Envoy's buffered unit test output (BufferedFlow):
// one document per connection, with no close event (Envoy submits the trace
// when the connection closes).
func TestBufferedFlow(t *testing.T) {
	t.Parallel()
	res := decodeOne(t, newDecoder(), SubjectJSON, readFile(t, "testdata/buffered-flow.json"))
	defer res.Release()
	require.Empty(t, res.Output.Rejects)
	require.Equal(t, 1, res.Output.Records)
	requireRow(t, schema.EnvoytapEvents, res.Records[0], 1, map[string]any{
		"timestamp": "1970-01-01T00:00:01Z", "envoy": "", "trace_id": uint64(1), "mode": "buffered",
		"event_index": uint32(1), "seq_num": uint64(0), "kind": "write", "bytes": uint32(5), "end_stream": true,
		"truncated": false, "body": "world", "local_address": "127.0.0.1:1000", "remote_address": "10.0.0.3:50000",
	})
	requireRow(t, schema.EnvoytapConnections, res.Records[1], 0, map[string]any{
		"envoy": "", "trace_id": uint64(1), "mode": "buffered",
		"local_address": "127.0.0.1:1000", "local_host": "127.0.0.1", "local_port": uint16(1000),
		"remote_address": "10.0.0.3:50000", "remote_host": "10.0.0.3", "remote_port": uint16(50000),
		"sample_rate": nil, "events": uint32(2),
		"first_event": "1970-01-01T00:00:00Z", "last_event": "1970-01-01T00:00:01Z", "duration_ms": 1000.0,
		"bytes_read": uint64(5), "bytes_written": uint64(5), "read_truncated": false, "write_truncated": false,
		"is_error": false,
	})
}

// TestTruncationIsNotAnError: Envoy's TLS integration test with 4/5-byte
// buffer limits; both directions truncated, the connection is no error.
func TestTruncationIsNotAnError(t *testing.T) {
	t.Parallel()
	res := decodeOne(t, newDecoder(), SubjectJSON, readFile(t, "testdata/ssl-truncation.json"))
	defer res.Release()
	ct, c := schema.EnvoytapConnections, res.Records[1]
	require.Equal(t, true, cell(t, ct, c, "read_truncated", 0))
	require.Equal(t, true, cell(t, ct, c, "write_truncated", 0))
	require.Equal(t, false, cell(t, ct, c, "is_error", 0))
	require.Equal(t, uint64(4), cell(t, ct, c, "bytes_read", 0))
	require.Equal(t, uint64(5), cell(t, ct, c, "bytes_written", 0))
	require.InDelta(t, 3.393, cell(t, ct, c, "duration_ms", 0), 1e-9)
	require.Equal(t, true, cell(t, schema.EnvoytapEvents, res.Records[0], "truncated", 0))
}

func TestOneSidedConnectionIsAnError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		c    conn
		want bool
	}{
		{"request and response", conn{bytesRead: 10, bytesWritten: 20}, false},
		{"request without response", conn{bytesRead: 10}, true},
		{"response to nothing", conn{bytesWritten: 10}, true},
		{"no data at all", conn{}, false},
		{"read truncated to zero bytes, response", conn{readTrunc: true, bytesWritten: 3}, false},
		{"write truncated to zero bytes only", conn{writeTrunc: true}, true},
	} {
		require.Equal(t, tc.want, tc.c.oneSided(), tc.name)
	}
}

// TestAdversarial checks the rows and each reject reason of the hand-written
// adversarial file (see testdata/README.md for what each document tests).
func TestAdversarial(t *testing.T) {
	t.Parallel()
	payload := readFile(t, "testdata/adversarial.json")
	res := decodeOne(t, newDecoder(), SubjectJSON, payload)
	defer res.Release()
	require.Equal(t, 6, res.Output.Records, "documents 1, 2, 3, 4, the one after 7, 17")
	var reasons []string
	for _, rj := range res.Output.Rejects {
		reasons = append(reasons, rj.Reason)
	}
	wantReasons := []string{
		"an HTTP tap trace (http_buffered_trace)",
		"no socket trace",
		"broken JSON document starting at byte",
		"invalid value for uint64 field",
		"event: no timestamp",
		"none of connection, event, events",
		"empty events batch",
		"outside 1900..2262",
		"not a JSON document",
		"not valid UTF-8",
		"event has none of read, write, closed",
		"oneof envoy.data.tap.v3.SocketEvent.event_selector is already set",
		"broken JSON document starting at byte",
	}
	require.Len(t, reasons, len(wantReasons), "%q", reasons)
	for i, w := range wantReasons {
		require.Contains(t, reasons[i], w, "reject %d", i)
	}

	ct, c := schema.EnvoytapConnections, res.Records[1]
	require.Equal(t, 3, res.Rows(1))
	// Document 1: camelCase keys, max uint64, IPv6.
	require.Equal(t, uint64(math.MaxUint64), cell(t, ct, c, "trace_id", 0))
	require.Equal(t, "[::1]:10000", cell(t, ct, c, "local_address", 0))
	require.Equal(t, "::1", cell(t, ct, c, "local_host", 0))
	require.Equal(t, "[2001:db8::7]:51234", cell(t, ct, c, "remote_address", 0))
	// Document 3: pipe and internal addresses, sample rate, reads only.
	require.Equal(t, "/run/envoy/admin.sock", cell(t, ct, c, "local_address", 1))
	require.Equal(t, uint16(0), cell(t, ct, c, "local_port", 1))
	require.Equal(t, "envoy://internal_listener/ep-1", cell(t, ct, c, "remote_address", 1))
	require.Equal(t, "envoy://internal_listener", cell(t, ct, c, "remote_host", 1))
	require.Equal(t, 0.0025, cell(t, ct, c, "sample_rate", 1))
	require.Equal(t, true, cell(t, ct, c, "is_error", 1), "reads and no writes")
	require.Equal(t, "2024-03-01T10:00:00.000000001Z", cell(t, ct, c, "first_event", 1), "events out of order: min")
	require.Equal(t, "2024-03-01T10:00:00.25Z", cell(t, ct, c, "last_event", 1))
	require.InDelta(t, 249.999999, cell(t, ct, c, "duration_ms", 1), 1e-9)
	// Document 4: no events: no duration, no evidence of an error.
	require.Equal(t, "dns.internal:domain", cell(t, ct, c, "remote_address", 2))
	require.Nil(t, cell(t, ct, c, "duration_ms", 2))
	require.Equal(t, false, cell(t, ct, c, "is_error", 2))

	et, e := schema.EnvoytapEvents, res.Records[0]
	require.Equal(t, 6, res.Rows(0))
	// Document 2: numeric uint64 id, zone offset, unpadded base64, batch index.
	require.Equal(t, uint64(math.MaxUint64), cell(t, et, e, "trace_id", 0))
	require.Equal(t, "2025-02-14T03:24:42.973767Z", cell(t, et, e, "timestamp", 0))
	require.Equal(t, "HTTP/1.1 200 OK\r\n", cell(t, et, e, "body", 0))
	require.Equal(t, uint64(7), cell(t, et, e, "seq_num", 0))
	require.Equal(t, uint32(1), cell(t, et, e, "event_index", 1))
	// Document 3: as_string with escapes kept byte for byte.
	require.Equal(t, "NUL\x00 \"quoted\" café\n", cell(t, et, e, "body", 3))
	// Document 7b: found again after the broken document before it.
	require.Equal(t, uint64(9), cell(t, et, e, "trace_id", 4))
	// Document 17: a half-close with a truncated empty body.
	require.Equal(t, true, cell(t, et, e, "end_stream", 5))
	require.Equal(t, true, cell(t, et, e, "truncated", 5))
	require.Equal(t, uint32(0), cell(t, et, e, "bytes", 5))
}

func TestRejectBoundsAfterBrokenDocument(t *testing.T) {
	t.Parallel()
	payload := "{\n \"socket_streamed_trace_segment\": {\n  \"trace_id\": \"8\"\n  \"event\": {}\n }\n}{\n \"socket_streamed_trace_segment\": {\"trace_id\": \"9\", \"connection\": {}}\n}\n" +
		"junk\n{\"socket_streamed_trace_segment\": {\"trace_id\": \"10\", \"connection\": {}}}"
	res := decodeOne(t, newDecoder(), SubjectJSON, []byte(payload))
	defer res.Release()
	require.Equal(t, 2, res.Output.Records)
	require.Len(t, res.Output.Rejects, 2)
	first := res.Output.Rejects[0]
	require.Equal(t, 1, first.Line)
	require.True(t, strings.HasSuffix(payload[first.Start:first.End], "\n}"), "the broken document ends at the '}' before \"{\": %q", payload[first.Start:first.End])
	require.Equal(t, "junk\n", payload[res.Output.Rejects[1].Start:res.Output.Rejects[1].End])
	require.Equal(t, 9, res.Output.Rejects[1].Line)
}

func TestSubjects(t *testing.T) {
	t.Parallel()
	for subject, want := range map[string]struct {
		enc   encoding
		envoy string
	}{
		"logs.envoytap.json":                   {encJSON, ""},
		"logs.envoytap.proto":                  {encProto, ""},
		"logs.envoytap.json.edge-1":            {encJSON, "edge-1"},
		"logs.envoytap.proto.pod-7.1715000000": {encProto, "pod-7.1715000000"},
		"logs.envoytap.jsonx":                  {encUnknown, ""},
		"logs.envoytap.other":                  {encUnknown, ""},
		"":                                     {encUnknown, ""},
	} {
		enc, envoy := parseSubject(subject)
		require.Equal(t, want.enc, enc, subject)
		require.Equal(t, want.envoy, envoy, subject)
	}
	require.Equal(t, encJSON, sniff([]byte(" \n\t{")))
	require.Equal(t, encProto, sniff([]byte{0x1a, '{'}))
	require.Equal(t, encProto, sniff(nil))
}

// TestSubjectDecidesEncoding: a 123-byte length-delimited message starts with
// '{' (0x7b); on the proto subject it must not be read as JSON.
func TestSubjectDecidesEncoding(t *testing.T) {
	t.Parallel()
	var payload []byte
	for n := 0; len(payload) == 0 || payload[0] != '{'; n++ {
		w := `{"socket_streamed_trace_segment":{"trace_id":"1","event":{"timestamp":"2024-01-01T00:00:00Z","read":{"data":{"as_bytes":"` +
			base64.StdEncoding.EncodeToString([]byte(strings.Repeat("A", n))) + `"}}}}}`
		payload = lengthDelimitedDoc(t, w)
		require.Less(t, n, 123)
	}
	res := decodeOne(t, newDecoder(), SubjectProto, payload)
	defer res.Release()
	require.Empty(t, res.Output.Rejects)
	require.Equal(t, 1, res.Output.Records)

	sniffed := decodeOne(t, newDecoder(), "some.other.subject", payload)
	defer sniffed.Release()
	require.Len(t, sniffed.Output.Rejects, 1, "without the subject, '{' means JSON")
}

// TestProtoMatchesJSON decodes every JSON testdata file and its
// length-delimited protobuf twin and requires identical rows.
func TestProtoMatchesJSON(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob("testdata/*.pbld")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, p := range paths {
		jsonPath := strings.TrimSuffix(p, ".pbld") + ".json"
		if _, err := os.Stat(jsonPath); err != nil {
			continue
		}
		fromJSON := decodeOne(t, newDecoder(), SubjectJSON, readFile(t, jsonPath))
		fromProto := decodeOne(t, newDecoder(), SubjectProto, readFile(t, p))
		require.Empty(t, fromProto.Output.Rejects, p)
		require.Equal(t, fromJSON.Output.Records, fromProto.Output.Records, p)
		for i := range fromJSON.Records {
			require.Truef(t, array.RecordEqual(fromJSON.Records[i], fromProto.Records[i]), "%s table %d:\njson  %v\nproto %v", p, i, fromJSON.Records[i], fromProto.Records[i])
		}
		fromJSON.Release()
		fromProto.Release()
	}
}

// TestV2alphaBinaryConnection: v2alpha numbers Connection's addresses 2 and
// 3 where v3 uses 1 and 2; read naively, local would land in remote.
func TestV2alphaBinaryConnection(t *testing.T) {
	t.Parallel()
	res := decodeOne(t, newDecoder(), SubjectProto, readFile(t, "testdata/streaming-flow-v2alpha.pbld"))
	defer res.Release()
	require.Empty(t, res.Output.Rejects)
	ct, c := schema.EnvoytapConnections, res.Records[1]
	require.Equal(t, "127.0.0.1:1000", cell(t, ct, c, "local_address", 0))
	require.Equal(t, "10.0.0.3:50000", cell(t, ct, c, "remote_address", 0))
}

// TestV2alphaFieldsAgree verifies the claim in v2alpha.go field by field on
// the generated descriptors: every socket message of v2alpha has the same
// field names, numbers and kinds in v3, except Connection's numbers.
func TestV2alphaFieldsAgree(t *testing.T) {
	t.Parallel()
	for _, pair := range v2alphaPairs() {
		old, cur := pair[0], pair[1]
		of := old.Fields()
		for i := 0; i < of.Len(); i++ {
			f := of.Get(i)
			g := cur.Fields().ByName(f.Name())
			require.NotNil(t, g, "%s.%s has no v3 counterpart", old.FullName(), f.Name())
			require.Equal(t, f.Kind(), g.Kind(), "%s.%s kind", old.FullName(), f.Name())
			require.Equal(t, f.JSONName(), g.JSONName(), "%s.%s JSON name", old.FullName(), f.Name())
			require.Equal(t, f.Cardinality(), g.Cardinality(), "%s.%s cardinality", old.FullName(), f.Name())
			if old.Name() == "Connection" {
				require.Equal(t, f.Number()-1, g.Number(), "Connection.%s: v2alpha number = v3 number + 1", f.Name())
			} else {
				require.Equal(t, f.Number(), g.Number(), "%s.%s number", old.FullName(), f.Name())
			}
		}
	}
}

func TestBodyPrefixOption(t *testing.T) {
	t.Parallel()
	payload := readFile(t, "testdata/streaming-flow.json")
	for limit, want := range map[int]string{3: "hel", -1: "", 100: "hello"} {
		d, err := New(decode.Options{BodyPrefix: limit})
		require.NoError(t, err)
		res := decodeOne(t, d, SubjectJSON, payload)
		require.Equal(t, want, cell(t, schema.EnvoytapEvents, res.Records[0], "body", 0), "limit %d", limit)
		require.Equal(t, uint32(5), cell(t, schema.EnvoytapEvents, res.Records[0], "bytes", 0), "bytes counts the whole captured body")
		res.Release()
	}
}

func TestAdversarialProto(t *testing.T) {
	t.Parallel()
	payload := readFile(t, "testdata/adversarial-proto.pbld")
	res := decodeOne(t, newDecoder(), SubjectProto, payload)
	defer res.Release()
	require.Equal(t, 2, res.Output.Records)
	var reasons []string
	for _, rj := range res.Output.Rejects {
		reasons = append(reasons, rj.Reason)
	}
	require.Len(t, reasons, 4, "%q", reasons)
	require.Contains(t, reasons[0], "not an Envoy tap TraceWrapper")
	require.Contains(t, reasons[1], "no socket trace")
	require.Contains(t, reasons[2], "HTTP tap trace")
	require.Contains(t, reasons[3], "corrupt length prefix")
	last := res.Output.Rejects[3]
	require.Equal(t, len(payload), last.End, "a corrupt length prefix rejects the rest of the payload")
	ct, c := schema.EnvoytapConnections, res.Records[1]
	require.Equal(t, "10.1.0.1:8080", cell(t, ct, c, "local_address", 0), "v2alpha connection repaired")
	require.Equal(t, "10.2.0.9:40123", cell(t, ct, c, "remote_address", 0))
}

func TestLengthPrefixNotAVarint(t *testing.T) {
	t.Parallel()
	good := lengthDelimitedDoc(t, `{"socket_streamed_trace_segment":{"trace_id":"1","connection":{}}}`)
	payload := append(append([]byte{}, good...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	res := decodeOne(t, newDecoder(), SubjectProto, payload)
	defer res.Release()
	require.Equal(t, 1, res.Output.Records)
	require.Len(t, res.Output.Rejects, 1)
	require.Contains(t, res.Output.Rejects[0].Reason, "not a varint")
	require.Equal(t, len(good), res.Output.Rejects[0].Start)
}

func lengthDelimitedDoc(t *testing.T, doc string) []byte {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "doc.json")
	require.NoError(t, os.WriteFile(p, []byte(doc), 0o644))
	return lengthDelimited(t, p)
}

func inputs(t *testing.T) []decodetest.Input {
	ins := decodetest.ReadInputs(t, "testdata/*.json", SubjectJSON+".test-envoy")
	for _, in := range decodetest.ReadInputs(t, "testdata/*.pbld", SubjectProto+".test-envoy") {
		in.Name += ".pbld"
		ins = append(ins, in)
	}
	return ins
}

func TestConformance(t *testing.T) {
	decodetest.Run(t, newDecoder, inputs(t))
}

func TestGolden(t *testing.T) {
	decodetest.Golden(t, newDecoder, decodetest.ReadInputs(t, "testdata/*.json", SubjectJSON+".test-envoy"))
}
