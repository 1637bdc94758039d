package sql_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/gen"
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/ingest/decode/django"
	"github.com/tapline/tapline/internal/embeddedtest"
	"github.com/tapline/tapline/schema"
	"github.com/tapline/tapline/sink/embedded"
	"github.com/tapline/tapline/sql"
)

// djangoBatcher decodes django-structlog payloads and inserts them into
// django_events in batches, as the pipeline does.
type djangoBatcher struct {
	t   *testing.T
	db  *embedded.Target
	dec decode.Decoder
	out decode.Output
	n   int
}

func newDjangoBatcher(t *testing.T, db *embedded.Target) *djangoBatcher {
	dec, err := django.New(decode.Options{})
	require.NoError(t, err)
	b := &djangoBatcher{t: t, db: db, dec: dec}
	b.out.Builders = []*schema.Builder{schema.DjangoEvents.NewBuilder(memory.NewGoAllocator())}
	return b
}

func (b *djangoBatcher) add(payload []byte) {
	b.dec.Decode(payload, decode.Meta{Subject: gen.DjangoSubject}, &b.out)
}

// flush inserts the rows decoded since the last flush under token; the
// same batch inserted again with its token must change nothing.
func (b *djangoBatcher) flush(token string, replay bool) {
	rec := b.out.Builders[0].NewRecord()
	defer rec.Release()
	embeddedtest.Insert(b.t, b.db, schema.DjangoEvents, rec, token)
	if replay {
		embeddedtest.Insert(b.t, b.db, schema.DjangoEvents, rec, token)
	}
	b.n++
}

func queryRows(t *testing.T, db *embedded.Target, q string, params map[string]string) []map[string]any {
	t.Helper()
	out, err := db.Query(context.Background(), q, "JSONEachRow", params)
	require.NoError(t, err, q)
	var rows []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		d.UseNumber()
		require.NoError(t, d.Decode(&m))
		rows = append(rows, m)
	}
	return rows
}

func num(t *testing.T, v any) float64 {
	t.Helper()
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		require.NoError(t, err)
		return f
	case string:
		var f float64
		_, err := fmt.Sscan(x, &f)
		require.NoError(t, err, x)
		return f
	}
	t.Fatalf("not a number: %#v", v)
	return 0
}

const latencyByOperation = `
SELECT kind, operation, sum(requests) AS requests, sum(errors) AS errors, sum(no_latency) AS no_latency,
       sum(latency_sum_ms) AS latency_sum, max(latency_max_ms) AS latency_max,
       quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)[1] AS p50
FROM latency_1m WHERE source = 'django' AND service = 'django'
GROUP BY kind, operation ORDER BY kind, operation`

