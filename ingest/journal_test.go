package ingest

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

// TestJournalKeepsEveryWriteOfALiveRecord: a watch that resumes from an
// earlier revision (as the index's watch does after a reconnect, and as a
// watch that fell behind reads the bucket) sees a record's first write,
// although the record was written twice since: so it learns of the record
// at its creation, not at a later revision than another process's record.
// Checked on a fresh bucket and on one an earlier release created with a
// history of one write, which OpenJournal raises.
func TestJournalKeepsEveryWriteOfALiveRecord(t *testing.T) {
	ctx, b := embedded(t, time.Minute)
	_, err := b.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "earlier", History: 1, Storage: jetstream.FileStorage})
	require.NoError(t, err)

	for _, bucket := range []string{"fresh", "earlier"} {
		j, err := b.Journal(ctx, bucket)
		require.NoError(t, err)
		st, err := j.kv.Status(ctx)
		require.NoError(t, err)
		require.EqualValues(t, JournalHistory, st.History(), bucket)

		created, err := j.Create(ctx, BatchRecord{Stream: "S", Durable: "d", Ranges: []SeqRange{{First: 10, Last: 20}}, Token: "t", Owner: "a/1"})
		require.NoError(t, err)
		e, err := j.Swap(ctx, created, func(r *BatchRecord) bool { r.Cleared = true; return true })
		require.NoError(t, err)
		_, err = j.Swap(ctx, e, func(r *BatchRecord) bool { r.Committed = true; return true })
		require.NoError(t, err)

		w, err := j.kv.Watch(ctx, e.Key, jetstream.ResumeFromRevision(created.Revision))
		require.NoError(t, err)
		var first jetstream.KeyValueEntry
		select {
		case first = <-w.Updates():
		case <-ctx.Done():
			t.Fatal("no update")
		}
		require.NoError(t, w.Stop())
		require.NotNil(t, first, bucket)
		require.Equal(t, created.Revision, first.Revision(), "%s: the resumed watch starts at the record's creation", bucket)
	}
}

// TestCreateTakesOnlyItsOwnRetriedWrite: Create succeeds on a key that
// holds the very record it writes (a retry whose first attempt was stored),
// and conflicts on one that holds another batch of the same process with
// the same first and last sequence (an unused record whose deletion
// failed), or its own record once cleared.
func TestCreateTakesOnlyItsOwnRetriedWrite(t *testing.T) {
	ctx, b := embedded(t, time.Minute)
	j, err := b.Journal(ctx, "retry")
	require.NoError(t, err)
	rec := func(r ...SeqRange) BatchRecord {
		return BatchRecord{Stream: "S", Durable: "d", Ranges: r, Token: "t", Owner: "a/1"}
	}
	first, err := j.Create(ctx, rec(SeqRange{First: 10, Last: 12}, SeqRange{First: 20, Last: 20}))
	require.NoError(t, err)

	again, err := j.Create(ctx, rec(SeqRange{First: 10, Last: 12}, SeqRange{First: 20, Last: 20}))
	require.NoError(t, err, "a retried Create finds its own write")
	require.Equal(t, first.Revision, again.Revision)

	_, err = j.Create(ctx, rec(SeqRange{First: 10, Last: 10}, SeqRange{First: 15, Last: 15}, SeqRange{First: 20, Last: 20}))
	require.ErrorIs(t, err, ErrJournalConflict, "another batch of the same process under the same key")

	_, err = j.Swap(ctx, first, func(r *BatchRecord) bool { r.Cleared = true; return true })
	require.NoError(t, err)
	_, err = j.Create(ctx, rec(SeqRange{First: 10, Last: 12}, SeqRange{First: 20, Last: 20}))
	require.ErrorIs(t, err, ErrJournalConflict, "a cleared record is not a retried Create's")
}

// TestDeleteUnusedLeavesARecordThatChangedHands: an unused record is
// deleted while it is its owner's and uncleared; once cleared, or adopted by
// another owner, it stays.
func TestDeleteUnusedLeavesARecordThatChangedHands(t *testing.T) {
	ctx, b := embedded(t, time.Minute)
	j, err := b.Journal(ctx, "unused")
	require.NoError(t, err)
	rec := func(first uint64) BatchRecord {
		return BatchRecord{Stream: "S", Durable: "d", Ranges: []SeqRange{{First: first, Last: first + 5}}, Token: "t", Owner: "a/1", Lease: time.Minute}
	}
	exists := func(key string) bool {
		_, err := j.get(ctx, key)
		return err == nil
	}

	unused, err := j.Create(ctx, rec(1))
	require.NoError(t, err)
	gone, err := j.DeleteUnused(ctx, unused.Key, "a/1")
	require.NoError(t, err)
	require.True(t, gone)
	require.False(t, exists(unused.Key), "its owner's uncleared record is deleted")

	cleared, err := j.Create(ctx, rec(10))
	require.NoError(t, err)
	_, err = j.Swap(ctx, cleared, func(r *BatchRecord) bool { r.Cleared = true; return true })
	require.NoError(t, err)
	gone, err = j.DeleteUnused(ctx, cleared.Key, "a/1")
	require.NoError(t, err)
	require.False(t, gone)
	require.True(t, exists(cleared.Key), "a cleared record stays")

	adopted, err := j.Create(ctx, rec(20))
	require.NoError(t, err)
	_, won, err := j.Adopt(ctx, adopted, "b/1", time.Minute)
	require.NoError(t, err)
	require.True(t, won)
	gone, err = j.DeleteUnused(ctx, adopted.Key, "a/1")
	require.NoError(t, err)
	require.False(t, gone)
	require.True(t, exists(adopted.Key), "another owner's record stays")
}
