package envoytap

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/tapline/tapline/internal/decodetest"
)

// BenchmarkDecode decodes messages of n records built from real testdata:
// Envoy's buffered unit-test trace (one record: a connection row and two
// event rows) and its streaming trace (four records: a connection segment and
// three event segments, glued "}{" as the file sink writes them), in JSON and
// in length-delimited protobuf. It reports records/s (records = documents or
// messages). Builders are flushed every 64k records, as the pipeline's
// batches are.
func BenchmarkDecode(b *testing.B) {
	for _, c := range []struct {
		name, file, subject string
		perFile             int
	}{
		{"json_buffered", "testdata/buffered-flow.json", SubjectJSON, 1},
		{"json_streamed", "testdata/streaming-flow.json", SubjectJSON, 4},
		{"proto_buffered", "testdata/buffered-flow.pbld", SubjectProto, 1},
		{"proto_streamed", "testdata/streaming-flow.pbld", SubjectProto, 4},
	} {
		one, err := os.ReadFile(c.file)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range []int{4, 100, 1000} {
			payload := bytes.Repeat(one, n/c.perFile)
			b.Run(fmt.Sprintf("%s/records_per_msg=%d", c.name, n), func(b *testing.B) {
				benchDecode(b, payload, c.subject, n)
			})
		}
	}
}

func benchDecode(b *testing.B, payload []byte, subject string, records int) {
	decodetest.Bench(b, newDecoder, payload, subject, records, "records")
}
