package pipeline

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest"
)

// TestSlowInsertKeepsItsMessages: pipeline A takes every message into one
// batch whose insert lasts three ack waits; pipeline B runs on the same
// durable consumer meanwhile. A keeps its messages in progress, so none is
// redelivered to B, which would insert it again under a token of its own:
// every line lands once, all by A.
func TestSlowInsertKeepsItsMessages(t *testing.T) {
	f := newFixture(t)
	recs := f.publish(2_000, 100, 0)
	digests, _ := countValid(recs, true)
	ctx := context.Background()
	open := func(instance string, delay time.Duration) (*Pipeline, *ingest.Consumer) {
		cons, dec := f.sofarpcSource(time.Second)
		p, err := New(Config{MaxRows: 100_000, MaxAge: 300 * time.Millisecond, Instance: instance}, slowTarget{f.target, delay}, f.journal, f.dlq, []Source{{Name: "sofarpc", Decoder: dec, Consumer: cons}})
		require.NoError(t, err)
		return p, cons
	}
	a, cons := open("a", 3*time.Second)
	actx, acancel := context.WithCancel(ctx)
	defer acancel()
	aerr := make(chan error, 1)
	go func() { aerr <- a.Run(actx) }()
	require.Eventually(t, func() bool {
		st, err := cons.State(ctx)
		return err == nil && st.Pending == 0 && st.AckPending > 0 && a.Stats()[0].Messages == uint64(st.AckPending)
	}, 30*time.Second, 10*time.Millisecond, "A holds every message")

	b, _ := open("b", 0)
	bctx, bcancel := context.WithCancel(ctx)
	defer bcancel()
	berr := make(chan error, 1)
	go func() { berr <- b.Run(bctx) }()
	require.Eventually(t, func() bool {
		st, err := cons.State(ctx)
		return a.Stats()[0].Batches >= 1 && err == nil && st.AckPending == 0 && st.Pending == 0
	}, 60*time.Second, 50*time.Millisecond, "A commits and acknowledges its batch")
	time.Sleep(1500 * time.Millisecond) // room for a redelivery to B to show
	acancel()
	bcancel()
	require.NoError(t, <-aerr)
	require.NoError(t, <-berr)
	require.Equal(t, uint64(digests), f.count("SELECT count() FROM sofarpc_digest"), "every line once")
	require.Zero(t, b.Stats()[0].Messages, "no message of A's batch was redelivered to B")
}

// TestReplayReportsMessagesTheStreamLost: a batch crashes after its insert
// and one of its messages is then removed from the stream (as retention
// would); the replay writes the rest, and counts the lost message instead
// of dropping it silently.
func TestReplayReportsMessagesTheStreamLost(t *testing.T) {
	f := newFixture(t)
	f.publish(3_000, 50, 0)
	p, _ := f.pipeline(Config{MaxRows: 1_000, crashAfterInsert: 1, Inserters: 1})
	require.ErrorIs(t, f.runUntil(p, func() bool { return false }), errCrashed)
	ctx := context.Background()
	recs, err := f.journal.List(ctx, f.spec.Stream, f.spec.Durable)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.False(t, recs[0].Committed)

	nc, err := nats.Connect(f.broker.URL())
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	st, err := js.Stream(ctx, f.spec.Stream)
	require.NoError(t, err)
	require.NoError(t, st.DeleteMsg(ctx, recs[0].First()))
	nc.Close()

	p2, _ := f.pipeline(Config{MaxRows: 1_000})
	require.NoError(t, f.runUntil(p2, func() bool { return p2.Stats()[0].Replayed == 1 }))
	require.EqualValues(t, 1, p2.Stats()[0].Lost, "the missing message is counted")
}

