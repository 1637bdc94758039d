// Package eventtree flattens a tree of nested events into rows: it gives
// every event, at any depth, its position in the tree ("0.2.1": the second
// child of the third child of the first top-level event), its parent's
// position, its depth, its rank in document order and its rank in time order.
//
// A decoder that streams a nested document (the web debug event scheme:
// events with "nested" children, see docs/formats/web-debug-scheme.md)
// calls Add for each event as it meets the event's start, in document
// (pre-order) order, keeps its own per-event fields in a slice indexed by the
// returned id, calls SetTime when it reads an event's time, and calls Flatten
// once the document is complete. The tree knows nothing about payloads or
// formats and does no I/O.
//
// A Tree is reused across documents (Reset keeps capacity) and is not safe
// for concurrent use.
package eventtree

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// DefaultMaxDepth is the nesting bound of a zero Tree: top-level events have
// depth 0, so depths 0..63 are accepted.
const DefaultMaxDepth = 64

// ErrTooDeep is wrapped by Add when an event would nest deeper than the
// tree's bound.
var ErrTooDeep = errors.New("events nest too deep")

// Tree is a forest of events in document order. The zero value is ready to
// use with DefaultMaxDepth.
type Tree struct {
	// MaxDepth bounds nesting: an event at depth MaxDepth (MaxDepth+1
	// levels) is refused. 0 means DefaultMaxDepth.
	MaxDepth int

	nodes   []node
	paths   []byte  // positions of all nodes, back to back
	order   []int32 // node ids in time order, filled by Flatten
	roots   int32
	deepest int
	sorted  bool
}

type node struct {
	parent       int32
	depth        uint16
	index        int32 // among siblings
	children     int32
	pathStart    int32
	pathEnd      int32
	time         int64 // own time, valid when hasTime
	hasTime      bool
	effective    int64 // filled by Flatten
	timeOrder    int32 // filled by Flatten
	timeInherits bool  // filled by Flatten
}

// Reset empties the tree, keeping its capacity.
func (t *Tree) Reset() {
	t.nodes = t.nodes[:0]
	t.paths = t.paths[:0]
	t.order = t.order[:0]
	t.roots = 0
	t.deepest = 0
	t.sorted = false
}

func (t *Tree) maxDepth() int {
	if t.MaxDepth <= 0 {
		return DefaultMaxDepth
	}
	return t.MaxDepth
}

// Add appends an event whose parent is the event with id parent (-1 for a
// top-level event) and returns its id: ids count from 0 in the order of Add
// calls, which must be document (pre-order) order, so a parent is always
// added before its children. It returns an error wrapping ErrTooDeep, and
// adds nothing, when the event would be deeper than MaxDepth allows. It
// panics when parent is not an id already returned (a caller bug).
func (t *Tree) Add(parent int) (int, error) {
	n := node{parent: -1, pathStart: int32(len(t.paths))}
	if parent >= 0 {
		if parent >= len(t.nodes) {
			panic("BUG: eventtree: Add with unknown parent " + strconv.Itoa(parent))
		}
		p := &t.nodes[parent]
		if int(p.depth)+1 >= t.maxDepth() {
			return -1, fmt.Errorf("%w: an event inside %s is at depth %d; at most %d levels are kept", ErrTooDeep, t.paths[p.pathStart:p.pathEnd], int(p.depth)+1, t.maxDepth())
		}
		n.parent = int32(parent)
		n.depth = p.depth + 1
		n.index = p.children
		p.children++
		t.paths = append(t.paths, t.paths[p.pathStart:p.pathEnd]...)
		t.paths = append(t.paths, '.')
	} else {
		n.index = t.roots
		t.roots++
	}
	t.paths = strconv.AppendInt(t.paths, int64(n.index), 10)
	n.pathEnd = int32(len(t.paths))
	if int(n.depth) > t.deepest {
		t.deepest = int(n.depth)
	}
	t.nodes = append(t.nodes, n)
	return len(t.nodes) - 1, nil
}

// SetTime records the event's own time (any unit; the web debug scheme uses
// Unix milliseconds). Events without a time inherit one in Flatten.
func (t *Tree) SetTime(id int, unixMs int64) {
	t.nodes[id].time = unixMs
	t.nodes[id].hasTime = true
}

