package schema

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Builder builds the record batches of one table: an Arrow RecordBuilder
// (its Field builders take rows as usual) whose top-level String columns a
// decoder may take over with Strings, a faster builder for them. A decoder
// appends every column of a row, to the StringColumn of a column it took
// over and to the RecordBuilder's field for any other. A Builder is not
// safe for concurrent use; the caller owns it and must Release it.
type Builder struct {
	*array.RecordBuilder
	mem    memory.Allocator
	schema *arrow.Schema
	strs   []*StringColumn // by field; nil where not taken over
}

// NewBuilder returns an empty Builder for this table whose buffers come from
// mem. The caller owns it and must Release it.
func (t *Table) NewBuilder(mem memory.Allocator) *Builder {
	return &Builder{
		RecordBuilder: array.NewRecordBuilder(mem, t.arrow),
		mem:           mem,
		schema:        t.arrow,
		strs:          make([]*StringColumn, len(t.arrow.Fields())),
	}
}

// Strings takes over field i, which must be a top-level String or
// LowCardDict column (it panics otherwise: decoders bind their columns
// once, so the first test finds the mistake), and returns its
// StringColumn; every later call for i returns the same one. From then on
// the column's rows go to the StringColumn, and NewRecord panics when the
// RecordBuilder's own builder of that field has rows.
func (b *Builder) Strings(i int) *StringColumn {
	if s := b.strs[i]; s != nil {
		return s
	}
	f := b.schema.Field(i)
	var s *StringColumn
	switch {
	case f.Type.ID() == arrow.STRING:
		s = newStringColumn(b.mem, f.Name)
	case arrow.TypeEqual(f.Type, LowCardDict):
		s = newDictColumn(b.mem, f.Name)
	default:
		panic(fmt.Sprintf("BUG: Strings(%d): column %s is %s, not a String or LowCardDict", i, f.Name, f.Type))
	}
	b.strs[i] = s
	return s
}

// NewRecord returns the rows appended so far as a record batch (the caller
// releases it) and leaves the Builder empty, as array.RecordBuilder's does.
// It panics when the columns do not hold the same number of rows (a
// decoder appended a row to some columns only).
func (b *Builder) NewRecord() arrow.Record {
	fields := b.RecordBuilder.Fields()
	cols := make([]arrow.Array, len(fields))
	for i, f := range fields {
		if s := b.strs[i]; s != nil {
			if f.Len() != 0 {
				panic(fmt.Sprintf("BUG: column %s was taken over by Builder.Strings and also appended to its Arrow builder", s.name))
			}
			cols[i] = s.newArray()
			f.NewArray().Release()
			continue
		}
		cols[i] = f.NewArray()
	}
	rec := array.NewRecord(b.schema, cols, -1)
	for _, c := range cols {
		c.Release()
	}
	return rec
}

// Release releases the RecordBuilder and the buffers of the StringColumns.
func (b *Builder) Release() {
	for _, s := range b.strs {
		if s != nil {
			s.release()
		}
	}
	b.RecordBuilder.Release()
}

// ColumnLen returns the rows appended to column i since the last NewRecord,
// wherever they went (the StringColumn of a column taken over, the Arrow
// field builder otherwise).
func (b *Builder) ColumnLen(i int) int {
	if s := b.strs[i]; s != nil {
		return s.n
	}
	return b.RecordBuilder.Field(i).Len()
}

// Rows returns the rows appended since the last NewRecord (those of the
// first column: a decoder appends every column of a row).
func (b *Builder) Rows() int {
	if len(b.strs) == 0 {
		return 0
	}
	return b.ColumnLen(0)
}
