package sql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/ingest/decode/g3proxy"
	"github.com/tapline/tapline/internal/decodetest"
	"github.com/tapline/tapline/internal/embeddedtest"
	"github.com/tapline/tapline/schema"
	"github.com/tapline/tapline/sql"
)

// g3proxyRows decodes every g3proxy testdata file into one record.
func g3proxyRows(t *testing.T) arrow.Record {
	t.Helper()
	paths, err := filepath.Glob("../ingest/decode/g3proxy/testdata/*.log")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	var ins []decodetest.Input
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		ins = append(ins, decodetest.Input{Name: p, Subject: "logs.g3proxy.task", Payload: b})
	}
	dec, err := g3proxy.New(decode.Options{})
	require.NoError(t, err)
	res := decodetest.Decode(t, dec, memory.NewGoAllocator(), ins...)
	require.NotNil(t, res.Records[0])
	return res.Records[0]
}

type g3key struct{ service, operation string }

type g3want struct {
	requests, errors int
	sumMs, maxMs     float64
}

// expectedLatency computes, from the decoded rows, what latency_1m must
// hold for g3proxy: one sample per Finished record.
func expectedLatency(t *testing.T, rec arrow.Record) map[g3key]*g3want {
	t.Helper()
	tbl := schema.G3proxyTask
	str := func(name string, i int) string { return decodetest.Value(t, rec.Column(tbl.Index(name)), i).(string) }
	total := rec.Column(tbl.Index("total_time_ns")).(*array.Uint64)
	isErr := rec.Column(tbl.Index("is_error")).(*array.Boolean)
	want := map[g3key]*g3want{}
	for i := 0; i < int(rec.NumRows()); i++ {
		if str("task_event", i) != "Finished" {
			continue
		}
		op := str("task_type", i)
		if m := str("method", i); m != "" && (op == "HttpForward" || op == "FtpOverHttp") {
			op += " " + m
		}
		k := g3key{str("server_name", i), op}
		w := want[k]
		if w == nil {
			w = &g3want{}
			want[k] = w
		}
		ms := 0.0
		if !total.IsNull(i) {
			ms = float64(total.Value(i)) / 1e6
		}
		w.requests++
		if isErr.Value(i) {
			w.errors++
		}
		w.sumMs += ms
		w.maxMs = math.Max(w.maxMs, ms)
	}
	return want
}

// TestG3proxyViews inserts the decoded g3proxy testdata into the real engine,
// twice with the same deduplication token, and checks that latency_1m and
// g3proxy_task_1m count every task once, from its Finished record only.
func TestG3proxyViews(t *testing.T) {
	ctx := context.Background()
	db := embeddedtest.Target(t, 1)
	require.NoError(t, sql.Apply(ctx, db))
	rec := g3proxyRows(t)
	defer rec.Release()
	embeddedtest.Insert(t, db, schema.G3proxyTask, rec, "g3proxy-batch-1")
	embeddedtest.Insert(t, db, schema.G3proxyTask, rec, "g3proxy-batch-1")

	out, err := db.Query(ctx, "SELECT count() AS n FROM g3proxy_task", "JSONEachRow", nil)
	require.NoError(t, err)
	require.Equal(t, []map[string]string{{"n": itoa(int(rec.NumRows()))}}, jsonRows(t, out), "the replay is deduplicated")

	want := expectedLatency(t, rec)
	require.NotEmpty(t, want)
	out, err = db.Query(ctx, `
		SELECT service, operation, any(kind) AS k, sum(requests) AS r, sum(errors) AS e,
		       sum(latency_sum_ms) AS s, max(latency_max_ms) AS m,
		       quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)[1] AS p50
		FROM latency_1m WHERE source = 'g3proxy' GROUP BY service, operation`, "JSONEachRow", nil)
	require.NoError(t, err)
	got := map[g3key]*g3want{}
	for _, r := range jsonRows(t, out) {
		require.Equal(t, "task", r["k"])
		p50, m := atof(t, r["p50"]), atof(t, r["m"])
		require.LessOrEqual(t, p50, m)
		got[g3key{r["service"], r["operation"]}] = &g3want{requests: atoi(t, r["r"]), errors: atoi(t, r["e"]), sumMs: atof(t, r["s"]), maxMs: m}
	}
	require.Equal(t, len(want), len(got), "services and operations: %v", keys(got))
	for k, w := range want {
		g := got[k]
		require.NotNil(t, g, "%v missing", k)
		require.Equal(t, w.requests, g.requests, "%v requests", k)
		require.Equal(t, w.errors, g.errors, "%v errors", k)
		require.InDelta(t, w.sumMs, g.sumMs, 1e-6*math.Max(1, w.sumMs), "%v latency sum", k)
		require.InDelta(t, w.maxMs, g.maxMs, 1e-9, "%v latency max", k)
	}
	require.Contains(t, got, g3key{"http", "HttpForward GET"})
	require.Contains(t, got, g3key{"http", "FtpOverHttp GET"})
	require.Contains(t, got, g3key{"socks", "UdpAssociate"})

	// g3proxy_task_1m: one row per task, bytes and time to ready.
	out, err = db.Query(ctx, `
		SELECT sum(tasks) AS t, sum(errors) AS e, sum(client_wr_bytes) AS cw, sum(upstream_rd_bytes) AS ur,
		       sum(ready_tasks) AS rt, round(quantilesTDigestMerge(0.5, 0.9, 0.99)(ready_time_quantiles)[3], 3) AS p99
		FROM g3proxy_task_1m WHERE server_name = 'http' AND task_type = 'FtpOverHttp'`, "JSONEachRow", nil)
	require.NoError(t, err)
	// code-ftp-over-http.log: one task, Finished with c_wr_bytes 2817,
	// upstream = ftp_c_rd_bytes 645 + ftp_d_rd_bytes 2650, ready_time 412.908ms.
	require.Equal(t, []map[string]string{{"t": "1", "e": "0", "cw": "2817", "ur": "3295", "rt": "1", "p99": "412.908"}}, jsonRows(t, out))

	out, err = db.Query(ctx, `
		SELECT reason, stage, rsp_status, sum(tasks) AS t, sum(errors) AS e FROM g3proxy_task_1m
		WHERE server_name = 'http' AND task_type = 'HttpForward' GROUP BY reason, stage, rsp_status ORDER BY reason, rsp_status`, "JSONEachRow", nil)
	require.NoError(t, err)
	require.Equal(t, []map[string]string{
		{"reason": "ClosedByUpstream", "stage": "Relaying", "rsp_status": "502", "t": "1", "e": "1"},
		{"reason": "Finished", "stage": "Finished", "rsp_status": "0", "t": "1", "e": "0"}, // adversarial: rsp_status "0"
		{"reason": "Finished", "stage": "Finished", "rsp_status": "200", "t": "1", "e": "0"},
		{"reason": "UpstreamAppTimeout", "stage": "Connected", "rsp_status": "504", "t": "1", "e": "1"}, // no task_event
		{"reason": "UpstreamNotConnected", "stage": "Connecting", "rsp_status": "521", "t": "1", "e": "1"},
	}, jsonRows(t, out))
}

