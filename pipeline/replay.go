package pipeline

import (
	"context"
	"errors"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/schema"
)

// replayOne re-inserts a journaled batch that may or may not have reached
// ClickHouse (its owner died or stalled after journaling it): its messages
// are read again from the stream by sequence, decoded (same bytes, same
// rows) and inserted with the journaled token, so ClickHouse drops whatever
// part of it was already committed. Only a message the stream no longer
// holds shortens the batch, and that is logged and counted; any other read
// failure is retried.
func (r *runner) replayOne(ctx context.Context, j ingest.BatchRecord, adopted bool) error {
	out := decode.Output{Builders: make([]*schema.Builder, len(r.tables))}
	for i, t := range r.tables {
		out.Builders[i] = t.NewBuilder(r.mem)
	}
	defer func() {
		for _, b := range out.Builders {
			b.Release()
		}
	}()
	h := batchHealth{replayed: true, adopted: adopted}
	for _, rg := range j.Ranges {
		for seq := rg.First; seq <= rg.Last; seq++ {
			var m *ingest.StoredMsg
			err := r.retry(ctx, "read a journaled message", nil, func() (bool, error) {
				var err error
				gctx, cancel := context.WithCancel(ctx)
				if r.slowReads > 0 {
					r.slowReads--
					cancel()
					gctx, cancel = context.WithTimeout(ctx, 0)
				}
				defer cancel()
				m, err = r.src.Consumer.Get(gctx, seq)
				return err != nil && !errors.Is(err, ingest.ErrMessageGone), err
			})
			if errors.Is(err, ingest.ErrMessageGone) {
				// Only the stream's retention shortens a replayed batch; it
				// is counted and logged, never silent.
				r.p.log.Error("journaled message is gone from the stream (retention); its rows cannot be replayed", "source", r.src.Name, "seq", seq, "batch", j.Token)
				r.stats.update(func(s *Stats) { s.Lost++ })
				continue
			}
			if err != nil {
				return err
			}
			rejBefore := len(out.Rejects)
			r.decode(m.Data, m.Subject, &out)
			if err := r.deadLetter(ctx, m.Subject, seq, m.Data, out.Rejects[rejBefore:]); err != nil {
				return err
			}
			h.messages++
		}
	}
	recs := make([]arrow.Record, len(r.tables))
	for i, b := range out.Builders {
		rec := b.NewRecord()
		if rec.NumRows() > 0 {
			recs[i] = rec
			h.rows += int(rec.NumRows())
		} else {
			rec.Release()
		}
	}
	h.records, h.rejects = out.Records, len(out.Rejects)
	defer func() {
		for _, rec := range recs {
			if rec != nil {
				rec.Release()
			}
		}
	}()
	began := time.Now()
	if err := r.insert(ctx, j.Token, recs, nil); err != nil {
		return err
	}
	h.insert = time.Since(began)
	return r.writeHealth(ctx, j, h, nil)
}
