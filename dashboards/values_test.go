package dashboards

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/internal/embeddedtest"
	"github.com/tapline/tapline/sink"
	"github.com/tapline/tapline/sink/embedded"
	tsql "github.com/tapline/tapline/sql"
)

// The known data set: ten minutes of SOFARPC calls of one method, 100
// client and 100 server digest rows a minute, plus stat lines and
// pipeline_batches rows, inserted with SQL so that the views compute their
// aggregates as behind the pipeline. In every minute:
//   - client latencies are 6..105 ms, every 4th call fails with 03
//     (timeout): error rate 0.25;
//   - server latencies are 1..100 ms, every 10th call fails with 01
//     (business exception): error rate 0.1;
//   - one successful stat line (50 calls, 500 ms) and one failed (10
//     calls, 200 ms) of the client side.
//
// Three batches of 100 records each, one dead letter each, one replayed,
// insert times 10, 20 and 30 ms.
const (
	knownMinutes    = 10
	knownPerSide    = 100
	knownCalls      = knownMinutes * knownPerSide // per side
	knownClientErrs = knownCalls / 4
	knownServerErrs = knownCalls / 10
	knownStatRows   = 2 * knownMinutes
)

func knownClientLatencies() []float64 { return latencies(6) }
func knownServerLatencies() []float64 { return latencies(1) }

func latencies(from int) []float64 {
	out := make([]float64, knownPerSide)
	for i := range out {
		out[i] = float64(from + i)
	}
	return out
}

func loadKnown(ctx context.Context, t *testing.T, target sink.Target, start time.Time) {
	t.Helper()
	startSQL := "toDateTime64('" + start.UTC().Format("2006-01-02 15:04:05") + "', 3, 'UTC')"
	per := strconv.Itoa(knownPerSide)
	for _, q := range []string{
		// number: minute m = number / 200; j = number % 200, the first
		// hundred client rows, i = j % 100 + 1.
		`INSERT INTO sofarpc_digest (timestamp, side, trace_id, span_id, local_app, remote_app, service, method, result_code, is_error, latency_ms)
SELECT ` + startSQL + ` + toIntervalMillisecond(intDiv(number, 2 * ` + per + `) * 60000 + j * 250) AS ts,
       if(client, 'client', 'server'), toString(number), '0.1', if(client, 'appX', 'appA'), if(client, 'appA', 'appX'), 'svc.A', 'a',
       multiIf(client AND i % 4 = 0, '03', NOT client AND i % 10 = 0, '01', '00'),
       client AND i % 4 = 0 OR NOT client AND i % 10 = 0,
       if(client, i + 5, i)
FROM (SELECT number, number % (2 * ` + per + `) AS j, j < ` + per + ` AS client, j % ` + per + ` + 1 AS i FROM numbers(` + strconv.Itoa(2*knownCalls) + `))`,
		`INSERT INTO sofarpc_stat (time, side, local_app, remote_app, service, method, count, total_cost_ms, success)
SELECT ` + startSQL + ` + toIntervalSecond(intDiv(number, 2) * 60 + 30), 'client', 'appX', 'appA', 'svc.A', 'a',
       if(number % 2 = 0, 50, 10), if(number % 2 = 0, 500, 200), number % 2 = 0
FROM numbers(` + strconv.Itoa(knownStatRows) + `)`,
		`INSERT INTO pipeline_batches (source, stream, consumer, first_seq, last_seq, messages, records, dead_letters, rows, replayed, insert_ms)
SELECT 'sofarpc', 'TAPLINE_SOFARPC', 'tapline-sofarpc', number * 10 + 1, number * 10 + 10, 10, 100, 1, 100, number = 0, 10 * (number + 1)
FROM numbers(3)`,
	} {
		require.NoError(t, target.Exec(ctx, q), q)
	}
}

// known runs panels, every filter on "All", over the hour before now as
// Grafana's default range does (interval 5 s), ending a minute after the
// clock (not after now, the minute the data sets end at), so that rows
// stamped with ingested_at are in range even when the test crosses a
// minute.
type known struct {
	t  *testing.T
	r  runner
	qc queryContext
}

func newKnown(ctx context.Context, t *testing.T, target *embedded.Target, now time.Time) *known {
	return &known{t: t, r: newRunner(ctx, t, target), qc: queryContext{from: now.Add(-time.Hour), to: time.Now().UTC().Add(time.Minute), interval: 5 * time.Second}}
}

// run returns the result of a panel, which must have rows, and the shape
// Grafana needs when it is a time series.
func (k *known) run(uid, title string) result {
	k.t.Helper()
	d, p := panelSQL(k.t, uid, title)
	k.qc.vars = k.r.resolve(d, allValues, k.qc)
	q, err := expand(p.SQL, k.qc)
	require.NoError(k.t, err)
	res := k.r.table(uid+" / "+title, q)
	require.NotEmpty(k.t, res.rows, "%s / %s: no rows:\n%s", uid, title, q)
	if p.Format == TimeSeries {
		res.requireTimeSeries(k.t, uid+" / "+title)
	}
	return res
}

