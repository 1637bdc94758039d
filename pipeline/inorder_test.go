package pipeline

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/schema"
	"github.com/tapline/tapline/sink/embedded"
)

// overlapTarget delays every insert and records how many ran at once.
type overlapTarget struct {
	*embedded.Target
	delay time.Duration
	mu    sync.Mutex
	now   int
	most  int
}

func (o *overlapTarget) Insert(ctx context.Context, table *schema.Table, rec arrow.Record, token string) error {
	o.mu.Lock()
	o.now++
	o.most = max(o.most, o.now)
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		o.now--
		o.mu.Unlock()
	}()
	time.Sleep(o.delay)
	return o.Target.Insert(ctx, table, rec, token)
}

// ordered is a decoder that asks for its batches to be inserted in order.
type ordered struct{ decode.Decoder }

func (ordered) InsertInOrder() bool { return true }

// TestOrderedDecoderInsertsOneBatchAtATime drains a backlog of several
// batches through slow inserts with the default two inserters: a source
// whose decoder implements decode.Ordered (as django's does) never has two
// inserts running at once, whoever built the Source, not even the two
// tables of one batch; the same decoder without it does (two batches, or a
// batch's digests and stats, at once), which shows the test can see an
// overlap.
func TestOrderedDecoderInsertsOneBatchAtATime(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ordered bool
		most    int
	}{{"ordered", true, 1}, {"unordered", false, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			recs := f.publish(4_000, 40, 0)
			valid, _ := countValid(recs, false)
			cons, dec := f.sofarpcSource(0)
			if tc.ordered {
				dec = ordered{dec}
			}
			target := &overlapTarget{Target: f.target, delay: 100 * time.Millisecond}
			p, err := New(Config{MaxRows: 600, MaxAge: 100 * time.Millisecond}, target, f.journal, f.dlq, []Source{{Name: "sofarpc", Decoder: dec, Consumer: cons}})
			require.NoError(t, err)
			require.NoError(t, f.runUntil(p, func() bool { return p.Stats()[0].RecordsCommitted >= uint64(valid) }))
			target.mu.Lock()
			defer target.mu.Unlock()
			t.Logf("at most %d inserts at once", target.most)
			if tc.ordered {
				require.Equal(t, tc.most, target.most, "inserts running at once")
			} else {
				require.GreaterOrEqual(t, target.most, tc.most, "inserts running at once")
			}
		})
	}
}