// TestJournalStaysSmall drains a few hundred batches and idles past
// ackSettle: the journal ends with O(batches in flight) entries (records not
// yet collected, and fewer markers of deleted records than the compaction
// threshold), not one entry per batch ever written.
func TestJournalStaysSmall(t *testing.T) {
	f := newFixture(t)
	recs := f.publish(30_000, 100, 0)
	valid, _ := countValid(recs, false)
	p, cons := f.pipeline(Config{MaxRows: 100, MaxAge: 50 * time.Millisecond})
	ctx := context.Background()
	var caughtUp time.Time
	require.NoError(t, f.runUntil(p, func() bool {
		st, err := cons.State(ctx)
		if p.Stats()[0].RecordsCommitted < uint64(valid) || err != nil || st.AckPending != 0 || st.Pending != 0 {
			return false
		}
		if caughtUp.IsZero() {
			caughtUp = time.Now()
		}
		return time.Since(caughtUp) > 2*ackSettle // the last batches' records settle and are collected
	}))
	batches := p.Stats()[0].Batches
	require.Greater(t, batches, uint64(200))
	size, err := f.journal.Size(ctx)
	require.NoError(t, err)
	require.Less(t, size, uint64(compactEvery+10), "journal entries after %d batches", batches)
	t.Logf("%d batches, %d journal entries left", batches, size)
}

// TestCompactionDoesNotHoldUpCommits: the journal's compaction watches the
// whole shared bucket and lasts as long as others keep writing to it (20 s
// was seen under load). Here a compaction never finishes: the source must
// keep committing meanwhile, and no second compaction starts beside it.
func TestCompactionDoesNotHoldUpCommits(t *testing.T) {
	f := newFixture(t)
	first, _ := countValid(f.publish(10_000, 100, 0), false)
	var started atomic.Int32
	hang := func(ctx context.Context) error {
		started.Add(1)
		<-ctx.Done()
		return ctx.Err()
	}
	p, _ := f.pipeline(Config{MaxRows: 100, MaxAge: 50 * time.Millisecond, compact: hang})
	second := 0
	require.NoError(t, f.runUntil(p, func() bool {
		if started.Load() == 0 {
			return false
		}
		if second == 0 { // published only once a compaction hangs
			second, _ = countValid(f.publish(10_000, 100, 0), false)
		}
		return p.Stats()[0].RecordsCommitted >= uint64(first+second)
	}))
	require.EqualValues(t, first+second, p.Stats()[0].RecordsCommitted)
	require.EqualValues(t, 1, started.Load(), "one compaction at a time")
}

// TestShutdownWhileClickHouseRefusesIsBounded: the table refuses inserts
// (a retryable TOO_MANY_PARTS) when the run is stopped; the drain gives up
// after the shutdown timeout instead of retrying forever, says so
// (ErrDrainIncomplete), and leaves the batch unacknowledged: the next run
// writes every row once.
func TestShutdownWhileClickHouseRefusesIsBounded(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	require.NoError(t, f.target.Exec(ctx, "INSERT INTO sofarpc_digest (timestamp, trace_id) VALUES (now(), 'first part')"))
	require.NoError(t, f.target.Exec(ctx, "ALTER TABLE sofarpc_digest MODIFY SETTING parts_to_throw_insert = 1"))
	recs := f.publish(2_000, 100, 0)
	digests, _ := countValid(recs, true)
	p, cons := f.pipeline(Config{RetryMin: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond, ShutdownTimeout: time.Second})
	runCtx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- p.Run(runCtx) }()
	require.Eventually(t, func() bool { return p.Stats()[0].Retries >= 3 }, time.Minute, 20*time.Millisecond, "the refused insert is retried")
	cancel()
	select {
	case err := <-errc:
		require.ErrorIs(t, err, ErrDrainIncomplete)
	case <-time.After(20 * time.Second):
		t.Fatal("the drain did not give up after its shutdown timeout (1s)")
	}
	st, err := cons.State(ctx)
	require.NoError(t, err)
	require.Positive(t, st.AckPending+int(st.Pending), "the uncommitted batch is left unacknowledged")

	require.NoError(t, f.target.Exec(ctx, "ALTER TABLE sofarpc_digest RESET SETTING parts_to_throw_insert"))
	p2, _ := f.pipeline(Config{})
	require.NoError(t, f.runUntil(p2, func() bool { return f.count("SELECT count() FROM sofarpc_digest") >= uint64(digests+1) }))
	time.Sleep(time.Second)
	require.Equal(t, uint64(digests+1), f.count("SELECT count() FROM sofarpc_digest"), "every row once after the next run")
}
