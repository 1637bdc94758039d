package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tapline/tapline/ingest"
)

// Several processes on one durable consumer share the journal. The rule
// that keeps them exactly-once: a stream sequence is inserted only under the
// token of the one journal record that holds it. What a process does with a
// delivered message follows from the journal index (every process's
// records), never from its own memory alone:
//
//   - in no record: batch it, journal the batch (owner: this process)
//     before inserting it;
//   - in a committed record: acknowledge it, no work;
//   - in a record not committed: leave it to the record's owner (nak with
//     a delay; it comes back, committed, or is adopted meanwhile).
//
// An owner renews its records' leases while it works on them. A record
// whose lease ran out is adopted by whichever process first swaps itself
// in (compare-and-set), which re-reads its sequences from the stream and
// inserts them under the record's original token: ClickHouse drops what
// already landed. See docs/design/scale-out.md.

// lease is how long a journal record stays its owner's after its last
// write: two ack waits, renewed every third of one.
func (r *runner) lease() time.Duration { return 2 * r.src.Consumer.AckWait() }

// parkDelay is how long a redelivered message of another owner's batch in
// flight waits before it is delivered again.
func (r *runner) parkDelay() time.Duration {
	return min(max(r.src.Consumer.AckWait()/4, 200*time.Millisecond), 2*time.Second)
}

// watchJournal starts the runner's index of the consumer's journal records.
// Committed records of any process go into the committed set as they are
// seen, so a redelivery of their messages is acknowledged without work
// even after the record is deleted.
func (r *runner) watchJournal(ctx context.Context) error {
	x, err := r.p.journal.Watch(ctx, r.src.Consumer.Stream(), r.src.Consumer.Durable(), func(e ingest.JournalEntry) {
		if e.Record.Committed && !(r.p.cfg.missCommits && e.Record.Owner != r.p.owner) {
			r.mu.Lock()
			r.committed.add(e.Record.Ranges)
			r.mu.Unlock()
		}
	})
	if err != nil {
		return err
	}
	r.index = x
	return nil
}

// classify decides what a delivered message needs. It returns true when
// the message needs no work from this process: in hand already, committed
// (acknowledged again now), or in another batch in flight (left to its
// owner).
func (r *runner) alreadyHandled(m *ingest.Msg) bool {
	r.mu.Lock()
	_, inHand := r.inflight[m.Seq]
	done := !inHand && r.committed.contains(m.Seq)
	r.mu.Unlock()
	if inHand {
		return true
	}
	if !done {
		e, ok := r.index.Find(m.Seq)
		if ok && !e.Record.Committed {
			_ = m.NakWithDelay(r.parkDelay())
			r.stats.update(func(s *Stats) { s.Parked++ })
			return true
		}
		done = ok
	}
	if !done {
		return false
	}
	if err := m.Ack(); err != nil {
		r.p.log.Warn("ack of redelivered message failed", "source", r.src.Name, "seq", m.Seq, "err", err)
	}
	r.stats.update(func(s *Stats) { s.Skipped++ })
	return true
}

// handedOver reports whether the server may have redelivered a message of
// msgs to another process already: this process stalled (a pause, an
// overloaded machine) longer than the keep-alive's margin, so the message's
// ack wait may have run out. Such a batch must not be journaled.
func (r *runner) handedOver(msgs []*ingest.Msg) bool {
	r.mu.Lock()
	alive := r.lastAlive
	r.mu.Unlock()
	margin := r.src.Consumer.AckWait() / 3
	now := time.Now()
	for _, m := range msgs {
		touched := m.Fetched
		if alive.After(touched) {
			touched = alive
		}
		if now.After(touched.Add(r.src.Consumer.AckWait() - margin)) {
			return true
		}
	}
	return false
}

// abandon gives up a batch whose messages another process may hold: it is
// neither inserted nor acknowledged, and its messages are not nakked (a
// nak could hand a message to a third process while the second still holds
// it). The server redelivers them after their ack wait, and the journal
// decides then.
func (r *runner) abandon(b *batch, why string) {
	r.mu.Lock()
	for _, m := range b.msgs {
		delete(r.inflight, m.Seq)
	}
	r.mu.Unlock()
	r.p.log.Warn("batch left to redelivery: "+why, "source", r.src.Name, "first", b.journal.First(), "last", b.journal.Last(), "messages", len(b.msgs))
	r.stats.update(func(s *Stats) { s.Abandoned++ })
}

