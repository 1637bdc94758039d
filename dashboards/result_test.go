package dashboards

import (
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// result is a query's answer as the engine formats it
// (TabSeparatedWithNamesAndTypes): column names, types, and rows of text.
type result struct {
	where        string
	names, types []string
	rows         [][]string
}

// table runs q on the engine and returns its result.
func (r runner) table(where, q string) result {
	r.t.Helper()
	out, err := r.target.Query(r.ctx, q, "TabSeparatedWithNamesAndTypes", nil)
	require.NoError(r.t, err, "%s:\n%s", where, q)
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	require.GreaterOrEqual(r.t, len(lines), 2, "%s: no header:\n%s", where, q)
	res := result{where: where, names: strings.Split(lines[0], "\t"), types: strings.Split(lines[1], "\t")}
	for _, l := range lines[2:] {
		res.rows = append(res.rows, strings.Split(l, "\t"))
	}
	return res
}

var timeType = regexp.MustCompile(`^(Nullable\()?(DateTime|DateTime64|Date|Date32)\b`)

// requireTimeSeries checks the shape the plugin's long-to-wide conversion
// needs (sqlutil: "the time column must be first and the rows sorted by
// time"): the first column is a date or time, and it never goes back.
// The text forms compare as the times do (fixed-width, most significant
// first).
func (res result) requireTimeSeries(t *testing.T, where string) {
	t.Helper()
	require.NotEmpty(t, res.types, where)
	require.Regexp(t, timeType, res.types[0], "%s: a time series' first column must be its time, not %s %s", where, res.names[0], res.types[0])
	for i := 1; i < len(res.rows); i++ {
		require.LessOrEqual(t, res.rows[i-1][0], res.rows[i][0], "%s: rows must be sorted by time, ascending (row %d)", where, i)
	}
}

// col returns the index of column name.
func (res result) col(t *testing.T, name string) int {
	t.Helper()
	for i, n := range res.names {
		if n == name {
			return i
		}
	}
	require.Failf(t, "no such column", "%s: no column %q in %v", res.where, name, res.names)
	return -1
}

// num returns row i's column name as a number.
func (res result) num(t *testing.T, i int, name string) float64 {
	t.Helper()
	s := res.rows[i][res.col(t, name)]
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err, "%s: row %d column %s: %q", res.where, i, name, s)
	return v
}

// str returns row i's column name as text.
func (res result) str(t *testing.T, i int, name string) string {
	t.Helper()
	return res.rows[i][res.col(t, name)]
}

// sum adds column name over the rows where column by equals value (all
// rows when by is "").
func (res result) sum(t *testing.T, name, by, value string) float64 {
	t.Helper()
	var s float64
	for i := range res.rows {
		if by == "" || res.str(t, i, by) == value {
			s += res.num(t, i, name)
		}
	}
	return s
}

// rowWhere returns the index of the only row whose column by is value.
func (res result) rowWhere(t *testing.T, by, value string) int {
	t.Helper()
	found := -1
	for i := range res.rows {
		if res.str(t, i, by) == value {
			require.Equal(t, -1, found, "%s: two rows with %s = %s", res.where, by, value)
			found = i
		}
	}
	require.NotEqual(t, -1, found, "%s: no row with %s = %s", res.where, by, value)
	return found
}

// rank returns the share of samples at or below v: where an estimated
// quantile sits in the data it was estimated from.
func rank(samples []float64, v float64) float64 {
	s := append([]float64(nil), samples...)
	sort.Float64s(s)
	return float64(sort.Search(len(s), func(i int) bool { return s[i] > v })) / float64(len(s))
}

// requireRank checks that an estimated q-quantile v of samples has rank q
// within tol (t-digests estimate; on a few hundred samples they are close).
func requireRank(t *testing.T, where string, samples []float64, q, v, tol float64) {
	t.Helper()
	got := rank(samples, v)
	require.False(t, math.IsNaN(v), "%s: estimate is NaN", where)
	require.InDelta(t, q, got, tol, "%s: estimate %v of the %v quantile has rank %v", where, v, q, got)
}
