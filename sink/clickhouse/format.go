package clickhouse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Formats lists the output formats Query renders. The native protocol
// returns typed blocks, so the server target renders rows itself, in
// ClickHouse's text conventions; other formats need the server's HTTP
// interface (for example clickhouse-client or curl).
var Formats = []string{
	"TabSeparated", "TabSeparatedRaw", "TabSeparatedWithNames", "TabSeparatedRawWithNames", "TabSeparatedWithNamesAndTypes",
	"TSV", "TSVRaw", "TSVWithNames", "TSVRawWithNames", "TSVWithNamesAndTypes",
	"CSV", "CSVWithNames", "JSONEachRow", "PrettyCompact", "PrettyCompactMonoBlock",
}

type kind int

const (
	kindTSV kind = iota
	kindTSVRaw
	kindCSV
	kindJSONEachRow
	kindPretty
)

// renderer writes rows of one query in one format.
type renderer struct {
	kind  kind
	names bool
	types bool
}

func newRenderer(format string) (*renderer, error) {
	f := strings.Replace(format, "TabSeparated", "TSV", 1)
	r := &renderer{}
	switch {
	case f == "JSONEachRow":
		r.kind = kindJSONEachRow
	case f == "PrettyCompact" || f == "PrettyCompactMonoBlock":
		r.kind = kindPretty
	case f == "CSV" || f == "CSVWithNames":
		r.kind, r.names = kindCSV, f == "CSVWithNames"
	case strings.HasPrefix(f, "TSV"):
		rest := strings.TrimPrefix(f, "TSV")
		if strings.HasPrefix(rest, "Raw") {
			r.kind, rest = kindTSVRaw, strings.TrimPrefix(rest, "Raw")
		}
		switch rest {
		case "":
		case "WithNames":
			r.names = true
		case "WithNamesAndTypes":
			r.names, r.types = true, true
		default:
			return nil, unsupported(format)
		}
	default:
		return nil, unsupported(format)
	}
	return r, nil
}

func unsupported(format string) error {
	return fmt.Errorf("output format %q is not rendered for a ClickHouse server over the native protocol; use one of %s (or clickhouse-client for others)", format, strings.Join(Formats, ", "))
}

