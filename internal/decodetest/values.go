package decodetest

import (
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/tapline/tapline/schema"
)

// Value returns row i of col as a Go value for assertions: nil for NULL,
// string, the integer and float types as they are, bool, time.Time (UTC)
// for timestamps, []string for lists of strings and map[string]string for
// Map(String, String). It fails the test on any other column type.
func Value(t testing.TB, col arrow.Array, i int) any {
	t.Helper()
	if col.IsNull(i) {
		return nil
	}
	switch a := col.(type) {
	case *array.String:
		return a.Value(i)
	case *array.Dictionary:
		return Value(t, a.Dictionary(), a.GetValueIndex(i))
	case *array.Uint8:
		return a.Value(i)
	case *array.Uint16:
		return a.Value(i)
	case *array.Uint32:
		return a.Value(i)
	case *array.Uint64:
		return a.Value(i)
	case *array.Int8:
		return a.Value(i)
	case *array.Int16:
		return a.Value(i)
	case *array.Int32:
		return a.Value(i)
	case *array.Int64:
		return a.Value(i)
	case *array.Float64:
		return a.Value(i)
	case *array.Boolean:
		return a.Value(i)
	case *array.Timestamp:
		return a.Value(i).ToTime(a.DataType().(*arrow.TimestampType).Unit).UTC()
	case *array.List:
		vals := a.ListValues().(*array.String)
		start, end := a.ValueOffsets(i)
		out := []string{}
		for j := start; j < end; j++ {
			out = append(out, vals.Value(int(j)))
		}
		return out
	case *array.Map:
		keys := a.Keys().(*array.String)
		items := a.Items().(*array.String)
		start, end := a.ValueOffsets(i)
		m := map[string]string{}
		for j := start; j < end; j++ {
			m[keys.Value(int(j))] = items.Value(int(j))
		}
		return m
	}
	t.Fatalf("decodetest.Value: unhandled column type %T", col)
	return nil
}

// Cell returns Value of the named column of row i, with timestamps
// formatted by layout (time.Time when layout is "").
func Cell(t testing.TB, tbl *schema.Table, rec arrow.Record, name string, i int, layout string) any {
	t.Helper()
	v := Value(t, rec.Column(tbl.Index(name)), i)
	if ts, ok := v.(time.Time); ok && layout != "" {
		return ts.Format(layout)
	}
	return v
}

// Row returns every column of row i by name, as Cell does.
func Row(t testing.TB, tbl *schema.Table, rec arrow.Record, i int, layout string) map[string]any {
	t.Helper()
	m := make(map[string]any, len(tbl.Columns()))
	for _, c := range tbl.Columns() {
		m[c.Name] = Cell(t, tbl, rec, c.Name, i, layout)
	}
	return m
}
