package schema_test

import (
	"fmt"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/schema"
)

var builderTable = schema.NewTable("builder_test",
	schema.Int("n", "UInt32"),
	schema.String("s"),
	schema.NullableString("ns"),
	schema.StringMap("m"),
)

// fill appends rows to b: through StringColumns when strs, else through the
// Arrow field builders. Every third nullable value is NULL, and values grow
// so that the buffers must grow several times.
func fill(b *schema.Builder, from, rows int, strs bool) {
	n := b.Field(0).(*array.Uint32Builder)
	m := b.Field(3).(*array.MapBuilder)
	for i := from; i < from+rows; i++ {
		n.Append(uint32(i))
		v := fmt.Sprintf("value-%d-%s", i, string(make([]byte, i%50)))
		if strs {
			if i%2 == 0 {
				b.Strings(1).Append([]byte(v))
			} else {
				b.Strings(1).AppendString(v)
			}
			if i%3 == 0 {
				b.Strings(2).AppendNull()
			} else {
				b.Strings(2).AppendString(v[:i%7])
			}
		} else {
			b.Field(1).(*array.StringBuilder).Append(v)
			if i%3 == 0 {
				b.Field(2).AppendNull()
			} else {
				b.Field(2).(*array.StringBuilder).Append(v[:i%7])
			}
		}
		m.Append(true)
		m.KeyBuilder().(*array.StringBuilder).Append("k")
		m.ItemBuilder().(*array.StringBuilder).Append(v)
	}
}

// TestStringColumnsBuildWhatArrowBuilds checks that records built with
// StringColumns equal those Arrow's own builders make, batch after batch
// (the column starts empty after NewRecord and reserves like the last
// batch), including nulls that start after valid rows and a batch without
// nulls after one with them, and that every buffer goes back to the
// allocator.
func TestStringColumnsBuildWhatArrowBuilds(t *testing.T) {
	mem := memory.NewCheckedAllocator(schema.NewRecycler(0))
	defer mem.AssertSize(t, 0)
	fast, ref := builderTable.NewBuilder(mem), builderTable.NewBuilder(mem)
	defer fast.Release()
	defer ref.Release()
	from := 1 // the first batch starts with a valid row, then a null at 3
	for i, rows := range []int{1000, 1, 0, 5000, 2} {
		fill(fast, from, rows, true)
		fill(ref, from, rows, false)
		require.Equal(t, rows, fast.Rows())
		require.Equal(t, rows, fast.ColumnLen(2))
		got, want := fast.NewRecord(), ref.NewRecord()
		require.Truef(t, array.RecordEqual(want, got), "batch %d (%d rows) differs from what Arrow's builders made", i, rows)
		require.Zero(t, fast.Rows(), "NewRecord leaves the builder empty")
		for _, c := range []int{1, 2} {
			a := got.Column(c).(*array.String)
			offs := a.ValueOffsets()
			require.Len(t, offs, rows+1, "one offset per row and one more")
			require.Zero(t, offs[0])
			require.Equal(t, len(a.ValueBytes()), int(offs[rows]), "the data buffer ends at the last offset")
		}
		schema.ReserveLike(fast, got)
		schema.ReserveLike(ref, want)
		got.Release()
		want.Release()
		from += rows
	}
}

// TestStringColumnWithoutNulls checks that a column without nulls has no
// validity bitmap and reports no nulls (the engine then reads every value).
func TestStringColumnWithoutNulls(t *testing.T) {
	b := builderTable.NewBuilder(memory.DefaultAllocator)
	defer b.Release()
	for i := 0; i < 3; i++ {
		b.Field(0).(*array.Uint32Builder).Append(uint32(i))
		b.Strings(1).AppendString("x")
		b.Strings(2).AppendString("")
		b.Field(3).(*array.MapBuilder).Append(true)
	}
	rec := b.NewRecord()
	defer rec.Release()
	col := rec.Column(2)
	require.Zero(t, col.NullN())
	require.Nil(t, col.Data().Buffers()[0])
	require.Equal(t, "x", rec.Column(1).(*array.String).Value(2))
}

// TestBuilderRefusesMixedAppends checks the guards: Strings only for String
// columns, and a column taken over may not also get rows through its Arrow
// builder (those rows would be lost).
func TestBuilderRefusesMixedAppends(t *testing.T) {
	b := builderTable.NewBuilder(memory.DefaultAllocator)
	defer b.Release()
	require.PanicsWithValue(t, "BUG: Strings(0): column n is uint32, not a String", func() { b.Strings(0) })
	require.PanicsWithValue(t, "BUG: Strings(3): column m is "+builderTable.Arrow().Field(3).Type.String()+", not a String", func() { b.Strings(3) })
	b.Strings(1).AppendString("a")
	b.Field(1).(*array.StringBuilder).Append("b")
	b.Field(0).(*array.Uint32Builder).Append(1)
	b.Strings(2).AppendNull()
	b.Field(3).AppendNull()
	require.PanicsWithValue(t, "BUG: column s was taken over by Builder.Strings and also appended to its Arrow builder", func() { b.NewRecord() })
}

// TestBuilderRefusesRowsOfDifferentLengths checks that a decoder that
// appended a row to some columns only gets a panic, not a record with
// columns that disagree.
func TestBuilderRefusesRowsOfDifferentLengths(t *testing.T) {
	b := builderTable.NewBuilder(memory.DefaultAllocator)
	defer b.Release()
	b.Field(0).(*array.Uint32Builder).Append(1)
	b.Strings(1).AppendString("a")
	b.Field(3).AppendNull()
	require.Panics(t, func() { b.NewRecord() })
}
