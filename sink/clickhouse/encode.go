package clickhouse

import (
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/tapline/tapline/schema"
)

// encoder appends Arrow records of one table to the columns of a native
// protocol block (a clickhouse-go batch's, or any lib/proto.Block's), one
// whole column per call where clickhouse-go has a typed bulk path:
//
//   - integers and floats: the Arrow value buffer itself ([]uint32, ...),
//     no copy;
//   - String, Bool, DateTime64 and every Nullable(...) of them: one typed
//     scratch slice per column ([]string of zero-copy Arrow strings,
//     []bool, []time.Time, or []*T pointing into a reused []T), kept
//     between inserts;
//   - LowCardinality(String), Map(String, String) and Array(...):
//     clickhouse-go has no bulk path for these (its Append walks the slice
//     with reflection and boxes every value), so the encoder calls AppendRow
//     once per row with pointer arguments, which clickhouse-go takes without
//     boxing: interned *string for LowCardinality (equal values share one
//     pointer, so the library's dictionary stays one entry per distinct
//     value), one reused iterator for a map row, a []*string for an array
//     row (one 24-byte interface value per row: the only per-row
//     allocation, in webdebug's two Array columns).
//
// BenchmarkEncode shows allocations per batch that do not grow with rows
// for tables without Array columns. An encoder is not safe for concurrent
// use; Target keeps a pool per table.
type encoder struct {
	table *schema.Table
	types []string // the server's column types the encoder was built for
	cols  []colEncoder
}

// colEncoder appends one Arrow column to one block column.
type colEncoder interface {
	append(dst column.Interface, src arrow.Array) error
}

// schemaMismatchError says how the server's table differs from what
// tapline sends. It is never retryable.
type schemaMismatchError struct {
	table string
	diffs []string
}

func (e *schemaMismatchError) Error() string {
	return fmt.Sprintf("table %s on the server does not have the columns tapline writes: %s (run `tapline schema status`, then `tapline schema apply` or migrate the table by hand)", e.table, strings.Join(e.diffs, "; "))
}

// newEncoder builds the encoder for table against the server's column
// types (in table.Columns() order), or explains the mismatch.
func newEncoder(table *schema.Table, names, types []string) (*encoder, error) {
	var diffs []string
	cols := table.Columns()
	if len(names) != len(cols) {
		diffs = append(diffs, fmt.Sprintf("the server offers %d of the %d columns", len(names), len(cols)))
	}
	e := &encoder{table: table, types: types, cols: make([]colEncoder, len(cols))}
	for i, c := range cols {
		if i >= len(names) {
			diffs = append(diffs, fmt.Sprintf("column %s is missing", c.Name))
			continue
		}
		if names[i] != c.Name {
			diffs = append(diffs, fmt.Sprintf("column %d is %s on the server, tapline sends %s", i+1, names[i], c.Name))
			continue
		}
		ce, err := newColEncoder(c, types[i])
		if err != nil {
			diffs = append(diffs, err.Error())
			continue
		}
		e.cols[i] = ce
	}
	if len(diffs) > 0 {
		return nil, &schemaMismatchError{table: table.Name(), diffs: diffs}
	}
	return e, nil
}

// matches reports whether the encoder was built for these server types.
func (e *encoder) matches(types []string) bool {
	if len(types) != len(e.types) {
		return false
	}
	for i := range types {
		if types[i] != e.types[i] {
			return false
		}
	}
	return true
}

// append appends every column of rec to dst (dst[i] for rec.Column(i)).
func (e *encoder) append(dst []column.Interface, rec arrow.Record) error {
	if len(dst) != len(e.cols) || int(rec.NumCols()) != len(e.cols) {
		panic(fmt.Sprintf("BUG: encoder for %s: %d block columns, %d record columns, %d encoders", e.table.Name(), len(dst), rec.NumCols(), len(e.cols)))
	}
	for i, ce := range e.cols {
		if err := ce.append(dst[i], rec.Column(i)); err != nil {
			return fmt.Errorf("column %s: %w", e.table.Columns()[i].Name, err)
		}
	}
	return nil
}

