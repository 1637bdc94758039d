package loadtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/loadtest/publish"
	"github.com/tapline/tapline/loadtest/report"
	"github.com/tapline/tapline/pipeline"
)

func TestValidateReportsEverythingAtOnce(t *testing.T) {
	t.Parallel()
	require.NoError(t, Config{Mix: map[string]float64{"sofarpc": 1}, Duration: time.Second}.Validate())
	err := Config{Mix: map[string]float64{"nope": 1, "django": 0}, Malformed: -0.5, Rate: -1, Publishers: -2, ProbeInterval: -time.Second, Pipeline: pipeline.Config{MaxRows: -1}}.Validate()
	require.Error(t, err)
	for _, want := range []string{`no generator for format "nope"`, "weight of django", "malformed share -0.5", "rate -1", "set a duration or a count", "must not be negative", "intervals and timeouts", "--batch-rows -1"} {
		require.ErrorContains(t, err, want)
	}
	require.ErrorContains(t, Config{Count: 1}.Validate(), "no format in the mix")
	require.Equal(t, []string{"django", "sofarpc"}, Config{Mix: map[string]float64{"sofarpc": 1, "django": 2}}.Formats())
}

func TestVerdictNamesLossAndDuplicates(t *testing.T) {
	t.Parallel()
	ok := []report.Check{{Name: "a", Want: 3, Got: 3, OK: true}, {Name: "b", Want: 0, Got: 0, OK: true}}
	v := verdict(ok)
	require.True(t, v.ZeroLoss)
	require.True(t, v.ZeroDuplicates)
	require.Equal(t, "zero loss, zero duplicates (2 checks)", v.Text)

	v = verdict(append(ok, report.Check{Name: "rows", Want: 10, Got: 9}, report.Check{Name: "view", Want: 5, Got: 7}))
	require.False(t, v.ZeroLoss)
	require.False(t, v.ZeroDuplicates)
	require.Equal(t, "LOSS: rows (9 of 10); DUPLICATES: view (7 for 5)", v.Text)

	v = verdict([]report.Check{{Name: "dl", Want: 2, Got: 3}})
	require.True(t, v.ZeroLoss)
	require.False(t, v.ZeroDuplicates)

	// A digest says nothing by its order: only whether it differs, and
	// then rows were lost and others duplicated or altered.
	v = verdict(append(ok, report.Check{Name: "t: keys", Want: 1, Got: 9, OK: true, Digest: true}))
	require.True(t, v.ZeroLoss && v.ZeroDuplicates, v.Text)
	v = verdict(append(ok, report.Check{Name: "t: keys", Want: 9, Got: 1, Digest: true}))
	require.False(t, v.ZeroLoss)
	require.False(t, v.ZeroDuplicates)
	require.Equal(t, "OTHER ROWS THAN PUBLISHED (lost and duplicated or altered): t: keys", v.Text)
}

func TestTruthRowsFollowTheSubjects(t *testing.T) {
	t.Parallel()
	tally := &publish.Tally{Valid: 10, Subjects: map[string]uint64{
		"logs.sofarpc.client.digest": 4, "logs.sofarpc.server.digest": 3, "logs.sofarpc.server.stat": 2, "logs.sofarpc.client.stat": 1,
	}}
	n, ok := truthRows("sofarpc_digest", tally)
	require.True(t, ok)
	require.EqualValues(t, 7, n)
	n, ok = truthRows("sofarpc_stat", tally)
	require.True(t, ok)
	require.EqualValues(t, 3, n)
	n, ok = truthRows("django_events", tally)
	require.True(t, ok)
	require.EqualValues(t, 10, n)
	_, ok = truthRows("webdebug_events", tally)
	require.False(t, ok, "a document has many event rows: no truth from the generator")
	_, ok = truthRows("envoytap_connections", tally)
	require.False(t, ok)
}

