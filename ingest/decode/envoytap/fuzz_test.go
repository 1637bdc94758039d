package envoytap

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/tapline/tapline/ingest/decode"
)

// FuzzDecode feeds arbitrary payloads, seeded with testdata, on the JSON and
// the protobuf subject, and checks: nothing panics; columns of a table agree
// in length; a payload with anything but white space yields at least one
// record or reject; rejects lie inside the payload, in order, without
// overlapping. On the protobuf subject it also checks a round trip: the
// messages the decoder accepted, re-encoded as JSON documents with protojson
// and decoded on the JSON subject, give exactly the same rows.
func FuzzDecode(f *testing.F) {
	for _, pattern := range []string{"testdata/*.json", "testdata/*.pbld"} {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b, filepath.Ext(p) == ".pbld")
		}
	}
	mem := memory.NewGoAllocator()
	f.Fuzz(func(t *testing.T, payload []byte, isProto bool) {
		subject := SubjectJSON
		if isProto {
			subject = SubjectProto
		}
		recs, out := fuzzDecode(t, mem, subject, payload)
		defer release(recs)
		if len(bytes.TrimSpace(payload)) > 0 && out.Records+len(out.Rejects) == 0 {
			t.Fatalf("%d bytes yielded neither records nor rejects", len(payload))
		}
		prevEnd := 0
		for _, rj := range out.Rejects {
			if rj.Start < prevEnd || rj.End < rj.Start || rj.End > len(payload) || rj.Reason == "" {
				t.Fatalf("bad reject %+v after %d in %d bytes", rj, prevEnd, len(payload))
			}
			prevEnd = rj.End
		}
		if !isProto {
			return
		}
		again, _ := fuzzDecode(t, mem, SubjectJSON, acceptedAsJSON(t, payload))
		defer release(again)
		for i := range recs {
			if !array.RecordEqual(recs[i], again[i]) {
				t.Fatalf("table %d: protobuf and its JSON re-encoding differ:\nproto %v\njson  %v", i, recs[i], again[i])
			}
		}
	})
}

func fuzzDecode(t *testing.T, mem memory.Allocator, subject string, payload []byte) ([]arrow.Record, decode.Output) {
	dec := newDecoder()
	out := decode.Output{}
	for _, tbl := range dec.Tables() {
		out.Builders = append(out.Builders, tbl.NewBuilder(mem))
	}
	dec.Decode(payload, decode.Meta{Subject: subject}, &out)
	var recs []arrow.Record
	for _, b := range out.Builders {
		rec := b.NewRecord()
		for _, col := range rec.Columns() {
			if col.Len() != int(rec.NumRows()) {
				t.Fatalf("column length %d != rows %d", col.Len(), rec.NumRows())
			}
		}
		recs = append(recs, rec)
		b.Release()
	}
	return recs, out
}

func release(recs []arrow.Record) {
	for _, r := range recs {
		r.Release()
	}
}

// acceptedAsJSON re-encodes, as concatenated JSON documents, the messages of
// a length-delimited payload that the decoder would accept.
func acceptedAsJSON(t *testing.T, payload []byte) []byte {
	var out []byte
	var rec record
	for off := 0; off < len(payload); {
		n, k := binary.Uvarint(payload[off:])
		if k <= 0 || n > uint64(len(payload)-off-k) {
			break
		}
		msg := payload[off+k : off+k+int(n)]
		off += k + int(n)
		var w tapv3.TraceWrapper
		if proto.Unmarshal(msg, &w) != nil || repairV2alpha(&w) != nil || rec.fromWrapper(&w) != nil {
			continue
		}
		doc, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(&w)
		if err != nil {
			t.Fatalf("accepted message does not re-encode as JSON: %v", err)
		}
		out = append(out, doc...)
	}
	return out
}
