package gen

import (
	"bytes"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/app"
	"github.com/tapline/tapline/ingest/decode"
	djangodec "github.com/tapline/tapline/ingest/decode/django"
	envoytapdec "github.com/tapline/tapline/ingest/decode/envoytap"
	g3proxydec "github.com/tapline/tapline/ingest/decode/g3proxy"
	sofarpcdec "github.com/tapline/tapline/ingest/decode/sofarpc"
	webdebugdec "github.com/tapline/tapline/ingest/decode/webdebug"
)

// decoders maps each generator to the decoder that must accept its valid
// records and reject its malformed ones.
var decoders = map[string]decode.Constructor{
	"sofarpc":  sofarpcdec.New,
	"g3proxy":  g3proxydec.New,
	"webdebug": webdebugdec.New,
	"django":   djangodec.New,
	"envoytap": envoytapdec.New,
}

func TestGeneratorsAreDeterministic(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for _, name := range Names() {
		a, err := New(name, Options{Seed: 7, Start: start, Malformed: 0.1})
		require.NoError(t, err)
		b, err := New(name, Options{Seed: 7, Start: start, Malformed: 0.1})
		require.NoError(t, err)
		var ra, rb Record
		for i := 0; i < 500; i++ {
			a.Next(&ra)
			b.Next(&rb)
			require.Equal(t, string(ra.Data), string(rb.Data), "%s record %d", name, i)
		}
	}
}

// TestDecodersAgreeWithGenerators decodes generated records one message each
// and checks that exactly the valid ones are accepted.
func TestDecodersAgreeWithGenerators(t *testing.T) {
	t.Parallel()
	for _, name := range Names() {
		newDec, ok := decoders[name]
		require.True(t, ok, "generator %s has no decoder in this test", name)
		dec, err := newDec(decode.Options{})
		require.NoError(t, err)
		g, err := New(name, Options{Seed: 1, Malformed: 0.05})
		require.NoError(t, err)
		mem := memory.NewGoAllocator()
		out := decode.Output{}
		for _, tbl := range dec.Tables() {
			out.Builders = append(out.Builders, tbl.NewBuilder(mem))
		}
		var rec Record
		valid, invalid := 0, 0
		for i := 0; i < 2000; i++ {
			g.Next(&rec)
			before, rejBefore := out.Records, len(out.Rejects)
			dec.Decode(rec.Data, decode.Meta{Subject: rec.Subject}, &out)
			if rec.Valid {
				valid++
				require.Equal(t, before+1, out.Records, "%s: valid record rejected: %s: %v", name, rec.Data, out.Rejects)
			} else {
				invalid++
				require.Equal(t, rejBefore+1, len(out.Rejects), "%s: malformed record accepted: %s", name, rec.Data)
			}
			require.False(t, bytes.Contains(rec.Data, []byte("\n")) && rec.Valid && isLineFormat(name), "%s: line record holds a newline", name)
		}
		require.Positive(t, valid)
		require.Positive(t, invalid)
		for _, b := range out.Builders {
			b.NewRecord().Release()
		}
	}
}

func isLineFormat(name string) bool { return app.Framing(name) == decode.Lines }
