package dashboards

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/internal/embeddedtest"
	"github.com/tapline/tapline/sink"
	tsql "github.com/tapline/tapline/sql"
)

// The known g3proxy data set: ten minutes of 100 Finished HttpForward GET
// tasks a minute on server proxy1, task i (1..100) of a minute:
//   - ready after i ms, finished after i+10 ms;
//   - every 5th ends UpstreamNotConnected at stage Connecting (502), every
//     20th from the first ClientTcpReadFailed at Relaying (no status), the
//     rest ClosedByClient (200): error rate 0.25;
//   - 100 bytes read from and 1000 written to the client, 900 read from
//     and 90 written to the upstream.
const (
	g3Tasks    = knownMinutes * knownPerSide
	g3Upstream = g3Tasks / 5
	g3Client   = g3Tasks / 20
	g3Normal   = g3Tasks - g3Upstream - g3Client
)

func loadKnownG3proxy(ctx context.Context, t *testing.T, target sink.Target, start time.Time) {
	t.Helper()
	q := `INSERT INTO g3proxy_task (event_time, start_at, server_type, server_name, task_type, task_id, task_event, stage, reason, is_error, method,
       rsp_status, ready_time_ns, total_time_ns, c_rd_bytes, c_wr_bytes, r_rd_bytes, r_wr_bytes, msg)
SELECT at + toIntervalMillisecond(i + 10), at, 'HttpProxy', 'proxy1', 'HttpForward', hex(number), 'Finished',
       multiIf(upstream, 'Connecting', client, 'Relaying', 'Finished'),
       multiIf(upstream, 'UpstreamNotConnected', client, 'ClientTcpReadFailed', 'ClosedByClient'),
       upstream OR client, 'GET',
       multiIf(upstream, toNullable(toUInt16(502)), client, NULL, toNullable(toUInt16(200))),
       i * 1000000, (i + 10) * 1000000, 100, 1000, 900, 90, if(upstream OR client, 'failed', '')
FROM (SELECT number, number % 100 + 1 AS i, i % 5 = 0 AS upstream, i % 20 = 1 AS client,
             toDateTime64('` + start.UTC().Format("2006-01-02 15:04:05") + `', 6, 'UTC') + toIntervalMillisecond(intDiv(number, 100) * 60000 + (i - 1) * 500) AS at
      FROM numbers(` + strconv.Itoa(g3Tasks) + `))`
	require.NoError(t, target.Exec(ctx, q), q)
}

// TestG3proxyPanelValuesOnKnownData checks the g3proxy dashboard's panels,
// bar charts included, on a data set with known answers.
func TestG3proxyPanelValuesOnKnownData(t *testing.T) {
	ctx := context.Background()
	target := embeddedtest.Target(t, 2)
	require.NoError(t, tsql.Apply(ctx, target))
	now := time.Now().UTC().Truncate(time.Minute)
	loadKnownG3proxy(ctx, t, target, now.Add(-knownMinutes*time.Minute))
	k := newKnown(ctx, t, target, now)
	const g, step, tol = "tapline-g3proxy", 60.0, 0.02
	ready, total := latencies(1), latencies(11)

	res := k.run(g, "Tasks per second by server and type")
	require.InDelta(t, g3Tasks, res.sum(t, "tasks_per_second", "server_name", "proxy1")*step, 1e-6, res.where)

	res = k.run(g, "Error rate by server")
	require.Len(t, res.rows, knownMinutes, res.where)
	for i := range res.rows {
		require.InDelta(t, 0.25, res.num(t, i, "error_rate"), 1e-9, res.where)
	}

	res = k.run(g, "Ending reasons")
	require.Equal(t, []string{"ClosedByClient", "UpstreamNotConnected", "ClientTcpReadFailed"},
		[]string{res.str(t, 0, "reason"), res.str(t, 1, "reason"), res.str(t, 2, "reason")}, "%s: most frequent first", res.where)
	for reason, want := range map[string][2]float64{"ClosedByClient": {g3Normal, 0}, "UpstreamNotConnected": {0, g3Upstream}, "ClientTcpReadFailed": {0, g3Client}} {
		i := res.rowWhere(t, "reason", reason)
		require.Equal(t, want, [2]float64{res.num(t, i, "normal"), res.num(t, i, "failed")}, "%s: %s", res.where, reason)
	}

	res = k.run(g, "Failures by stage")
	require.Len(t, res.rows, 2, "%s: only stages where tasks failed", res.where)
	require.Equal(t, "Connecting", res.str(t, 0, "stage"), res.where)
	for stage, want := range map[string][3]float64{"Connecting": {0, g3Upstream, 0}, "Relaying": {g3Client, 0, 0}} {
		i := res.rowWhere(t, "stage", stage)
		require.Equal(t, want, [3]float64{res.num(t, i, "client"), res.num(t, i, "upstream"), res.num(t, i, "other")}, "%s: %s", res.where, stage)
	}

	res = k.run(g, "Time to ready (p50 / p90 / p99)")
	require.Len(t, res.rows, knownMinutes, res.where)
	for i := range res.rows {
		for q, col := range map[float64]string{0.5: "p50", 0.9: "p90", 0.99: "p99"} {
			requireRank(t, res.where+" "+col, ready, q, res.num(t, i, col), tol)
		}
	}

	res = k.run(g, "Task duration p99 by server and operation")
	for i := range res.rows {
		require.Equal(t, "HttpForward GET", res.str(t, i, "operation"), res.where)
		requireRank(t, res.where, total, 0.99, res.num(t, i, "p99_ms"), tol)
	}

	res = k.run(g, "Bytes per second each way")
	for col, per := range map[string]float64{"client read": 100, "client written": 1000, "upstream read": 900, "upstream written": 90} {
		require.InDelta(t, per*g3Tasks, res.sum(t, col, "", "")*step, 1e-6, "%s: %s", res.where, col)
	}

	res = k.run(g, "HTTP status mix")
	require.InDelta(t, g3Normal, res.sum(t, "tasks_per_second", "status", "2xx")*step, 1e-6, res.where)
	require.InDelta(t, g3Upstream, res.sum(t, "tasks_per_second", "status", "5xx")*step, 1e-6, res.where)

	res = k.run(g, "Servers and task types")
	require.Len(t, res.rows, 1, res.where)
	require.EqualValues(t, g3Tasks, res.num(t, 0, "finished"), res.where)
	require.InDelta(t, 0.25, res.num(t, 0, "error rate"), 1e-9, res.where)
	require.InDelta(t, 50.5, res.num(t, 0, "avg ready ms"), 1e-9, res.where)
	requireRank(t, res.where, ready, 0.99, res.num(t, 0, "p99 ready ms"), tol)
	require.EqualValues(t, 1000*g3Tasks, res.num(t, 0, "bytes to clients"), res.where)
	require.EqualValues(t, 90*g3Tasks, res.num(t, 0, "bytes to upstreams"), res.where)
	require.Equal(t, "ClosedByClient, UpstreamNotConnected, ClientTcpReadFailed", res.str(t, 0, "top reasons"), res.where)

	res = k.run(g, "Recent failed tasks")
	require.Len(t, res.rows, 100, "%s: the latest hundred of %d failures", res.where, g3Upstream+g3Client)
	for i := range res.rows {
		require.Contains(t, []string{"UpstreamNotConnected", "ClientTcpReadFailed"}, res.str(t, i, "reason"), res.where)
		if i > 0 {
			require.GreaterOrEqual(t, res.str(t, i-1, "time"), res.str(t, i, "time"), "%s: latest first", res.where)
		}
	}
}
