package eventtree

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// ev is a test event: its time (0 = none) and children.
type ev struct {
	time   int64
	nested []ev
}

// build adds evs under parent in document order, as a streaming decoder does.
func build(t *testing.T, tr *Tree, parent int, evs []ev) {
	t.Helper()
	for _, e := range evs {
		id, err := tr.Add(parent)
		require.NoError(t, err)
		if e.time != 0 {
			tr.SetTime(id, e.time)
		}
		build(t, tr, id, e.nested)
	}
}

type row struct {
	path, parent           string
	depth, index, children int
	docOrder, timeOrder    int
	time                   int64
	inherited              bool
}

func rows(tr *Tree) []row {
	var out []row
	for id := 0; id < tr.Len(); id++ {
		n := tr.Node(id)
		out = append(out, row{string(tr.Path(id)), string(tr.ParentPath(id)), n.Depth, n.Index, n.Children, n.DocOrder, n.TimeOrder, n.Time, n.TimeInherited})
	}
	return out
}

// TestUpstreamLegacyExample flattens the tree of web-debug-proto's
// examples/scheme_v1.json at commit 506943e: two logs, then a query-like
// "request" that started before the second log, with three nested events.
// Document order is not time order there.
func TestUpstreamLegacyExample(t *testing.T) {
	t.Parallel()
	var tr Tree
	build(t, &tr, -1, []ev{
		{time: 1547058561177},
		{time: 1547058571245},
		{time: 1547058563454, nested: []ev{{time: 1547058563454}, {time: 1547058571245}, {time: 1547058583422}}},
	})
	tr.Flatten()
	require.Equal(t, []row{
		{"0", "", 0, 0, 0, 0, 0, 1547058561177, false},
		{"1", "", 0, 1, 0, 1, 3, 1547058571245, false},
		{"2", "", 0, 2, 3, 2, 1, 1547058563454, false},
		{"2.0", "2", 1, 0, 0, 3, 2, 1547058563454, false},
		{"2.1", "2", 1, 1, 0, 4, 4, 1547058571245, false},
		{"2.2", "2", 1, 2, 0, 5, 5, 1547058583422, false},
	}, rows(&tr))
	require.False(t, tr.Sorted())
	require.Equal(t, 1, tr.Deepest())
	require.Equal(t, 3, tr.Roots())
	require.Equal(t, []int32{0, 2, 3, 1, 4, 5}, tr.TimeOrdered())
}

func TestTimelessEventsStayInPlace(t *testing.T) {
	t.Parallel()
	var tr Tree
	// A leading event without time, a parent with a timeless child, a
	// timeless event after a subtree.
	build(t, &tr, -1, []ev{
		{},
		{time: 200, nested: []ev{{}, {time: 150}}},
		{},
		{time: 100},
	})
	tr.Flatten()
	// Leading timeless 0 takes the earliest own time (100); 1.0 inherits its
	// parent's 200; 2 inherits 150 from 1.1, the event before it in document
	// order. Equal effective times keep document order: 0 before 3, 1 before
	// its timeless child 1.0, 1.1 before 2.
	require.Equal(t, []row{
		{"0", "", 0, 0, 0, 0, 0, 100, true},
		{"1", "", 0, 1, 2, 1, 4, 200, false},
		{"1.0", "1", 1, 0, 0, 2, 5, 200, true},
		{"1.1", "1", 1, 1, 0, 3, 2, 150, false},
		{"2", "", 0, 2, 0, 4, 3, 150, true},
		{"3", "", 0, 3, 0, 5, 1, 100, false},
	}, rows(&tr))
	require.False(t, tr.Sorted())
}

func TestNoTimesAtAll(t *testing.T) {
	t.Parallel()
	var tr Tree
	build(t, &tr, -1, []ev{{nested: []ev{{}}}, {}})
	tr.Flatten()
	for i, r := range rows(&tr) {
		require.Equal(t, int64(0), r.time)
		require.True(t, r.inherited)
		require.Equal(t, i, r.timeOrder, "document order when nothing has a time")
	}
	require.True(t, tr.Sorted())
	_, ok := tr.Earliest()
	require.False(t, ok)
}

