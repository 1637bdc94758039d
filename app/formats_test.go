package app

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest/decode"
)

// TestFramingOfEveryFormat: publishers pack records by the registry's
// framing, so a line format said to be a document (or the reverse) would
// publish messages its decoder splits wrongly.
func TestFramingOfEveryFormat(t *testing.T) {
	t.Parallel()
	want := map[string]decode.Framing{
		"sofarpc": decode.Lines, "django": decode.Lines, "g3proxy": decode.Lines,
		"webdebug": decode.Documents, "envoytap": decode.Documents,
	}
	require.ElementsMatch(t, Formats(), []string{"django", "envoytap", "g3proxy", "sofarpc", "webdebug"})
	for f, fr := range want {
		require.Equal(t, fr, Framing(f), f)
	}
	require.Zero(t, Framing("nope"))
	require.Panics(t, func() { (&decode.Registry{}).Register("x", 0, nil) }, "a format needs a framing")
}

// TestLineFormatsFrameRecords: SpansLines says every line format frames
// with decode.NextRecord, and `publish --follow` cuts their files only at
// record ends on its word. Each line format's decoder must take a JSON
// object over several lines as one record (decoded or rejected whole), not
// one per line.
func TestLineFormatsFrameRecords(t *testing.T) {
	t.Parallel()
	payload := []byte("{\n  \"event\": \"x\",\n  \"n\": 1\n}\n{\"sql\": \"SELECT 1\nFROM t\"}\n")
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	reg := Registry()
	for _, f := range Formats() {
		require.Equal(t, reg.Framing(f) == decode.Lines, SpansLines(f), f)
		if !SpansLines(f) {
			continue
		}
		dec, err := reg.New(f, decode.Options{})
		require.NoError(t, err)
		var out decode.Output
		for _, tbl := range dec.Tables() {
			out.Builders = append(out.Builders, tbl.NewBuilder(mem))
		}
		dec.Decode(payload, decode.Meta{Subject: "logs." + f + ".x"}, &out)
		require.Equal(t, 2, out.Records+len(out.Rejects), "%s: records decoded %d, rejected %+v", f, out.Records, out.Rejects)
		for _, b := range out.Builders {
			b.NewRecord().Release()
			b.Release()
		}
	}
	mem.AssertSize(t, 0)
}
