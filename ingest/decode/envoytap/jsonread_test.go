package envoytap

import (
	"bytes"
	"testing"
	"time"

	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/tapline/tapline/gen"
	"github.com/tapline/tapline/ingest/decode/jsonscan"
	"github.com/tapline/tapline/internal/decodetest"
)

// jsonDocs splits concatenated JSON documents (as the decoder does) and
// returns those that are well-formed.
func jsonDocs(payload []byte) [][]byte {
	var docs [][]byte
	var sc jsonscan.Scanner
	for off := skipSpace(payload, 0); off < len(payload); off = skipSpace(payload, off) {
		if payload[off] != '{' {
			off = resync(payload, off)
			continue
		}
		sc.Reset(payload[off:])
		raw, ok := sc.Skip()
		if !ok {
			off = resync(payload, off)
			continue
		}
		docs = append(docs, raw)
		off += len(raw)
	}
	return docs
}

// readWhole reads doc with jr.next and reports whether it read all of it as
// one document.
func readWhole(jr *jsonReader, doc []byte, w *tapv3.TraceWrapper) bool {
	n, ok := jr.next(doc, w)
	return ok && n == len(doc)
}

// readMatchesProtojson checks the fast path's contract on one document:
// where it reads the document, protojson reads it too, into an equal
// message. It returns whether the fast path read it.
func readMatchesProtojson(t *testing.T, jr *jsonReader, doc []byte) bool {
	t.Helper()
	var fast, slow tapv3.TraceWrapper
	if !readWhole(jr, doc, &fast) {
		return false
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(doc, &slow); err != nil {
		t.Fatalf("the fast path read a document protojson refuses (%v):\n%s", err, doc)
	}
	if !proto.Equal(&fast, &slow) {
		t.Fatalf("the fast path and protojson differ on\n%s\nfast:      %v\nprotojson: %v", doc, &fast, &slow)
	}
	return true
}

// TestJSONReaderMatchesProtojson holds the hand-written JSON reader to
// protojson on every JSON document of testdata and on generated traffic
// (the loadtest's), and checks that it really is the path those documents
// take: all generated documents and the testdata documents Envoy wrote.
func TestJSONReaderMatchesProtojson(t *testing.T) {
	var jr jsonReader
	envoyWrote := decodetest.ReadInputs(t, "testdata/*.json", SubjectJSON)
	misuse := decodetest.ReadInputs(t, "testdata/misuse/*", SubjectJSON)
	fast, all := 0, 0
	for i, in := range append(envoyWrote, misuse...) {
		for _, doc := range jsonDocs(in.Payload) {
			all++
			if readMatchesProtojson(t, &jr, doc) {
				fast++
			} else if i < len(envoyWrote) && in.Name != "adversarial" {
				t.Errorf("testdata/%s.json: a document Envoy wrote went to protojson:\n%.300s", in.Name, doc)
			}
		}
	}
	t.Logf("testdata: %d of %d documents on the fast path", fast, all)
	if fast == 0 {
		t.Fatal("no testdata document took the fast path")
	}

	g, err := gen.New("envoytap", gen.Options{Seed: 7, Start: time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	var rec gen.Record
	genFast, genAll := 0, 0
	for i := 0; i < 20000; i++ {
		g.Next(&rec)
		if rec.Subject != SubjectJSON && !bytes.HasPrefix([]byte(rec.Subject), []byte(SubjectJSON+".")) {
			continue
		}
		for _, doc := range jsonDocs(rec.Data) {
			genAll++
			if readMatchesProtojson(t, &jr, doc) {
				genFast++
			}
		}
	}
	t.Logf("generated: %d of %d documents on the fast path", genFast, genAll)
	if genAll < 1000 || genFast != genAll {
		t.Fatalf("generated documents on the fast path: %d of %d, want all (and at least 1000)", genFast, genAll)
	}
}

// TestJSONReaderHandsOverWhatItDoesNotKnow checks the shapes the fast path
// leaves to protojson, each of which protojson reads (or refuses) by its
// own rules.
func TestJSONReaderHandsOverWhatItDoesNotKnow(t *testing.T) {
	for _, doc := range []string{
		`{"socket_buffered_trace": {"trace_id": "1", "unknown_member": 1}}`,
		`{"socket_buffered_trace": {"trace_id": "1", "trace_id": "2"}}`,
		`{"socket_buffered_trace": {"trace_id": "1"}, "socket_streamed_trace_segment": {"trace_id": "1"}}`,
		`{"socket_buffered_trace": {"trace_id": "01"}}`,
		`{"socket_buffered_trace": {"trace_id": "1e3"}}`,
		`{"socket_buffered_trace": {"trace_id": " 1"}}`,
		`{"socket_buffered_trace": {"trace_id": "18446744073709551616"}}`,
		`{"socket_buffered_trace": {"connection": null}}`,
		`{"socket_buffered_trace": {"read_truncated": "true"}}`,
		`{"socket_streamed_trace_segment": {"event": {"read": {"data": {"as_bytes": "aGVsbG8"}}}}}`,
		`{"socket_streamed_trace_segment": {"event": {"read": {"data": {"as_bytes": "_-8="}}}}}`,
		`{"socket_streamed_trace_segment": {"event": {"read": {"data": {"as_string": "\u00e9"}}}}}`,
		`{"socket_streamed_trace_segment": {"event": {"read": {"data": {"as_string": "a` + "\x01" + `"}}}}}`,
		`{"socket_streamed_trace_segment": {"event": {"read": {"data": {"as_string": "` + "\xff" + `"}}}}}`,
		`{"socket_streamed_trace_segment": {"event": {"read": {}, "write": {}}}}`,
		`{"socket_streamed_trace_segment": {"event": {"timestamp": "2026-12-04T00:00:00.0000000001Z"}}}`,
		`{"socket_streamed_trace_segment": {"event": {"timestamp": "2026-12-04 00:00:00Z"}}}`,
		`{"socket_streamed_trace_segment": {"connection": {"local_address": {"pipe": {"path": "/tmp/s"}}}}}`,
		`{"socket_streamed_trace_segment": {"connection": {"local_address": {"socket_address": {"protocol": 1}}}}}`,
		`{"socket_streamed_trace_segment": {"connection": {"local_address": {"socket_address": {"port_value": 1, "named_port": "x"}}}}}`,
		`{"socket_streamed_trace_segment": {"connection": {"local_address": {"socket_address": {"port_value": 4294967296}}}}}`,
		`{"http_buffered_trace": {}}`,
	} {
		var jr jsonReader
		var w tapv3.TraceWrapper
		if readWhole(&jr, []byte(doc), &w) {
			t.Errorf("the fast path read what it should hand to protojson:\n%s\ngot %v", doc, &w)
		}
	}
	// And the shapes it does read, in both spellings of the names.
	for _, doc := range []string{
		`{}`,
		`{"socketStreamedTraceSegment": {"traceId": 18446744073709551615, "event": {"timestamp": "2026-12-04T01:02:03.5+01:00", "seqNum": "3", "write": {"endStream": true, "data": {"asString": "a\"b\\c\/d\b\f\n\r\t", "truncated": true}}}}}`,
		`{"socket_streamed_trace_segment": {"events": {"events": [{"closed": {}}, {"read": {"data": {"as_bytes": ""}}}]}}}`,
		`{"configured_sample_rate": {"numerator": 5, "denominator": "TEN_THOUSAND"}, "socket_buffered_trace": {"connection": {"remoteAddress": {"socketAddress": {"protocol": "UDP", "address": "::1", "namedPort": "dns", "resolverName": "r", "ipv4Compat": true}}}, "events": []}}`,
	} {
		var jr jsonReader
		if !readMatchesProtojson(t, &jr, []byte(doc)) {
			t.Errorf("the fast path handed over a document in its shape:\n%s", doc)
		}
	}
}

// FuzzJSONReaderMatchesProtojson: whatever the fast path reads, protojson
// reads the same way, and the document ends where the scanner says
// (seeded with testdata's JSON).
func FuzzJSONReaderMatchesProtojson(f *testing.F) {
	for _, in := range decodetest.ReadInputs(f, "testdata/*.json", SubjectJSON) {
		f.Add(in.Payload) // whole files: several documents, glued "}{" or not
		for _, doc := range jsonDocs(in.Payload) {
			f.Add(doc)
		}
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var jr jsonReader
		readMatchesProtojson(t, &jr, doc)
		// Reading from the start of a payload, the reader ends its document
		// where the scanner does.
		var w tapv3.TraceWrapper
		if n, ok := jr.next(doc, &w); ok {
			var sc jsonscan.Scanner
			sc.Reset(doc)
			if _, ok := sc.Skip(); !ok || sc.Pos() != n {
				t.Fatalf("the reader ends the document at %d, the scanner at %d (%v)", n, sc.Pos(), sc.Err())
			}
		}
	})
}
