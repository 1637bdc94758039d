package pipeline

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest"
)

func TestSeqSetMergesAndContains(t *testing.T) {
	t.Parallel()
	var s seqSet
	s.add([]ingest.SeqRange{{First: 10, Last: 12}, {First: 20, Last: 20}})
	s.add([]ingest.SeqRange{{First: 13, Last: 15}}) // adjacent: merges
	s.add([]ingest.SeqRange{{First: 17, Last: 19}}) // adjacent to 20
	s.add([]ingest.SeqRange{{First: 1, Last: 2}})   // before everything
	s.add([]ingest.SeqRange{{First: 11, Last: 18}}) // overlaps both
	require.Equal(t, []ingest.SeqRange{{First: 1, Last: 2}, {First: 10, Last: 20}}, s.r)

	// Against a map, on random inserts.
	var r seqSet
	want := map[uint64]bool{}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		f := rng.Uint64N(5000)
		l := f + rng.Uint64N(5)
		r.add([]ingest.SeqRange{{First: f, Last: l}})
		for q := f; q <= l; q++ {
			want[q] = true
		}
	}
	for q := uint64(0); q < 5010; q++ {
		require.Equal(t, want[q], r.contains(q), q)
	}
	for i := 1; i < len(r.r); i++ {
		require.Greater(t, r.r[i].First, r.r[i-1].Last+1, "ranges stay disjoint and non-adjacent")
	}
}

func TestSeqSetBounded(t *testing.T) {
	t.Parallel()
	s := seqSet{maxRanges: 3}
	for i := uint64(0); i < 10; i++ {
		s.add([]ingest.SeqRange{{First: i * 10, Last: i * 10}})
	}
	require.Len(t, s.r, 3)
	require.True(t, s.contains(90))
	require.False(t, s.contains(0), "the oldest ranges are dropped")
}