// newColEncoder picks the encoder for column c, whose server type is
// chType. The server type must be the type tapline declares (c.CH). An
// Arrow timestamp goes to DateTime64(p) or, for a column declared so,
// DateTime.
func newColEncoder(c schema.Column, chType string) (colEncoder, error) {
	if chType != c.CH {
		return nil, fmt.Errorf("column %s is %s on the server, tapline sends %s", c.Name, chType, c.CH)
	}
	inner, nullable := unwrap(chType, "Nullable(")
	lc := false
	if s, ok := unwrap(chType, "LowCardinality("); ok {
		inner, lc = s, true
		if s2, ok := unwrap(s, "Nullable("); ok {
			inner, nullable = s2, true
		}
	}
	if nullable != c.Nullable {
		return nil, fmt.Errorf("column %s: nullability of %s does not match the Arrow field (nullable=%v)", c.Name, chType, c.Nullable)
	}
	switch t := c.Arrow.(type) {
	case *arrow.DictionaryType:
		if lc && arrow.TypeEqual(t, schema.LowCardDict) {
			return &lowCardEncoder{nullable: nullable}, nil
		}
	case *arrow.StringType:
		if lc {
			return &lowCardEncoder{nullable: nullable}, nil
		}
		if inner != "String" {
			break
		}
		if nullable {
			return &nullEncoder[string]{fill: fillStrings}, nil
		}
		return &valueEncoder[string]{fill: fillStrings}, nil
	case *arrow.BooleanType:
		if inner != "Bool" {
			break
		}
		if nullable {
			return &nullEncoder[bool]{fill: fillBools}, nil
		}
		return &valueEncoder[bool]{fill: fillBools}, nil
	case *arrow.Int8Type:
		return numeric[int8](nullable), nil
	case *arrow.Int16Type:
		return numeric[int16](nullable), nil
	case *arrow.Int32Type:
		return numeric[int32](nullable), nil
	case *arrow.Int64Type:
		return numeric[int64](nullable), nil
	case *arrow.Uint8Type:
		return numeric[uint8](nullable), nil
	case *arrow.Uint16Type:
		return numeric[uint16](nullable), nil
	case *arrow.Uint32Type:
		return numeric[uint32](nullable), nil
	case *arrow.Uint64Type:
		return numeric[uint64](nullable), nil
	case *arrow.Float64Type:
		return numeric[float64](nullable), nil
	case *arrow.Float32Type:
		return numeric[float32](nullable), nil
	case *arrow.TimestampType:
		if !strings.HasPrefix(inner, "DateTime") {
			break
		}
		return &timeEncoder{unit: t.Unit, nullable: nullable}, nil
	case *arrow.MapType:
		if inner != "Map(String, String)" {
			break
		}
		return &mapEncoder{}, nil
	case *arrow.ListType:
		switch inner {
		case "Array(String)":
			return &arrayEncoder{}, nil
		case "Array(LowCardinality(String))":
			return &arrayEncoder{lowCard: true}, nil
		}
	}
	return nil, fmt.Errorf("column %s: tapline cannot send Arrow %s as %s", c.Name, c.Arrow, chType)
}

// unwrap returns s without the prefix and the closing parenthesis.
func unwrap(s, prefix string) (string, bool) {
	if strings.HasPrefix(s, prefix) && strings.HasSuffix(s, ")") {
		return s[len(prefix) : len(s)-1], true
	}
	return s, false
}

// number is every Arrow primitive the numeric encoders take.
type number interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

// values returns the typed value buffer of an Arrow primitive array,
// already sliced to the array's offset and length: no copy.
func values[T number](src arrow.Array) []T {
	var v any
	switch a := src.(type) {
	case *array.Int8:
		v = a.Int8Values()
	case *array.Int16:
		v = a.Int16Values()
	case *array.Int32:
		v = a.Int32Values()
	case *array.Int64:
		v = a.Int64Values()
	case *array.Uint8:
		v = a.Uint8Values()
	case *array.Uint16:
		v = a.Uint16Values()
	case *array.Uint32:
		v = a.Uint32Values()
	case *array.Uint64:
		v = a.Uint64Values()
	case *array.Float32:
		v = a.Float32Values()
	case *array.Float64:
		v = a.Float64Values()
	}
	out, ok := v.([]T)
	if !ok {
		panic(fmt.Sprintf("BUG: numeric encoder for %T got %T", out, src))
	}
	return out
}

func numeric[T number](nullable bool) colEncoder {
	if nullable {
		return &nullEncoder[T]{fill: func(dst []T, src arrow.Array) { copy(dst, values[T](src)) }}
	}
	return numericEncoder[T]{}
}

type numericEncoder[T number] struct{}

