package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/cenkalti/backoff/v5"

	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/schema"
	"github.com/tapline/tapline/sink"
)

// compactEvery is how many deleted journal records leave their markers
// before the pipeline compacts the journal (in the background: compaction).
const compactEvery = 64

// ackSettle is how long a committed journal record is kept after its
// commit, even when the ack floor has passed it. The server acknowledges in
// memory and writes a consumer's acks to disk about ten times a second,
// while the deletion of a record is written within milliseconds: a server
// killed in between (the embedded one dies with tapline on SIGKILL) comes
// back with the record gone and its messages not acknowledged, and they
// would be inserted again under a new token.
const ackSettle = time.Second

// errCrashed is returned by the writer when the test hook simulates a crash.
var errCrashed = errors.New("simulated crash between insert and ack")

// writer commits batches: journal, insert every table, mark committed,
// acknowledge. Several writers of one source take batches from the same
// channel and insert at once; each batch has its own record and token, so
// their order does not matter. The lead writer, between batches (and every
// sixth of an ack wait when idle), adopts journal records whose owners
// stopped working on them and deletes collected ones. A writer returns on
// the first failure that retrying cannot cure; the failed batch stays
// journaled and unacknowledged.
func (r *runner) writer(ctx context.Context, batches <-chan *batch, lead bool) error {
	lastGC, lastSweep := time.Now(), time.Now()
	tick := time.NewTicker(max(r.src.Consumer.AckWait()/6, 100*time.Millisecond))
	defer tick.Stop()
	fail := func(err error) error {
		// Drain the channel so the reader never blocks on a dead writer.
		go func() {
			for b := range batches {
				b.release()
			}
		}()
		return err
	}
	for {
		var b *batch
		select {
		case nb, ok := <-batches:
			if !ok {
				if lead {
					r.collect(ctx)
				}
				return nil
			}
			b = nb
		case <-tick.C:
		}
		if b != nil {
			err := r.commit(ctx, b, int(r.commits.Add(1)))
			b.release()
			if err != nil {
				return fail(err)
			}
		}
		if !lead {
			continue
		}
		if time.Since(lastSweep) > r.src.Consumer.AckWait()/6 && ctx.Err() == nil {
			if err := r.sweep(ctx, false); err != nil {
				return fail(err)
			}
			lastSweep = time.Now()
		}
		if time.Since(lastGC) > 2*time.Second || len(batches) == 0 {
			r.collect(ctx)
			lastGC = time.Now()
		}
	}
}

func (r *runner) commit(ctx context.Context, b *batch, n int) error {
	// A batch whose messages the server may have handed to another process
	// (this one stalled), or that shares a sequence with another process's
	// record, is not journaled: the other record's token is the only one
	// its sequences may be inserted under.
	if r.handedOver(b.msgs) {
		r.abandon(b, "this process stalled past the ack wait, so its messages may be with another process")
		return nil
	}
	b.journal.Owner, b.journal.Lease = r.p.owner, r.lease()
	if others := r.index.Overlapping(b.journal.Key(), b.journal.Ranges); len(others) > 0 {
		r.abandon(b, "its sequences are in another process's batch "+others[0].Record.Token)
		return nil
	}
	claiming := time.Now()
	e, err := r.claim(ctx, b)
	if err != nil || e == nil {
		return err
	}
	began := time.Now()
	if err := r.insert(ctx, b.journal.Token, b.recs, b.msgs); err != nil {
		return err
	}
	h := batchHealth{messages: len(b.msgs), records: b.records, rejects: b.rejects, rows: b.rows(), insert: time.Since(began)}
	if err := r.writeHealth(ctx, b.journal, h, b.msgs); err != nil {
		return err
	}
	if r.p.cfg.crashAfterInsert == n {
		return errCrashed
	}
	marking := time.Now()
	if err := r.markCommitted(ctx, *e, b.msgs); err != nil {
		return err
	}
	for _, m := range b.msgs {
		if err := m.Ack(); err != nil {
			// The batch is committed and journaled: a redelivery is acked
			// again without being inserted.
			r.p.log.Warn("ack failed; the message will be redelivered and skipped", "source", r.src.Name, "seq", m.Seq, "err", err)
		}
	}
	r.mu.Lock()
	for _, m := range b.msgs {
		delete(r.inflight, m.Seq)
	}
	r.mu.Unlock()
	phases := [...]struct {
		p Phase
		d time.Duration
	}{
		{PhaseQueued, claiming.Sub(b.sealed)},
		{PhaseClaim, began.Sub(claiming)},
		{PhaseInsert, h.insert},
		{PhaseHealth, marking.Sub(began) - h.insert},
		{PhaseJournal, time.Since(marking)},
	}
	// Before the batch is counted: whoever sees it counted sees its phases.
	if obs := r.p.cfg.ObservePhase; obs != nil {
		for _, ph := range phases {
			obs(r.src.Name, ph.p, ph.d)
		}
	}
	r.stats.update(func(s *Stats) {
		for _, ph := range phases {
			s.PhaseTime[ph.p] += ph.d
		}
		s.Batches++
		s.RecordsCommitted += uint64(b.records)
		for i, rec := range b.recs {
			if rec != nil {
				s.Rows[r.tables[i].Name()] += uint64(rec.NumRows())
			}
		}
		s.LastCommit = time.Now()
		s.LastError = ""
	})
	if r.p.cfg.ObserveCommit != nil {
		r.p.cfg.ObserveCommit(r.src.Name, b.records, b.rejects)
	}
	return nil
}

