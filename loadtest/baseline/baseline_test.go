package baseline

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/internal/embeddedtest"
	"github.com/tapline/tapline/loadtest/publish"
	"github.com/tapline/tapline/pipeline"
	"github.com/tapline/tapline/sql"
)

// TestBaselinesReadEveryPublishedMessage publishes generated records of
// every format to an embedded NATS server, then runs the three baselines
// on them: each reads every message exactly once, the engine and the drain
// write what the records say, and the numbers they report add up.
func TestBaselinesReadEveryPublishedMessage(t *testing.T) {
	ctx := context.Background()
	b, err := ingest.Start(ctx, ingest.Config{StoreDir: t.TempDir()})
	require.NoError(t, err)
	defer b.Close()
	formats := map[string]float64{"sofarpc": 3, "g3proxy": 1, "django": 1, "webdebug": 1, "envoytap": 1}
	var streams, jsonStreams []Stream
	for _, f := range []string{"django", "envoytap", "g3proxy", "sofarpc", "webdebug"} {
		spec := ingest.DefaultSource(f)
		_, serr := b.EnsureStream(ctx, ingest.StreamSpec{Name: spec.Stream, Subjects: spec.Subjects})
		require.NoError(t, serr)
		streams = append(streams, Stream{Format: f, Stream: spec.Stream})
		if IsJSONFormat(f) {
			jsonStreams = append(jsonStreams, Stream{Format: f, Stream: spec.Stream})
		}
	}
	pub, err := b.Publisher(0, nil)
	require.NoError(t, err)
	res, err := publish.Run(ctx, publish.Config{Formats: formats, Seed: 2, Malformed: 0.01, Count: 7000, PerMessage: 50, RunID: "bt", Senders: []publish.Sender{pub}}, nil)
	require.NoError(t, err)

	dial := func(ctx context.Context) (*ingest.Broker, error) {
		return ingest.Start(ctx, ingest.Config{URL: b.URL()})
	}
	reads, elapsed, err := Broker(ctx, dial, "tapline-loadtest-broker", streams)
	require.NoError(t, err)
	require.Positive(t, elapsed)
	for _, r := range reads {
		tally := res.Formats[r.Format]
		require.Equal(t, tally.Messages, r.Messages, r.Format)
		require.Equal(t, tally.Bytes, r.Bytes, r.Format)
		require.LessOrEqual(t, r.Elapsed, elapsed)
	}
	again, _, err := Broker(ctx, dial, "tapline-loadtest-broker", streams[:1])
	require.NoError(t, err)
	require.Zero(t, again[0].Messages, "the same durable reads only what it has not acknowledged")

	engineDB := embeddedtest.Target(t, 2)
	require.NoError(t, sql.Apply(ctx, engineDB))
	require.NoError(t, Prepare(ctx, engineDB))
	_, err = Engine(ctx, EngineConfig{Broker: b, Durable: "e", Into: poolInserter{engineDB.Pool()}}, streams[1:2])
	require.ErrorContains(t, err, "envoytap is not a JSON-lines format")
	ereads, err := Engine(ctx, EngineConfig{Broker: b, Durable: "tapline-loadtest-json", Into: poolInserter{engineDB.Pool()}, MaxRows: 1000}, jsonStreams)
	require.NoError(t, err)
	for _, r := range ereads {
		tally := res.Formats[r.Format]
		require.Equal(t, tally.Records, r.Lines, "%s: one line per record", r.Format)
		require.Equal(t, tally.Messages, r.Messages, r.Format)
		require.Positive(t, r.Elapsed, r.Format)
	}
	sofa := res.Formats["sofarpc"]
	valid := uint64(0)
	for subj, n := range sofa.Subjects {
		if strings.HasSuffix(subj, ".digest") {
			valid += n
		}
	}
	out, err := engineDB.Query(ctx, "SELECT count() FROM sofarpc_digest", "TabSeparated", nil)
	require.NoError(t, err)
	n, err := strconv.ParseUint(strings.TrimSpace(string(out)), 10, 64)
	require.NoError(t, err)
	require.InDelta(t, valid, n, float64(2*sofa.Malformed), "the engine writes the valid lines (a cut line may take its neighbour with it)")

	drainDB := embeddedtest.Target(t, 2)
	require.NoError(t, sql.Apply(ctx, drainDB))
	dlq, err := b.DeadLetters(ctx, ingest.DefaultDeadLetterStream)
	require.NoError(t, err)
	drained, err := Drain(ctx, DrainConfig{Broker: b, Durable: "tapline-loadtest-drain", Target: drainDB, DLQ: dlq,
		Pipeline:   pipeline.Config{MaxRows: 500},
		NewDecoder: func(f string) (decode.Decoder, error) { return decoders[f](decode.Options{}) },
	}, jsonStreams)
	require.NoError(t, err)
	for _, d := range drained {
		tally := res.Formats[d.Format]
		require.Equal(t, tally.Valid, d.Records, d.Format)
		require.Equal(t, tally.Malformed, d.Rejected, d.Format)
		require.Greater(t, d.Batches, uint64(1), "%s: MaxRows 500 splits the drain", d.Format)
		require.False(t, d.Tail, d.Format)
		require.Positive(t, d.Counted, d.Format)
		if d.Sealed[pipeline.SealAge] == 0 {
			require.Equal(t, d.Records+d.Rejected, d.Counted, "%s: no batch waited for its age, so all are counted", d.Format)
		} else {
			require.Less(t, d.Counted, d.Records+d.Rejected, "%s: the last batch waited for its age and is not counted", d.Format)
		}
		require.Positive(t, d.Elapsed, d.Format)
		require.Positive(t, d.Reader.Building, "%s: the drain's reader decoded", d.Format)
		require.Positive(t, d.Reader.Waiting, "%s: the drain's reader waited for messages at the end", d.Format)
	}
	out, err = drainDB.Query(ctx, "SELECT count() FROM sofarpc_digest", "TabSeparated", nil)
	require.NoError(t, err)
	require.Equal(t, strconv.FormatUint(valid, 10)+"\n", string(out), "the drain writes every valid digest line")
}