func (numericEncoder[T]) append(dst column.Interface, src arrow.Array) error {
	_, err := dst.Append(values[T](src))
	return err
}

// fillStrings and fillBools copy the values of arrays that have no plain
// value buffer of the Go type. Strings alias the Arrow buffer: no copy.
func fillStrings(dst []string, src arrow.Array) {
	a := src.(*array.String)
	for i := range dst {
		dst[i] = a.Value(i)
	}
}

func fillBools(dst []bool, src arrow.Array) {
	a := src.(*array.Boolean)
	for i := range dst {
		dst[i] = a.Value(i)
	}
}

// valueEncoder passes a reused []T filled from the Arrow array.
type valueEncoder[T any] struct {
	vals []T
	fill func(dst []T, src arrow.Array)
}

func (e *valueEncoder[T]) append(dst column.Interface, src arrow.Array) error {
	e.vals = grow(e.vals, src.Len())
	e.fill(e.vals, src)
	_, err := dst.Append(e.vals)
	clear(e.vals) // drop references to the record's buffers
	return err
}

// nullEncoder passes []*T pointing into a reused []T, nil for NULL:
// clickhouse-go's Nullable columns take pointers (its Bool.Append([]bool),
// for one, returns no null map, so Nullable(Bool) would lose its row count).
type nullEncoder[T any] struct {
	vals []T
	ptrs []*T
	fill func(dst []T, src arrow.Array)
}

func (e *nullEncoder[T]) append(dst column.Interface, src arrow.Array) error {
	n := src.Len()
	e.vals, e.ptrs = grow(e.vals, n), grow(e.ptrs, n)
	e.fill(e.vals, src)
	for i := 0; i < n; i++ {
		if src.IsNull(i) {
			e.ptrs[i] = nil
		} else {
			e.ptrs[i] = &e.vals[i]
		}
	}
	_, err := dst.Append(e.ptrs)
	clear(e.vals)
	return err
}

// timeEncoder converts Arrow timestamps (UTC ticks of unit) to time.Time;
// clickhouse-go scales them to the column's DateTime64 precision.
type timeEncoder struct {
	unit     arrow.TimeUnit
	nullable bool
	vals     []time.Time
	ptrs     []*time.Time
}

func (e *timeEncoder) append(dst column.Interface, src arrow.Array) error {
	a := src.(*array.Timestamp)
	n := a.Len()
	e.vals = grow(e.vals, n)
	ticks := a.TimestampValues()
	for i := 0; i < n; i++ {
		e.vals[i] = toTime(int64(ticks[i]), e.unit)
	}
	if !e.nullable {
		_, err := dst.Append(e.vals)
		return err
	}
	e.ptrs = grow(e.ptrs, n)
	for i := 0; i < n; i++ {
		if a.IsNull(i) {
			e.ptrs[i] = nil
		} else {
			e.ptrs[i] = &e.vals[i]
		}
	}
	_, err := dst.Append(e.ptrs)
	return err
}

func toTime(v int64, unit arrow.TimeUnit) time.Time {
	switch unit {
	case arrow.Second:
		return time.Unix(v, 0).UTC()
	case arrow.Millisecond:
		return time.UnixMilli(v).UTC()
	case arrow.Microsecond:
		return time.UnixMicro(v).UTC()
	default:
		return time.Unix(0, v).UTC()
	}
}

// interner gives equal strings one pointer for the length of one column
// append, so that clickhouse-go's LowCardinality dictionary (keyed by the
// value it is given) gets one entry per distinct string.
type interner struct {
	slab []string
	ptr  map[string]*string
}

// reset prepares for up to n distinct values. The slab never grows during
// one append, so the pointers stay valid.
func (in *interner) reset(n int) {
	if in.ptr == nil {
		in.ptr = make(map[string]*string, n)
	}
	clear(in.ptr)
	clear(in.slab)
	if cap(in.slab) < n {
		in.slab = make([]string, 0, n)
	}
	in.slab = in.slab[:0]
}

func (in *interner) intern(s string) *string {
	if p, ok := in.ptr[s]; ok {
		return p
	}
	in.slab = append(in.slab, s)
	p := &in.slab[len(in.slab)-1]
	in.ptr[s] = p
	return p
}

type lowCardEncoder struct {
	nullable bool
	in       interner
}