// TestDjangoViewsOnUpstreamExamples inserts the upstream README's example
// in two batches (the second request starts in the first batch and ends in
// the second) and the documented events, and checks what the views made of
// them, value by value.
func TestDjangoViewsOnUpstreamExamples(t *testing.T) {
	ctx := context.Background()
	db := embeddedtest.Target(t, 1)
	require.NoError(t, sql.Apply(ctx, db))
	b := newDjangoBatcher(t, db)

	readme, err := os.ReadFile("../ingest/decode/django/testdata/readme-json-example.log")
	require.NoError(t, err)
	lines := strings.SplitAfter(string(readme), "\n")
	b.add([]byte(strings.Join(lines[:3], "")))
	b.flush("readme-1", true)
	b.add([]byte(strings.Join(lines[3:], "")))
	b.flush("readme-2", true)
	docs, err := os.ReadFile("../ingest/decode/django/testdata/events-doc.log")
	require.NoError(t, err)
	b.add(docs)
	b.flush("docs", true)

	type row struct {
		kind, op              string
		requests, errors      float64
		noLatency             float64
		latencySum, latencyMx float64
	}
	var got []row
	for _, m := range queryRows(t, db, latencyByOperation, nil) {
		got = append(got, row{m["kind"].(string), m["operation"].(string), num(t, m["requests"]), num(t, m["errors"]), num(t, m["no_latency"]),
			math.Round(num(t, m["latency_sum"])*1000) / 1000, math.Round(num(t, m["latency_max"])*1000) / 1000})
	}
	require.Equal(t, []row{
		// README: request_finished has no "request": the path comes from the start.
		{"request", "/", 1, 0, 0, 23.754, 23.754},
		{"request", "/api/checkout/", 1, 1, 0, 250.2, 250.2},    // request_failed
		{"request", "/api/orders/", 1, 0, 0, 34.25, 34.25},      // 404: not an error
		{"request", "/api/slow-report/", 1, 0, 0, 30000, 30000}, // cancelled: a sample, not an error
		{"request", "/export/invoices.csv", 1, 0, 0, 20, 20},    // streaming failed later: the request did not
		{"request", "/export/orders.csv", 1, 0, 0, 12, 12},
		// Started in batch readme-1, finished in readme-2: found in django_requests.
		{"request", "/success_task", 1, 0, 0, 73.888, 73.888},
		// task_failed at INFO of a task whose start was never logged: no name;
		// and the README's task_succeed, which has no duration_ms (older
		// django-structlog) and no name: a request without a latency sample.
		{"task", "", 2, 1, 1, 3, 3},
		{"task", "shop.tasks.render_pdf", 1, 0, 0, 1234, 1234},
		{"task", "shop.tasks.send_receipt", 1, 1, 0, 87, 87},
	}, got)

	reqs := queryRows(t, db, `SELECT request_id, max(path) AS path, max(started_at) AS started, max(ended_at) AS ended, max(code) AS code,
		sum(lines) AS lines, sum(error_lines) AS error_lines, sum(tasks_enqueued) AS tasks, max(streaming_failed) AS sfailed
		FROM django_requests GROUP BY request_id ORDER BY request_id`, nil)
	require.Len(t, reqs, 7)
	byID := map[string]map[string]any{}
	for _, r := range reqs {
		byID[r["request_id"].(string)] = r
	}
	success := byID["3a8f801c-072b-4805-8f38-e1337f363ed4"]
	require.Equal(t, "/success_task", success["path"])
	require.Equal(t, "2019-04-13 19:39:31.086155", success["started"])
	require.Equal(t, "2019-04-13 19:39:31.160043", success["ended"])
	require.Equal(t, 201.0, num(t, success["code"]))
	require.Equal(t, 6.0, num(t, success["lines"]), "its lines and its task's, replays not counted")
	require.Equal(t, 1.0, num(t, success["tasks"]))
	checkout := byID["5b0e9a7c-2f43-4c1e-8a55-3d6f0b9e1c22"]
	require.Equal(t, 500.0, num(t, checkout["code"]))
	require.Equal(t, 3.0, num(t, checkout["error_lines"]), "request_failed and both task_failed lines (one logged at INFO)")
	require.Equal(t, 1.0, num(t, byID["2a3b4c5d-6e7f-4081-92a3-b4c5d6e7f809"]["sfailed"]))

	tasks := queryRows(t, db, `SELECT task_id, max(name) AS name, max(parent_task_id) AS parent, min(enqueued_at) AS enq, min(started_at) AS started,
		max(duration_ms) AS dur, sum(attempts) AS attempts, sum(retries) AS retries, max(succeeded) AS ok, max(failed) AS failed,
		max(expired) AS expired, max(not_found) AS nf, max(rejected) AS rej, sum(lines) AS lines
		FROM django_tasks GROUP BY task_id ORDER BY task_id`, nil)
	byTask := map[string]map[string]any{}
	for _, r := range tasks {
		byTask[r["task_id"].(string)] = r
	}
	readmeTask := byTask["6b11fd80-3cdf-4de5-acc2-3fd4633aa654"]
	require.Equal(t, "", readmeTask["name"], "the README's enqueue line predates child_task_name")
	require.Equal(t, "2019-04-13 19:39:31.147590", readmeTask["enq"])
	require.Equal(t, 1.0, num(t, readmeTask["ok"]), "task_succeed is task_succeeded")
	require.Equal(t, 2.0, num(t, readmeTask["lines"]))
	receipt := byTask["c1d2e3f4-0000-4a1b-8c2d-111111111111"]
	require.Equal(t, "shop.tasks.send_receipt", receipt["name"])
	require.Equal(t, 2.0, num(t, receipt["attempts"]))
	require.Equal(t, 1.0, num(t, receipt["retries"]))
	require.Equal(t, 1.0, num(t, receipt["failed"]))
	require.Equal(t, "2025-03-04 10:15:03.020000", receipt["enq"])
	require.Equal(t, "2025-03-04 10:15:03.100000", receipt["started"])
	pdf := byTask["d2e3f4a5-0000-4b1c-9d2e-222222222222"]
	require.Equal(t, "shop.tasks.render_pdf", pdf["name"])
	require.Equal(t, "c1d2e3f4-0000-4a1b-8c2d-111111111111", pdf["parent"])
	require.Equal(t, 1234.0, num(t, pdf["dur"]))
	require.Equal(t, 1.0, num(t, byTask["a5b6c7d8-0000-4e1f-8021-555555555555"]["expired"]))
	require.Equal(t, 1.0, num(t, byTask["b6c7d8e9-0000-4f10-9132-666666666666"]["nf"]))
	require.Equal(t, 1.0, num(t, byTask["c7d8e9f0-0000-4011-8243-777777777777"]["rej"]))

	since := map[string]string{"since": "2000-01-01 00:00:00"}
	perPath := queryRows(t, db, sql.Query("django_request_latency"), since)
	require.Len(t, perPath, 7)
	for _, r := range perPath {
		if r["path"] == "/api/checkout/" {
			require.Equal(t, 1.0, num(t, r["error_rate"]))
			require.Equal(t, 250.2, num(t, r["p50_ms"]))
		}
		if r["path"] == "/api/slow-report/" {
			require.Equal(t, 1.0, num(t, r["cancelled"]))
		}
	}
	byName := queryRows(t, db, sql.Query("django_tasks_by_name"), since)
	names := map[string]map[string]any{}
	for _, r := range byName {
		names[r["name"].(string)] = r
	}
	require.Equal(t, 1.0, num(t, names["shop.tasks.send_receipt"]["errors"]))
	require.Equal(t, 1.0, num(t, names["shop.tasks.send_reminder"]["errors"]), "expired")
	require.Equal(t, 0.0, num(t, names["shop.tasks.rebuild_index"]["errors"]), "revoked on purpose")
	require.Equal(t, 1.0, num(t, names["shop.tasks.removed_in_v2"]["errors"]), "not found")
	require.Equal(t, 80.0, num(t, names["shop.tasks.send_receipt"]["p99_queue_ms"]))
}

