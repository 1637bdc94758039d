package dashboards

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// This file expands a panel's SQL the way Grafana and the ClickHouse plugin
// (grafana/clickhouse-datasource v4.20, commit 1d04063a) do before the query
// reaches ClickHouse, in their order:
//
//  1. the plugin's frontend, CHDatasource.applyTemplateVariables
//     (src/data/CHDatasource.ts): first applyConditionalAll, which replaces
//     each $__conditionalAll(condition, $var) by "1=1" when $var is All or
//     empty and by the condition otherwise (arguments split by
//     getMacroArgs: commas at bracket depth 1, quotes not considered);
//  2. then Grafana's templateSrv.replace with the plugin's format function
//     (CHDatasource.format): a multi-value becomes 'a','b' (no escaping), a
//     single value is inserted as is; an explicit ${var:singlequote} quotes
//     and escapes (' to \') every value; "All" without allValue means every
//     option's value;
//  3. then the plugin's backend, pkg/macros/macros.go Interpolate with
//     grafana/macropro (parser.go): comments stripped, macro names matched
//     longest first, arguments split at top-level commas and trimmed:
//     $__timeFilter(c) -> c >= toDateTime(from) AND c <= toDateTime(to),
//     $__timeFilter_ms(c) -> ... fromUnixTimestamp64Milli(ms) ...,
//     $__fromTime / $__toTime -> toDateTime(unix seconds),
//     $__fromTime_ms / $__toTime_ms -> fromUnixTimestamp64Milli(ms),
//     $__interval_s -> whole seconds of the query interval (at least 1),
//     $__timeInterval(c) -> toStartOfInterval(toDateTime(c), INTERVAL n second),
//     $__timeInterval_ms(c) -> toStartOfInterval(toDateTime64(c, 3), INTERVAL n millisecond),
//     $__dateFilter(c) -> c >= toDate('YYYY-MM-DD') AND c <= toDate(...).
//
// The expander is written from those sources' behaviour, not copied; the
// cases in TestExpandFollowsThePlugin are the plugin's documented examples.

// varValue is a variable's current selection.
type varValue struct {
	// all is true when "All" is selected.
	all bool
	// values are the selected values; for all, every option's value.
	values []string
	// multi variables format as lists even with one value.
	multi bool
}

// queryContext is what one panel query is expanded with.
type queryContext struct {
	from, to time.Time
	interval time.Duration
	vars     map[string]varValue
}

// expand returns the SQL the plugin sends ClickHouse for raw.
func expand(raw string, qc queryContext) (string, error) {
	if strings.Contains(raw, "--") || strings.Contains(raw, "/*") {
		return "", fmt.Errorf("query has a comment: the plugin strips comments before expanding macros, keep dashboards' SQL free of them")
	}
	q := applyConditionalAll(raw, qc.vars)
	q, err := replaceVariables(q, qc.vars)
	if err != nil {
		return "", err
	}
	return interpolateMacros(q, qc)
}

// applyConditionalAll follows CHDatasource.applyConditionalAll: from the
// last $__conditionalAll( to the first, replace the call by its condition,
// or by 1=1 when the variable named in the second argument is All or empty.
func applyConditionalAll(q string, vars map[string]varValue) string {
	const macro = "$__conditionalAll("
	for i := strings.LastIndex(q, macro); i >= 0; i = strings.LastIndex(q, macro) {
		args := macroArgs(q[i+len(macro)-1:])
		if len(args) != 2 {
			return q
		}
		phrase := args[0]
		if name := firstVariableName(strings.TrimSpace(args[1])); name != "" {
			v, ok := vars[name]
			if ok && (v.all || len(v.values) == 0 || len(v.values) == 1 && v.values[0] == "") {
				phrase = "1=1"
			}
		}
		q = strings.Replace(q, macro+args[0]+","+args[1]+")", phrase, 1)
	}
	return q
}

