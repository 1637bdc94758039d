package pipeline

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest"
)

// openOn makes a pipeline of one instance on the fixture's durable
// consumer with a one-second ack wait, inserting through target.
func (f *fixture) openOn(instance string, target slowTarget, cfg Config) *Pipeline {
	cons, dec := f.sofarpcSource(time.Second)
	cfg.Instance = instance
	if cfg.MaxAge == 0 {
		cfg.MaxAge = 200 * time.Millisecond
	}
	p, err := New(cfg, target, f.journal, f.dlq, []Source{{Name: "sofarpc", Decoder: dec, Consumer: cons}})
	require.NoError(f.t, err)
	return p
}

// requireEachDigestOnce checks that the digest table holds digests rows
// and the SOFARPC view counts each of them once.
func (f *fixture) requireEachDigestOnce(digests int) {
	f.t.Helper()
	require.Equal(f.t, uint64(digests), f.count("SELECT count() FROM sofarpc_digest"), "every line once")
	require.Equal(f.t, uint64(digests), f.count("SELECT sum(calls) FROM sofarpc_latency_1m"), "every call once in the view")
}

// start runs p until the test ends or stop is called; stop returns Run's
// error. errc receives Run's error when it returns on its own.
func start(t *testing.T, p *Pipeline) (stop func() error, errc chan error) {
	ctx, cancel := context.WithCancel(context.Background())
	errc = make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	t.Cleanup(cancel)
	return func() error {
		cancel()
		return <-errc
	}, errc
}

// stalledOwner publishes 2,000 SOFARPC lines in messages of 100 and starts
// process A on them: one batch of every message, inserted for three ack
// waits (3 s) with its messages not kept in progress, so the server
// redelivers them to any other process meanwhile. It returns once A holds
// every message, with A's stop and the digests the lines must become.
func (f *fixture) stalledOwner() (a *Pipeline, stopA func() error, digests int) {
	recs := f.publish(2_000, 100, 0)
	digests, _ = countValid(recs, true)
	a = f.openOn("a", slowTarget{f.target, 3 * time.Second}, Config{MaxRows: 100_000, MaxAge: 300 * time.Millisecond, noInProgress: true})
	stopA, _ = start(f.t, a)
	cons, err := f.broker.Consumer(context.Background(), ingest.ConsumerSpec{Stream: f.spec.Stream, Durable: f.spec.Durable, AckWait: time.Second})
	require.NoError(f.t, err)
	require.Eventually(f.t, func() bool {
		st, err := cons.State(context.Background())
		return err == nil && st.Pending == 0 && st.AckPending > 0 && a.Stats()[0].Messages == uint64(st.AckPending)
	}, 30*time.Second, 10*time.Millisecond, "A holds every message")
	cons.Stop()
	return a, stopA, digests
}

// TestRedeliveryOfABatchInFlightIsLeftToItsOwner: A's messages are not
// kept in progress (as when A stalls), so while A's one batch inserts for
// three ack waits the server redelivers them all to B on the same consumer.
// B finds them in A's journaled batch, whose lease A keeps renewing, and
// leaves them to A (parks them) instead of inserting them under a token of
// its own; once A commits, B acknowledges the redeliveries without work.
func TestRedeliveryOfABatchInFlightIsLeftToItsOwner(t *testing.T) {
	f := newFixture(t)
	a, stopA, digests := f.stalledOwner()
	b := f.openOn("b", slowTarget{f.target, 0}, Config{})
	stopB, _ := start(t, b)
	require.Eventually(t, func() bool { return a.Stats()[0].Batches == 1 }, time.Minute, 50*time.Millisecond, "A commits")
	time.Sleep(1500 * time.Millisecond) // room for a late redelivery to B to show
	t.Logf("A %+v", a.Stats()[0])
	t.Logf("B %+v", b.Stats()[0])
	require.NoError(t, stopA())
	require.NoError(t, stopB())
	require.Positive(t, b.Stats()[0].Parked, "B received A's messages while A's batch was in flight")
	require.Zero(t, b.Stats()[0].Batches, "B inserted none of them")
	f.requireEachDigestOnce(digests)
}