// render reads every row and returns the formatted output.
func (r *renderer) render(rows driver.Rows) ([]byte, error) {
	cts := rows.ColumnTypes()
	names := make([]string, len(cts))
	dest := make([]any, len(cts))
	for i, ct := range cts {
		names[i] = ct.Name()
		dest[i] = reflect.New(ct.ScanType()).Interface()
	}
	var table [][]string // for Pretty
	var buf bytes.Buffer
	if r.names && r.kind != kindPretty {
		r.line(&buf, names, nil)
		if r.types {
			typ := make([]string, len(cts))
			for i, ct := range cts {
				typ[i] = ct.DatabaseTypeName()
			}
			r.line(&buf, typ, nil)
		}
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		vals := make([]any, len(dest))
		for i, d := range dest {
			vals[i] = reflect.ValueOf(d).Elem().Interface()
		}
		switch r.kind {
		case kindJSONEachRow:
			buf.WriteByte('{')
			for i, v := range vals {
				if i > 0 {
					buf.WriteByte(',')
				}
				k, _ := json.Marshal(names[i])
				buf.Write(k)
				buf.WriteByte(':')
				b, err := json.Marshal(jsonValue(v, cts[i].DatabaseTypeName()))
				if err != nil {
					return nil, err
				}
				buf.Write(b)
			}
			buf.WriteString("}\n")
		case kindPretty:
			cells := make([]string, len(vals))
			for i, v := range vals {
				if isNull(v) {
					cells[i] = "ᴺᵁᴸᴸ"
				} else {
					cells[i] = text(v, cts[i].DatabaseTypeName(), false)
				}
			}
			table = append(table, cells)
		default:
			cells := make([]string, len(vals))
			for i, v := range vals {
				cells[i] = text(v, cts[i].DatabaseTypeName(), false)
			}
			r.line(&buf, cells, vals)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if r.kind == kindPretty && len(cts) > 0 {
		pretty(&buf, names, table, cts)
	}
	return buf.Bytes(), nil
}

// line writes one TSV or CSV line; vals (nil for header lines) tells
// NULLs and strings apart from their text.
func (r *renderer) line(buf *bytes.Buffer, cells []string, vals []any) {
	for i, c := range cells {
		if i > 0 {
			if r.kind == kindCSV {
				buf.WriteByte(',')
			} else {
				buf.WriteByte('\t')
			}
		}
		if vals != nil && isNull(vals[i]) {
			buf.WriteString(`\N`)
			continue
		}
		switch r.kind {
		case kindTSV:
			buf.WriteString(escapeTSV(c))
		case kindCSV:
			if vals != nil && isNumber(vals[i]) {
				buf.WriteString(c)
			} else {
				buf.WriteString(`"` + strings.ReplaceAll(c, `"`, `""`) + `"`)
			}
		default:
			buf.WriteString(c)
		}
	}
	buf.WriteByte('\n')
}

func escapeTSV(s string) string {
	if !strings.ContainsAny(s, "\t\n\\\r\x00\b\f") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`, "\x00", `\0`, "\b", `\b`, "\f", `\f`).Replace(s)
}

func isNull(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

func isNumber(v any) bool {
	rv := reflect.Indirect(reflect.ValueOf(v))
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Bool:
		return true
	}
	return false
}

// text renders v as ClickHouse prints it in text formats; quoted renders
// strings as literals (inside arrays and maps).
func text(v any, chType string, quoted bool) string {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return "NULL"
	}
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "NULL"
		}
		rv = rv.Elem()
		v = rv.Interface()
	}
	inner := chType
	for _, p := range []string{"Nullable(", "LowCardinality("} {
		if s, ok := unwrap(inner, p); ok {
			inner = s
		}
	}
	switch x := v.(type) {
	case string:
		if quoted {
			return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(x) + "'"
		}
		return x
	case []byte:
		return text(string(x), chType, quoted)
	case bool:
		return strconv.FormatBool(x)
	case float32:
		return formatFloat(float64(x), 32)
	case float64:
		return formatFloat(x, 64)
	case time.Time:
		s := x.Format(timeLayout(inner))
		if quoted {
			return "'" + s + "'"
		}
		return s
	case fmt.Stringer:
		if quoted {
			return "'" + x.String() + "'"
		}
		return x.String()
	}
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(rv.Uint(), 10)
	case reflect.Slice, reflect.Array:
		elem, _ := unwrap(inner, "Array(")
		parts := make([]string, rv.Len())
		for i := range parts {
			parts[i] = text(rv.Index(i).Interface(), elem, true)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case reflect.Map:
		kt, vt := mapTypes(inner)
		keys := rv.MapKeys()
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = text(k.Interface(), kt, true) + ":" + text(rv.MapIndex(k).Interface(), vt, true)
		}
		sort.Strings(parts) // Go maps lose the server's order
		return "{" + strings.Join(parts, ",") + "}"
	}
	return fmt.Sprint(v)
}

// mapTypes splits "Map(K, V)" into K and V.
func mapTypes(t string) (string, string) {
	s, ok := unwrap(t, "Map(")
	if !ok {
		return "", ""
	}
	depth := 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
			}
		}
	}
	return s, ""
}

// timeLayout is the Go layout of a ClickHouse Date, DateTime or
// DateTime64(p) value.
func timeLayout(chType string) string {
	switch {
	case strings.HasPrefix(chType, "Date32"), chType == "Date":
		return "2006-01-02"
	case strings.HasPrefix(chType, "DateTime64("):
		p := strings.TrimPrefix(chType, "DateTime64(")
		if n, err := strconv.Atoi(strings.TrimRight(strings.SplitN(p, ",", 2)[0], ")")); err == nil && n > 0 {
			return "2006-01-02 15:04:05." + strings.Repeat("0", n)
		}
	}
	return "2006-01-02 15:04:05"
}

func formatFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	a := math.Abs(f)
	if a == 0 || (a >= 1e-5 && a < 1e16) {
		return strconv.FormatFloat(f, 'f', -1, bits)
	}
	return strings.Replace(strconv.FormatFloat(f, 'g', -1, bits), "e+", "e", 1)
}

// jsonValue maps v to what ClickHouse's JSONEachRow writes: 64-bit
// integers quoted (output_format_json_quote_64bit_integers), times as
// text, maps as objects.
func jsonValue(v any, chType string) any {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return nil
	}
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
		v = rv.Interface()
	}
	switch x := v.(type) {
	case string, bool:
		return x
	case []byte:
		return string(x)
	case time.Time:
		return text(x, chType, false)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return x
	}
	inner := chType
	for _, p := range []string{"Nullable(", "LowCardinality("} {
		if s, ok := unwrap(inner, p); ok {
			inner = s
		}
	}
	switch rv.Kind() {
	case reflect.Int64, reflect.Int:
		return strconv.FormatInt(rv.Int(), 10)
	case reflect.Uint64, reflect.Uint:
		return strconv.FormatUint(rv.Uint(), 10)
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return rv.Int()
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return rv.Uint()
	case reflect.Slice, reflect.Array:
		elem, _ := unwrap(inner, "Array(")
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = jsonValue(rv.Index(i).Interface(), elem)
		}
		return out
	case reflect.Map:
		_, vt := mapTypes(inner)
		out := make(map[string]any, rv.Len())
		for _, k := range rv.MapKeys() {
			out[fmt.Sprint(k.Interface())] = jsonValue(rv.MapIndex(k).Interface(), vt)
		}
		return out
	}
	return fmt.Sprint(v)
}

// pretty writes rows as ClickHouse's PrettyCompact: a box around a header
// of names, numbers right-aligned.
func pretty(buf *bytes.Buffer, names []string, rows [][]string, cts []driver.ColumnType) {
	w := make([]int, len(names))
	right := make([]bool, len(names))
	for i, n := range names {
		w[i] = utf8.RuneCountInString(n)
		k := cts[i].ScanType().Kind()
		if k == reflect.Pointer {
			k = cts[i].ScanType().Elem().Kind()
		}
		right[i] = k >= reflect.Int && k <= reflect.Float64
	}
	for _, r := range rows {
		for i, c := range r {
			w[i] = max(w[i], utf8.RuneCountInString(c))
		}
	}
	buf.WriteString("┌")
	for i, n := range names {
		if i > 0 {
			buf.WriteString("┬")
		}
		fill := strings.Repeat("─", w[i]-utf8.RuneCountInString(n))
		if right[i] {
			buf.WriteString("─" + fill + n + "─")
		} else {
			buf.WriteString("─" + n + fill + "─")
		}
	}
	buf.WriteString("┐\n")
	for _, r := range rows {
		buf.WriteString("│")
		for i, c := range r {
			if i > 0 {
				buf.WriteString("│")
			}
			pad := strings.Repeat(" ", w[i]-utf8.RuneCountInString(c))
			if right[i] {
				buf.WriteString(" " + pad + c + " ")
			} else {
				buf.WriteString(" " + c + pad + " ")
			}
		}
		buf.WriteString("│\n")
	}
	buf.WriteString("└")
	for i := range names {
		if i > 0 {
			buf.WriteString("┴")
		}
		buf.WriteString(strings.Repeat("─", w[i]+2))
	}
	buf.WriteString("┘\n")
}
