package chhttp

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Revisions of ClickHouse's native protocol that change the Native format
// (src/Core/ProtocolDefines.h).
const (
	// revisionWithCustomSerialization adds one byte after each column's
	// type: whether the column uses a custom (sparse) serialization.
	revisionWithCustomSerialization = 54454
)

// blockInfo is BlockInfo as a server writes it for a client of revision >
// 0 (src/Core/BlockInfo.cpp): field 1 is_overflows = false, field 2
// bucket_num = -1, field 0 ends the list.
var blockInfo = []byte{1, 0, 2, 0xff, 0xff, 0xff, 0xff, 0}

// upgradeNative rewrites Native output of the embedded engine into the
// layout a client of protocol revision rev reads.
//
// The engine writes Native for revision 0, as clickhouse-local does: each
// block is column count, row count, then per column its name, type and
// data. Over HTTP a server honours the client_protocol_version parameter
// instead (clickhouse-go sends it and decodes with the server's revision),
// which adds BlockInfo before each block and, from revision 54454, a
// custom-serialization byte after each type. Inserting them needs the
// end of every column's data, so upgradeNative walks the data of each
// type (nativeWalker); a type it does not know is an error naming it, never
// a guess. The data itself is copied unchanged: the engine never writes
// sparse columns for revision 0, so "no custom serialization" is true.
// upgradeNative appends to dst and returns it.
func upgradeNative(dst, src []byte, rev uint64) ([]byte, error) {
	if rev == 0 {
		return append(dst, src...), nil
	}
	w := nativeWalker{b: src}
	for w.off < len(w.b) {
		dst = append(dst, blockInfo...)
		start := w.off
		cols, err := w.uvarint()
		if err != nil {
			return nil, err
		}
		rows, err := w.uvarint()
		if err != nil {
			return nil, err
		}
		if cols > 1<<20 || rows > 1<<40 {
			return nil, fmt.Errorf("native block header says %d columns, %d rows: not Native output", cols, rows)
		}
		dst = append(dst, src[start:w.off]...)
		for c := uint64(0); c < cols; c++ {
			start := w.off
			if _, err := w.str(); err != nil {
				return nil, err
			}
			typName, err := w.str()
			if err != nil {
				return nil, err
			}
			dst = append(dst, src[start:w.off]...)
			if rev >= revisionWithCustomSerialization {
				dst = append(dst, 0)
			}
			if rows == 0 {
				continue
			}
			t, err := parseType(typName)
			if err != nil {
				return nil, err
			}
			start = w.off
			if err := w.prefix(t); err != nil {
				return nil, fmt.Errorf("column of type %s: %w", typName, err)
			}
			if err := w.data(t, rows); err != nil {
				return nil, fmt.Errorf("column of type %s: %w", typName, err)
			}
			dst = append(dst, src[start:w.off]...)
		}
	}
	return dst, nil
}

// chType is a parsed ClickHouse type: "Array(Nullable(String))" is
// {Array, [{Nullable, [{String}]}]}. args holds the raw argument text for
// types whose arguments are not types (FixedString(16), Decimal(9, 2)).
type chType struct {
	name  string
	elems []*chType
	args  []string
}

// parseType parses a type name as the engine writes it in Native headers.
func parseType(s string) (*chType, error) {
	s = strings.TrimSpace(s)
	open := strings.IndexByte(s, '(')
	if open < 0 {
		return &chType{name: s}, nil
	}
	if !strings.HasSuffix(s, ")") {
		return nil, fmt.Errorf("type %q: unbalanced parentheses", s)
	}
	t := &chType{name: s[:open], args: splitArgs(s[open+1 : len(s)-1])}
	switch t.name {
	case "Array", "Nullable", "LowCardinality", "Map", "Tuple", "Nested":
		for _, a := range t.args {
			if t.name == "Tuple" || t.name == "Nested" {
				a = stripFieldName(a)
			}
			e, err := parseType(a)
			if err != nil {
				return nil, err
			}
			t.elems = append(t.elems, e)
		}
	case "SimpleAggregateFunction":
		if len(t.args) < 2 {
			return nil, fmt.Errorf("type %q: want SimpleAggregateFunction(function, type)", s)
		}
		e, err := parseType(t.args[len(t.args)-1])
		if err != nil {
			return nil, err
		}
		t.elems = []*chType{e}
	}
	return t, nil
}