// renewLeases rewrites the journal records this process works on, so
// their leases do not run out while a batch inserts or retries. A record
// found adopted by another process is dropped from the set: its insert goes
// on under the same token, which the adopter uses too.
func (r *runner) renewLeases(ctx context.Context) {
	r.mu.Lock()
	held := make([]ingest.JournalEntry, 0, len(r.held))
	for _, e := range r.held {
		held = append(held, e)
	}
	r.mu.Unlock()
	for _, e := range held {
		if time.Since(e.Stored) < r.lease()/4 {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, r.src.Consumer.AckWait()/3)
		ne, err := r.p.journal.Swap(cctx, e, func(rec *ingest.BatchRecord) bool {
			return !rec.Committed && rec.Owner == r.p.owner
		})
		cancel()
		r.mu.Lock()
		if _, still := r.held[e.Key]; still {
			switch {
			case errors.Is(err, ingest.ErrRecordGone) || err == nil && (ne.Record.Owner != r.p.owner || ne.Record.Committed):
				delete(r.held, e.Key)
				if err == nil && ne.Record.Owner != r.p.owner {
					r.p.log.Warn("a batch in hand was adopted by another process; it is committed under the same token either way", "source", r.src.Name, "batch", e.Record.Token, "adopter", ne.Record.Owner)
				}
			case err == nil:
				r.held[e.Key] = ne
			}
		}
		r.mu.Unlock()
		if err != nil && !errors.Is(err, ingest.ErrRecordGone) {
			r.p.log.Warn("journal lease renewal failed; retrying", "source", r.src.Name, "batch", e.Record.Token, "err", err)
		}
	}
}

// claim journals batch b and clears it for insertion, or abandons it (nil
// entry) when another process may hold its sequences. Two processes can
// each hold a message in a batch when the server redelivered it from a
// stalled one; of their records, the first written wins: after its own
// write is seen by the index (and so every write before it), a record that
// shares a sequence with an older record, or with a committed one, is
// deleted unused. Only a cleared record is ever inserted or replayed.
func (r *runner) claim(ctx context.Context, b *batch) (*ingest.JournalEntry, error) {
	var e ingest.JournalEntry
	if err := r.retry(ctx, "journal", b.msgs, func() (bool, error) {
		var err error
		e, err = r.p.journal.Create(ctx, b.journal)
		return err != nil && !errors.Is(err, ingest.ErrJournalConflict), err
	}); err != nil {
		if errors.Is(err, ingest.ErrJournalConflict) {
			r.abandon(b, err.Error())
			return nil, nil
		}
		return nil, err
	}
	r.hold(e)
	wctx, cancel := context.WithTimeout(ctx, r.src.Consumer.AckWait()/3)
	err := r.index.WaitSeen(wctx, e.Revision)
	cancel()
	why := ""
	switch {
	case err != nil:
		why = "the journal watch lags, so older batches holding its sequences cannot be ruled out"
	default:
		if older := r.index.Older(e.Key, e.Record.Ranges, e.Revision); len(older) > 0 {
			why = "an older batch holds some of its sequences: " + older[0].Record.Token
		} else {
			r.mu.Lock()
			done := r.committed.intersects(e.Record.Ranges)
			r.mu.Unlock()
			if done {
				why = "some of its sequences are committed already"
			} else if acked, err := r.ackedBefore(ctx, b.msgs); err != nil {
				why = "the consumer's ack floor could not be read (" + err.Error() + "), so an earlier commit of its messages by another process cannot be ruled out"
			} else if acked {
				why = "some of its messages were acknowledged already (committed by another process in a batch whose journal record is gone)"
			}
		}
	}
	if why == "" {
		clear := func(rec *ingest.BatchRecord) bool {
			if rec.Owner != r.p.owner || rec.Committed || rec.Cleared {
				return false
			}
			rec.Cleared = true
			return true
		}
		created := e
		e, err = r.swap(ctx, e, b.msgs, clear)
		if err == nil && r.p.cfg.afterClear != nil {
			// Tests: the clear's answer is lost, and the retry reads the
			// record as it is after the hook.
			r.p.cfg.afterClear(e)
			e, err = r.swap(ctx, created, b.msgs, clear)
		}
		if err == nil && e.Record.Cleared && e.Record.Owner == r.p.owner {
			r.hold(e)
			return &e, nil
		}
		if err != nil && !errors.Is(err, ingest.ErrRecordGone) {
			return nil, err
		}
		why = "its record was taken over before it was cleared"
	}
	// Not cleared by this process: it inserted nothing of it. Delete the
	// record, so its messages are not parked behind it; if that fails,
	// whoever finds it lapsed deletes it (a record never cleared is never
	// replayed). Only while it is still this process's and uncleared: a
	// clear whose answer was lost is stored all the same, and the record
	// may have been adopted and inserted by another process since (taken
	// over); deleting it then let its messages be batched again under a
	// new token.
	r.release(e.Key)
	if _, err := r.p.journal.DeleteUnused(ctx, e.Key, r.p.owner); err != nil {
		r.p.log.Warn("deleting an unused journal record failed; it is deleted when its lease runs out", "source", r.src.Name, "batch", e.Record.Token, "err", err)
	}
	r.abandon(b, why)
	return nil, nil
}