// TestDrainCountsTheLastBatchUnlessItWaitedForItsAge drains two backlogs of
// SOFARPC lines, one per message, in batches of 200 rows. 1,100 records
// leave a last batch of 100 rows, which closes as the consumer catches up:
// every record counts, to the last commit. 1,010 leave 10 rows, too few to
// close that way (under an eighth of the batch), so the last batch waits
// for its age and the count stops at the batch before it.
func TestDrainCountsTheLastBatchUnlessItWaitedForItsAge(t *testing.T) {
	ctx := context.Background()
	drain := func(t *testing.T, count int64) Drained {
		b, err := ingest.Start(ctx, ingest.Config{StoreDir: t.TempDir()})
		require.NoError(t, err)
		defer b.Close()
		spec := ingest.DefaultSource("sofarpc")
		_, err = b.EnsureStream(ctx, ingest.StreamSpec{Name: spec.Stream, Subjects: spec.Subjects})
		require.NoError(t, err)
		pub, err := b.Publisher(0, nil)
		require.NoError(t, err)
		res, err := publish.Run(ctx, publish.Config{Formats: map[string]float64{"sofarpc": 1}, Seed: 3, Count: count, PerMessage: 1, RunID: "tail", Senders: []publish.Sender{pub}}, nil)
		require.NoError(t, err)
		require.Equal(t, uint64(count), res.Formats["sofarpc"].Records)
		db := embeddedtest.Target(t, 2)
		require.NoError(t, sql.Apply(ctx, db))
		dlq, err := b.DeadLetters(ctx, ingest.DefaultDeadLetterStream)
		require.NoError(t, err)
		out, err := Drain(ctx, DrainConfig{Broker: b, Durable: "drain", Target: db, DLQ: dlq,
			// An age well above a delivery's stall under a loaded machine: only
			// the last batch can close by it.
			Pipeline:   pipeline.Config{MaxRows: 200, MaxAge: 3 * time.Second},
			NewDecoder: func(f string) (decode.Decoder, error) { return decoders[f](decode.Options{}) },
		}, []Stream{{Format: "sofarpc", Stream: spec.Stream}})
		require.NoError(t, err)
		require.Len(t, out, 1)
		d := out[0]
		require.Equal(t, uint64(count), d.Records+d.Rejected)
		return d
	}
	t.Run("caught up", func(t *testing.T) {
		d := drain(t, 1100)
		require.Equal(t, map[pipeline.Seal]uint64{pipeline.SealRows: 5, pipeline.SealCaughtUp: 1}, d.Sealed)
		require.Equal(t, uint64(1100), d.Counted, "the last batch closed without waiting: every record counts")
		require.False(t, d.Tail)
	})
	t.Run("waited for its age", func(t *testing.T) {
		d := drain(t, 1010)
		require.Equal(t, map[pipeline.Seal]uint64{pipeline.SealRows: 5, pipeline.SealAge: 1}, d.Sealed)
		require.Equal(t, uint64(1000), d.Counted, "the last batch waited for its age: the count stops before it")
		require.False(t, d.Tail)
	})
}
