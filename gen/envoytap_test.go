package gen

import (
	"bytes"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest/decode"
	envoytapdec "github.com/tapline/tapline/ingest/decode/envoytap"
	"github.com/tapline/tapline/internal/decodetest"
	"github.com/tapline/tapline/schema"
)

// TestEnvoytapTruthMatchesDecoder decodes generated records one message each
// and checks that every latency_1m sample's truth is what the decoder writes
// into envoytap_connections (the view's input): duration, error, remote host
// (service), listener (operation). It also checks that the generator covers
// the shapes it promises.
func TestEnvoytapTruthMatchesDecoder(t *testing.T) {
	t.Parallel()
	dec, err := envoytapdec.New(decode.Options{})
	require.NoError(t, err)
	g := NewEnvoytap(Options{Seed: 11, Start: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)})
	mem := memory.NewGoAllocator()
	ct := schema.EnvoytapConnections
	seen := map[string]int{}
	var rec Record
	for i := 0; i < 3000; i++ {
		g.Next(&rec)
		require.True(t, rec.Valid)
		out := decode.Output{}
		for _, tbl := range dec.Tables() {
			out.Builders = append(out.Builders, tbl.NewBuilder(mem))
		}
		dec.Decode(rec.Data, decode.Meta{Subject: rec.Subject}, &out)
		require.Equal(t, 1, out.Records, "%s", rec.Data)
		events, conns := out.Builders[0].NewRecord(), out.Builders[1].NewRecord()

		seen[rec.Subject]++
		for _, shape := range []string{`"as_string"`, `"events": {`, `"truncated": true`, `"seq_num": "1"`} {
			if bytes.Contains(rec.Data, []byte(shape)) {
				seen[shape]++
			}
		}
		if rec.Sample {
			require.EqualValues(t, 1, conns.NumRows())
			col := func(name string) arrow.Array { return conns.Column(ct.Index(name)) }
			require.Equal(t, "buffered", decodetest.Value(t, col("mode"), 0))
			require.Equal(t, rec.LatencyMs, col("duration_ms").(*array.Float64).Value(0))
			require.Equal(t, rec.Error, col("is_error").(*array.Boolean).Value(0))
			require.Equal(t, rec.Service, decodetest.Value(t, col("remote_host"), 0))
			require.Equal(t, rec.Operation, decodetest.Value(t, col("local_address"), 0))
			require.Less(t, col("local_port").(*array.Uint16).Value(0), uint16(32768), "operation is the listener address as the view writes it")
			require.Equal(t, rec.Time.UnixNano(), int64(col("last_event").(*array.Timestamp).Value(0)))
			if rec.Error {
				seen["error"]++
			}
		} else {
			seen["streamed"]++
		}
		events.Release()
		conns.Release()
		for _, b := range out.Builders {
			b.Release()
		}
	}
	for _, shape := range []string{EnvoytapJSON, EnvoytapProto, `"as_string"`, `"events": {`, `"truncated": true`, `"seq_num": "1"`, "error", "streamed"} {
		require.Positive(t, seen[shape], "generator never produced %s", shape)
	}
}