func TestMeasureKeysCoverEveryCheck(t *testing.T) {
	t.Parallel()
	env := Env{Tables: map[string][]string{"sofarpc": {"sofarpc_digest", "sofarpc_stat"}, "envoytap": {"envoytap_connections", "envoytap_events"}}}
	keys := measureKeys(env, []string{"envoytap", "sofarpc"})
	for _, k := range []string{"rows:sofarpc_digest", "rows:sofarpc_stat", "rows:envoytap_events", "latency:sofarpc", "latency:envoytap", "calls", "events",
		"keyrows:sofarpc_digest", "keysum:sofarpc_digest", "keyrows:sofarpc_stat", "keysum:sofarpc_stat"} {
		require.Contains(t, keys, k)
		require.NotEmpty(t, measureSQL(k))
	}
	require.Contains(t, measureSQL("rows:we`ird"), "`we\\`ird`", "identifiers are quoted")
	require.Contains(t, measureSQL("latency:it's"), `'it\'s'`, "values are quoted")
	require.Panics(t, func() { measureSQL("nope:x") })
	require.NotContains(t, keys, "keysum:envoytap_events", "no natural key: no digest")
	require.Contains(t, measureSQL("keysum:sofarpc_stat"), "service != 'tapline.loadtest.Probe'", "probes are not generated records")
}

// TestMergesByMinuteTakesEachMinutesDeltas: the whole run's ratio comes
// from the last point, each minute's from the counters gained in it, a
// minute without a point is 0, and no counters leave the figures out.
func TestMergesByMinuteTakesEachMinutesDeltas(t *testing.T) {
	series := []report.Point{
		{T: 0},
		{T: 30, EngineInsertedRows: 500, EngineMergedRows: 100},
		{T: 59, EngineInsertedRows: 1000, EngineMergedRows: 900},
		{T: 61, EngineInsertedRows: 1500, EngineMergedRows: 1400},
		{T: 119, EngineInsertedRows: 2000, EngineMergedRows: 2900},
		// no point in the third minute
		{T: 185, EngineInsertedRows: 2400, EngineMergedRows: 3700, EngineInsertedParts: 370},
	}
	var l report.Live
	mergesByMinute(&l, series)
	require.Equal(t, uint64(2400), l.EngineInsertedRows)
	require.Equal(t, uint64(3700), l.EngineMergedRows)
	require.InDelta(t, 3700.0/2400, l.MergedPerInserted, 1e-9)
	require.Equal(t, uint64(370), l.EngineInsertedParts)
	require.InDelta(t, 2.0, l.PartsPerSecond, 1e-9)
	require.Len(t, l.MergedPerInsertedByMinute, 4)
	require.InDelta(t, 0.9, l.MergedPerInsertedByMinute[0], 1e-9)
	require.InDelta(t, 2.0, l.MergedPerInsertedByMinute[1], 1e-9)
	require.Zero(t, l.MergedPerInsertedByMinute[2])
	require.InDelta(t, 2.0, l.MergedPerInsertedByMinute[3], 1e-9)

	var none report.Live
	mergesByMinute(&none, []report.Point{{T: 0}, {T: 1}})
	require.Zero(t, none.EngineInsertedRows)
	require.Empty(t, none.MergedPerInsertedByMinute)
}

// TestMergeClockCountsEachMergeForTheTimeSinceTheSampleBefore: a merge seen
// in a sample counts for the time since the sample before (two at once
// count twice), a merge seen twice is one merge, the shares add up to 100
// with the largest table first, and a line that is not "table<TAB>part" is
// an error, not a guess.
func TestMergeClockCountsEachMergeForTheTimeSinceTheSampleBefore(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := newMergeClock(t0)
	require.Nil(t, c.byTable(), "no merge seen yet")
	require.NoError(t, c.add("", t0.Add(200*time.Millisecond)))
	require.Nil(t, c.byTable(), "a sample without merges counts nothing")
	require.NoError(t, c.add("events\t202612_1_20_1\nbatches\tall_3_9_1\n", t0.Add(400*time.Millisecond)))
	require.NoError(t, c.add("events\t202612_1_20_1\nevents\t202612_21_40_1\n", t0.Add(700*time.Millisecond)))
	require.NoError(t, c.add("\n", t0.Add(900*time.Millisecond)))

	got := c.byTable()
	require.Len(t, got, 2)
	require.Equal(t, "events", got[0].Table)
	require.InDelta(t, 0.2+0.3+0.3, got[0].Seconds, 1e-9)
	require.Equal(t, 2, got[0].Merges)
	require.Equal(t, "batches", got[1].Table)
	require.InDelta(t, 0.2, got[1].Seconds, 1e-9)
	require.Equal(t, 1, got[1].Merges)
	require.InDelta(t, 80.0, got[0].Percent, 1e-9)
	require.InDelta(t, 100.0, got[0].Percent+got[1].Percent, 1e-9)
	require.Equal(t, "events 0.8s (80%), 1 more 20%", report.MergeTimeList(got, 1))

	// A read that fails, or answers in another shape, counts nothing; the
	// next one counts from the last read that answered. A read cut short
	// by the end of the live phase is no failure.
	c.record("events\tp\nno tab here", nil, false, t0.Add(time.Second))
	c.record("", errors.New("engine busy"), false, t0.Add(1100*time.Millisecond))
	c.record("", context.Canceled, true, t0.Add(1150*time.Millisecond))
	c.record("events\t202612_41_60_1\n", nil, false, t0.Add(1400*time.Millisecond))
	got = c.byTable()
	require.InDelta(t, 0.8+0.5, got[0].Seconds, 1e-9, "from 900ms, the last read that answered")
	require.Equal(t, 3, got[0].Merges)
	require.Equal(t, 2, c.failed)
	require.ErrorContains(t, c.err, "unexpected line")
	require.Empty(t, c.unread(), "reads answered: the figures stand")

	never := newMergeClock(t0)
	never.record("", errors.New("no grant"), false, t0.Add(time.Second))
	require.Equal(t, "no grant", never.unread())
	require.Nil(t, never.byTable())
}

