package app

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/pipeline"
)

// TestPublishProgress: a long publish reports records, megabytes and
// rates on its progress writer, and the last line counts every record.
func TestPublishProgress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := ingest.Start(ctx, ingest.Config{})
	require.NoError(t, err)
	defer b.Close()
	_, serr := b.EnsureStream(ctx, ingest.StreamSpec{Name: "P", Subjects: []string{"p.>"}})
	require.NoError(t, serr)
	pub, err := b.Publisher(0, nil)
	require.NoError(t, err)
	var out bytes.Buffer
	var records atomic.Uint64
	stop := ShowPublishProgress(&out, 20*time.Millisecond, false, records.Load, pub)
	data := bytes.Repeat([]byte("x"), 10_000)
	for i := 0; i < 200; i++ {
		require.NoError(t, pub.PublishAsync(ctx, "p.x", data, ""))
		records.Add(10)
	}
	require.NoError(t, pub.Flush(ctx))
	time.Sleep(100 * time.Millisecond)
	stop()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.NotEmpty(t, lines)
	require.Contains(t, lines[len(lines)-1], "published 2000 records, 2.0 MB (2.0 MB acknowledged)")
	require.Contains(t, lines[len(lines)-1], "records/s")
}

// TestCommitTimeGivesEachPhasesMeanPerBatch: each phase's sum over the
// batches, divided by the batches, in the order a batch passes them; a
// phase without time reads 0s.
func TestCommitTimeGivesEachPhasesMeanPerBatch(t *testing.T) {
	t.Parallel()
	s := pipeline.Stats{Batches: 4, PhaseTime: map[pipeline.Phase]time.Duration{
		pipeline.PhaseJournal: 17 * time.Millisecond,
		pipeline.PhaseInsert:  5 * time.Second,
		pipeline.PhaseClaim:   12345 * time.Microsecond,
		pipeline.PhaseQueued:  800 * time.Microsecond,
	}}
	require.Equal(t, "commit per batch: queued 200µs, claim 3.1ms, insert 1.25s, health 0s, journal 4.3ms", CommitTime(s))
}

func TestSealedBySaysWhyBatchesClosedInSealsOrder(t *testing.T) {
	t.Parallel()
	require.Equal(t, "", SealedBy(pipeline.Stats{}))
	s := pipeline.Stats{Sealed: map[pipeline.Seal]uint64{pipeline.SealCaughtUp: 1, pipeline.SealAge: 52, pipeline.SealBytes: 3, pipeline.SealStop: 0}}
	require.Equal(t, "batches closed by age 52, bytes 3, caught up 1", SealedBy(s))
}