// splitArgs splits s at commas outside parentheses and quotes.
func splitArgs(s string) []string {
	var out []string
	level, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			level++
		case ')':
			level--
		case '\'', '`', '"':
			if end, ok := quoteEnd(s, i); ok {
				i = end - 1
			}
		case ',':
			if level == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// stripFieldName removes the name of a named tuple element ("a UInt8",
// "`a b` String") and returns its type.
func stripFieldName(s string) string {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			return s
		case '`', '"':
			if end, ok := quoteEnd(s, i); ok {
				i = end - 1
			}
		case ' ':
			return strings.TrimSpace(s[i+1:])
		}
	}
	return s
}

// fixedSizes are the byte widths of fixed-size types.
var fixedSizes = map[string]int{
	"UInt8": 1, "Int8": 1, "Bool": 1, "Enum8": 1, "Nothing": 1,
	"UInt16": 2, "Int16": 2, "Enum16": 2, "Date": 2, "BFloat16": 2,
	"UInt32": 4, "Int32": 4, "Float32": 4, "DateTime": 4, "Date32": 4, "IPv4": 4, "Decimal32": 4, "Time": 4,
	"UInt64": 8, "Int64": 8, "Float64": 8, "DateTime64": 8, "Decimal64": 8, "Time64": 8,
	"UInt128": 16, "Int128": 16, "Decimal128": 16, "UUID": 16, "IPv6": 16,
	"UInt256": 32, "Int256": 32, "Decimal256": 32,
}

// geoTypes are aliases of tuples and arrays of Float64 pairs.
var geoTypes = map[string]string{
	"Point": "Tuple(Float64, Float64)", "Ring": "Array(Point)", "LineString": "Array(Point)",
	"Polygon": "Array(Ring)", "MultiLineString": "Array(LineString)", "MultiPolygon": "Array(Polygon)",
}

// nativeWalker reads Native data of known types, only to find where each
// column ends. Every read is bounds-checked: a short buffer is an error.
type nativeWalker struct {
	b   []byte
	off int
}

func (w *nativeWalker) need(n uint64) error {
	if n > uint64(len(w.b)-w.off) {
		return fmt.Errorf("native data ends %d bytes early at offset %d", n-uint64(len(w.b)-w.off), w.off)
	}
	return nil
}

func (w *nativeWalker) skip(n uint64) error {
	if err := w.need(n); err != nil {
		return err
	}
	w.off += int(n)
	return nil
}

func (w *nativeWalker) uvarint() (uint64, error) {
	v, n := binary.Uvarint(w.b[w.off:])
	if n <= 0 {
		return 0, fmt.Errorf("bad varint at offset %d", w.off)
	}
	w.off += n
	return v, nil
}

func (w *nativeWalker) uint64() (uint64, error) {
	if err := w.need(8); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint64(w.b[w.off:])
	w.off += 8
	return v, nil
}

func (w *nativeWalker) str() (string, error) {
	n, err := w.uvarint()
	if err != nil {
		return "", err
	}
	if err := w.need(n); err != nil {
		return "", err
	}
	s := string(w.b[w.off : w.off+int(n)])
	w.off += int(n)
	return s, nil
}

// lowCardinalityKeysVersion is SharedDictionariesWithAdditionalKeys, the
// only version ClickHouse writes (SerializationLowCardinality.cpp).
const lowCardinalityKeysVersion = 1

// Flags of a LowCardinality granule's index type word.
const (
	lcNeedGlobalDictionary = 1 << 8
	lcHasAdditionalKeys    = 1 << 9
)

