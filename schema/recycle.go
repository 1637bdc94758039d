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
// such objects at 64-byte aligned addresses, as Arrow wants), at most
// Limit bytes in all; a buffer freed beyond that is left to the garbage
// collector. The memory returned by Allocate is not zeroed: Arrow's
// builders zero what they grow into themselves.
//
// A Recycler is safe for concurrent use. Its contract is Arrow's: a buffer
// passed to Free is never used again by its previous holder, so every
// record built on it must be released only when nothing reads it anymore
// (the pipeline releases a batch's records after their insert returned).
type Recycler struct {
	mu    sync.Mutex
	free  [64][][]byte
	held  int
	limit int
	stats RecycleStats
}

// RecycleStats count a Recycler's work since it was made.
type RecycleStats struct {
	// Allocations is how many buffers were asked for; Reused how many of
	// them were buffers given back earlier.
	Allocations, Reused uint64
	// Held is the bytes of buffers kept for reuse now.
	Held int
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

// Free keeps b for reuse (or leaves it to the garbage collector when the
// Recycler holds its limit, or b did not come from a Recycler).
func (r *Recycler) Free(b []byte) {
	c := cap(b)
	if c < 1<<minClass || c&(c-1) != 0 {
		return
	}
	k := bits.Len(uint(c)) - 1
	r.mu.Lock()
	if r.held+c <= r.limit {
		r.free[k] = append(r.free[k], b[:0])
		r.held += c
	}
	r.mu.Unlock()
}

// Stats returns the counts so far.
func (r *Recycler) Stats() RecycleStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Held = r.held
	return s
}
