package gen

import (
	"bytes"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest/decode"
	webdebugdec "github.com/tapline/tapline/ingest/decode/webdebug"
	"github.com/tapline/tapline/internal/decodetest"
	"github.com/tapline/tapline/schema"
)

// TestWebdebugVariety decodes generated documents and checks that they
// cover what the generator promises: every documented event type and a
// custom one, nesting to depth 3, "id" and "uuid", the legacy draft shape
// ("state", query "request" events), PHP-style escaped slashes, and one
// query sample per timed query event.
func TestWebdebugVariety(t *testing.T) {
	t.Parallel()
	dec, err := webdebugdec.New(decode.Options{})
	require.NoError(t, err)
	mem := memory.NewGoAllocator()
	out := decode.Output{}
	for _, tbl := range dec.Tables() {
		out.Builders = append(out.Builders, tbl.NewBuilder(mem))
	}
	g := NewWebdebug(Options{Seed: 3, Start: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)})
	var rec Record
	seen := map[string]bool{}
	querySamples := 0
	for i := 0; i < 400; i++ {
		g.Next(&rec)
		require.True(t, rec.Valid)
		require.Equal(t, WebdebugScheme, rec.Subject)
		dec.Decode(rec.Data, decode.Meta{Subject: rec.Subject}, &out)
		querySamples += len(rec.More)
		for _, probe := range []string{`"id": `, `"uuid": `, `"id":"`, `"state": `, `\/`, `"type": "mysql"`} {
			if bytes.Contains(rec.Data, []byte(probe)) {
				seen[probe] = true
			}
		}
	}
	require.Empty(t, out.Rejects)
	events := out.Builders[0].NewRecord()
	defer events.Release()
	docs := out.Builders[1].NewRecord()
	defer docs.Release()

	tbl := schema.WebdebugEvents
	typ, kind := events.Column(tbl.Index("type")), events.Column(tbl.Index("sample_kind"))
	depth := events.Column(tbl.Index("depth")).(*array.Uint8)
	maxDepth, queries := uint8(0), 0
	for i := 0; i < int(events.NumRows()); i++ {
		seen["type "+decodetest.Value(t, typ, i).(string)] = true
		if decodetest.Value(t, kind, i) == "query" {
			queries++
		}
		maxDepth = max(maxDepth, depth.Value(i))
	}
	for _, want := range []string{"type log", "type query", "type request", "type response", "type middleware", "type template",
		"type email", "type event", "type accessCheck", "type cache",
		`"id": `, `"uuid": `, `"id":"`, `"state": `, `\/`, `"type": "mysql"`} {
		require.True(t, seen[want], "never generated: %s", want)
	}
	require.Equal(t, uint8(3), maxDepth, "request > middleware > query > log")
	require.Equal(t, querySamples, queries, "Record.More has one sample per query row with a duration")
	require.Equal(t, int64(400), docs.NumRows())
}