// insert writes every non-empty table of a batch, each with the batch token
// and the table name, retrying temporary failures. The tables go in at
// once: each insert has its own token, so their order does not matter to
// exactly-once, and a batch's second table no longer waits for the first
// to be written before its rows are queryable (docs/performance.md, "A
// batch's tables at once"). A source that inserts in order (Source.InOrder,
// decode.Ordered) writes them one after the other in the decoder's table
// order, since its views may join one table's rows to another's. The
// error is the first table's, in that order; the batch then stays
// journaled, and its replay inserts every table under the same tokens, so
// a table already written is not written again.
func (r *runner) insert(ctx context.Context, token string, recs []arrow.Record, msgs []*ingest.Msg) error {
	if r.src.InOrder || decode.InOrder(r.src.Decoder) {
		for i, rec := range recs {
			if rec == nil {
				continue
			}
			if err := r.insertTable(ctx, r.tables[i], token, rec, msgs); err != nil {
				return err // the later tables wait for the replay
			}
		}
		return nil
	}
	errs := make([]error, len(recs))
	var wg sync.WaitGroup
	for i, rec := range recs {
		if rec != nil {
			wg.Go(func() { errs[i] = r.insertTable(ctx, r.tables[i], token, rec, msgs) })
		}
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// insertTable writes one table of a batch under the batch token and the
// table name, retrying temporary failures.
func (r *runner) insertTable(ctx context.Context, tbl *schema.Table, token string, rec arrow.Record, msgs []*ingest.Msg) error {
	tok := token + ":" + tbl.Name()
	began := time.Now()
	if err := r.retry(ctx, "insert into "+tbl.Name(), msgs, func() (bool, error) {
		err := r.p.target.Insert(ctx, tbl, rec, tok)
		return isRetryable(err), err
	}); err != nil {
		return err
	}
	if r.p.cfg.ObserveInsert != nil {
		r.p.cfg.ObserveInsert(r.src.Name, tbl.Name(), time.Since(began))
	}
	return nil
}

func isRetryable(err error) bool { return sink.IsRetryable(err) }

// retry runs op until it succeeds, fails for good (op says it is not
// retryable), or ctx ends. Between attempts it backs off exponentially
// (Config.RetryMin doubling to RetryMax, 10% jitter) and keeps msgs from
// being redelivered (InProgress).
func (r *runner) retry(ctx context.Context, what string, msgs []*ingest.Msg, op func() (retryable bool, err error)) error {
	lastTouch := time.Now()
	attempt := 0
	var last error
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		attempt++
		if attempt > 1 && len(msgs) > 0 && time.Since(lastTouch) > r.src.Consumer.AckWait()/3 {
			for _, m := range msgs {
				_ = m.InProgress()
			}
			lastTouch = time.Now()
		}
		retryable, err := op()
		if err != nil && !retryable {
			return struct{}{}, backoff.Permanent(fmt.Errorf("%s: %w", what, err))
		}
		last = err
		return struct{}{}, err
	}, backoff.WithBackOff(&backoff.ExponentialBackOff{InitialInterval: r.p.cfg.retryMin(), Multiplier: 2, MaxInterval: r.p.cfg.retryMax(), RandomizationFactor: 0.1}),
		backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(func(err error, delay time.Duration) {
			r.stats.update(func(s *Stats) {
				s.Retries++
				s.LastError = fmt.Sprintf("%s: %v", what, err)
			})
			r.p.log.Warn("temporary failure, retrying", "source", r.src.Name, "op", what, "attempt", attempt, "in", delay, "err", err)
		}))
	if err != nil && ctx.Err() != nil && last != nil {
		return fmt.Errorf("%s: gave up: %w (last error: %v)", what, ctx.Err(), last)
	}
	return err
}

// collect deletes the journal records of committed batches whose messages
// are all acknowledged (the consumer's ack floor passed their last
// sequence, and ackSettle passed since the commit): no redelivery of them can come any more (and a redelivery
// already buffered is recognised by the committed set). A process deletes
// its own records, and those of other owners that were not cleaned up for
// two leases (their owner died after committing).
func (r *runner) collect(ctx context.Context) {
	if r.p.cfg.keepJournal {
		return
	}
	var candidates []ingest.JournalEntry
	for _, e := range r.index.Entries() {
		if e.Record.Committed && time.Since(e.Stored) > ackSettle && (e.Record.Owner == r.p.owner || time.Since(e.Stored) > 2*r.lease()) {
			candidates = append(candidates, e)
		}
	}
	if len(candidates) == 0 {
		return
	}
	st, err := r.src.Consumer.State(ctx)
	if err != nil {
		r.p.log.Warn("consumer state unavailable; journal cleanup postponed", "source", r.src.Name, "err", err)
		return
	}
	gone := 0
	for _, e := range candidates {
		if e.Record.Last() > st.AckFloor {
			continue
		}
		// Compare-and-set on the committed write: a record written under
		// the same key since (another batch with the same first and last
		// sequence) is not this one.
		ok, err := r.p.journal.DeleteIf(ctx, e)
		if err != nil {
			r.p.log.Warn("journal cleanup failed", "source", r.src.Name, "err", err)
			continue
		}
		if ok {
			gone++
		}
	}
	// Deleting leaves a marker per record: they are removed now and then
	// in the background, so the journal holds O(batches in flight), not
	// O(batches ever).
	r.p.collected(gone)
}