// ackedBefore reports whether a message of msgs is acknowledged already:
// committed in another batch whose journal record was collected before this
// process's watch saw it committed. The committed set cannot rule that out
// alone: deleting a record removes all of its writes from the bucket, so a
// watch that falls behind, or resumes after a reconnect, never sees the
// committed write of a record deleted meanwhile. A record is collected only
// after the consumer's ack floor passed its last sequence, so the floor,
// read after the batch's own record was seen by the watch, tells. The
// floor's sequences go into the committed set (every one of them is
// acknowledged).
//
// The floor is read for every batch, not only for one holding a
// redelivery: a message can come to this process as a first delivery and
// still have been committed by another one. It sat in the client's fetch
// buffer, or this process stalled, past its ack wait, so the server
// redelivered it to another process, which committed and acknowledged it;
// this process's copy still says "delivered once", and its Fetched time
// says when the reader took it from the buffer, not when the server sent
// it. One consumer-info round trip per batch is the price. The floor must
// come from the consumer's leader: a NATS node recovering after a restart
// answers with a floor of 0 (ingest.ErrStaleState), which would rule out
// nothing.
func (r *runner) ackedBefore(ctx context.Context, msgs []*ingest.Msg) (bool, error) {
	// A stale answer (a NATS node recovering after a restart answered
	// first) is asked again, within a third of an ack wait.
	sctx, cancel := context.WithTimeout(ctx, r.src.Consumer.AckWait()/3)
	defer cancel()
	st, err := r.src.Consumer.State(sctx)
	for errors.Is(err, ingest.ErrStaleState) && sctx.Err() == nil {
		select {
		case <-sctx.Done():
		case <-time.After(20 * time.Millisecond):
			st, err = r.src.Consumer.State(sctx)
		}
	}
	if err != nil {
		return false, err
	}
	if st.AckFloor > 0 {
		r.mu.Lock()
		r.committed.add([]ingest.SeqRange{{First: 1, Last: st.AckFloor}})
		r.mu.Unlock()
	}
	for _, m := range msgs {
		if m.Seq <= st.AckFloor {
			return true, nil
		}
	}
	return false, nil
}

// hold records e as a record this process works on (its lease is renewed).
func (r *runner) hold(e ingest.JournalEntry) {
	r.mu.Lock()
	r.held[e.Key] = e
	r.mu.Unlock()
	r.index.Note(e)
}

// holds reports whether this process works on the record under key.
func (r *runner) holds(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.held[key]
	return ok
}

// release forgets e, returning its latest entry.
func (r *runner) release(key string) (ingest.JournalEntry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.held[key]
	delete(r.held, key)
	return e, ok
}

// swap applies change to e's record (Journal.Swap), retrying temporary
// failures while keeping msgs in progress. It returns the latest entry
// (e when every attempt failed) and ErrRecordGone, unretried, when the
// record was deleted.
func (r *runner) swap(ctx context.Context, e ingest.JournalEntry, msgs []*ingest.Msg, change func(*ingest.BatchRecord) bool) (ingest.JournalEntry, error) {
	err := r.retry(ctx, "journal", msgs, func() (bool, error) {
		ne, err := r.p.journal.Swap(ctx, e, change)
		if err == nil {
			e = ne
		}
		return err != nil && !errors.Is(err, ingest.ErrRecordGone), err
	})
	return e, err
}

