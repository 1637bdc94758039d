package probe

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/gen"
	"github.com/tapline/tapline/ingest/decode"
	djangodec "github.com/tapline/tapline/ingest/decode/django"
	envoytapdec "github.com/tapline/tapline/ingest/decode/envoytap"
	g3proxydec "github.com/tapline/tapline/ingest/decode/g3proxy"
	sofarpcdec "github.com/tapline/tapline/ingest/decode/sofarpc"
	webdebugdec "github.com/tapline/tapline/ingest/decode/webdebug"
	"github.com/tapline/tapline/internal/embeddedtest"
	"github.com/tapline/tapline/sql"
)

func TestMain(m *testing.M) { embeddedtest.Main(m) }

var decoders = map[string]decode.Constructor{
	"sofarpc":  sofarpcdec.New,
	"g3proxy":  g3proxydec.New,
	"webdebug": webdebugdec.New,
	"django":   djangodec.New,
	"envoytap": envoytapdec.New,
}

func TestEveryGeneratedFormatHasAProbe(t *testing.T) {
	t.Parallel()
	require.Equal(t, gen.Names(), Formats())
}

func TestNewRejectsUnsafeRunIDs(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "a-b", "A1", "x'y", "run 1"} {
		_, err := New(bad)
		require.Error(t, err, bad)
	}
	m, err := New("r1x")
	require.NoError(t, err)
	require.Equal(t, "r1x", m.Run())
}

// TestProbesDecodeLandAndAreFound decodes every format's probes with the
// format's decoder (one record, one row in Table, nothing rejected), inserts
// the rows into a database with tapline's schema, and finds exactly this
// run's probes again: not those of another run in the same tables, and with
// their ingested_at.
func TestProbesDecodeLandAndAreFound(t *testing.T) {
	ctx := context.Background()
	target := embeddedtest.Target(t, 2)
	require.NoError(t, sql.Apply(ctx, target))
	at := time.Now().UTC()
	for _, run := range []string{"thisrun", "otherrun"} {
		m, err := New(run)
		require.NoError(t, err)
		for _, f := range Formats() {
			dec, err := decoders[f](decode.Options{})
			require.NoError(t, err)
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			out := decode.Output{}
			for _, tbl := range dec.Tables() {
				out.Builders = append(out.Builders, tbl.NewBuilder(mem))
			}
			n := 3
			if run == "otherrun" {
				n = 1
			}
			for i := 0; i < n; i++ {
				data := m.Append(nil, f, uint64(i+1), at)
				dec.Decode(data, decode.Meta{Subject: m.Subject(f)}, &out)
			}
			require.Empty(t, out.Rejects, "%s probe rejected: %+v", f, out.Rejects)
			require.Equal(t, n, out.Records, f)
			for i, tbl := range dec.Tables() {
				rec := out.Builders[i].NewRecord()
				if tbl.Name() == Table(f) {
					require.EqualValues(t, n, rec.NumRows(), "%s: one row per probe in %s", f, tbl.Name())
				} else {
					require.Zero(t, rec.NumRows(), "%s: no rows in %s", f, tbl.Name())
				}
				if rec.NumRows() > 0 {
					require.NoError(t, target.Insert(ctx, tbl, rec, ""))
				}
				rec.Release()
				out.Builders[i].Release()
			}
			mem.AssertSize(t, 0)
		}
	}
	m, err := New("thisrun")
	require.NoError(t, err)
	for _, f := range Formats() {
		landed, err := m.Find(ctx, target, f)
		require.NoError(t, err)
		require.Len(t, landed, 3, f)
		seen := map[uint64]bool{}
		for _, l := range landed {
			require.Equal(t, f, l.Format)
			seen[l.N] = true
			require.WithinDuration(t, time.Now(), l.IngestedAt, time.Minute, "%s: ingested_at is the insert time", f)
		}
		require.Equal(t, map[uint64]bool{1: true, 2: true, 3: true}, seen, f)
	}
	out, err := target.Query(ctx, "SELECT count() FROM latency_1m", "TabSeparated", nil)
	require.NoError(t, err)
	require.Equal(t, "0\n", string(out), "probes add no latency sample")
}
