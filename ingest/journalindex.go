package ingest

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// JournalIndex holds one consumer's journal records as this process last
// saw them, kept current by a watch on the bucket (an ordered consumer that
// survives reconnects and leader changes), so that deciding what to do
// with a delivered message is a map lookup, not a round trip. Records of
// every process on the consumer are in it. Safe for concurrent use.
type JournalIndex struct {
	w      jetstream.KeyWatcher
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	recs  map[string]JournalEntry
	born  map[string]uint64 // revision of each record's first write seen live; 0 for records older than the watch
	seen  uint64            // highest revision processed
	ready bool              // the records stored before the watch are in
}

// Watch starts an index of the records of stream's consumer durable and
// returns once it holds every record stored so far. seen, when not nil, is
// called from the watch goroutine for every record stored (not deleted), in
// the order of the writes, before Find can return it; it must be quick.
func (j *Journal) Watch(ctx context.Context, stream, durable string, seen func(JournalEntry)) (*JournalIndex, error) {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w, err := j.kv.Watch(wctx, stream+"."+durable+".*")
	if err != nil {
		cancel()
		return nil, fmt.Errorf("journal: watch %s/%s: %w", stream, durable, err)
	}
	x := &JournalIndex{w: w, cancel: cancel, done: make(chan struct{}), recs: map[string]JournalEntry{}, born: map[string]uint64{}}
	ready := make(chan struct{})
	go x.follow(ready, seen)
	select {
	case <-ready:
		return x, nil
	case <-ctx.Done():
		x.Stop()
		return nil, fmt.Errorf("journal: watch %s/%s: %w", stream, durable, ctx.Err())
	}
}

func (x *JournalIndex) follow(ready chan struct{}, seen func(JournalEntry)) {
	defer close(x.done)
	for kve := range x.w.Updates() {
		if kve == nil {
			x.mu.Lock()
			x.ready = true
			x.mu.Unlock()
			if ready != nil {
				close(ready)
				ready = nil
			}
			continue
		}
		if kve.Operation() != jetstream.KeyValuePut {
			x.mu.Lock()
			delete(x.recs, kve.Key())
			delete(x.born, kve.Key())
			x.seen = max(x.seen, kve.Revision())
			x.mu.Unlock()
			continue
		}
		e, err := decodeEntry(kve)
		if err != nil || len(e.Record.Ranges) == 0 {
			x.mu.Lock()
			x.seen = max(x.seen, kve.Revision())
			x.mu.Unlock()
			continue // not a record of this release: left alone
		}
		if seen != nil {
			seen(e)
		}
		x.mu.Lock()
		x.note(e)
		x.seen = max(x.seen, e.Revision)
		x.mu.Unlock()
	}
}

// Find returns the record that holds seq, if the index has one.
func (x *JournalIndex) Find(seq uint64) (JournalEntry, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, e := range x.recs {
		if e.Record.First() <= seq && seq <= e.Record.Last() && e.Record.Contains(seq) {
			return e, true
		}
	}
	return JournalEntry{}, false
}

// Overlapping returns the records other than the one under key that hold
// any sequence of ranges.
func (x *JournalIndex) Overlapping(key string, ranges []SeqRange) []JournalEntry {
	return x.Older(key, ranges, math.MaxUint64)
}

// overlap reports whether two sorted range lists share a sequence.
func overlap(a, b []SeqRange) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i].Last < b[j].First:
			i++
		case b[j].Last < a[i].First:
			j++
		default:
			return true
		}
	}
	return false
}

// Entries returns every record in the index, in no particular order.
func (x *JournalIndex) Entries() []JournalEntry {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]JournalEntry, 0, len(x.recs))
	for _, e := range x.recs {
		out = append(out, e)
	}
	return out
}

// Len returns how many records the index holds.
func (x *JournalIndex) Len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.recs)
}

// Note records e in the index at once (the process's own write), ahead of
// the watch.
func (x *JournalIndex) Note(e JournalEntry) {
	x.mu.Lock()
	x.note(e)
	x.mu.Unlock()
}

func (x *JournalIndex) note(e JournalEntry) {
	old, ok := x.recs[e.Key]
	if !ok {
		x.born[e.Key] = 0
		if x.ready {
			x.born[e.Key] = e.Revision
		}
	}
	if !ok || old.Revision < e.Revision {
		x.recs[e.Key] = e
	}
}

// WaitSeen waits until the watch processed revision rev (and so every
// write before it), or ctx ends.
func (x *JournalIndex) WaitSeen(ctx context.Context, rev uint64) error {
	for {
		x.mu.Lock()
		seen := x.seen
		x.mu.Unlock()
		if seen >= rev {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("journal: the watch did not catch up with revision %d: %w", rev, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// Older returns the records other than the one under key that hold any
// sequence of ranges and were first written before revision rev (or before
// the watch started). Call it after WaitSeen(rev).
func (x *JournalIndex) Older(key string, ranges []SeqRange, rev uint64) []JournalEntry {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []JournalEntry
	for k, e := range x.recs {
		if k != key && x.born[k] < rev && overlap(e.Record.Ranges, ranges) {
			out = append(out, e)
		}
	}
	return out
}

// Stop ends the watch.
func (x *JournalIndex) Stop() {
	_ = x.w.Stop()
	x.cancel()
	<-x.done
}
