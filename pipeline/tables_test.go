package pipeline

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/schema"
	"github.com/tapline/tapline/sink/embedded"
)

// spanTarget slows every data insert by delay and records when each one
// ran, by its token.
type spanTarget struct {
	*embedded.Target
	delay time.Duration
	mu    sync.Mutex
	spans map[string][2]time.Time
}

func (s *spanTarget) Insert(ctx context.Context, table *schema.Table, rec arrow.Record, token string) error {
	if table == schema.PipelineBatches {
		return s.Target.Insert(ctx, table, rec, token)
	}
	began := time.Now()
	time.Sleep(s.delay)
	err := s.Target.Insert(ctx, table, rec, token)
	s.mu.Lock()
	s.spans[token] = [2]time.Time{began, time.Now()}
	s.mu.Unlock()
	return err
}

// TestBatchTablesAreInsertedAtOnce commits SOFARPC batches that hold digests
// and stats, with every insert 300 ms slower: each batch's two inserts must
// overlap in time (the stats, second in the decoder's table order, do not
// wait for the digests), and every record still lands once.
func TestBatchTablesAreInsertedAtOnce(t *testing.T) {
	f := newFixture(t)
	recs := f.publish(2_000, 50, 0)
	valid, _ := countValid(recs, false)
	cons, dec := f.sofarpcSource(0)
	target := &spanTarget{Target: f.target, delay: 300 * time.Millisecond, spans: map[string][2]time.Time{}}
	p, err := New(Config{MaxRows: 500, MaxAge: 100 * time.Millisecond, Inserters: 1}, target, f.journal, f.dlq, []Source{{Name: "sofarpc", Decoder: dec, Consumer: cons}})
	require.NoError(t, err)
	require.NoError(t, f.runUntil(p, func() bool { return p.Stats()[0].RecordsCommitted >= uint64(valid) }))

	target.mu.Lock()
	defer target.mu.Unlock()
	both := 0
	for tok, digest := range target.spans {
		batch, ok := strings.CutSuffix(tok, ":"+schema.SofarpcDigest.Name())
		if !ok {
			continue
		}
		stat, ok := target.spans[batch+":"+schema.SofarpcStat.Name()]
		if !ok {
			continue // a batch of digests only
		}
		both++
		require.True(t, stat[0].Before(digest[1]) && digest[0].Before(stat[1]),
			"batch %s: digests inserted %v–%v and stats %v–%v, one after the other", batch,
			digest[0].Format("15:04:05.000"), digest[1].Format("15:04:05.000"), stat[0].Format("15:04:05.000"), stat[1].Format("15:04:05.000"))
	}
	require.Positive(t, both, "batches held digests and stats")
	require.Equal(t, uint64(valid), f.count("SELECT count() FROM sofarpc_digest")+f.count("SELECT count() FROM sofarpc_stat"), "every record once")
}

// phaseTarget slows every data insert by data and every pipeline_batches
// insert by health.
type phaseTarget struct {
	*embedded.Target
	data, health time.Duration
}

func (s *phaseTarget) Insert(ctx context.Context, table *schema.Table, rec arrow.Record, token string) error {
	if table == schema.PipelineBatches {
		time.Sleep(s.health)
	} else {
		time.Sleep(s.data)
	}
	return s.Target.Insert(ctx, table, rec, token)
}

// TestCommitPhasesAreTimedWhereTheyHappen commits SOFARPC batches with
// every data insert 150 ms slower and every pipeline_batches insert 450 ms
// slower: each committed batch reports each phase once, the insert phase
// holds the first delay and not the second, the health phase holds the
// second, and neither delay shows up in the phases around them; Stats sums
// each phase over the batches.
func TestCommitPhasesAreTimedWhereTheyHappen(t *testing.T) {
	const data, health = 150 * time.Millisecond, 450 * time.Millisecond
	f := newFixture(t)
	recs := f.publish(1_500, 50, 0)
	valid, _ := countValid(recs, false)
	cons, dec := f.sofarpcSource(0)
	var mu sync.Mutex
	seen := map[Phase][]time.Duration{}
	sources := map[string]bool{}
	cfg := Config{MaxRows: 500, MaxAge: 100 * time.Millisecond, Inserters: 1, ObservePhase: func(source string, ph Phase, d time.Duration) {
		mu.Lock()
		seen[ph] = append(seen[ph], d)
		sources[source] = true
		mu.Unlock()
	}}
	p, err := New(cfg, &phaseTarget{Target: f.target, data: data, health: health}, f.journal, f.dlq, []Source{{Name: "sofarpc", Decoder: dec, Consumer: cons}})
	require.NoError(t, err)
	require.NoError(t, f.runUntil(p, func() bool { return p.Stats()[0].RecordsCommitted >= uint64(valid) }))

	mu.Lock()
	defer mu.Unlock()
	batches := int(p.Stats()[0].Batches)
	require.Positive(t, batches)
	require.Equal(t, map[string]bool{"sofarpc": true}, sources)
	require.Len(t, seen, len(Phases), "every phase is reported")
	for _, ph := range Phases {
		require.Len(t, seen[ph], batches, "phase %s once per committed batch", ph)
		var sum time.Duration
		for _, d := range seen[ph] {
			sum += d
		}
		require.Equal(t, sum, p.Stats()[0].PhaseTime[ph], "Stats sums phase %s over the batches", ph)
	}
	for i := range batches {
		require.GreaterOrEqual(t, seen[PhaseInsert][i], data, "batch %d: the data inserts' delay is in the insert phase", i)
		require.Less(t, seen[PhaseInsert][i], health, "batch %d: the pipeline_batches insert is not in the insert phase", i)
		require.GreaterOrEqual(t, seen[PhaseHealth][i], health, "batch %d: the pipeline_batches insert's delay is in the health phase", i)
		for _, ph := range []Phase{PhaseClaim, PhaseJournal} {
			require.Less(t, seen[ph][i], data, "batch %d: no insert's delay is in the %s phase", i, ph)
		}
	}
}
