package schema

import (
	"math/bits"
	"sync"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// DefaultRecycleLimit is the most a Recycler made with limit 0 keeps: room
// for the buffers of about two of the largest batches (32 MiB of SOFARPC
// payload decode to about 90 MiB of Arrow buffers). Buffers in use are not
// counted: they are what the batches in hand need.
const DefaultRecycleLimit = 192 << 20

// RecycleFloor is what a Recycler may keep however few bytes are in use
// (see Recycler: it keeps no more than it has handed out and not got back,
// or this much, within its limit).
const RecycleFloor = 16 << 20

// minClass is the smallest size class (64 bytes, Arrow's alignment).
const minClass = 6

// Recycler is an Arrow memory.Allocator that keeps the buffers given back
// to it (Free, which Arrow calls when the last reference to a buffer of a
// builder or a record is released) and hands them out again. A pipeline's
// builders fill one batch after another with buffers of about the same
// sizes, so after the first few batches they reuse memory that is already
// mapped: no fresh pages for the kernel to fault in and zero, no garbage
// for the collector. With Go's allocator (memory.GoAllocator) every batch
// took new memory, and zeroing it was a fifth of the SOFARPC decoder's
// time.
//
// Buffers are kept in power-of-two size classes (a buffer's capacity is its
// size rounded up to the next power of two, at least 64 bytes; Go places
// such objects at 64-byte aligned addresses, as Arrow wants). It keeps no
// more bytes than are in use (handed out and not freed yet), or
// RecycleFloor when fewer are, and never more than its limit; a buffer
// freed beyond that is left to the garbage collector, and when the bytes in
// use shrink, the largest kept buffers are let go until the bound holds. So
// what it keeps follows the batches in hand: a drain of large batches keeps
// about a batch's buffers, a live pipeline of small batches little. (A
// fixed 192 MiB filled up with idle buffers within minutes at 20k
// records/s, and they stayed in the Go heap.)
// The memory returned by Allocate is not zeroed: Arrow's builders zero what
// they grow into themselves.
//
// A Recycler is safe for concurrent use. Its contract is Arrow's: a buffer
// passed to Free is never used again by its previous holder, so every
// record built on it must be released only when nothing reads it anymore
// (the pipeline releases a batch's records after their insert returned).
type Recycler struct {
	mu    sync.Mutex
	free  [64][][]byte
	held  int
	inUse int
	limit int
	stats RecycleStats
}

// RecycleStats count a Recycler's work since it was made.
type RecycleStats struct {
	// Allocations is how many buffers were asked for; Reused how many of
	// them were buffers given back earlier.
	Allocations, Reused uint64
	// Held is the bytes of buffers kept for reuse now; InUse the bytes of
	// buffers handed out and not freed.
	Held, InUse int
}

var _ memory.Allocator = (*Recycler)(nil)

// NewRecycler returns a Recycler that keeps at most limit bytes of freed
// buffers; limit 0 means DefaultRecycleLimit.
func NewRecycler(limit int) *Recycler {
	if limit <= 0 {
		limit = DefaultRecycleLimit
	}
	return &Recycler{limit: limit}
}

func class(size int) int {
	if size <= 1<<minClass {
		return minClass
	}
	return bits.Len(uint(size - 1))
}

// Allocate returns a buffer of len size, reusing a freed one of its size
// class when there is one. Its bytes are not zeroed.
func (r *Recycler) Allocate(size int) []byte {
	c := class(size)
	r.mu.Lock()
	r.stats.Allocations++
	r.inUse += 1 << c
	if n := len(r.free[c]); n > 0 {
		b := r.free[c][n-1]
		r.free[c][n-1] = nil
		r.free[c] = r.free[c][:n-1]
		r.held -= cap(b)
		r.stats.Reused++
		r.mu.Unlock()
		return b[:size]
	}
	r.mu.Unlock()
	return make([]byte, size, 1<<c)
}

// Reallocate returns a buffer of len size holding b's bytes: b itself when
// its capacity suffices, else a new one (b is freed).
func (r *Recycler) Reallocate(size int, b []byte) []byte {
	if cap(b) >= size {
		return b[:size]
	}
	nb := r.Allocate(size)
	copy(nb, b)
	r.Free(b)
	return nb
}

// Free keeps b for reuse unless keeping it would exceed the bound (see
// Recycler) or b did not come from a Recycler; such a b is left to the
// garbage collector. Either way, while the Recycler keeps more than the
// bytes still in use allow, it lets go of its largest kept buffers.
func (r *Recycler) Free(b []byte) {
	c := cap(b)
	if c < 1<<minClass || c&(c-1) != 0 {
		return
	}
	k := bits.Len(uint(c)) - 1
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inUse = max(r.inUse-c, 0)
	bound := r.bound()
	if r.held+c <= bound {
		r.free[k] = append(r.free[k], b[:0])
		r.held += c
	}
	for i := len(r.free) - 1; i >= minClass && r.held > bound; i-- {
		for n := len(r.free[i]); n > 0 && r.held > bound; n-- {
			r.held -= cap(r.free[i][n-1])
			r.free[i][n-1] = nil
			r.free[i] = r.free[i][:n-1]
		}
	}
}

// bound is the most the Recycler may keep now. r.mu is held.
func (r *Recycler) bound() int {
	return min(r.limit, max(r.inUse, RecycleFloor))
}

// Stats returns the counts so far.
func (r *Recycler) Stats() RecycleStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Held, s.InUse = r.held, r.inUse
	return s
}
