// Package schema is the single source of the names and types of the
// columns tapline writes: one Table per ClickHouse table, each with the Arrow
// schema its decoder builds and the ClickHouse type each column has in
// sql/tables. A test in package sql proves both agree column for column with
// the DDL the engine actually created.
//
// Columns that ClickHouse fills itself (DEFAULT/MATERIALIZED columns such as
// ingested_at) are not listed here: tapline never sends them.
package schema

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
)

// Column is one column that tapline sends.
type Column struct {
	// Name is the column name in ClickHouse and in the Arrow schema.
	Name string
	// CH is the ClickHouse type exactly as system.columns prints it, for
	// example "LowCardinality(String)" or "DateTime64(3, 'UTC')".
	CH string
	// Arrow is the Arrow type the column is built with.
	Arrow arrow.DataType
	// Nullable marks Arrow nullability; CH is then "Nullable(...)" (or a
	// LowCardinality(Nullable(...))).
	Nullable bool
}

// Table is the shape of one ClickHouse table as tapline writes it. A Table
// is immutable after NewTable; share it freely.
type Table struct {
	name    string
	columns []Column
	index   map[string]int
	arrow   *arrow.Schema
}

// NewTable builds a Table. It panics on duplicate or empty column names:
// tables are declared in code, so that is a programming error.
func NewTable(name string, cols ...Column) *Table {
	t := &Table{name: name, columns: cols, index: make(map[string]int, len(cols))}
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		if c.Name == "" {
			panic(fmt.Sprintf("BUG: table %s: column %d has no name", name, i))
		}
		if _, dup := t.index[c.Name]; dup {
			panic(fmt.Sprintf("BUG: table %s: duplicate column %s", name, c.Name))
		}
		t.index[c.Name] = i
		fields[i] = arrow.Field{Name: c.Name, Type: c.Arrow, Nullable: c.Nullable}
	}
	t.arrow = arrow.NewSchema(fields, nil)
	return t
}

// Name returns the table name (unqualified; the database is configuration).
func (t *Table) Name() string { return t.name }

// Columns returns the columns in insert order. The slice must not be modified.
func (t *Table) Columns() []Column { return t.columns }

// Arrow returns the Arrow schema of the record batches for this table.
func (t *Table) Arrow() *arrow.Schema { return t.arrow }

// Index returns the position of the named column. It panics when the column
// does not exist: decoders bind columns once at construction, so a missing
// name is a programming error found by the first test.
func (t *Table) Index(name string) int {
	i, ok := t.index[name]
	if !ok {
		panic(fmt.Sprintf("BUG: table %s has no column %s", t.name, name))
	}
	return i
}

// String is a String column.
func String(name string) Column {
	return Column{Name: name, CH: "String", Arrow: arrow.BinaryTypes.String}
}

// LowCardString is a LowCardinality(String) column, for values with few
// distinct values (service names, enums): dictionary-encoded on disk, and
// in Arrow (LowCardDict), so that the engine takes the batch's dictionary
// and indexes as they are instead of hashing every row's string into its
// own dictionary. Its rows are never null (a null appended is "").
func LowCardString(name string) Column {
	return Column{Name: name, CH: "LowCardinality(String)", Arrow: LowCardDict}
}

// LowCardDict is the Arrow type of a LowCardString column: Int32 indexes
// into a dictionary of distinct String values, one dictionary per record
// batch (Builder.Strings builds it).
var LowCardDict = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}

// NullableString is a Nullable(String) column.
func NullableString(name string) Column {
	return Column{Name: name, CH: "Nullable(String)", Arrow: arrow.BinaryTypes.String, Nullable: true}
}

// Bool is a Bool column.
func Bool(name string) Column {
	return Column{Name: name, CH: "Bool", Arrow: arrow.FixedWidthTypes.Boolean}
}

// NullableBool is a Nullable(Bool) column.
func NullableBool(name string) Column {
	return Column{Name: name, CH: "Nullable(Bool)", Arrow: arrow.FixedWidthTypes.Boolean, Nullable: true}
}

// Int is an integer column of the given ClickHouse type: one of UInt8,
// UInt16, UInt32, UInt64, Int8, Int16, Int32, Int64.
func Int(name, chType string) Column {
	return Column{Name: name, CH: chType, Arrow: intArrow(chType)}
}

// NullableInt is Int wrapped in Nullable.
func NullableInt(name, chType string) Column {
	return Column{Name: name, CH: "Nullable(" + chType + ")", Arrow: intArrow(chType), Nullable: true}
}

// Float64 is a Float64 column.
func Float64(name string) Column {
	return Column{Name: name, CH: "Float64", Arrow: arrow.PrimitiveTypes.Float64}
}

// NullableFloat64 is a Nullable(Float64) column.
func NullableFloat64(name string) Column {
	return Column{Name: name, CH: "Nullable(Float64)", Arrow: arrow.PrimitiveTypes.Float64, Nullable: true}
}

// Time is a DateTime64 column in UTC with the given precision: 3
// (milliseconds, Arrow timestamp[ms]), 6 (microseconds) or 9 (nanoseconds).
func Time(name string, precision int) Column {
	return Column{Name: name, CH: fmt.Sprintf("DateTime64(%d, 'UTC')", precision), Arrow: timestampArrow(precision)}
}

// NullableTime is Time wrapped in Nullable.
func NullableTime(name string, precision int) Column {
	return Column{Name: name, CH: fmt.Sprintf("Nullable(DateTime64(%d, 'UTC'))", precision), Arrow: timestampArrow(precision), Nullable: true}
}

// StringMap is a Map(String, String) column: tapline's home for keys it does
// not know, so that nothing a record carried is dropped.
func StringMap(name string) Column {
	return Column{Name: name, CH: "Map(String, String)", Arrow: arrow.MapOf(arrow.BinaryTypes.String, arrow.BinaryTypes.String)}
}

// StringArray is an Array(String) column.
func StringArray(name string) Column {
	return Column{Name: name, CH: "Array(String)", Arrow: arrow.ListOf(arrow.BinaryTypes.String)}
}

// LowCardStringArray is an Array(LowCardinality(String)) column.
func LowCardStringArray(name string) Column {
	return Column{Name: name, CH: "Array(LowCardinality(String))", Arrow: arrow.ListOf(arrow.BinaryTypes.String)}
}

func intArrow(ch string) arrow.DataType {
	switch ch {
	case "UInt8":
		return arrow.PrimitiveTypes.Uint8
	case "UInt16":
		return arrow.PrimitiveTypes.Uint16
	case "UInt32":
		return arrow.PrimitiveTypes.Uint32
	case "UInt64":
		return arrow.PrimitiveTypes.Uint64
	case "Int8":
		return arrow.PrimitiveTypes.Int8
	case "Int16":
		return arrow.PrimitiveTypes.Int16
	case "Int32":
		return arrow.PrimitiveTypes.Int32
	case "Int64":
		return arrow.PrimitiveTypes.Int64
	}
	panic("BUG: schema.Int: unsupported ClickHouse integer type " + ch)
}

func timestampArrow(precision int) arrow.DataType {
	switch precision {
	case 3:
		return &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
	case 6:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	case 9:
		return &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}
	}
	panic(fmt.Sprintf("BUG: schema.Time: unsupported precision %d", precision))
}
