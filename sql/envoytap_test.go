package sql_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/gen"
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/ingest/decode/envoytap"
	"github.com/tapline/tapline/internal/embeddedtest"
	"github.com/tapline/tapline/sink/embedded"
	"github.com/tapline/tapline/sql"
)

// envoytapInsert decodes payloads (one message each) and inserts the rows
// into envoytap_events and envoytap_connections with the given token.
func envoytapInsert(t *testing.T, db *embedded.Target, token string, msgs ...decodetestMsg) {
	t.Helper()
	dec, err := envoytap.New(decode.Options{})
	require.NoError(t, err)
	out := decode.Output{}
	for _, tbl := range dec.Tables() {
		out.Builders = append(out.Builders, tbl.NewBuilder(memory.NewGoAllocator()))
	}
	for _, m := range msgs {
		dec.Decode(m.payload, decode.Meta{Subject: m.subject}, &out)
	}
	require.Empty(t, out.Rejects)
	for i, tbl := range dec.Tables() {
		rec := out.Builders[i].NewRecord()
		if rec.NumRows() > 0 {
			embeddedtest.Insert(t, db, tbl, rec, token+"-"+tbl.Name())
		}
		rec.Release()
		out.Builders[i].Release()
	}
}

type decodetestMsg struct {
	subject string
	payload []byte
}

func envoytapFile(t *testing.T, subject, name string) decodetestMsg {
	t.Helper()
	b, err := os.ReadFile("../ingest/decode/envoytap/testdata/" + name)
	require.NoError(t, err)
	return decodetestMsg{subject: subject, payload: b}
}

func query(t *testing.T, db *embedded.Target, q string) string {
	t.Helper()
	out, err := db.Query(context.Background(), q, "TabSeparated", nil)
	require.NoError(t, err, q)
	return strings.TrimSpace(string(out))
}

// TestEnvoytapSummaryMergesSegments: a streamed trace arrives as a
// connection segment and event segments in separate messages (and inserts);
// the summary joins them by (envoy, trace_id). A buffered trace with the same
// trace id from another Envoy stays apart, and is closed without a close event.
func TestEnvoytapSummaryMergesSegments(t *testing.T) {
	ctx := context.Background()
	db := embeddedtest.Target(t, 1)
	require.NoError(t, sql.Apply(ctx, db))

	streamed := envoytapFile(t, "logs.envoytap.json.edge-1", "streaming-flow.json")
	docs := strings.SplitAfter(string(streamed.payload), "\n}")
	docs = docs[:len(docs)-1] // after the last "\n}"
	require.Len(t, docs, 4)
	for i, d := range docs { // one insert per segment, as separate messages would be
		envoytapInsert(t, db, "s"+strconv.Itoa(i), decodetestMsg{streamed.subject, []byte(d)})
	}
	envoytapInsert(t, db, "b", envoytapFile(t, "logs.envoytap.proto.edge-2", "buffered-flow.pbld"))
	// Replaying a batch with its token must not count it twice, in the views too.
	envoytapInsert(t, db, "s1", decodetestMsg{streamed.subject, []byte(docs[1])})

	got := query(t, db, `SELECT envoy, trace_id, max(local_address), max(remote_address), max(remote_host),
		min(first_event), max(last_event), sum(events), sum(bytes_read), sum(bytes_written), max(closed),
		max(read_truncated), max(write_truncated)
		FROM envoytap_connection_summary GROUP BY envoy, trace_id ORDER BY envoy`)
	require.Equal(t, strings.Join([]string{
		"edge-1\t1\t127.0.0.1:1000\t10.0.0.3:50000\t10.0.0.3\t1970-01-01 00:00:00.000000000\t1970-01-01 00:00:02.000000000\t3\t5\t5\ttrue\tfalse\tfalse",
		"edge-2\t1\t127.0.0.1:1000\t10.0.0.3:50000\t10.0.0.3\t1970-01-01 00:00:00.000000000\t1970-01-01 00:00:01.000000000\t2\t5\t5\ttrue\tfalse\tfalse",
	}, "\n"), got)

	// Only the buffered trace is a latency sample.
	require.Equal(t, "1970-01-01 00:00:00\tenvoytap\tconnection\t10.0.0.3\t127.0.0.1:1000\t1\t0\t1000\t1000",
		query(t, db, `SELECT minute, source, kind, service, operation, sum(requests), sum(errors), sum(latency_sum_ms), max(latency_max_ms)
			FROM latency_1m WHERE source = 'envoytap' GROUP BY minute, source, kind, service, operation`))

	// The query file covers streamed connections too: durations 2000 and 1000 ms.
	require.Equal(t, "10.0.0.3\t2\t1500\t1900\t1990\t0\t10\t10", query(t, db, sql.Query("envoytap_connection_duration")))
}