func TestSortedDocumentAndReset(t *testing.T) {
	t.Parallel()
	var tr Tree
	build(t, &tr, -1, []ev{{time: 1, nested: []ev{{time: 2}, {time: 2}}}, {time: 3}})
	tr.Flatten()
	require.True(t, tr.Sorted())
	require.Equal(t, []int32{0, 1, 2, 3}, tr.TimeOrdered())

	tr.Reset()
	require.Zero(t, tr.Len())
	require.Zero(t, tr.Roots())
	require.Zero(t, tr.Deepest())
	build(t, &tr, -1, []ev{{time: 5}})
	tr.Flatten()
	require.Equal(t, "0", string(tr.Path(0)))
	require.Empty(t, tr.ParentPath(0))
}

func TestDepthBound(t *testing.T) {
	t.Parallel()
	var tr Tree
	tr.MaxDepth = 3
	id, err := tr.Add(-1)
	require.NoError(t, err)
	id, err = tr.Add(id)
	require.NoError(t, err)
	id, err = tr.Add(id)
	require.NoError(t, err)
	require.Equal(t, "0.0.0", string(tr.Path(id)))
	_, err = tr.Add(id)
	require.True(t, errors.Is(err, ErrTooDeep))
	require.Contains(t, err.Error(), "inside 0.0.0 is at depth 3; at most 3 levels")
	require.Equal(t, 3, tr.Len(), "a refused event is not added")

	var def Tree
	parent := -1
	for i := 0; i < DefaultMaxDepth; i++ {
		parent, err = def.Add(parent)
		require.NoError(t, err, "depth %d", i)
	}
	_, err = def.Add(parent)
	require.ErrorIs(t, err, ErrTooDeep)
	require.Equal(t, DefaultMaxDepth-1, def.Deepest())
}

func TestAddUnknownParentPanics(t *testing.T) {
	t.Parallel()
	var tr Tree
	require.PanicsWithValue(t, "BUG: eventtree: Add with unknown parent 0", func() { _, _ = tr.Add(0) })
}

// TestRandomTreesInvariants checks properties on random forests: paths are
// unique and extend their parent's, children counts and depths agree,
// time order is a permutation sorted by time with document order on ties.
func TestRandomTreesInvariants(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	var tr Tree
	for round := 0; round < 200; round++ {
		tr.Reset()
		n := 1 + r.IntN(60)
		for i := 0; i < n; i++ {
			parent := -1
			if i > 0 && r.IntN(3) > 0 {
				parent = r.IntN(i)
			}
			// Children must follow their parent's subtree in document order,
			// so only the last event and its ancestors may take children.
			if parent >= 0 {
				last := i - 1
				ok := false
				for a := last; a >= 0; a = tr.Node(a).Parent {
					if a == parent {
						ok = true
						break
					}
				}
				if !ok {
					parent = last
				}
			}
			id, err := tr.Add(parent)
			require.NoError(t, err)
			if r.IntN(4) > 0 {
				tr.SetTime(id, int64(r.IntN(20)))
			}
		}
		tr.Flatten()
		seen := map[string]bool{}
		kids := make([]int, tr.Len())
		for id := 0; id < tr.Len(); id++ {
			nd := tr.Node(id)
			p := string(tr.Path(id))
			require.False(t, seen[p], "duplicate path %s", p)
			seen[p] = true
			require.Equal(t, strings.Count(p, "."), nd.Depth)
			require.True(t, strings.HasSuffix(p, strconv.Itoa(nd.Index)))
			if nd.Parent >= 0 {
				require.Equal(t, string(tr.Path(nd.Parent))+"."+strconv.Itoa(nd.Index), p)
				require.Equal(t, string(tr.Path(nd.Parent)), string(tr.ParentPath(id)))
				kids[nd.Parent]++
			}
		}
		for id := 0; id < tr.Len(); id++ {
			require.Equal(t, kids[id], tr.Node(id).Children)
		}
		ord := tr.TimeOrdered()
		require.Len(t, ord, tr.Len())
		for rank := 1; rank < len(ord); rank++ {
			a, b := tr.Node(int(ord[rank-1])), tr.Node(int(ord[rank]))
			require.True(t, a.Time < b.Time || (a.Time == b.Time && a.DocOrder < b.DocOrder), "round %d rank %d", round, rank)
			require.Equal(t, rank, b.TimeOrder)
		}
	}
}
