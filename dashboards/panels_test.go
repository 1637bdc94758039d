package dashboards

import (
	"context"
	"database/sql"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/chhttp"
	"github.com/tapline/tapline/internal/embeddedtest"
	"github.com/tapline/tapline/sink"
	"github.com/tapline/tapline/sink/embedded"
	tsql "github.com/tapline/tapline/sql"
)

// scenario is how the test sets the dashboards' variables: every filter on
// "All" (what a user sees first), or every filter on its first value (each
// $__conditionalAll condition and ${var:singlequote} list is then in the SQL).
type scenario string

const (
	allValues   scenario = "all"
	firstValues scenario = "first"
)

// runner runs expanded queries on the engine directly and through tapline's
// HTTP endpoint with clickhouse-go's HTTP protocol, configured as the
// Grafana plugin configures it for a datasource with protocol http
// (pkg/plugin/driver.go: Protocol HTTP, gzip compression, settings from
// the datasource only).
type runner struct {
	t      *testing.T
	ctx    context.Context
	target sink.Target
	db     *sql.DB
}

// newRunner serves target on tapline's HTTP endpoint for the test's
// duration and returns a runner on both.
func newRunner(ctx context.Context, t *testing.T, target *embedded.Target) runner {
	t.Helper()
	h, err := chhttp.NewHandler(chhttp.Config{Addr: "127.0.0.1:0"}, embeddedtest.Engine(t), target.Pool().Database())
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	db := clickhouse.OpenDB(&clickhouse.Options{
		Addr:        []string{strings.TrimPrefix(srv.URL, "http://")},
		Protocol:    clickhouse.HTTP,
		Compression: &clickhouse.Compression{Method: clickhouse.CompressionGZIP},
		DialTimeout: 10 * time.Second,
	})
	t.Cleanup(func() { _ = db.Close() })
	require.NoError(t, db.PingContext(ctx))
	return runner{t: t, ctx: ctx, target: target, db: db}
}

// rows runs q both ways and returns its row count; both must succeed and
// agree.
func (r runner) rows(where, q string) int {
	r.t.Helper()
	out, err := r.target.Query(r.ctx, q, "TabSeparated", nil)
	require.NoError(r.t, err, "%s on the engine:\n%s", where, q)
	n := strings.Count(string(out), "\n")
	require.Equal(r.t, n, r.httpRows(where, q), "%s: the HTTP endpoint returned another row count:\n%s", where, q)
	return n
}

// httpRows scans every column of every row into the type clickhouse-go
// reports for it, as the plugin's converters do.
func (r runner) httpRows(where, q string) int {
	r.t.Helper()
	rs, err := r.db.QueryContext(r.ctx, q)
	require.NoError(r.t, err, "%s through the HTTP endpoint:\n%s", where, q)
	defer rs.Close()
	types, err := rs.ColumnTypes()
	require.NoError(r.t, err, where)
	n := 0
	for rs.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		require.NoError(r.t, rs.Scan(dest...), "%s: scanning row %d (%v)", where, n, columnTypeNames(types))
		n++
	}
	require.NoError(r.t, rs.Err(), where)
	return n
}

func columnTypeNames(types []*sql.ColumnType) []string {
	out := make([]string, len(types))
	for i, ct := range types {
		out[i] = ct.Name() + " " + ct.DatabaseTypeName()
	}
	return out
}

// firstColumn returns the first column of q's rows (engine side).
func (r runner) options(where, q string) []string {
	r.t.Helper()
	out, err := r.target.Query(r.ctx, q, "TabSeparatedRaw", nil)
	require.NoError(r.t, err, "%s:\n%s", where, q)
	var vals []string
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		if line != "" {
			vals = append(vals, strings.Split(line, "\t")[0])
		}
	}
	require.Equal(r.t, len(vals), r.httpRows(where, q), "%s: the HTTP endpoint returned another row count", where)
	return vals
}

// resolve sets d's variables for a scenario as Grafana does on load: in
// order, each query variable's options from its query (expanded with the
// variables before it), then the scenario's selection.
func (r runner) resolve(d Dashboard, s scenario, qc queryContext) map[string]varValue {
	r.t.Helper()
	vars := map[string]varValue{}
	for _, v := range d.Variables {
		opts := v.Values
		if v.Query != "" {
			qc.vars = vars
			q, err := expand(v.Query, qc)
			require.NoError(r.t, err, "%s variable %s", d.UID, v.Name)
			opts = r.options(d.UID+" variable "+v.Name, q)
		}
		require.NotEmpty(r.t, opts, "%s: variable %s has no options on the demo's data", d.UID, v.Name)
		switch {
		case s == allValues && v.IncludeAll:
			vars[v.Name] = varValue{all: true, values: opts, multi: v.Multi}
		default:
			vars[v.Name] = varValue{values: opts[:1], multi: v.Multi}
		}
	}
	return vars
}

// TestPanelsOnDemoData proves every panel of every dashboard against real
// pipeline output: the demo's generated records of all five formats,
// decoded and inserted as the pipeline does. For both scenarios, each
// variable query and each panel query, expanded as the plugin expands it,
// must succeed on the engine and through tapline's HTTP endpoint (clickhouse-go,
// Protocol HTTP, as the plugin connects), agree on the row count, and return
// rows; a time-series panel's first column must be its time, ascending.
func TestPanelsOnDemoData(t *testing.T) {
	ctx := context.Background()
	target := embeddedtest.Target(t, 4)
	require.NoError(t, tsql.Apply(ctx, target))
	now := time.Now().UTC().Truncate(time.Second)
	loadDemo(ctx, t, target, now)

	r := newRunner(ctx, t, target)

	// Grafana's default range ends now; its interval for an hour on a
	// dashboard-wide panel is 5 seconds.
	qc := queryContext{from: now.Add(-time.Hour), to: now.Add(time.Minute), interval: 5 * time.Second}
	panels := 0
	for _, d := range All() {
		for _, s := range []scenario{allValues, firstValues} {
			qc.vars = r.resolve(d, s, qc)
			for _, row := range d.Rows {
				for _, p := range row.Panels {
					where := d.UID + " / " + p.Title + " (" + string(s) + ")"
					q, err := expand(p.SQL, qc)
					require.NoError(t, err, where)
					require.Positive(t, r.rows(where, q), "%s: no rows on the demo's data:\n%s", where, q)
					if p.Format == TimeSeries {
						r.table(where, q).requireTimeSeries(t, where)
					}
					panels++
				}
			}
		}
	}
	t.Logf("%d panel queries proved on the demo's data of all five formats", panels)
}