// TestEnvoytapLatencyMatchesGeneratorTruth inserts generated traffic and
// compares latency_1m with the generator's truth, per service and operation.
func TestEnvoytapLatencyMatchesGeneratorTruth(t *testing.T) {
	ctx := context.Background()
	db := embeddedtest.Target(t, 1)
	require.NoError(t, sql.Apply(ctx, db))

	g, err := gen.New("envoytap", gen.Options{Seed: 5, Start: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC), Step: 20 * time.Millisecond})
	require.NoError(t, err)
	type agg struct {
		n, errs  int
		sum, max float64
	}
	want := map[string]*agg{}
	var msgs []decodetestMsg
	var rec gen.Record
	for i := 0; i < 1500; i++ {
		g.Next(&rec)
		msgs = append(msgs, decodetestMsg{rec.Subject, append([]byte(nil), rec.Data...)})
		if !rec.Sample {
			continue
		}
		k := rec.Time.Truncate(time.Minute).Format("2006-01-02 15:04:05") + "\t" + rec.Service + "\t" + rec.Operation
		a := want[k]
		if a == nil {
			a = &agg{}
			want[k] = a
		}
		a.n++
		a.sum += rec.LatencyMs
		a.max = math.Max(a.max, rec.LatencyMs)
		if rec.Error {
			a.errs++
		}
	}
	envoytapInsert(t, db, "gen", msgs...)
	envoytapInsert(t, db, "gen", msgs...) // replayed batch: deduplicated

	rows := query(t, db, `SELECT minute, service, operation, sum(requests), sum(errors), sum(latency_sum_ms), max(latency_max_ms)
		FROM latency_1m WHERE source = 'envoytap' GROUP BY minute, service, operation ORDER BY minute, service, operation`)
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := strings.Split(rows, "\n")
	require.Len(t, lines, len(keys))
	errs := 0
	for i, k := range keys {
		f := strings.Split(lines[i], "\t")
		require.Equal(t, k, strings.Join(f[:3], "\t"))
		a := want[k]
		require.Equal(t, strconv.Itoa(a.n), f[3], k)
		require.Equal(t, strconv.Itoa(a.errs), f[4], k)
		sum, err := strconv.ParseFloat(f[5], 64)
		require.NoError(t, err)
		require.InDelta(t, a.sum, sum, 1e-6*math.Max(1, a.sum), k)
		require.Equal(t, fmt.Sprint(a.max), f[6], k)
		errs += a.errs
	}
	require.Positive(t, errs, "the generated traffic has one-sided connections")
}

// TestEnvoytapOperationAndService checks the view's naming rules: listener
// address with port, local host alone for ephemeral local ports (cluster
// taps), 'socket' without a local address, 'unknown' without a remote one.
func TestEnvoytapOperationAndService(t *testing.T) {
	ctx := context.Background()
	db := embeddedtest.Target(t, 1)
	require.NoError(t, sql.Apply(ctx, db))
	doc := func(id int, local, remote string) string {
		return `{"socket_buffered_trace":{"trace_id":"` + strconv.Itoa(id) + `","connection":{` + local + remote + `},"events":[{"timestamp":"2026-11-01T12:00:00Z","read":{"data":{"as_bytes":"aGk="}}},{"timestamp":"2026-11-01T12:00:00.5Z","write":{"data":{"as_bytes":"aGk="}}}]}}`
	}
	sa := func(key, host string, port int) string {
		return `"` + key + `":{"socket_address":{"address":"` + host + `","port_value":` + strconv.Itoa(port) + `}}`
	}
	payload := doc(1, sa("local_address", "10.0.0.10", 8080)+",", sa("remote_address", "198.51.100.7", 40001)) +
		doc(2, sa("local_address", "10.0.0.20", 45000)+",", sa("remote_address", "10.1.2.3", 9000)) +
		doc(3, "", sa("remote_address", "10.1.2.4", 9000)) +
		doc(4, sa("local_address", "::1", 10000), "")
	envoytapInsert(t, db, "ops", decodetestMsg{envoytap.SubjectJSON, []byte(payload)})
	require.Equal(t, strings.Join([]string{
		"10.1.2.3\t10.0.0.20\t500",
		"10.1.2.4\tsocket\t500",
		"198.51.100.7\t10.0.0.10:8080\t500",
		"unknown\t[::1]:10000\t500",
	}, "\n"), query(t, db, `SELECT service, operation, sum(latency_sum_ms) FROM latency_1m WHERE source = 'envoytap' GROUP BY service, operation ORDER BY service`))
}
