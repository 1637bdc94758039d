package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestEndOfBacklogIsCommittedWithoutWaitingForTheAge drains a backlog whose
// last batch is not full, with a batch age far longer than the test: the
// batch in hand closes when the consumer has caught up with the stream, so
// every record is committed at once. A batch below an eighth of the bounds
// (a trickle), and one read as a live stream delivers it, still wait for
// their age.
func TestEndOfBacklogIsCommittedWithoutWaitingForTheAge(t *testing.T) {
	f := newFixture(t)
	recs := f.publish(12_000, 250, 0)
	valid, _ := countValid(recs, false)
	p, _ := f.pipeline(Config{MaxRows: 8_000, MaxAge: 10 * time.Minute})
	began := time.Now()
	require.NoError(t, f.runUntil(p, func() bool { return p.Stats()[0].RecordsCommitted >= uint64(valid) }))
	require.Equal(t, uint64(valid), p.Stats()[0].RecordsCommitted, "the backlog's last batch (4,000 of 8,000 rows) closed when the consumer caught up, not after its 10-minute age")
	// Stopping the pipeline commits the batch in hand too: the time tells the
	// caught-up rule apart from a stop.
	took := time.Since(began)
	require.Less(t, took, 30*time.Second, "committed by the caught-up rule, not by stopping")
	t.Logf("12,000 records committed in %v with a 10-minute batch age", took.Round(time.Millisecond))

	// A trickle: 200 records, under an eighth of 8,000 rows and of 32 MiB.
	recs = f.publish(200, 250, 0)
	p, _ = f.pipeline(Config{MaxRows: 8_000, MaxAge: 10 * time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	time.Sleep(3 * time.Second)
	require.Zero(t, p.Stats()[0].Batches, "a small batch waits for its age even when the consumer has caught up")
	// A live stream: messages of 250 records arriving one by one, each
	// the last one waiting when it comes. The batch passes an eighth of
	// 8,000 rows, but it was not read from a backlog: it waits for its age,
	// so that a live stream's inserts stay few.
	for i := 0; i < 8; i++ {
		recs = append(recs, f.publish(250, 250, 0)...)
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second)
	require.Zero(t, p.Stats()[0].Batches, "a live stream's batch waits for its age")
	cancel()
	require.NoError(t, <-errc)
	require.Equal(t, uint64(len(recs)), p.Stats()[0].RecordsCommitted, "stopping commits the batch in hand")
}
