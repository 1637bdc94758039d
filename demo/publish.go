package demo

import (
	"bytes"
	"context"
	"sort"
	"sync/atomic"
	"time"

	"github.com/tapline/tapline/app"
	"github.com/tapline/tapline/gen"
	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/ingest/decode"
)

// publishGenerated publishes n records of each format, several records per
// message for line formats.
func publishGenerated(ctx context.Context, pub *ingest.Publisher, want map[string]int, seed uint64, malformed float64, published *atomic.Int64) error {
	formats := make([]string, 0, len(want))
	for f := range want {
		formats = append(formats, f)
	}
	sort.Strings(formats)
	start := time.Now().UTC().Add(-10 * time.Minute)
	for _, f := range formats {
		g, err := gen.New(f, gen.Options{Seed: seed, Start: start, Step: 10 * time.Minute / time.Duration(max(want[f], 1)), Malformed: malformed})
		if err != nil {
			return err
		}
		lineFormat := app.Framing(f) == decode.Lines
		bufs := map[string]*bytes.Buffer{}
		counts := map[string]int{}
		flush := func(subj string) error {
			if counts[subj] == 0 {
				return nil
			}
			data := bytes.Clone(bufs[subj].Bytes())
			bufs[subj].Reset()
			counts[subj] = 0
			return pub.PublishAsync(ctx, subj, data, "")
		}
		var r gen.Record
		for i := 0; i < want[f]; i++ {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			g.Next(&r)
			b := bufs[r.Subject]
			if b == nil {
				b = &bytes.Buffer{}
				bufs[r.Subject] = b
			}
			b.Write(r.Data)
			if lineFormat {
				b.WriteByte('\n')
			}
			counts[r.Subject]++
			published.Add(1)
			if !lineFormat || counts[r.Subject] >= 500 {
				if err := flush(r.Subject); err != nil {
					return err
				}
			}
		}
		for subj := range bufs {
			if err := flush(subj); err != nil {
				return err
			}
		}
	}
	return pub.Flush(ctx)
}
