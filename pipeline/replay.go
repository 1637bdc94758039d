package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/ingest/decode"
)

// replay finishes what an earlier run left in the journal, before any new
// message is read. A batch journaled but not marked committed may or may not
// have reached ClickHouse: its messages are read again from the stream by
// sequence, decoded (same bytes, same rows) and inserted with the journaled
// token, so ClickHouse drops whatever part of it was already committed.
// Committed batches are remembered so that redeliveries of their messages
// are acknowledged without work.
func (r *runner) replay(ctx context.Context) error {
	recs, err := r.p.journal.List(ctx, r.src.Consumer.Stream(), r.src.Consumer.Durable())
	if err != nil {
		return err
	}
	for _, j := range recs {
		if !j.Committed {
			if ctx.Err() != nil {
				return nil // stopping: the rest is replayed on the next start
			}
			// A replay that started finishes even when the run is stopped,
			// within the shutdown timeout.
			bctx, cancel := drainContext(ctx, r.p.cfg.shutdownTimeout())
			err := r.replayOne(bctx, j)
			if err != nil && ctx.Err() != nil && bctx.Err() != nil {
				cancel()
				return ErrDrainIncomplete
			}
			if err != nil {
				cancel()
				return fmt.Errorf("replay batch %s: %w", j.Token, err)
			}
			j.Committed = true
			err = r.p.journal.Put(bctx, j)
			cancel()
			if err != nil {
				return err
			}
			r.stats.update(func(s *Stats) { s.Replayed++ })
		}
		r.mu.Lock()
		r.done = append(r.done, j)
		r.committed.add(j.Ranges)
		r.mu.Unlock()
	}
	if len(recs) > 0 {
		r.p.log.Info("journal replayed", "source", r.src.Name, "batches", len(recs))
	}
	return nil
}

func (r *runner) replayOne(ctx context.Context, j ingest.BatchRecord) error {
	out := decode.Output{Builders: make([]*array.RecordBuilder, len(r.tables))}
	for i, t := range r.tables {
		out.Builders[i] = t.NewBuilder(r.mem)
	}
	defer func() {
		for _, b := range out.Builders {
			b.Release()
		}
	}()
	h := batchHealth{replayed: true}
	for _, rg := range j.Ranges {
		for seq := rg.First; seq <= rg.Last; seq++ {
			var m *ingest.StoredMsg
			err := r.retry(ctx, "read a journaled message", nil, func() (bool, error) {
				var err error
				m, err = r.src.Consumer.Get(ctx, seq)
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
			r.src.Decoder.Decode(m.Data, decode.Meta{Subject: m.Subject}, &out)
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
