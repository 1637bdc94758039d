package schema_test

import (
	"testing"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/schema"
)

func TestRecyclerReusesFreedBuffers(t *testing.T) {
	r := schema.NewRecycler(1 << 20)
	a := r.Allocate(1000)
	require.Len(t, a, 1000)
	require.Equal(t, 1024, cap(a), "size classes are powers of two")
	require.Zero(t, uintptr(unsafe.Pointer(&a[0]))%64, "64-byte aligned, as Arrow wants")
	r.Free(a)
	b := r.Allocate(600) // same class: 513..1024
	require.Equal(t, unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0]), "the freed buffer is handed out again")
	require.Len(t, b, 600)
	c := r.Allocate(600)
	require.NotEqual(t, unsafe.Pointer(&b[0]), unsafe.Pointer(&c[0]), "a buffer in use is never handed out twice")
	s := r.Stats()
	require.Equal(t, uint64(3), s.Allocations)
	require.Equal(t, uint64(1), s.Reused)
}

func TestRecyclerKeepsAtMostItsLimit(t *testing.T) {
	r := schema.NewRecycler(4096)
	bufs := [][]byte{r.Allocate(2048), r.Allocate(2048), r.Allocate(2048)}
	for _, b := range bufs {
		r.Free(b)
	}
	require.Equal(t, 4096, r.Stats().Held, "the third buffer is left to the garbage collector")
	r.Free(make([]byte, 100)) // not a Recycler's buffer (capacity not a power of two): ignored
	require.Equal(t, 4096, r.Stats().Held)
}

// TestRecyclerKeepsWhatIsInUse: what a Recycler keeps follows the bytes in
// use. With two batches of buffers in hand, freeing one keeps it all (the
// next batch needs as much); freeing the other too lets go of everything
// above RecycleFloor, the largest buffers first.
func TestRecyclerKeepsWhatIsInUse(t *testing.T) {
	r := schema.NewRecycler(1 << 30)
	batch := func() [][]byte {
		var bs [][]byte
		for i := 0; i < 40; i++ {
			bs = append(bs, r.Allocate(1<<20))
		}
		bs = append(bs, r.Allocate(4<<20))
		return bs
	}
	a, b := batch(), batch()
	require.Equal(t, 2*44<<20, r.Stats().InUse)
	for _, x := range a {
		r.Free(x)
	}
	require.Equal(t, 44<<20, r.Stats().Held, "one batch freed while another is in use: all of it kept")
	require.Equal(t, 44<<20, r.Stats().InUse)
	for _, x := range b {
		r.Free(x)
	}
	s := r.Stats()
	require.Zero(t, s.InUse)
	require.LessOrEqual(t, s.Held, schema.RecycleFloor, "nothing in use: no more than the floor kept")
	require.Greater(t, s.Held, schema.RecycleFloor/2, "the floor's worth of buffers stays for the next batch")
	r.Allocate(4 << 20)
	require.Equal(t, uint64(0), r.Stats().Reused, "the largest buffers went first: no 4 MiB buffer was kept")
	r.Allocate(1 << 20)
	require.Equal(t, uint64(1), r.Stats().Reused, "1 MiB buffers were kept")
}

func TestRecyclerReallocateKeepsTheBytes(t *testing.T) {
	r := schema.NewRecycler(0)
	a := r.Allocate(100)
	copy(a, "tapline")
	b := r.Reallocate(5000, a)
	require.Len(t, b, 5000)
	require.Equal(t, "tapline", string(b[:7]))
	require.Equal(t, uint64(0), r.Stats().Reused)
	require.Equal(t, 128, r.Stats().Held, "the outgrown buffer is kept for reuse")
}

// TestRecyclerUnderBuilders builds records batch after batch, as the
// pipeline does, and checks that each batch's values are intact while the
// next batches reuse the released batches' memory.
func TestRecyclerUnderBuilders(t *testing.T) {
	r := schema.NewRecycler(0)
	checked := memory.NewCheckedAllocator(r)
	defer checked.AssertSize(t, 0)
	b := array.NewStringBuilder(checked)
	defer b.Release()
	var prev *array.String
	for batch := 0; batch < 5; batch++ {
		for i := 0; i < 10000; i++ {
			b.Append(string(rune('a' + (batch+i)%26)))
		}
		cur := b.NewStringArray()
		if prev != nil {
			for i := 0; i < prev.Len(); i += 997 {
				require.Equal(t, string(rune('a'+(batch-1+i)%26)), prev.Value(i), "batch %d row %d", batch-1, i)
			}
			prev.Release()
		}
		prev = cur
	}
	prev.Release()
	require.NotZero(t, r.Stats().Reused, "later batches reuse the memory of released ones")
}