// markCommitted writes the committed flag into the record of e (whoever
// owns it now: the rows are in under its token) and remembers its
// sequences as committed.
func (r *runner) markCommitted(ctx context.Context, e ingest.JournalEntry, msgs []*ingest.Msg) error {
	if cur, ok := r.release(e.Key); ok {
		e = cur
	}
	e, err := r.swap(ctx, e, msgs, func(rec *ingest.BatchRecord) bool {
		if rec.Committed {
			return false
		}
		rec.Committed = true
		return true
	})
	if errors.Is(err, ingest.ErrRecordGone) {
		// Deleted: only a committed record whose messages were all
		// acknowledged is deleted.
		err = nil
	}
	if err != nil {
		return err
	}
	r.index.Note(e)
	r.mu.Lock()
	r.committed.add(e.Record.Ranges)
	r.mu.Unlock()
	return nil
}

// sweep adopts the records of this consumer that nobody works on any
// more: those whose lease ran out, and at start-up those an earlier start of
// this instance left. Each adopted batch is re-read from the stream and
// inserted under its original token, then marked committed.
//
// A record of this very process that it does not hold is nobody's work
// either: a journal write whose answer was lost (an adoption or a creation
// the server stored while the client timed out, as under load or while
// JetStream recovers its store), or an unused record whose deletion failed.
// Its lease is not renewed, so it lapses and is swept like any other;
// skipping it would park its messages behind it for good.
func (r *runner) sweep(ctx context.Context, startup bool) error {
	me := ingest.OwnerInstance(r.p.owner)
	now := time.Now()
	for _, e := range r.index.Entries() {
		rec := e.Record
		own := rec.Owner == r.p.owner
		if rec.Committed || own && r.holds(e.Key) {
			continue
		}
		mine := own || rec.Owner == "" || ingest.OwnerInstance(rec.Owner) == me
		if !e.Lapsed(now) && !(startup && mine) {
			continue
		}
		if ctx.Err() != nil {
			return nil // stopping: someone adopts it later
		}
		if !rec.Insertable() {
			// Never cleared, so never inserted: its owner died or
			// stalled between journaling and clearing it. Delete it; its
			// messages are redelivered and batched again.
			if ok, err := r.p.journal.DeleteIf(ctx, e); err != nil || !ok {
				continue // changed meanwhile, or NATS away: next sweep
			}
			r.p.log.Warn("deleted a journal record its owner never cleared for insertion", "source", r.src.Name, "batch", rec.Token, "from", rec.Owner)
			continue
		}
		if err := r.adopt(ctx, e, !mine); err != nil {
			return err
		}
	}
	return nil
}

// adopt takes over one record and commits it.
func (r *runner) adopt(ctx context.Context, e ingest.JournalEntry, other bool) error {
	ne, won, err := r.p.journal.Adopt(ctx, e, r.p.owner, r.lease())
	if err != nil {
		r.p.log.Warn("journal adoption failed; retried at the next sweep", "source", r.src.Name, "batch", e.Record.Token, "err", err)
		return nil
	}
	if !won {
		return nil // another process came first, or the owner woke up
	}
	r.hold(ne)
	r.p.log.Warn("replaying a journaled batch left by a process that stopped working on it", "source", r.src.Name, "batch", e.Record.Token, "from", e.Record.Owner, "adopted", other)
	// A replay that started finishes even when the run is stopped, within
	// the shutdown timeout.
	bctx, cancel := drainContext(ctx, r.p.cfg.shutdownTimeout())
	defer cancel()
	if err := r.replayOne(bctx, ne.Record, other); err != nil {
		r.release(ne.Key)
		if ctx.Err() != nil && bctx.Err() != nil {
			return ErrDrainIncomplete
		}
		return fmt.Errorf("replay batch %s: %w", e.Record.Token, err)
	}
	if err := r.markCommitted(bctx, ne, nil); err != nil {
		return err
	}
	r.stats.update(func(s *Stats) {
		s.Replayed++
		if other {
			s.Adopted++
		}
	})
	return nil
}