// prefix skips the serialization state prefix of t, which Native writes
// for the whole column before its data: only LowCardinality has one (its
// keys version), at any depth.
func (w *nativeWalker) prefix(t *chType) error {
	switch t.name {
	case "LowCardinality":
		v, err := w.uint64()
		if err != nil {
			return err
		}
		if v != lowCardinalityKeysVersion {
			return fmt.Errorf("LowCardinality keys version %d, want %d", v, lowCardinalityKeysVersion)
		}
		return nil
	case "Array", "Nullable", "Map", "Tuple", "Nested", "SimpleAggregateFunction":
		for _, e := range t.elems {
			if err := w.prefix(e); err != nil {
				return err
			}
		}
		return nil
	}
	if alias, ok := geoTypes[t.name]; ok {
		a, err := parseType(alias)
		if err != nil {
			return err
		}
		return w.prefix(a)
	}
	return nil
}

// data skips rows values of type t.
func (w *nativeWalker) data(t *chType, rows uint64) error {
	if n, ok := fixedSizes[t.name]; ok {
		return w.skip(rows * uint64(n))
	}
	switch t.name {
	case "String":
		for r := uint64(0); r < rows; r++ {
			n, err := w.uvarint()
			if err != nil {
				return err
			}
			if err := w.skip(n); err != nil {
				return err
			}
		}
		return nil
	case "FixedString":
		n, err := strconv.ParseUint(t.args[0], 10, 32)
		if err != nil {
			return fmt.Errorf("FixedString(%s): %w", t.args[0], err)
		}
		return w.skip(rows * n)
	case "Decimal":
		p, err := strconv.Atoi(t.args[0])
		if err != nil {
			return fmt.Errorf("Decimal(%s): %w", t.args[0], err)
		}
		size := uint64(32)
		switch {
		case p <= 9:
			size = 4
		case p <= 18:
			size = 8
		case p <= 38:
			size = 16
		}
		return w.skip(rows * size)
	case "Nullable":
		if err := w.skip(rows); err != nil {
			return err
		}
		return w.data(t.elems[0], rows)
	case "SimpleAggregateFunction":
		return w.data(t.elems[0], rows)
	case "Array", "Map", "Nested":
		var last uint64
		for r := uint64(0); r < rows; r++ {
			v, err := w.uint64()
			if err != nil {
				return err
			}
			if v < last {
				return fmt.Errorf("array offsets decrease (%d after %d)", v, last)
			}
			last = v
		}
		if t.name == "Array" {
			return w.data(t.elems[0], last)
		}
		for _, e := range t.elems { // Map(K, V) and Nested(...) are arrays of tuples
			if err := w.data(e, last); err != nil {
				return err
			}
		}
		return nil
	case "Tuple":
		for _, e := range t.elems {
			if err := w.data(e, rows); err != nil {
				return err
			}
		}
		return nil
	case "LowCardinality":
		return w.lowCardinality(t.elems[0], rows)
	}
	if strings.HasPrefix(t.name, "Interval") {
		return w.skip(rows * 8)
	}
	if alias, ok := geoTypes[t.name]; ok {
		a, err := parseType(alias)
		if err != nil {
			return err
		}
		return w.data(a, rows)
	}
	return fmt.Errorf("the endpoint cannot send type %s in Native format: cast the column (toString(x)) or ask for another format", t.name)
}

// lowCardinality skips rows values of LowCardinality(inner): granules of an
// index type word, the granule's new dictionary keys (inner without
// Nullable, when the word says so), a row count and that many indexes.
func (w *nativeWalker) lowCardinality(inner *chType, rows uint64) error {
	keys := inner
	if inner.name == "Nullable" {
		keys = inner.elems[0]
	}
	for rows > 0 {
		word, err := w.uint64()
		if err != nil {
			return err
		}
		if word&lcNeedGlobalDictionary != 0 {
			return fmt.Errorf("LowCardinality with a global dictionary is not Native output")
		}
		width := uint64(1) << (word & 0xff)
		if word&0xff > 3 {
			return fmt.Errorf("LowCardinality index type %d", word&0xff)
		}
		if word&lcHasAdditionalKeys != 0 {
			n, err := w.uint64()
			if err != nil {
				return err
			}
			if err := w.data(keys, n); err != nil {
				return err
			}
		}
		n, err := w.uint64()
		if err != nil {
			return err
		}
		if n == 0 || n > rows {
			return fmt.Errorf("LowCardinality granule of %d rows where %d remain", n, rows)
		}
		if err := w.skip(n * width); err != nil {
			return err
		}
		rows -= n
	}
	return nil
}