// Flatten completes the rows once every event was added:
//
//   - Effective time: an event's own time; an event without one takes the
//     effective time of the event just before it in document order (its
//     parent, or the last event of its previous sibling's subtree), so it
//     stays where the document put it; leading events without a time take
//     the earliest own time in the document; with no times at all, 0.
//   - Time order: events ranked by effective time, oldest first, at any
//     depth; equal times keep document order, so a parent precedes its
//     children when they share a time. The web debug scheme promises
//     "events sorted from oldest to newest"; Sorted reports whether the
//     document kept that promise.
func (t *Tree) Flatten() {
	earliest, ok := t.Earliest()
	if !ok {
		earliest = 0
	}
	prev := earliest
	for i := range t.nodes {
		n := &t.nodes[i]
		if n.hasTime {
			n.effective = n.time
		} else {
			n.effective = prev
		}
		n.timeInherits = !n.hasTime
		prev = n.effective
	}
	t.order = t.order[:0]
	t.sorted = true
	for i := range t.nodes {
		if i > 0 && t.nodes[i].effective < t.nodes[i-1].effective {
			t.sorted = false
		}
		t.order = append(t.order, int32(i))
	}
	if !t.sorted {
		nodes := t.nodes
		slices.SortStableFunc(t.order, func(a, b int32) int {
			ea, eb := nodes[a].effective, nodes[b].effective
			switch {
			case ea < eb:
				return -1
			case ea > eb:
				return 1
			}
			return 0
		})
	}
	for rank, id := range t.order {
		t.nodes[id].timeOrder = int32(rank)
	}
}

// Len returns the number of events.
func (t *Tree) Len() int { return len(t.nodes) }

// Roots returns the number of top-level events.
func (t *Tree) Roots() int { return int(t.roots) }

// Deepest returns the largest depth of any event (0 when all are top-level
// or there are none).
func (t *Tree) Deepest() int { return t.deepest }

// Sorted reports whether document order already was time order (valid after
// Flatten): no event's effective time is earlier than the one before it.
func (t *Tree) Sorted() bool { return t.sorted }

// Earliest returns the earliest own time of any event, and false when no
// event has a time.
func (t *Tree) Earliest() (int64, bool) {
	var min int64
	found := false
	for i := range t.nodes {
		n := &t.nodes[i]
		if n.hasTime && (!found || n.time < min) {
			min, found = n.time, true
		}
	}
	return min, found
}

// Node describes one event's place in the tree. Time fields are valid after
// Flatten.
type Node struct {
	// Parent is the parent's id, -1 for a top-level event.
	Parent int
	// Depth is 0 for top-level events, 1 for their children, ...
	Depth int
	// Index is the event's position among its siblings, from 0.
	Index int
	// Children counts the events directly nested in this one.
	Children int
	// DocOrder is the event's rank in document (pre-order) order: its id.
	DocOrder int
	// TimeOrder is the event's rank by effective time, oldest first.
	TimeOrder int
	// Time is the effective time (see Flatten).
	Time int64
	// TimeInherited is true when the event had no time of its own.
	TimeInherited bool
}

// Node returns the event with the given id.
func (t *Tree) Node(id int) Node {
	n := &t.nodes[id]
	return Node{
		Parent: int(n.parent), Depth: int(n.depth), Index: int(n.index), Children: int(n.children),
		DocOrder: id, TimeOrder: int(n.timeOrder), Time: n.effective, TimeInherited: n.timeInherits,
	}
}

// Path returns the event's position: sibling indexes from the top level
// down, joined by dots ("0.2.1"). The slice is valid until Reset.
func (t *Tree) Path(id int) []byte {
	n := &t.nodes[id]
	return t.paths[n.pathStart:n.pathEnd:n.pathEnd]
}

// ParentPath returns the parent's position, or an empty slice for a
// top-level event. The slice is valid until Reset.
func (t *Tree) ParentPath(id int) []byte {
	p := t.nodes[id].parent
	if p < 0 {
		return t.paths[:0:0]
	}
	return t.Path(int(p))
}

// TimeOrdered returns the event ids in time order (valid after Flatten,
// until the next Add, Flatten or Reset). The caller must not modify it.
func (t *Tree) TimeOrdered() []int32 { return t.order }