// TestRedeliveryOfACollectedBatchIsNotInsertedAgain: as in the test above,
// A's messages are redelivered to B while A's batch inserts, but B's reader
// gets to the first of them only after A committed the batch and deleted
// its journal record, and B's journal watch skipped the record's committed
// write (as a watch that falls behind or resumes after a reconnect does once
// the record's deletion replaced it in the bucket). Neither B's committed set
// nor its index knows the batch: only the consumer's ack floor tells B that
// the redelivered messages were committed. B must leave its batch of them
// uninserted.
func TestRedeliveryOfACollectedBatchIsNotInsertedAgain(t *testing.T) {
	f := newFixture(t)
	a, stopA, digests := f.stalledOwner()
	b := f.openOn("b", slowTarget{f.target, 0}, Config{missCommits: true, holdRedelivered: true})
	stopB, _ := start(t, b)
	require.Eventually(t, func() bool { return a.Stats()[0].Batches == 1 }, time.Minute, 50*time.Millisecond, "A commits")
	require.Eventually(t, func() bool { st := b.Stats()[0]; return st.Abandoned > 0 || st.Batches > 0 }, time.Minute, 50*time.Millisecond,
		"B batches a redelivery after A's record is gone")
	time.Sleep(time.Second) // room for a late insert by B to show
	t.Logf("A %+v", a.Stats()[0])
	t.Logf("B %+v", b.Stats()[0])
	require.NoError(t, stopA())
	require.NoError(t, stopB())
	require.Zero(t, b.Stats()[0].Batches, "B inserted none of A's messages")
	require.Positive(t, b.Stats()[0].Abandoned, "B left its batch of them")
	f.requireEachDigestOnce(digests)
}

// TestBatchOfADeadOwnerIsAdopted: A journals and inserts its first batch,
// then dies before marking it committed. B, a live process on the same
// consumer, parks A's redelivered messages while A's lease runs, then
// adopts A's record (compare-and-set), re-inserts the batch under A's
// token and acknowledges them: every line once, in the table and the view.
func TestBatchOfADeadOwnerIsAdopted(t *testing.T) {
	f := newFixture(t)
	recs := f.publish(5_000, 100, 0)
	digests, _ := countValid(recs, true)
	a := f.openOn("a", slowTarget{f.target, 0}, Config{MaxRows: 1_000, crashAfterInsert: 1})
	_, aDone := start(t, a)
	require.ErrorIs(t, <-aDone, errCrashed)
	b := f.openOn("b", slowTarget{f.target, 0}, Config{MaxRows: 1_000})
	stopB, _ := start(t, b)
	require.Eventually(t, func() bool {
		return f.count("SELECT count() FROM sofarpc_digest") >= uint64(digests) && b.Stats()[0].Adopted == 1
	}, time.Minute, 100*time.Millisecond, "B adopts A's batch and drains the rest")
	time.Sleep(time.Second)
	require.NoError(t, stopB())
	st := b.Stats()[0]
	require.EqualValues(t, 1, st.Adopted, "A's batch was adopted")
	require.Positive(t, st.Parked, "A's redeliveries waited for A's lease")
	f.requireEachDigestOnce(digests)
	require.Equal(t, uint64(0), f.count("SELECT count() FROM pipeline_batches WHERE replayed"), "A wrote the batch's health row before dying: the adoption's is deduplicated")
}