func (e *lowCardEncoder) append(dst column.Interface, src arrow.Array) error {
	if d, ok := src.(*array.Dictionary); ok {
		return e.appendDict(dst, d)
	}
	a := src.(*array.String)
	e.in.reset(a.Len())
	defer e.in.reset(0)
	for i := 0; i < a.Len(); i++ {
		var err error
		if e.nullable && a.IsNull(i) {
			err = dst.AppendRow(nil)
		} else {
			err = dst.AppendRow(e.in.intern(a.Value(i)))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// appendDict appends a LowCardDict column: a row is the pointer to its
// dictionary value, one pointer per dictionary entry.
func (e *lowCardEncoder) appendDict(dst column.Interface, d *array.Dictionary) error {
	vals := d.Dictionary().(*array.String)
	e.in.reset(vals.Len())
	defer e.in.reset(0)
	for i := 0; i < vals.Len(); i++ {
		e.in.slab = append(e.in.slab, vals.Value(i))
	}
	for i := 0; i < d.Len(); i++ {
		var err error
		if e.nullable && d.IsNull(i) {
			err = dst.AppendRow(nil)
		} else {
			err = dst.AppendRow(&e.in.slab[d.GetValueIndex(i)])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// mapEncoder feeds each row of a Map(String, String) through one reused
// iterator (clickhouse-go's IterableOrderedMap), handing out *string into
// a scratch copy of the row's keys and values.
type mapEncoder struct {
	it mapRow
}

type mapRow struct {
	keys, vals []string
	i          int
}

func (r *mapRow) Put(any, any)                 { panic("BUG: mapRow is read-only") }
func (r *mapRow) Iterator() column.MapIterator { r.i = -1; return r }
func (r *mapRow) Next() bool                   { r.i++; return r.i < len(r.keys) }
func (r *mapRow) Key() any                     { return &r.keys[r.i] }
func (r *mapRow) Value() any                   { return &r.vals[r.i] }

var _ column.IterableOrderedMap = (*mapRow)(nil)

func (e *mapEncoder) append(dst column.Interface, src arrow.Array) error {
	m := src.(*array.Map)
	keys := m.Keys().(*array.String)
	items := m.Items().(*array.String)
	for i := 0; i < m.Len(); i++ {
		lo64, hi64 := m.ValueOffsets(i)
		lo, hi := int(lo64), int(hi64)
		if m.IsNull(i) {
			lo, hi = 0, 0
		}
		e.it.keys, e.it.vals = grow(e.it.keys, hi-lo), grow(e.it.vals, hi-lo)
		for j := lo; j < hi; j++ {
			e.it.keys[j-lo] = keys.Value(j)
			e.it.vals[j-lo] = items.Value(j)
		}
		if err := dst.AppendRow(&e.it); err != nil {
			return err
		}
	}
	clear(e.it.keys[:cap(e.it.keys)])
	clear(e.it.vals[:cap(e.it.vals)])
	return nil
}

// arrayEncoder feeds each row of an Array(String) or
// Array(LowCardinality(String)) as a []*string (clickhouse-go's typed
// per-row path); for LowCardinality elements the pointers are interned.
type arrayEncoder struct {
	lowCard bool
	vals    []string
	ptrs    []*string
	in      interner
}

func (e *arrayEncoder) append(dst column.Interface, src arrow.Array) error {
	l := src.(*array.List)
	elems := l.ListValues().(*array.String)
	n := l.Len()
	if n == 0 {
		return nil
	}
	first64, _ := l.ValueOffsets(0)
	_, last64 := l.ValueOffsets(n - 1)
	first, last := int(first64), int(last64)
	e.vals, e.ptrs = grow(e.vals, last-first), grow(e.ptrs, last-first)
	if e.lowCard {
		e.in.reset(last - first)
		defer e.in.reset(0)
	}
	for j := first; j < last; j++ {
		v := elems.Value(j)
		if e.lowCard {
			e.ptrs[j-first] = e.in.intern(v)
		} else {
			e.vals[j-first] = v
			e.ptrs[j-first] = &e.vals[j-first]
		}
	}
	for i := 0; i < n; i++ {
		lo64, hi64 := l.ValueOffsets(i)
		lo, hi := int(lo64)-first, int(hi64)-first
		if l.IsNull(i) {
			lo, hi = 0, 0
		}
		if err := dst.AppendRow(e.ptrs[lo:hi:hi]); err != nil {
			return err
		}
	}
	clear(e.vals)
	return nil
}

// grow returns s with length n, reusing its capacity.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, n+n/4)
	}
	return s[:n]
}