// TestG3proxyByServerQuery runs queries/g3proxy_by_server.sql on the
// decoded testdata.
func TestG3proxyByServerQuery(t *testing.T) {
	ctx := context.Background()
	db := embeddedtest.Target(t, 1)
	require.NoError(t, sql.Apply(ctx, db))
	rec := g3proxyRows(t)
	defer rec.Release()
	embeddedtest.Insert(t, db, schema.G3proxyTask, rec, "g3proxy-query")
	out, err := db.Query(ctx, sql.Query("g3proxy_by_server"), "JSONEachRow", nil)
	require.NoError(t, err)
	byKey := map[string]map[string]string{}
	for _, r := range jsonRows(t, out) {
		byKey[r["server_name"]+"/"+r["task_type"]] = r
	}
	// code-udp-associate.log + adversarial.log: two UdpAssociate tasks, one
	// Idle (normal), one ClientUdpRecvFailed.
	udp := byKey["socks/UdpAssociate"]
	require.NotNil(t, udp, "%v", byKey)
	require.Equal(t, "2", udp["finished_tasks"])
	require.Equal(t, "0.5", udp["error_rate"])
	require.Equal(t, "1.902", udp["avg_ready_ms"])
	require.ElementsMatch(t, []string{"Idle", "ClientUdpRecvFailed"}, strings.Split(udp["top_reasons"], ","))
	// The HttpForward Finished records: 200, 521, 502, 504 (no task_event), and rsp_status "0".
	require.Equal(t, "5", byKey["http/HttpForward"]["finished_tasks"])
	require.Equal(t, "0.6", byKey["http/HttpForward"]["error_rate"])
}

func itoa(n int) string { return strconv.Itoa(n) }

func atoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	require.NoError(t, err, s)
	return n
}

func atof(t *testing.T, s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err, s)
	return f
}

// jsonRows reads JSONEachRow output as rows of text values, whether the
// engine quotes 64-bit integers or not.
func jsonRows(t *testing.T, out []byte) []map[string]string {
	t.Helper()
	var rows []map[string]string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		var m map[string]any
		require.NoError(t, dec.Decode(&m), line)
		r := map[string]string{}
		for k, v := range m {
			r[k] = fmt.Sprint(v)
		}
		rows = append(rows, r)
	}
	return rows
}

func keys(m map[g3key]*g3want) []g3key {
	var ks []g3key
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