// TestPartsByMinuteTakesEachMinutesMost: the end is the last reading, not
// the last point; points without a reading are skipped; each minute keeps
// its most; a minute without a reading is 0.
func TestPartsByMinuteTakesEachMinutesMost(t *testing.T) {
	series := []report.Point{
		{T: 0},
		{T: 20, ActiveParts: 30, PartitionParts: 12},
		{T: 40, ActiveParts: 45, PartitionParts: 18},
		{T: 59, ActiveParts: 25, PartitionParts: 9},
		// no reading in the second minute
		{T: 70},
		{T: 130, ActiveParts: 60, PartitionParts: 21},
		{T: 150, ActiveParts: 40, PartitionParts: 15},
		{T: 151}, // the last point, without a reading
	}
	var l report.Live
	partsByMinute(&l, series)
	require.Equal(t, uint64(40), l.ActivePartsEnd)
	require.Equal(t, uint64(60), l.ActivePartsMax)
	require.Equal(t, uint64(21), l.PartitionPartsMax)
	require.Equal(t, []uint64{45, 0, 60}, l.ActivePartsByMinute)

	var none report.Live
	partsByMinute(&none, []report.Point{{T: 0}, {T: 1}})
	require.Zero(t, none.ActivePartsMax)
	require.Empty(t, none.ActivePartsByMinute)
}

// TestPhaseClockReportsEachPhaseInCommitOrder: phases observed out of order
// and from several sources come out in the order a batch passes them, each
// with its own batches and percentiles, for all sources together and for
// each; a phase never observed is left out.
func TestPhaseClockReportsEachPhaseInCommitOrder(t *testing.T) {
	t.Parallel()
	var c phaseClock
	require.Empty(t, c.phases(""), "no batch, no phases")
	for i := 1; i <= 100; i++ {
		c.observe("sofarpc", pipeline.PhaseInsert, time.Duration(i)*time.Millisecond)
		c.observe("django", pipeline.PhaseClaim, time.Duration(i)*100*time.Microsecond)
	}
	c.observe("django", pipeline.PhaseQueued, 3*time.Millisecond)
	c.observe("django", pipeline.PhaseInsert, 500*time.Millisecond)
	got := c.phases("")
	require.Len(t, got, 3)
	require.Equal(t, report.CommitPhase{Phase: "queued", Batches: 1, P50Ms: 3, P90Ms: 3, P99Ms: 3, MaxMs: 3}, got[0])
	require.Equal(t, report.CommitPhase{Phase: "claim", Batches: 100, P50Ms: 5, P90Ms: 9, P99Ms: 9.9, MaxMs: 10}, got[1])
	require.Equal(t, report.CommitPhase{Phase: "insert", Batches: 101, P50Ms: 51, P90Ms: 91, P99Ms: 100, MaxMs: 500}, got[2])
	require.Equal(t, "queued 3.0/3.0ms, claim 5.0/9.9ms, insert 51/100ms", report.PhaseList(got))

	sofarpc := c.phases("sofarpc")
	require.Equal(t, []report.CommitPhase{{Phase: "insert", Batches: 100, P50Ms: 50, P90Ms: 90, P99Ms: 99, MaxMs: 100}}, sofarpc)
	django := c.phases("django")
	require.Len(t, django, 3)
	require.Equal(t, report.CommitPhase{Phase: "insert", Batches: 1, P50Ms: 500, P90Ms: 500, P99Ms: 500, MaxMs: 500}, django[2])
	require.Empty(t, c.phases("g3proxy"))
}
