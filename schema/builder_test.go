package schema_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
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
	require.PanicsWithValue(t, "BUG: Strings(0): column n is uint32, not a String or LowCardDict", func() { b.Strings(0) })
	require.PanicsWithValue(t, "BUG: Strings(3): column m is "+builderTable.Arrow().Field(3).Type.String()+", not a String or LowCardDict", func() { b.Strings(3) })
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

var lowCardTable = schema.NewTable("low_card_test", schema.LowCardString("lc"), schema.LowCardString("other"))

// TestLowCardColumnsKeepEachValueOnce checks a LowCardString column's
// dictionary mode, batch after batch: every row reads back as the value
// appended (a null as ""), through Append and AppendString, with "" at
// different places among the values; the dictionary holds each distinct
// value of its batch once, in the order first seen, and no value of an
// earlier batch; the indexes are Int32 without nulls; and every buffer goes
// back to the allocator.
func TestLowCardColumnsKeepEachValueOnce(t *testing.T) {
	mem := memory.NewCheckedAllocator(schema.NewRecycler(0))
	defer mem.AssertSize(t, 0)
	b := lowCardTable.NewBuilder(mem)
	defer b.Release()
	values := []string{"a", "", "bb", "a", "ccc", "", "dd"}
	for batch, rows := range []int{1000, 1, 0, 5000, 3} {
		var want []string
		if rows > 0 {
			// A value appended from a buffer the caller then reuses for
			// the next value stays what it was, whether it was new to the
			// dictionary or already in it.
			buf := []byte("bb")
			b.Strings(0).Append(buf)
			b.Strings(0).AppendString("a")
			b.Strings(0).Append(buf)
			copy(buf, "dd")
			b.Strings(0).Append(buf)
			want = append(want, "bb", "a", "bb", "dd")
			for range want {
				b.Strings(1).AppendString("x")
			}
			rows += len(want)
		}
		for i := len(want); i < rows; i++ {
			v := values[(i*(batch+1)+batch)%len(values)]
			switch {
			case i%11 == 5:
				b.Strings(0).AppendNull()
				v = ""
			case i%2 == 0:
				buf := []byte(v + "!")
				b.Strings(0).Append(buf[:len(v)])
				buf[0] = 'X' // the column copied what it keeps
			default:
				b.Strings(0).AppendString(v)
			}
			b.Strings(1).AppendString(fmt.Sprint(batch))
			want = append(want, v)
		}
		require.Equal(t, rows, b.Rows())
		rec := b.NewRecord()
		require.Zero(t, b.Rows(), "NewRecord leaves the builder empty")
		col := rec.Column(0).(*array.Dictionary)
		require.True(t, arrow.TypeEqual(schema.LowCardDict, col.DataType()))
		require.Zero(t, col.NullN())
		dict := col.Dictionary().(*array.String)
		var got, seen []string
		for i := 0; i < col.Len(); i++ {
			got = append(got, dict.Value(col.GetValueIndex(i)))
		}
		for _, v := range want {
			if !slices.Contains(seen, v) {
				seen = append(seen, v)
			}
		}
		if rows == 0 {
			got, want = []string{}, []string{}
		}
		require.Equalf(t, want, got, "batch %d: the rows read back as appended", batch)
		var dictVals []string
		for i := 0; i < dict.Len(); i++ {
			dictVals = append(dictVals, dict.Value(i))
		}
		if len(seen) == 0 {
			dictVals, seen = nil, nil
		}
		require.Equalf(t, seen, dictVals, "batch %d: each distinct value once, first seen first", batch)
		schema.ReserveLike(b, rec)
		rec.Release()
	}
}

// TestLowCardColumnWithManyDistinctValues checks the dictionary's index when
// a batch has tens of thousands of distinct values (as remote_host in the
// drain's generated digests), each appended again later in the batch, and
// when the next batch reuses the grown index with values of its own and
// some of the first batch's: every row reads back as appended, and the
// dictionary holds each distinct value of its batch once, first seen first.
func TestLowCardColumnWithManyDistinctValues(t *testing.T) {
	mem := memory.NewCheckedAllocator(schema.NewRecycler(0))
	defer mem.AssertSize(t, 0)
	b := lowCardTable.NewBuilder(mem)
	defer b.Release()
	for batch, distinct := range []int{40000, 3000} {
		var want []string
		for i := 0; i < distinct; i++ {
			// Values of different lengths, many sharing prefixes.
			v := fmt.Sprintf("10.%d.%d.%d", batch+i%2, i/256, i%256)
			want = append(want, v)
			if i%3 == 0 {
				want = append(want, want[i*3/4])
			}
		}
		for _, v := range want {
			b.Strings(0).Append([]byte(v))
			b.Strings(1).AppendString("x")
		}
		rec := b.NewRecord()
		col := rec.Column(0).(*array.Dictionary)
		dict := col.Dictionary().(*array.String)
		require.Equal(t, len(want), col.Len())
		for i, v := range want {
			if got := dict.Value(col.GetValueIndex(i)); got != v {
				t.Fatalf("batch %d row %d: %q, want %q", batch, i, got, v)
			}
		}
		var seen []string
		first := map[string]bool{}
		for _, v := range want {
			if !first[v] {
				first[v] = true
				seen = append(seen, v)
			}
		}
		require.Equalf(t, len(seen), dict.Len(), "batch %d: each distinct value once", batch)
		for i, v := range seen {
			require.Equalf(t, v, dict.Value(i), "batch %d: dictionary entry %d", batch, i)
		}
		schema.ReserveLike(b, rec)
		rec.Release()
	}
}