// TestReplayReadTimeoutLosesNothing: the first reads of a replayed batch's
// messages time out (a real read with an expired deadline). They are
// retried; only a message the stream no longer holds may shorten a batch.
func TestReplayReadTimeoutLosesNothing(t *testing.T) {
	f := newFixture(t)
	recs := f.publish(3_000, 50, 0)
	digests, _ := countValid(recs, true)
	p, _ := f.pipeline(Config{MaxRows: 1_000, crashAfterInsert: 1, Inserters: 1})
	require.ErrorIs(t, f.runUntil(p, func() bool { return false }), errCrashed)
	// Remove the crashed batch's rows, so only its replay can bring them back.
	require.NoError(t, f.target.Exec(context.Background(), "TRUNCATE TABLE sofarpc_digest"))
	require.NoError(t, f.target.Exec(context.Background(), "TRUNCATE TABLE sofarpc_latency_1m"))
	require.NoError(t, f.target.Exec(context.Background(), "TRUNCATE TABLE pipeline_batches"))

	p2, _ := f.pipeline(Config{MaxRows: 1_000, slowReads: 3, RetryMin: 10 * time.Millisecond})
	require.NoError(t, f.runUntil(p2, func() bool {
		return p2.Stats()[0].Replayed == 1 && f.count("SELECT count() FROM sofarpc_digest") >= uint64(digests)
	}))
	st := p2.Stats()[0]
	require.EqualValues(t, 1, st.Replayed)
	require.GreaterOrEqual(t, st.Retries, uint64(3), "the timed-out reads were retried")
	require.Zero(t, st.Lost, "a timeout is not a lost message")
	require.Equal(t, uint64(digests), f.count("SELECT count() FROM sofarpc_digest"), "every line once")
}

// TestFirstDeliveryCommittedElsewhereIsNotCleared: B takes a message as its
// first delivery and leaves it unattended past its ack wait, as a message
// waiting in the client's fetch buffer, or held by a stalled process, is.
// The server redelivers it to A, which acknowledges it (A's commit, whose
// journal record is collected by now). B's copy still says "delivered
// once", and B's committed set and index know nothing of the commit: only
// the consumer's ack floor tells. B's claim of a batch of it must leave it
// uninserted, while a batch of a message nobody else took is cleared.
func TestFirstDeliveryCommittedElsewhereIsNotCleared(t *testing.T) {
	f := newFixture(t)
	f.publish(200, 100, 0) // a few messages: one subject per kind of line
	ctx := context.Background()
	bCons, dec := f.sofarpcSource(time.Second)
	first, err := bCons.Next(ctx, 10*time.Second)
	require.NoError(t, err)
	require.EqualValues(t, 1, first.Delivered)
	second, err := bCons.Next(ctx, 10*time.Second)
	require.NoError(t, err)
	bCons.Stop() // B pulls no more; A gets the redelivery
	// B keeps its second message in progress, so that only the first is
	// redelivered.
	keep := time.NewTicker(100 * time.Millisecond)
	defer keep.Stop()
	kept := make(chan struct{})
	defer close(kept)
	go func() {
		for {
			_ = second.InProgress()
			select {
			case <-keep.C:
			case <-kept:
				return
			}
		}
	}()

	// A gets B's unattended first message. The client may also have
	// fetched later messages into B's buffer, which the server redelivers
	// after the same ack wait, so they can come to A first: A takes them
	// (as any consumer would) until the first one comes.
	aCons, _ := f.sofarpcSource(time.Second)
	var again *ingest.Msg
	for again == nil {
		m, err := aCons.Next(ctx, 10*time.Second)
		require.NoError(t, err, "A gets B's unattended first message")
		require.NotEqual(t, second.Seq, m.Seq, "B keeps its second message in progress")
		if m.Seq == first.Seq {
			again = m
			continue
		}
		require.NoError(t, m.Ack())
	}
	require.Greater(t, again.Delivered, uint64(1))
	require.NoError(t, again.Ack())
	aCons.Stop()
	require.Eventually(t, func() bool {
		st, err := bCons.State(ctx)
		return err == nil && st.AckFloor >= first.Seq
	}, 10*time.Second, 10*time.Millisecond, "A's ack reaches the server")

	p, err := New(Config{Instance: "b", missCommits: true}, f.target, f.journal, f.dlq, []Source{{Name: "sofarpc", Decoder: dec, Consumer: bCons}})
	require.NoError(t, err)
	r := p.runners[0]
	require.NoError(t, r.watchJournal(ctx))
	defer r.index.Stop()
	batchOf := func(m *ingest.Msg) *batch {
		b := &batch{msgs: []*ingest.Msg{m}, journal: ingest.BatchRecord{Stream: bCons.Stream(), Durable: bCons.Durable(), Ranges: ingest.Ranges([]uint64{m.Seq}), Owner: p.owner, Lease: r.lease()}}
		b.journal.Token = Token(b.journal)
		return b
	}
	e, err := r.claim(ctx, batchOf(first))
	require.NoError(t, err)
	require.Nil(t, e, "B's batch of the message A committed is not cleared for insertion")
	require.EqualValues(t, 1, p.Stats()[0].Abandoned)
	e, err = r.claim(ctx, batchOf(second))
	require.NoError(t, err)
	require.NotNil(t, e, "B's batch of a message only B holds is cleared")
	require.True(t, e.Record.Cleared)
}

