package gen

import (
	"bytes"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest/decode"
	g3proxydec "github.com/tapline/tapline/ingest/decode/g3proxy"
	"github.com/tapline/tapline/internal/decodetest"
	"github.com/tapline/tapline/schema"
)

// TestG3proxyTruthMatchesDecodedRows decodes generated records and checks
// that the truth fields say what the decoder (and so the views) will see:
// a sample exactly for each Finished record, its latency, error, service
// and operation; and that every task logs a proper life cycle.
func TestG3proxyTruthMatchesDecodedRows(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	g := NewG3proxy(Options{Seed: 3, Start: start, Step: 5 * time.Millisecond})
	dec, err := g3proxydec.New(decode.Options{})
	require.NoError(t, err)
	tbl := schema.G3proxyTask
	out := decode.Output{Builders: []*schema.Builder{tbl.NewBuilder(memory.NewGoAllocator())}}
	defer out.Builders[0].Release()

	const n = 20000
	truth := make([]Record, 0, n)
	var rec Record
	cee, rsyslog := 0, 0
	for i := 0; i < n; i++ {
		g.Next(&rec)
		require.True(t, rec.Valid)
		require.Equal(t, G3proxyTask, rec.Subject)
		require.NotContains(t, string(rec.Data), "\n")
		if bytes.HasPrefix(rec.Data, []byte("<30>")) {
			cee++
		}
		if bytes.HasPrefix(rec.Data, []byte(`{ "timereported"`)) {
			rsyslog++
		}
		dec.Decode(rec.Data, decode.Meta{Subject: rec.Subject}, &out)
		require.Empty(t, out.Rejects, "%s", rec.Data)
		truth = append(truth, Record{Sample: rec.Sample, Kind: rec.Kind, Service: rec.Service, Operation: rec.Operation,
			LatencyMs: rec.LatencyMs, Error: rec.Error, Time: rec.Time})
	}
	require.InDelta(t, 0.20, float64(cee)/n, 0.02, "share of syslog @cee: lines")
	require.InDelta(t, 0.05, float64(rsyslog)/n, 0.01, "share of rsyslog dumps")

	rows := out.Builders[0].NewRecord()
	defer rows.Release()
	str := func(name string, i int) string { return decodetest.Value(t, rows.Column(tbl.Index(name)), i).(string) }
	total := rows.Column(tbl.Index("total_time_ns")).(*array.Uint64)
	wait := rows.Column(tbl.Index("wait_time_ns")).(*array.Uint64)
	isErr := rows.Column(tbl.Index("is_error")).(*array.Boolean)
	evTime := rows.Column(tbl.Index("event_time")).(*array.Timestamp)

	taskTypes, servers, reasons := map[string]int{}, map[string]int{}, map[string]int{}
	events := map[string][]string{} // task_id -> task_events in order
	samples, errs, noWait := 0, 0, 0
	for i, tr := range truth {
		event := str("task_event", i)
		id := str("task_id", i)
		require.Len(t, id, 32)
		require.NotContains(t, id, "-")
		events[id] = append(events[id], event)
		require.Equal(t, tr.Sample, event == "Finished", "row %d: sample exactly for Finished records", i)
		require.Equal(t, tr.Time, evTime.Value(i).ToTime(arrow.Microsecond), "row %d: event time", i)
		if wait.IsNull(i) {
			noWait++
		}
		if !tr.Sample {
			continue
		}
		samples++
		op := str("task_type", i)
		if m := str("method", i); m != "" {
			op += " " + m
		}
		require.Equal(t, "task", tr.Kind)
		require.Equal(t, str("server_name", i), tr.Service)
		require.Equal(t, op, tr.Operation)
		require.False(t, total.IsNull(i), "row %d: a Finished record without total_time", i)
		require.Equal(t, float64(total.Value(i))/1e6, tr.LatencyMs, "row %d: latency", i)
		require.Equal(t, isErr.Value(i), tr.Error, "row %d: error (reason %s)", i, str("reason", i))
		if tr.Error {
			errs++
		}
		taskTypes[str("task_type", i)]++
		servers[str("server_type", i)]++
		reasons[str("reason", i)]++
	}
	for _, tt := range []string{"TcpConnect", "HttpForward", "FtpOverHttp", "UdpAssociate", "UdpConnect"} {
		require.Positive(t, taskTypes[tt], "task type %s", tt)
	}
	for _, st := range []string{"HttpProxy", "SocksProxy", "SniProxy", "TcpTProxy", "HttpRProxy"} {
		require.Positive(t, servers[st], "server type %s", st)
	}
	for _, r := range []string{"Finished", "ClosedByClient", "ClosedByUpstream", "Idle", "UpstreamNotConnected", "ForbiddenByRule"} {
		require.Positive(t, reasons[r], "reason %s", r)
	}
	require.InDelta(t, 0.035, float64(errs)/float64(samples), 0.02, "error rate")
	require.Positive(t, noWait, "zero wait_time is omitted")

	// Every task that finished logged Created first and Finished last, with
	// Connected before any Periodic record.
	complete := 0
	for id, evs := range events {
		if evs[len(evs)-1] != "Finished" {
			continue // still in flight when the test stopped
		}
		complete++
		require.Equal(t, "Created", evs[0], id)
		for j, e := range evs[1 : len(evs)-1] {
			require.NotEqual(t, "Finished", e, id)
			require.NotEqual(t, "Created", e, id)
			if e == "Periodic" {
				require.Contains(t, evs[:j+1], "Connected", id)
			}
		}
	}
	require.Equal(t, samples, complete, "one Finished record per task")
}

func TestG3proxyMalformedRecordsAreRejected(t *testing.T) {
	t.Parallel()
	g := NewG3proxy(Options{Seed: 9, Malformed: 0.3})
	dec, err := g3proxydec.New(decode.Options{})
	require.NoError(t, err)
	out := decode.Output{Builders: []*schema.Builder{schema.G3proxyTask.NewBuilder(memory.NewGoAllocator())}}
	defer out.Builders[0].Release()
	var rec Record
	bad := 0
	for i := 0; i < 3000; i++ {
		g.Next(&rec)
		before := len(out.Rejects)
		dec.Decode(rec.Data, decode.Meta{Subject: rec.Subject}, &out)
		require.Equal(t, !rec.Valid, len(out.Rejects) == before+1, "%s", rec.Data)
		if !rec.Valid {
			bad++
			require.False(t, rec.Sample)
		}
	}
	require.InDelta(t, 0.3, float64(bad)/3000, 0.05)
}

func TestAppendRustDuration(t *testing.T) {
	t.Parallel()
	for ns, want := range map[uint64]string{
		100: "100.000ns", 12_345: "12.345µs", 2_500_000: "2.500ms", 441_887_000_000: "441.887s",
		3_600_000_000_000: "3600.000s", 999_999_600: "1000.000ms", 1_234_567_890: "1.235s",
	} {
		require.Equal(t, want, string(appendRustDuration(nil, ns)))
	}
	for _, ns := range []uint64{1, 999, 1_000, 999_999, 1_000_000, 999_999_499, 999_999_500, 1e9, 1_234_567_890} {
		got, ok := g3proxydec.ParseDuration(appendRustDuration(nil, ns))
		require.True(t, ok)
		require.Equal(t, g3round(ns), got, "%d", ns)
	}
}
