package baseline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/gen"
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/schema"
)

// ceilingBatchLines is the lines of one batch of BenchmarkCeiling, about
// where tapline's batches of these formats close in a drain (32 MiB or
// 100,000 rows).
const ceilingBatchLines = 50_000

// ceilingMsgLines and ceilingMsgBytes bound one message as the loadtest
// packs line formats by default (--records-per-message 100,
// --max-message-bytes 16384): the engine baseline hands the engine one
// chunk per message, and the size of the chunks moves its speed.
const ceilingMsgLines, ceilingMsgBytes = 100, 16 << 10

// ceilingMix weighs the formats as the loadtest's default mix publishes
// them (sofarpc 40%, g3proxy 20%, django 20%).
var ceilingMix = map[string]float64{"sofarpc": 2, "g3proxy": 1, "django": 1}

// ceilingBatch is one batch of one format, both ways: tapline's decoded
// Arrow records per table, and the raw lines per engine statement in
// messages as the loadtest publishes them (each a chunk of the insert, as
// the engine baseline hands them over).
type ceilingBatch struct {
	tables []*schema.Table
	recs   []arrow.Record
	msgs   map[string][][]byte
}

func (c *ceilingBatch) release() {
	for _, r := range c.recs {
		r.Release()
	}
}

// nextCeilingBatch takes n valid lines from g and decodes them with dec.
func nextCeilingBatch(tb testing.TB, g gen.Generator, dec decode.Decoder, n int) *ceilingBatch {
	tb.Helper()
	mem := memory.NewGoAllocator()
	out := decode.Output{}
	for _, tbl := range dec.Tables() {
		out.Builders = append(out.Builders, tbl.NewBuilder(mem))
	}
	c := &ceilingBatch{msgs: map[string][][]byte{}}
	open := map[string][]byte{} // a subject's message being packed
	lines := map[string]int{}
	var r gen.Record
	for i := 0; i < n; {
		g.Next(&r)
		if !r.Valid {
			continue
		}
		line := append(append([]byte(nil), r.Data...), '\n')
		dec.Decode(line, decode.Meta{Subject: r.Subject}, &out)
		_, stmt, ok := statement(r.Subject)
		require.True(tb, ok, r.Subject)
		if m := open[r.Subject]; len(m) > 0 && (lines[r.Subject] == ceilingMsgLines || len(m)+len(line) > ceilingMsgBytes) {
			c.msgs[stmt] = append(c.msgs[stmt], m)
			open[r.Subject], lines[r.Subject] = nil, 0
		}
		open[r.Subject] = append(open[r.Subject], line...)
		lines[r.Subject]++
		i++
	}
	for subject, m := range open {
		if len(m) > 0 {
			_, stmt, _ := statement(subject)
			c.msgs[stmt] = append(c.msgs[stmt], m)
		}
	}
	for i, tbl := range dec.Tables() {
		rec := out.Builders[i].NewRecord()
		if rec.NumRows() == 0 {
			rec.Release()
			continue
		}
		c.tables, c.recs = append(c.tables, tbl), append(c.recs, rec)
	}
	return c
}

// BenchmarkCeiling measures what tapline's inserts alone save against the
// loadtest's engine baseline: issue 11's "tapline ÷ engine" ratio as it
// would be if decoding, NATS and everything else of tapline cost nothing
// and tapline inserted one batch at a time, as the baseline does (make
// bench-ceiling). It takes a batch of generated valid lines of each
// JSON-lines format and inserts it once as tapline does (its decoded
// Arrow records, Target.Insert, every table of the batch) into one
// database with tapline's schema, and once as the engine baseline inserts
// it (the same lines, FORMAT JSONEachRow, through Prepare's raw tables and
// mapping views, one chunk per message of the loadtest's default size)
// into another, alternating which goes first. Batches are
// generated and decoded outside the timed inserts; every iteration uses
// new lines, so the pairing views of django see new requests. Reported
// per format: its json/arrow ratio of insert time; and mix, the same over
// the loadtest's default mix (sofarpc counted twice). Both paths run the
// same materialized views, so the ratio is the work tapline's inserts
// save; TestEngineMappingWritesWhatTaplineWrites checks that both write
// the same rows.
func BenchmarkCeiling(b *testing.B) {
	ctx := context.Background()
	viaTapline, _, raw := twoSchemas(b)
	type side struct {
		gen    gen.Generator
		dec    decode.Decoder
		arrow  time.Duration
		json   time.Duration
		format string
	}
	var sides []*side
	for _, f := range JSONFormats() {
		g, err := gen.New(f, gen.Options{Seed: 9, Start: time.Now().Add(-time.Hour), Step: 200 * time.Microsecond})
		require.NoError(b, err)
		dec, err := decoders[f](decode.Options{})
		require.NoError(b, err)
		sides = append(sides, &side{gen: g, dec: dec, format: f})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, s := range sides {
			b.StopTimer()
			c := nextCeilingBatch(b, s.gen, s.dec, ceilingBatchLines)
			b.StartTimer()
			for turn := range 2 {
				start := time.Now()
				if (turn == 0) == (i%2 == 0) {
					for t, rec := range c.recs {
						if err := viaTapline.Insert(ctx, c.tables[t], rec, fmt.Sprintf("ceiling:%s:%d:%d", s.format, i, t)); err != nil {
							b.Fatal(err)
						}
					}
					s.arrow += time.Since(start)
					continue
				}
				for stmt, msgs := range c.msgs {
					if err := raw.InsertRaw(ctx, stmt, "JSONEachRow", msgs...); err != nil {
						b.Fatal(err)
					}
				}
				s.json += time.Since(start)
			}
			c.release()
		}
	}
	b.StopTimer()
	var mixArrow, mixJSON float64
	for _, s := range sides {
		b.ReportMetric(s.json.Seconds()/s.arrow.Seconds(), s.format+"-json/arrow")
		mixArrow += ceilingMix[s.format] * s.arrow.Seconds()
		mixJSON += ceilingMix[s.format] * s.json.Seconds()
	}
	b.ReportMetric(mixJSON/mixArrow, "mix-json/arrow")
	b.ReportMetric(0, "ns/op") // an iteration holds both paths of every format: see the ratios
}