// TestOwnRecordLeftByALostAnswerIsReplayed: the journal holds a cleared,
// uncommitted record under this very process's owner name that the process
// does not hold, as an adoption leaves it when the server stored it but its
// answer was lost (a timeout under load, or while JetStream recovers its
// store). Nobody renews it, so it lapses; the process must then replay it,
// not park its messages behind it for good.
func TestOwnRecordLeftByALostAnswerIsReplayed(t *testing.T) {
	f := newFixture(t)
	recs := f.publish(1_000, 100, 0)
	digests, _ := countValid(recs, true)
	p := f.openOn("a", slowTarget{f.target, 0}, Config{MaxRows: 300})
	rec := ingest.BatchRecord{Stream: f.spec.Stream, Durable: f.spec.Durable, Ranges: []ingest.SeqRange{{First: 1, Last: 3}}, Owner: p.owner, Lease: 2 * time.Second, Cleared: true}
	rec.Token = Token(rec)
	_, err := f.journal.Create(context.Background(), rec)
	require.NoError(t, err)
	stop, _ := start(t, p)
	require.Eventually(t, func() bool {
		return f.count("SELECT count() FROM sofarpc_digest") >= uint64(digests) && p.Stats()[0].Replayed == 1
	}, 30*time.Second, 50*time.Millisecond, "the record is replayed and the rest committed")
	require.NoError(t, stop())
	require.EqualValues(t, 1, p.Stats()[0].Replayed)
	f.requireEachDigestOnce(digests)
}

// TestRecordTakenOverWhileClearingIsNotDeleted: A clears its batch's
// record, but the answer is lost (a NATS node restarting, a timeout under
// load), and before A reads the record again another process adopted it
// (A's lease lapsed meanwhile): it is B's now, cleared, and B inserts it
// under its token. A must leave its batch uninserted and must not delete
// the record, whose messages belong to it; deleting it would let them be
// batched again under a new token while B's replay inserts them too. B
// (started afterwards, so the record is an earlier start's to it) replays
// the record; every line lands once.
func TestRecordTakenOverWhileClearingIsNotDeleted(t *testing.T) {
	f := newFixture(t)
	recs := f.publish(1_000, 100, 0)
	digests, _ := countValid(recs, true)
	b := f.openOn("b", slowTarget{f.target, 0}, Config{})
	var taken atomic.Bool
	adoptErr := make(chan error, 1)
	a := f.openOn("a", slowTarget{f.target, 0}, Config{MaxRows: 300, afterClear: func(e ingest.JournalEntry) {
		if taken.Swap(true) {
			return
		}
		_, won, err := f.journal.Adopt(context.Background(), e, b.owner, 2*time.Second)
		if err == nil && !won {
			err = errors.New("the adoption lost its compare-and-set")
		}
		adoptErr <- err
	}})
	stopA, _ := start(t, a)
	require.NoError(t, <-adoptErr, "B's name adopts A's record right after A cleared it")
	require.Eventually(t, func() bool { return a.Stats()[0].Abandoned > 0 }, 30*time.Second, 10*time.Millisecond, "A leaves its batch")
	stopB, _ := start(t, b)
	require.Eventually(t, func() bool {
		return f.count("SELECT count() FROM sofarpc_digest") >= uint64(digests) && b.Stats()[0].Replayed > 0
	}, 30*time.Second, 50*time.Millisecond, "B replays the record it adopted, and the rest is committed")
	time.Sleep(1500 * time.Millisecond) // room for a late duplicate to show
	require.NoError(t, stopA())
	require.NoError(t, stopB())
	t.Logf("A %+v", a.Stats()[0])
	t.Logf("B %+v", b.Stats()[0])
	require.EqualValues(t, 1, b.Stats()[0].Replayed)
	f.requireEachDigestOnce(digests)
}