// TestDjangoLatencyMatchesGeneratorTruth decodes generated traffic in
// messages of 50 lines and batches of 2,000, replays every third batch, and
// checks latency_1m against the generator's truth: every request and task
// sample counted once, per operation, with its exact latency sum and max.
func TestDjangoLatencyMatchesGeneratorTruth(t *testing.T) {
	ctx := context.Background()
	db := embeddedtest.Target(t, 1)
	require.NoError(t, sql.Apply(ctx, db))
	b := newDjangoBatcher(t, db)

	g := gen.NewDjango(gen.Options{Seed: 11, Start: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Step: 3 * time.Millisecond, Malformed: 0.01})
	type truth struct {
		n, errs   int
		sum, max  float64
		latencies []float64
	}
	want := map[string]*truth{}
	var rec gen.Record
	var msg []byte
	for i := 1; i <= 20000; i++ {
		g.Next(&rec)
		msg = append(append(msg, rec.Data...), '\n')
		if rec.Sample {
			k := rec.Kind + " " + rec.Operation
			tr := want[k]
			if tr == nil {
				tr = &truth{}
				want[k] = tr
			}
			tr.n++
			if rec.Error {
				tr.errs++
			}
			tr.sum += rec.LatencyMs
			tr.max = math.Max(tr.max, rec.LatencyMs)
			tr.latencies = append(tr.latencies, rec.LatencyMs)
		}
		if i%50 == 0 {
			b.add(msg)
			msg = msg[:0]
		}
		if i%2000 == 0 {
			b.flush(fmt.Sprintf("gen-%d", i), b.n%3 == 0)
		}
	}
	require.Greater(t, len(want), 5)

	got := map[string]bool{}
	for _, m := range queryRows(t, db, latencyByOperation, nil) {
		k := m["kind"].(string) + " " + m["operation"].(string)
		got[k] = true
		tr := want[k]
		noLatency := num(t, m["no_latency"])
		if tr == nil {
			// Ends whose start line the generator made malformed (dead
			// letters): requests without a latency sample, never 0 ms ones.
			require.Equal(t, num(t, m["requests"]), noLatency, "latency_1m has samples for %s, the generator made none", k)
			require.Zero(t, num(t, m["latency_sum"]), k)
			continue
		}
		require.Equal(t, float64(tr.n), num(t, m["requests"])-noLatency, "%s: samples = requests - no_latency", k)
		if noLatency == 0 {
			require.Equal(t, float64(tr.errs), num(t, m["errors"]), k)
		}
		require.InDelta(t, tr.sum, num(t, m["latency_sum"]), 1e-6*tr.sum, k)
		require.InDelta(t, tr.max, num(t, m["latency_max"]), 1e-9, k)
		if tr.n >= 200 {
			sort.Float64s(tr.latencies)
			median := tr.latencies[len(tr.latencies)/2]
			require.InEpsilon(t, median, num(t, m["p50"]), 0.05, "%s: t-digest p50 against the exact median", k)
		}
	}
	for k := range want {
		require.True(t, got[k], "generator sample %s missing from latency_1m", k)
	}

	// Starts that waited for an end in a later batch were stored and, once
	// it came, closed: what stays open is exactly the requests that never
	// ended, so the pairing's lookups do not grow with every request seen.
	open := queryRows(t, db, `SELECT sum(sign) AS open, countIf(sign = -1) AS closed FROM django_open_requests`, nil)[0]
	notEnded := queryRows(t, db, `SELECT count() AS n FROM (
		SELECT request_id FROM django_events WHERE request_id != '' GROUP BY request_id
		HAVING countIf(event_name = 'request_started') > 0
			AND countIf(event_name IN ('request_finished', 'request_failed', 'request_cancelled')) = 0)`, nil)[0]
	require.Positive(t, num(t, open["closed"]), "no request spanned two batches: the test does not exercise the lookup")
	require.Equal(t, num(t, notEnded["n"]), num(t, open["open"]), "starts left open in django_open_requests against requests that never ended")

	// The same for tasks: named in one batch, ended in a later one.
	open = queryRows(t, db, `SELECT sum(sign) AS open, countIf(sign = -1) AS closed FROM django_open_tasks`, nil)[0]
	notEnded = queryRows(t, db, `SELECT count() AS n FROM (
		SELECT tid FROM (
			SELECT task_id AS tid, 1 AS named, 0 AS ended FROM django_events WHERE event_name = 'task_started' AND task_id != '' AND task_name != ''
			UNION ALL SELECT child_task_id, 1, 0 FROM django_events WHERE event_name = 'task_enqueued' AND child_task_id != '' AND child_task_name != ''
			UNION ALL SELECT task_id, 0, 1 FROM django_events WHERE event_name IN ('task_succeeded', 'task_failed', 'task_revoked', 'task_rejected', 'task_not_found') AND task_id != '')
		GROUP BY tid HAVING max(named) = 1 AND max(ended) = 0)`, nil)[0]
	require.Positive(t, num(t, open["closed"]), "no task spanned two batches: the test does not exercise the lookup")
	require.Equal(t, num(t, notEnded["n"]), num(t, open["open"]), "tasks left open in django_open_tasks against tasks that never ended")
}