// macroArgs follows CHDatasource.getMacroArgs on s, which starts with '(':
// arguments end at commas at depth 1 and at the closing bracket; quotes do
// not matter. It returns nil when the brackets never close.
func macroArgs(s string) []string {
	var args []string
	depth, last := 0, 1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 1 {
				args = append(args, s[last:i])
				last = i + 1
			}
			continue
		default:
			continue
		}
		if depth == 0 {
			return append(args, s[last:i])
		}
	}
	return nil
}

// firstVariableName finds the first ${name} or $name in s, as the plugin's
// /(?<=\$\{)[\w\d]+(?=\})|(?<=\$)[\w\d]+/ does.
func firstVariableName(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			continue
		}
		if i+1 < len(s) && s[i+1] == '{' {
			j := i + 2
			for j < len(s) && isWord(s[j]) {
				j++
			}
			if j > i+2 && j < len(s) && s[j] == '}' {
				return s[i+2 : j]
			}
			continue
		}
		j := i + 1
		for j < len(s) && isWord(s[j]) {
			j++
		}
		if j > i+1 {
			return s[i+1 : j]
		}
	}
	return ""
}

func isWord(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// variableRE is Grafana's template variable syntax (public/app/features/
// variables/utils.ts variableRegex): $name, [[name]] / [[name:fmt]],
// ${name} / ${name:fmt}.
var variableRE = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}`)

// replaceVariables follows templateSrv.replace with the plugin's format
// function; names that are not dashboard variables ($__timeFilter, ...) stay.
func replaceVariables(q string, vars map[string]varValue) (string, error) {
	var err error
	out := variableRE.ReplaceAllStringFunc(q, func(m string) string {
		sub := variableRE.FindStringSubmatch(m)
		name, format := sub[1], ""
		switch {
		case sub[2] != "":
			name, format = sub[2], sub[3]
		case sub[4] != "":
			name, format = sub[4], sub[6]
		}
		v, ok := vars[name]
		if !ok {
			return m
		}
		list := v.multi || v.all || len(v.values) > 1
		switch format {
		case "":
			if list {
				return "'" + strings.Join(v.values, "','") + "'"
			}
			if len(v.values) == 0 {
				return ""
			}
			return v.values[0]
		case "singlequote":
			quoted := make([]string, len(v.values))
			for i, s := range v.values {
				quoted[i] = "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
			}
			return strings.Join(quoted, ",")
		}
		err = fmt.Errorf("variable format %q in %s: the expander knows singlequote and the default only", format, m)
		return m
	})
	return out, err
}

// backendMacros are the plugin's macros this expander implements.
var backendMacros = []string{
	"timeFilter_ms", "timeInterval_ms", "fromTime_ms", "toTime_ms", "timeFilter", "timeInterval",
	"interval_s", "dateFilter", "fromTime", "toTime",
}

// interpolateMacros follows macropro.Interpolate with the plugin's
// ClickHouseMacros.
func interpolateMacros(q string, qc queryContext) (string, error) {
	names := append([]string(nil), backendMacros...)
	sort.SliceStable(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	from, to := qc.from.Unix(), qc.to.Unix()
	seconds := int(math.Max(qc.interval.Seconds(), 1))
	ms := int(math.Max(float64(qc.interval.Milliseconds()), 1))
	for _, name := range names {
		token := "$__" + name
		var b strings.Builder
		s := q
		for {
			i := strings.Index(s, token)
			if i < 0 {
				b.WriteString(s)
				break
			}
			after := i + len(token)
			if after < len(s) && isWord(s[after]) {
				b.WriteString(s[:after])
				s = s[after:]
				continue
			}
			b.WriteString(s[:i])
			s = s[after:]
			var args []string
			if strings.HasPrefix(s, "(") {
				var end int
				args, end = splitMacroArgs(s)
				if end < 0 {
					return "", fmt.Errorf("%s: unbalanced parentheses", token)
				}
				s = s[end+1:]
			}
			one := func() (string, error) {
				if len(args) != 1 {
					return "", fmt.Errorf("%s expects 1 argument, has %d", token, len(args))
				}
				return args[0], nil
			}
			var rep string
			switch name {
			case "timeFilter", "timeFilter_ms", "dateFilter":
				c, err := one()
				if err != nil {
					return "", err
				}
				lo, hi := fmt.Sprintf("toDateTime(%d)", from), fmt.Sprintf("toDateTime(%d)", to)
				if name == "timeFilter_ms" {
					lo, hi = fmt.Sprintf("fromUnixTimestamp64Milli(%d)", qc.from.UnixMilli()), fmt.Sprintf("fromUnixTimestamp64Milli(%d)", qc.to.UnixMilli())
				} else if name == "dateFilter" {
					lo, hi = "toDate('"+qc.from.UTC().Format("2006-01-02")+"')", "toDate('"+qc.to.UTC().Format("2006-01-02")+"')"
				}
				rep = fmt.Sprintf("%s >= %s AND %s <= %s", c, lo, c, hi)
			case "fromTime":
				rep = fmt.Sprintf("toDateTime(%d)", from)
			case "toTime":
				rep = fmt.Sprintf("toDateTime(%d)", to)
			case "fromTime_ms":
				rep = fmt.Sprintf("fromUnixTimestamp64Milli(%d)", qc.from.UnixMilli())
			case "toTime_ms":
				rep = fmt.Sprintf("fromUnixTimestamp64Milli(%d)", qc.to.UnixMilli())
			case "interval_s":
				rep = fmt.Sprint(seconds)
			case "timeInterval":
				c, err := one()
				if err != nil {
					return "", err
				}
				rep = fmt.Sprintf("toStartOfInterval(toDateTime(%s), INTERVAL %d second)", c, seconds)
			case "timeInterval_ms":
				c, err := one()
				if err != nil {
					return "", err
				}
				rep = fmt.Sprintf("toStartOfInterval(toDateTime64(%s, 3), INTERVAL %d millisecond)", c, ms)
			}
			b.WriteString(rep)
		}
		q = b.String()
	}
	if i := strings.Index(q, "$__"); i >= 0 {
		return "", fmt.Errorf("unexpanded macro at %q: the expander (and the dashboards) use the macros listed in expand_test.go only", q[i:min(len(q), i+30)])
	}
	return q, nil
}

// splitMacroArgs reads the argument list at the start of s ("(a, f(b, c))")
// as macropro does: the closing bracket and the commas that separate
// arguments are those outside nested brackets and quoted strings (” and ""
// doubled inside are quotes). It returns the trimmed arguments and the
// index of the closing bracket, or -1.
func splitMacroArgs(s string) ([]string, int) {
	var args []string
	depth, start := 0, 1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'', '"':
			j := i + 1
			for j < len(s) && !(s[j] == c && (j+1 == len(s) || s[j+1] != c)) {
				if s[j] == c {
					j++
				}
				j++
			}
			i = j
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				if a := strings.TrimSpace(s[start:i]); a != "" || len(args) > 0 {
					args = append(args, a)
				}
				return args, i
			}
		case ',':
			if depth == 1 {
				args = append(args, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return nil, -1
}

// TestExpandFollowsThePlugin checks the expander on the plugin's own test
// cases: pkg/macros/macros_test.go (TestInterpolate: time range
// 2014-11-12T11:45:26.123Z to 2015-11-12T11:45:26.456Z) and
// src/data/CHDatasource.test.ts ("Conditional All"), followed by Grafana's
// variable formats.
func TestExpandFollowsThePlugin(t *testing.T) {
	t.Parallel()
	from := time.Date(2014, 11, 12, 11, 45, 26, 123_000_000, time.UTC)
	to := time.Date(2015, 11, 12, 11, 45, 26, 456_000_000, time.UTC)
	qc := queryContext{from: from, to: to, interval: 30 * time.Second}
	macros := []struct{ in, out string }{
		{"select * from foo where $__timeFilter(cast(sth as timestamp))",
			"select * from foo where cast(sth as timestamp) >= toDateTime(1415792726) AND cast(sth as timestamp) <= toDateTime(1447328726)"},
		{"select * from foo where $__timeFilter(cast(sth as timestamp) )",
			"select * from foo where cast(sth as timestamp) >= toDateTime(1415792726) AND cast(sth as timestamp) <= toDateTime(1447328726)"},
		{"select * from foo where $__timeFilter_ms(cast(sth as timestamp))",
			"select * from foo where cast(sth as timestamp) >= fromUnixTimestamp64Milli(1415792726123) AND cast(sth as timestamp) <= fromUnixTimestamp64Milli(1447328726456)"},
		{"select * from foo where ( date >= $__fromTime and date <= $__toTime ) limit 100",
			"select * from foo where ( date >= toDateTime(1415792726) and date <= toDateTime(1447328726) ) limit 100"},
		{"select * from foo where ( date >= $__fromTime_ms ) and ( date <= $__toTime_ms ) limit 100",
			"select * from foo where ( date >= fromUnixTimestamp64Milli(1415792726123) ) and ( date <= fromUnixTimestamp64Milli(1447328726456) ) limit 100"},
		{"SELECT $__timeInterval(ts) AS t, count() / $__interval_s",
			"SELECT toStartOfInterval(toDateTime(ts), INTERVAL 30 second) AS t, count() / 30"},
		{"WHERE $__dateFilter(d)", "WHERE d >= toDate('2014-11-12') AND d <= toDate('2015-11-12')"},
	}
	for _, c := range macros {
		got, err := expand(c.in, qc)
		require.NoError(t, err, c.in)
		require.Equal(t, c.out, got, c.in)
	}
	qc.interval = 200 * time.Millisecond
	got, err := expand("$__interval_s", qc)
	require.NoError(t, err)
	require.Equal(t, "1", got, "the interval is at least one second")

	const two = "select stuff from table where $__conditionalAll(fieldVal in ($fieldVal), $fieldVal) and $__conditionalAll(fieldVal in ($fieldVal2), $fieldVal2);"
	require.Equal(t, "select stuff from table where fieldVal in ($fieldVal) and 1=1;", applyConditionalAll(two, map[string]varValue{
		"fieldVal":  {values: []string{"val1", "val2"}, multi: true},
		"fieldVal2": {all: true, values: []string{"a"}, multi: true},
	}))
	require.Equal(t, "where 1=1", applyConditionalAll("where $__conditionalAll(x IN ($v), $v)", map[string]varValue{"v": {values: []string{""}}}),
		"an empty value counts as All")
	require.Equal(t, "where x IN (${v:singlequote})", applyConditionalAll("where $__conditionalAll(x IN (${v:singlequote}), $v)", map[string]varValue{"v": {values: []string{"a"}}}))

	vars := map[string]varValue{
		"multi":  {values: []string{"a", "it's"}, multi: true},
		"single": {values: []string{"x"}},
		"all":    {all: true, values: []string{"p", "q"}, multi: true},
	}
	got, err = replaceVariables("$multi ${multi:singlequote} $single ${single:singlequote} [[single]] ${all:singlequote} $__timeFilter(t) $unknown", vars)
	require.NoError(t, err)
	require.Equal(t, `'a','it's' 'a','it\'s' x 'x' x 'p','q' $__timeFilter(t) $unknown`, got)

	_, err = expand("SELECT 1 -- $__timeFilter(t)", qc)
	require.Error(t, err, "comments are refused: the plugin strips them before expanding")
	_, err = expand("SELECT $__unknownMacro(x)", qc)
	require.Error(t, err, "a macro the expander does not know must fail the test, not reach the engine")
}