// panelSQL returns the SQL of the panel titled title on dashboard uid.
func panelSQL(t *testing.T, uid, title string) (Dashboard, Panel) {
	t.Helper()
	for _, d := range All() {
		if d.UID != uid {
			continue
		}
		for _, row := range d.Rows {
			for _, p := range row.Panels {
				if p.Title == title {
					return d, p
				}
			}
		}
	}
	require.Failf(t, "no such panel", "%s / %s", uid, title)
	return Dashboard{}, Panel{}
}

// TestPanelValuesOnKnownData runs the Overview and SOFARPC panels, every
// filter on "All", on a data set whose answers are known: rates times their
// step add up to the counts inserted, error rates are the inserted shares,
// estimated quantiles sit at their rank in the inserted latencies, tables
// have the inserted counts, and time series have the shape Grafana needs.
func TestPanelValuesOnKnownData(t *testing.T) {
	ctx := context.Background()
	target := embeddedtest.Target(t, 2)
	require.NoError(t, tsql.Apply(ctx, target))
	now := time.Now().UTC().Truncate(time.Minute)
	start := now.Add(-knownMinutes * time.Minute)
	loadKnown(ctx, t, target, start)
	k := newKnown(ctx, t, target, now)
	run := k.run
	const step = 60.0 // greatest($__interval_s, 60)
	interval := k.qc.interval.Seconds()
	client, server := knownClientLatencies(), knownServerLatencies()
	both := append(append([]float64(nil), client...), server...)
	const tol = 0.02

	{ // Overview
		const o = "tapline-overview"
		res := run(o, "Records per second by source")
		require.InDelta(t, 2*knownCalls+knownStatRows, res.sum(t, "records_per_second", "source", "sofarpc")*interval, 1e-6, res.where)

		res = run(o, "Requests per second by source")
		require.Len(t, res.rows, knownMinutes, res.where)
		require.InDelta(t, 2*knownCalls, res.sum(t, "requests_per_second", "", "")*step, 1e-6, res.where)

		res = run(o, "Error rate by source")
		require.Len(t, res.rows, knownMinutes, res.where)
		for i := range res.rows {
			require.InDelta(t, float64(knownClientErrs+knownServerErrs)/(2*knownCalls), res.num(t, i, "error_rate"), 1e-9, res.where)
		}

		res = run(o, "p99 latency by source")
		for i := range res.rows {
			requireRank(t, res.where, both, 0.99, res.num(t, i, "p99_ms"), tol)
		}

		res = run(o, "Latency and error rate by source and service")
		require.Len(t, res.rows, 2, res.where)
		for kind, want := range map[string]struct {
			errRate float64
			lat     []float64
			max     float64
		}{"client": {0.25, client, 105}, "server": {0.1, server, 100}} {
			i := res.rowWhere(t, "kind", kind)
			require.Equal(t, "svc.A", res.str(t, i, "service"))
			require.EqualValues(t, knownCalls, res.num(t, i, "requests"), res.where)
			require.InDelta(t, want.errRate, res.num(t, i, "error rate"), 1e-9, res.where)
			requireRank(t, res.where+" "+kind+" p50", want.lat, 0.5, res.num(t, i, "p50 ms"), tol)
			requireRank(t, res.where+" "+kind+" p95", want.lat, 0.95, res.num(t, i, "p95 ms"), tol)
			requireRank(t, res.where+" "+kind+" p99", want.lat, 0.99, res.num(t, i, "p99 ms"), tol)
			require.InDelta(t, want.max, res.num(t, i, "max ms"), 1e-9, res.where)
		}

		res = run(o, "Slowest operations")
		require.Len(t, res.rows, 2, res.where)
		require.Equal(t, "client", res.str(t, 0, "kind"), "%s: client calls are 5 ms slower: first", res.where)
		require.Equal(t, "a", res.str(t, 0, "operation"))
		require.Greater(t, res.num(t, 0, "p99 ms"), res.num(t, 1, "p99 ms"), res.where)

		res = run(o, "Rows written per second by table")
		require.InDelta(t, 2*knownCalls, res.sum(t, "rows_per_second", "table_name", "sofarpc_digest")*interval, 1e-6, res.where)
		require.InDelta(t, knownStatRows, res.sum(t, "rows_per_second", "table_name", "sofarpc_stat")*interval, 1e-6, res.where)

		res = run(o, "Records and dead letters per second by source")
		require.InDelta(t, 300, res.sum(t, "records_per_second", "source", "sofarpc")*interval, 1e-6, res.where)
		require.InDelta(t, 3, res.sum(t, "dead_letters_per_second", "source", "sofarpc")*interval, 1e-6, res.where)

		res = run(o, "Batches by source")
		i := res.rowWhere(t, "source", "sofarpc")
		for col, want := range map[string]float64{"batches": 3, "records": 300, "dead letters": 3, "rows": 300, "replayed": 1, "avg insert ms": 20} {
			require.InDelta(t, want, res.num(t, i, col), 1e-9, "%s: %s", res.where, col)
		}
		require.InDelta(t, 29.8, res.num(t, i, "p99 insert ms"), 0.05, res.where)

		res = run(o, "Last write per table")
		for table, want := range map[string]float64{"sofarpc_digest": 2 * knownCalls, "sofarpc_stat": knownStatRows} {
			i := res.rowWhere(t, "table", table)
			require.InDelta(t, want, res.num(t, i, "rows"), 1e-9, res.where)
			require.Less(t, res.num(t, i, "seconds since"), 600.0, res.where)
		}
	}

	{ // SOFARPC
		const s = "tapline-sofarpc"
		res := run(s, "Calls per second by service")
		require.InDelta(t, knownCalls, res.sum(t, "calls_per_second", "side", "client")*step, 1e-6, res.where)
		require.InDelta(t, knownCalls, res.sum(t, "calls_per_second", "side", "server")*step, 1e-6, res.where)

		res = run(s, "p99 latency by method, client and server")
		require.Len(t, res.rows, 2*knownMinutes, res.where)
		for i := range res.rows {
			lat := map[string][]float64{"client": client, "server": server}[res.str(t, i, "side")]
			requireRank(t, res.where, lat, 0.99, res.num(t, i, "p99_ms"), tol)
		}

		res = run(s, "Error rate by service")
		for i := range res.rows {
			want := map[string]float64{"client": 0.25, "server": 0.1}[res.str(t, i, "side")]
			require.InDelta(t, want, res.num(t, i, "error_rate"), 1e-9, res.where)
		}

		res = run(s, "Result codes per second")
		require.InDelta(t, knownServerErrs, res.sum(t, "01 business exception", "", "")*step, 1e-6, res.where)
		require.InDelta(t, 0, res.sum(t, "02 RPC logic error", "", "")*step, 1e-6, res.where)
		require.InDelta(t, knownClientErrs, res.sum(t, "03 timeout", "", "")*step, 1e-6, res.where)
		require.InDelta(t, 0, res.sum(t, "04 routing failure", "", "")*step, 1e-6, res.where)

		res = run(s, "Services and methods")
		require.Len(t, res.rows, 2, res.where)
		for side, want := range map[string]struct {
			errRate, c01, c03 float64
			lat               []float64
		}{"client": {0.25, 0, knownClientErrs, client}, "server": {0.1, knownServerErrs, 0, server}} {
			i := res.rowWhere(t, "side", side)
			require.EqualValues(t, knownCalls, res.num(t, i, "calls"), res.where)
			require.InDelta(t, want.errRate, res.num(t, i, "error rate"), 1e-9, res.where)
			require.InDelta(t, want.c01, res.num(t, i, "01"), 1e-9, res.where)
			require.InDelta(t, want.c03, res.num(t, i, "03"), 1e-9, res.where)
			requireRank(t, res.where+" "+side+" p50", want.lat, 0.5, res.num(t, i, "p50 ms"), tol)
			requireRank(t, res.where+" "+side+" p90", want.lat, 0.9, res.num(t, i, "p90 ms"), tol)
			requireRank(t, res.where+" "+side+" p99", want.lat, 0.99, res.num(t, i, "p99 ms"), tol)
		}

		res = run(s, "App-to-app calls")
		require.Len(t, res.rows, 1, res.where)
		require.Equal(t, []string{"appX", "appA"}, []string{res.str(t, 0, "caller"), res.str(t, 0, "callee")})
		require.EqualValues(t, knownCalls, res.num(t, 0, "calls"))
		require.InDelta(t, 0.25, res.num(t, 0, "error rate"), 1e-9)
		require.EqualValues(t, knownClientErrs, res.num(t, 0, "timeouts"))
		requireRank(t, res.where, client, 0.99, res.num(t, 0, "p99 ms"), tol)

		res = run(s, "Client against server latency")
		require.Len(t, res.rows, 1, res.where)
		requireRank(t, res.where+" client", client, 0.99, res.num(t, 0, "client p99 ms"), tol)
		requireRank(t, res.where+" server", server, 0.99, res.num(t, 0, "server p99 ms"), tol)
		require.InDelta(t, 5, res.num(t, 0, "overhead ms"), 2, "%s: client latencies are server latencies + 5 ms", res.where)

		res = run(s, "Stat-log throughput by outcome")
		require.InDelta(t, 50*knownMinutes, res.sum(t, "calls_per_second", "outcome", "success")*step, 1e-6, res.where)
		require.InDelta(t, 10*knownMinutes, res.sum(t, "calls_per_second", "outcome", "failure")*step, 1e-6, res.where)

		res = run(s, "Stat-log average cost per call")
		require.Len(t, res.rows, knownMinutes, res.where)
		for i := range res.rows {
			require.InDelta(t, 700.0/60, res.num(t, i, "avg_ms"), 1e-9, res.where)
		}
	}
}
