package pipeline

import (
	"sort"

	"github.com/tapline/tapline/ingest"
)

// seqSet is a set of stream sequences kept as sorted, disjoint, non-adjacent
// inclusive ranges. Committed batches of one consumer are mostly contiguous,
// so the set stays a handful of ranges. It is bounded: past maxRanges the
// lowest ranges are dropped (they belong to the oldest batches).
type seqSet struct {
	r         []ingest.SeqRange
	maxRanges int
}

// add inserts every sequence of rs.
func (s *seqSet) add(rs []ingest.SeqRange) {
	for _, x := range rs {
		s.addOne(x)
	}
	if s.maxRanges > 0 && len(s.r) > s.maxRanges {
		s.r = append(s.r[:0], s.r[len(s.r)-s.maxRanges:]...)
	}
}

func (s *seqSet) addOne(x ingest.SeqRange) {
	// First range that ends at or after x.First-1 (could touch or overlap x).
	i := sort.Search(len(s.r), func(i int) bool { return s.r[i].Last+1 >= x.First })
	j := i
	for j < len(s.r) && s.r[j].First <= x.Last+1 {
		if s.r[j].First < x.First {
			x.First = s.r[j].First
		}
		if s.r[j].Last > x.Last {
			x.Last = s.r[j].Last
		}
		j++
	}
	// Replace s.r[i:j] with x.
	s.r = append(s.r[:i], append([]ingest.SeqRange{x}, s.r[j:]...)...)
}

// contains reports whether seq is in the set.
func (s *seqSet) contains(seq uint64) bool {
	i := sort.Search(len(s.r), func(i int) bool { return s.r[i].Last >= seq })
	return i < len(s.r) && s.r[i].First <= seq
}

// intersects reports whether any sequence of rs is in the set.
func (s *seqSet) intersects(rs []ingest.SeqRange) bool {
	for _, x := range rs {
		i := sort.Search(len(s.r), func(i int) bool { return s.r[i].Last >= x.First })
		if i < len(s.r) && s.r[i].First <= x.Last {
			return true
		}
	}
	return false
}
