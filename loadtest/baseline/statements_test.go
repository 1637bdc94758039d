package baseline

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/gen"
	"github.com/tapline/tapline/ingest/decode"
	djangodec "github.com/tapline/tapline/ingest/decode/django"
	g3proxydec "github.com/tapline/tapline/ingest/decode/g3proxy"
	sofarpcdec "github.com/tapline/tapline/ingest/decode/sofarpc"
	"github.com/tapline/tapline/internal/embeddedtest"
	"github.com/tapline/tapline/sink/embedded"
	"github.com/tapline/tapline/sql"
)

func TestMain(m *testing.M) { embeddedtest.Main(m) }

var decoders = map[string]decode.Constructor{
	"sofarpc": sofarpcdec.New,
	"g3proxy": g3proxydec.New,
	"django":  djangodec.New,
}

// TestEngineMappingWritesWhatTaplineWrites feeds the same generated valid
// lines to tapline's decoders (one database) and to the engine's
// JSONEachRow mapping (another), and compares what landed: row counts and
// aggregates of the mapped columns must agree, so the engine baseline does
// the same work. g3proxy's syslog-framed lines are the documented
// difference: the engine cannot read them, so only tapline's rows of bare
// JSON objects count. The malformed lines then go to the engine alone: the
// insert must skip them, not fail.
func TestEngineMappingWritesWhatTaplineWrites(t *testing.T) {
	ctx := context.Background()
	viaTapline, viaEngine, raw := twoSchemas(t)
	require.NoError(t, Prepare(ctx, viaEngine), "idempotent")

	for _, f := range JSONFormats() {
		g, err := gen.New(f, gen.Options{Seed: 5, Malformed: 0.01})
		require.NoError(t, err)
		dec, err := decoders[f](decode.Options{})
		require.NoError(t, err)
		mem := memory.NewGoAllocator()
		out := decode.Output{}
		for _, tbl := range dec.Tables() {
			out.Builders = append(out.Builders, tbl.NewBuilder(mem))
		}
		bySubject := map[string][]byte{}
		var r gen.Record
		for i := 0; i < 3000; i++ {
			g.Next(&r)
			line := append(append([]byte(nil), r.Data...), '\n')
			if !r.Valid {
				continue
			}
			dec.Decode(line, decode.Meta{Subject: r.Subject}, &out)
			bySubject[r.Subject] = append(bySubject[r.Subject], line...)
		}
		for i, tbl := range dec.Tables() {
			rec := out.Builders[i].NewRecord()
			if rec.NumRows() > 0 {
				require.NoError(t, viaTapline.Insert(ctx, tbl, rec, ""))
			}
			rec.Release()
		}
		for subj, data := range bySubject {
			_, stmt, ok := statement(subj)
			require.True(t, ok, subj)
			require.NoError(t, raw.InsertRaw(ctx, stmt, "JSONEachRow", data), subj)
		}
	}

	checks := []struct{ name, tapline, engine string }{
		{"sofarpc_digest",
			"SELECT count(), sum(latency_ms), countIf(is_error), uniqExact(trace_id, side), sum(remote_port), sum(local_port), sum(ifNull(req_size, 0)), countIf(client_elapse_ms IS NULL), sum(toUnixTimestamp64Milli(timestamp)), uniqExact(service, method, local_app, remote_app, remote_host, thread_name), sum(length(baggage)) FROM sofarpc_digest",
			""},
		{"sofarpc_stat",
			"SELECT count(), sum(count), sum(total_cost_ms), countIf(success), uniqExact(side, local_app, service, method), sum(toUnixTimestamp64Milli(time)) FROM sofarpc_stat",
			""},
		{"g3proxy_task",
			"SELECT count(), countIf(is_error), sum(ifNull(total_time_ns, 0)), sum(ifNull(wait_time_ns, 0)), sum(ifNull(dur_rsp_recv_hdr_ns, 0)), sum(toUnixTimestamp64Micro(event_time)), sum(ifNull(c_rd_bytes, 0) + ifNull(r_rd_packets, 0) + ifNull(ftp_d_rd_bytes, 0)), uniqExact(task_id, task_event, stage, reason, server_addr, upstream, method, uri, escaper), sum(ifNull(rsp_status, 0) + ifNull(tcp_connect_tries, 0)), countIf(reuse_connection) FROM g3proxy_task WHERE syslog_host = '' AND rsyslog_time IS NULL",
			"SELECT count(), countIf(is_error), sum(ifNull(total_time_ns, 0)), sum(ifNull(wait_time_ns, 0)), sum(ifNull(dur_rsp_recv_hdr_ns, 0)), sum(toUnixTimestamp64Micro(event_time)), sum(ifNull(c_rd_bytes, 0) + ifNull(r_rd_packets, 0) + ifNull(ftp_d_rd_bytes, 0)), uniqExact(task_id, task_event, stage, reason, server_addr, upstream, method, uri, escaper), sum(ifNull(rsp_status, 0) + ifNull(tcp_connect_tries, 0)), countIf(reuse_connection) FROM g3proxy_task"},
		{"django_events",
			"SELECT count(), countIf(is_error), uniqExact(event_name, level, logger), sum(ifNull(duration_ms, 0)), sum(ifNull(code, 0)), uniqExact(method, path), uniqExact(request_id, user_id, ip), uniqExact(task_id, parent_task_id, task_name, child_task_id, child_task_name, routing_key), sum(toUnixTimestamp64Micro(timestamp)), countIf(expired), sum(ifNull(signum, 0) + ifNull(priority, 0)), sum(length(exception) + length(error) + length(reason) + length(user_agent)) FROM django_events",
			""},
	}
	for _, c := range checks {
		engineQ := c.engine
		if engineQ == "" {
			engineQ = c.tapline
		}
		a, err := viaTapline.Query(ctx, c.tapline, "TabSeparated", nil)
		require.NoError(t, err, c.name)
		b, err := viaEngine.Query(ctx, engineQ, "TabSeparated", nil)
		require.NoError(t, err, c.name)
		require.NotEqual(t, "0", strings.Fields(string(a))[0], "%s: the comparison has rows", c.name)
		require.Equal(t, string(a), string(b), "%s: tapline and the engine mapping agree", c.name)
	}
	// The views fire for the engine's inserts too.
	a, err := viaTapline.Query(ctx, "SELECT source, sum(requests) FROM latency_1m WHERE source != 'g3proxy' GROUP BY source ORDER BY source", "TabSeparated", nil)
	require.NoError(t, err)
	b, err := viaEngine.Query(ctx, "SELECT source, sum(requests) FROM latency_1m WHERE source != 'g3proxy' GROUP BY source ORDER BY source", "TabSeparated", nil)
	require.NoError(t, err)
	require.Equal(t, string(a), string(b))

	for _, f := range JSONFormats() {
		g, err := gen.New(f, gen.Options{Seed: 6, Malformed: 0.5})
		require.NoError(t, err)
		var r gen.Record
		for i := 0; i < 400; i++ {
			g.Next(&r)
			if r.Valid {
				continue
			}
			_, stmt, ok := statement(r.Subject)
			require.True(t, ok)
			require.NoError(t, raw.InsertRaw(ctx, stmt, "JSONEachRow", append(r.Data, '\n')), "%s: a malformed line is skipped: %s", f, r.Data)
		}
	}
}

// twoSchemas gives a test two databases with tapline's schema on the
// shared engine: one for tapline's own inserts, and one prepared for the
// engine's JSON ingestion (Prepare), with the inserter of raw lines into it.
func twoSchemas(tb testing.TB) (viaTapline, viaEngine *embedded.Target, raw poolInserter) {
	tb.Helper()
	ctx := context.Background()
	viaTapline = embeddedtest.Target(tb, 2)
	viaEngine = embeddedtest.Target(tb, 2)
	require.NoError(tb, sql.Apply(ctx, viaTapline))
	require.NoError(tb, sql.Apply(ctx, viaEngine))
	require.NoError(tb, Prepare(ctx, viaEngine))
	return viaTapline, viaEngine, poolInserter{viaEngine.Pool()}
}

// poolInserter is the Inserter the loadtest wires for the embedded engine.
type poolInserter struct{ p *embedded.Pool }

func (i poolInserter) InsertRaw(ctx context.Context, stmt, format string, chunks ...[]byte) error {
	_, err := i.p.InsertStream(ctx, stmt, format, chunks...)
	return err
}
