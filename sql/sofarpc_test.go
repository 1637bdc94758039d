package sql_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/ingest/decode/sofarpc"
	"github.com/tapline/tapline/internal/decodetest"
	"github.com/tapline/tapline/internal/embeddedtest"
	"github.com/tapline/tapline/schema"
	"github.com/tapline/tapline/sql"
)

// TestSofarpcRecordsWithoutLatency decodes, in one minute, ten client
// digests of 100 ms and the upstream-shaped digests of no-latency.log
// (three times) rewritten to the same service (timing absent, negative, overflowing, in
// seconds, too large, a server sum with a negative member), inserts them
// into the real engine, and checks both latency views: every record is a
// request (and its error counts), the ones without a latency are counted in
// no_latency, and they add no sample: the percentiles stay at 100 ms
// instead of being pulled towards 0 ms.
func TestSofarpcRecordsWithoutLatency(t *testing.T) {
	ctx := context.Background()
	db := embeddedtest.Target(t, 1)
	require.NoError(t, sql.Apply(ctx, db))

	var payload strings.Builder
	for i := range 10 {
		fmt.Fprintf(&payload, `{"timestamp":"2019-04-03 11:36:%02d.000","tracerId":"ok-%d","spanId":"0","span.kind":"client","service":"a.B","method":"m","result.code":"00","client.elapse.time":"100"}`+"\n", i, i)
	}
	raw, err := os.ReadFile("../ingest/decode/sofarpc/testdata/no-latency.log")
	require.NoError(t, err)
	// Three times over: more records without a latency (18) than with (10),
	// so that taking them as 0 ms samples would pull even the median to 0.
	lines := strings.Split(strings.TrimSpace(strings.Repeat(string(raw), 3)), "\n")
	for _, line := range lines {
		// The HTTP-shaped lines name no service: give every line the same
		// key and side so that all land in one group.
		line = strings.Replace(line, `"spanId":"0"`, `"spanId":"0","service":"a.B","span.kind":"client"`, 1)
		line = strings.Replace(line, `"method":"GET"`, `"method":"m"`, 1)
		line = strings.Replace(line, `"span.kind":"server",`, ``, 1)
		payload.WriteString(line + "\n")
	}
	dec, err := sofarpc.New(decode.Options{})
	require.NoError(t, err)
	res := decodetest.Decode(t, dec, memory.NewGoAllocator(), decodetest.Input{Payload: []byte(payload.String())})
	defer res.Release()
	require.Empty(t, res.Output.Rejects)
	require.Equal(t, 28, res.Output.Records)
	embeddedtest.Insert(t, db, schema.SofarpcDigest, res.Records[0], "sofarpc-no-latency")

	out, err := db.Query(ctx, `SELECT count() AS n, countIf(latency_ms IS NULL) AS nulls, uniqExact(service, method, side) AS groups FROM sofarpc_digest`, "JSONEachRow", nil)
	require.NoError(t, err)
	require.Equal(t, []map[string]string{{"n": "28", "nulls": "18", "groups": "1"}}, jsonRows(t, out))

	// t-absent has result.code 500 and t-too-big 03: two errors, three times.
	const q = `SELECT * FROM (
		SELECT 'latency_1m' AS v, sum(requests) AS r, sum(errors) AS e, sum(no_latency) AS nl, sum(latency_sum_ms) AS s,
		       max(latency_max_ms) AS mx, arrayMap(x -> round(x, 3), quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)) AS q
		FROM latency_1m WHERE source = 'sofarpc'
		UNION ALL
		SELECT 'sofarpc_latency_1m', sum(calls), sum(errors), sum(no_latency), sum(latency_sum_ms),
		       max(latency_max_ms), arrayMap(x -> round(x, 3), quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles))
		FROM sofarpc_latency_1m) ORDER BY v`
	out, err = db.Query(ctx, q, "TabSeparated", nil)
	require.NoError(t, err)
	require.Equal(t, "latency_1m\t28\t6\t18\t1000\t100\t[100,100,100,100,100]\n"+
		"sofarpc_latency_1m\t28\t6\t18\t1000\t100\t[100,100,100,100,100]\n", string(out))
}

// TestG3proxyUnreadableTotalTime: a Finished record without total_time ended
// within g3proxy's clock resolution (g3proxy omits zero durations) and is a
// 0 ms sample; one whose total_time was there but unreadable (kept in extra
// by the decoder) is a task without a latency: counted, no sample.
func TestG3proxyUnreadableTotalTime(t *testing.T) {
	ctx := context.Background()
	db := embeddedtest.Target(t, 1)
	require.NoError(t, sql.Apply(ctx, db))
	require.NoError(t, db.Exec(ctx, `INSERT INTO g3proxy_task (event_time, task_event, server_name, task_type, is_error, total_time_ns, extra)
		SELECT toStartOfMinute(now()), 'Finished', 'srv', 'TcpConnect', c.1, c.2, c.3
		FROM (SELECT arrayJoin([(false, 10000000, map()), (false, 10000000, map()), (false, NULL, map()),
			(true, NULL, map('total_time', '1.5 fortnights')), (true, NULL, map('total_time', '-'))]) AS c)`))
	// Samples 10, 10 and 0 ms: median 10. Taking the two unreadable ones as
	// 0 ms samples too would make it 0.
	out, err := db.Query(ctx, `SELECT sum(requests), sum(errors), sum(no_latency), sum(latency_sum_ms), max(latency_max_ms),
		quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)[1]
		FROM latency_1m WHERE source = 'g3proxy'`, "TabSeparated", nil)
	require.NoError(t, err)
	require.Equal(t, "5\t2\t2\t20\t10\t10\n", string(out))
}
