package sql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/gen"
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/ingest/decode/webdebug"
	"github.com/tapline/tapline/internal/embeddedtest"
	"github.com/tapline/tapline/schema"
	"github.com/tapline/tapline/sink"
	"github.com/tapline/tapline/sql"
)

type wdKey struct {
	minute                   string
	kind, service, operation string
}

type wdAgg struct {
	requests, errors int
	sumMs, maxMs     float64
}

func (a *wdAgg) add(ms float64, isErr bool) {
	a.requests++
	if isErr {
		a.errors++
	}
	a.sumMs += ms
	a.maxMs = math.Max(a.maxMs, ms)
}

// TestWebdebugFeedsLatency1m decodes generated web debug documents (with a
// malformed share), inserts both tables into the real engine twice with
// the same deduplication token, and checks latency_1m against the
// generator's truth: one request sample per document that has a duration
// (Record.Sample) and one query sample per timed query (Record.More), in
// the minute of the sample event, with the view's service and operation;
// a document without a duration (!Record.Sample) is a request without a
// latency (no_latency), with its error, and no sample.
func TestWebdebugFeedsLatency1m(t *testing.T) {
	ctx := context.Background()
	db := embeddedtest.Target(t, 1)
	require.NoError(t, sql.Apply(ctx, db))

	dec, err := webdebug.New(decode.Options{})
	require.NoError(t, err)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	out := decode.Output{}
	for _, tbl := range dec.Tables() {
		out.Builders = append(out.Builders, tbl.NewBuilder(mem))
	}
	g := gen.NewWebdebug(gen.Options{Seed: 11, Start: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC), Step: 300 * time.Millisecond, Malformed: 0.05})
	want := map[wdKey]*wdAgg{}
	add := func(kind, service, operation string, at time.Time, ms float64, isErr bool) {
		k := wdKey{at.UTC().Truncate(time.Minute).Format("2006-01-02 15:04:05"), kind, service, operation}
		if want[k] == nil {
			want[k] = &wdAgg{}
		}
		want[k].add(ms, isErr)
	}
	// Per kind, service and operation (the minute of a document without
	// a duration is its response's, which the generator does not say):
	// requests without a latency, and errors of every request.
	type opKey struct{ kind, service, operation string }
	noLatency, opErrors := map[opKey]int{}, map[opKey]int{}
	var rec gen.Record
	valid, samples, undurated := 0, 0, 0
	for i := 0; i < 600; i++ {
		g.Next(&rec)
		dec.Decode(rec.Data, decode.Meta{Subject: rec.Subject}, &out)
		if !rec.Valid {
			continue
		}
		valid++
		k := opKey{rec.Kind, rec.Service, rec.Operation}
		if rec.Sample {
			add(rec.Kind, rec.Service, rec.Operation, rec.Time, rec.LatencyMs, rec.Error)
			samples++
		} else {
			noLatency[k]++
			undurated++
		}
		if rec.Error {
			opErrors[k]++
		}
		for _, s := range rec.More {
			if s.Error {
				opErrors[opKey{s.Kind, s.Service, s.Operation}]++
			}
		}
		for _, s := range rec.More {
			add(s.Kind, s.Service, s.Operation, s.Time, s.LatencyMs, s.Error)
			samples++
		}
	}
	require.Equal(t, valid, out.Records)
	require.Equal(t, 600-valid, len(out.Rejects))
	events := out.Builders[0].NewRecord()
	defer events.Release()
	docs := out.Builders[1].NewRecord()
	defer docs.Release()
	for _, b := range out.Builders {
		b.Release()
	}
	for i := 0; i < 2; i++ { // the second insert is a replayed batch
		embeddedtest.Insert(t, db, schema.WebdebugEvents, events, "webdebug-events-1")
		embeddedtest.Insert(t, db, schema.WebdebugDocuments, docs, "webdebug-docs-1")
	}

	q := func(query string) []map[string]string {
		t.Helper()
		b, err := db.Query(ctx, query, "JSONEachRow", nil)
		require.NoError(t, err, query)
		return wdRows(t, b)
	}
	require.Equal(t, []map[string]string{{"n": strconv.Itoa(valid)}}, q("SELECT count() AS n FROM webdebug_documents"))
	require.Equal(t, []map[string]string{{"n": strconv.FormatInt(events.NumRows(), 10), "docs": strconv.Itoa(valid)}},
		q("SELECT count() AS n, uniqExact(doc_id) AS docs FROM webdebug_events"), "the replay is deduplicated")

	got := map[wdKey]*wdAgg{}
	gotNoLatency, gotErrors := map[opKey]int{}, map[opKey]int{}
	for _, r := range q(`SELECT toString(minute) AS minute, kind, service, operation, sum(requests) AS r, sum(errors) AS e,
	                            sum(no_latency) AS nl, sum(latency_sum_ms) AS s, max(latency_max_ms) AS m,
	                            quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)[5] AS p999
	                     FROM latency_1m WHERE source = 'webdebug' GROUP BY minute, kind, service, operation`) {
		k := wdKey{r["minute"], r["kind"], r["service"], r["operation"]}
		ok := opKey{k.kind, k.service, k.operation}
		nl, e := wdAtoi(t, r["nl"]), wdAtoi(t, r["e"])
		if nl > 0 {
			gotNoLatency[ok] += nl
		}
		if e > 0 {
			gotErrors[ok] += e
		}
		if nl == wdAtoi(t, r["r"]) {
			require.Zero(t, wdAtof(t, r["s"]), "%v: requests without a latency add no sample", k)
			continue // only requests without a latency in this minute
		}
		// Samples only: requests less those without a latency.
		got[k] = &wdAgg{requests: wdAtoi(t, r["r"]) - nl, sumMs: wdAtof(t, r["s"]), maxMs: wdAtof(t, r["m"])}
		require.LessOrEqual(t, wdAtof(t, r["p999"]), got[k].maxMs+1e-9, "%v", k)
	}
	require.Greater(t, undurated, 3, "the generator makes documents without a duration")
	require.Equal(t, noLatency, gotNoLatency, "a document without a duration is one request without a latency")
	require.Equal(t, opErrors, gotErrors, "errors of every request and query")
	require.Greater(t, samples, 2*valid, "documents add query samples besides the request sample")
	for k := range got {
		require.Contains(t, want, k, "in latency_1m but not in the generator's truth")
	}
	kinds := map[string]bool{}
	for k, w := range want {
		g := got[k]
		require.NotNil(t, g, "missing in latency_1m: %+v", k)
		require.Equal(t, w.requests, g.requests, "%+v samples", k)
		require.InDelta(t, w.sumMs, g.sumMs, 1e-6*math.Max(1, w.sumMs), "%+v latency sum", k)
		require.Equal(t, w.maxMs, g.maxMs, "%+v latency max", k)
		kinds[k.kind+" "+k.service] = true
	}
	for _, must := range []string{"request shop.example.com", "request webdebug", "query mysql", "query redis", "query mongodb"} {
		require.True(t, kinds[must], "no %s samples: %v", must, kinds)
	}
}

// TestWebdebugUpstreamExampleInLatency1m runs the docs-based example through
// the view: the response's 140 ms for POST https://example.com:443/api/hello
// and its two timed queries.
func TestWebdebugUpstreamExampleInLatency1m(t *testing.T) {
	ctx := context.Background()
	db := embeddedtest.Target(t, 1)
	require.NoError(t, sql.Apply(ctx, db))
	dec, err := webdebug.New(decode.Options{})
	require.NoError(t, err)
	payload := wdReadFile(t, "../ingest/decode/webdebug/testdata/events-docs.json")
	out := decode.Output{}
	for _, tbl := range dec.Tables() {
		out.Builders = append(out.Builders, tbl.NewBuilder(memory.NewGoAllocator()))
	}
	dec.Decode(payload, decode.Meta{}, &out)
	require.Equal(t, 1, out.Records)
	for i, tbl := range dec.Tables() {
		rec := out.Builders[i].NewRecord()
		embeddedtest.Insert(t, db, tbl, rec, "upstream-"+tbl.Name())
		rec.Release()
	}
	b, err := db.Query(ctx, `SELECT toString(minute) AS minute, kind, service, operation, requests AS r, errors AS e, latency_max_ms AS m
	                         FROM latency_1m WHERE source = 'webdebug' ORDER BY kind, service`, "JSONEachRow", nil)
	require.NoError(t, err)
	require.Equal(t, []map[string]string{
		{"minute": "2019-01-09 18:29:00", "kind": "query", "service": "mongodb", "operation": "{ status: ?, qty: { $lt: ? } }", "r": "1", "e": "0", "m": "3"},
		{"minute": "2019-01-09 18:29:00", "kind": "query", "service": "mysql", "operation": "SELECT * FROM articles WHERE ID = ?;", "r": "1", "e": "0", "m": "15"},
		{"minute": "2019-01-09 18:29:00", "kind": "request", "service": "example.com", "operation": "/api/hello", "r": "1", "e": "0", "m": "140"},
	}, wdRows(t, b))

	// A document read oldest to newest, the way the table's comment says.
	b, err = db.Query(ctx, `SELECT position, type FROM webdebug_events WHERE doc_id = '5b67d5ef-b9cc-4a3e-896d-93e5f4500e09'
	                        ORDER BY time_order LIMIT 3`, "JSONEachRow", nil)
	require.NoError(t, err)
	require.Equal(t, []map[string]string{
		{"position": "0", "type": "request"}, {"position": "0.0", "type": "middleware"}, {"position": "0.0.0", "type": "accessCheck"},
	}, wdRows(t, b))
	for _, bl := range out.Builders {
		bl.Release()
	}
}

// TestWebdebugDocumentWithoutDuration: a document without any duration,
// for the same request as the docs' example in the same minute, is one
// more request in latency_1m, counted in no_latency (and as an error: its
// response is a 503), never a 0 ms sample: the latency sum, max and
// quantiles stay the example's.
func TestWebdebugDocumentWithoutDuration(t *testing.T) {
	ctx := context.Background()
	db := embeddedtest.Target(t, 1)
	require.NoError(t, sql.Apply(ctx, db))
	dec, err := webdebug.New(decode.Options{})
	require.NoError(t, err)
	insert := func(payload []byte, token string) {
		t.Helper()
		wdDecodeInsert(t, db, dec, token, payload)
	}
	request := func() map[string]string {
		t.Helper()
		b, err := db.Query(ctx, `SELECT sum(requests) AS r, sum(errors) AS e, sum(no_latency) AS nl, sum(latency_sum_ms) AS s,
		                                max(latency_max_ms) AS m, toString(quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)) AS q
		                         FROM latency_1m WHERE source = 'webdebug' AND kind = 'request' AND service = 'example.com' AND operation = '/api/hello'`, "JSONEachRow", nil)
		require.NoError(t, err)
		rows := wdRows(t, b)
		require.Len(t, rows, 1)
		return rows[0]
	}
	insert(wdReadFile(t, "../ingest/decode/webdebug/testdata/events-docs.json"), "example")
	before := request()
	require.Equal(t, map[string]string{"r": "1", "e": "0", "nl": "0", "s": "140", "m": "140", "q": "[140,140,140,140,140]"}, before)

	insert([]byte(`{"id": "9c1f0e2a-7d4b-4e8a-b1c3-5a6d7e8f9a0b", "version": 1, "events": [
		{"type": "request", "time": 1547058561500, "payload": {"method": "POST", "uri": "https://example.com/api/hello"},
		 "nested": [{"type": "log", "time": 1547058561600, "payload": {"message": "upstream timed out"}}]},
		{"type": "response", "time": 1547058562000, "payload": {"status": 503}}]}`), "no-duration")
	after := request()
	require.Equal(t, map[string]string{"r": "2", "e": "1", "nl": "1", "s": "140", "m": "140", "q": before["q"]}, after,
		"one more request, without a latency: no 0 ms sample")
	b, err := db.Query(ctx, `SELECT type, sample_kind AS k, duration_ms IS NULL AS d FROM webdebug_events
	                         WHERE doc_id = '9c1f0e2a-7d4b-4e8a-b1c3-5a6d7e8f9a0b' AND sample_kind != ''`, "JSONEachRow", nil)
	require.NoError(t, err)
	require.Equal(t, []map[string]string{{"type": "response", "k": "request", "d": "1"}}, wdRows(t, b), "the response is the request's row")
}

// wdDecodeInsert decodes the documents with the real decoder into one batch
// (each must decode, none be rejected) and inserts each of its tables into
// db under token plus the table's name, checking that no Arrow memory is
// left.
func wdDecodeInsert(t *testing.T, db sink.Target, dec decode.Decoder, token string, docs ...[]byte) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	out := decode.Output{}
	for _, tbl := range dec.Tables() {
		out.Builders = append(out.Builders, tbl.NewBuilder(mem))
	}
	for _, doc := range docs {
		dec.Decode(doc, decode.Meta{}, &out)
	}
	require.Equal(t, len(docs), out.Records, "%+v", out.Rejects)
	require.Empty(t, out.Rejects)
	for i, tbl := range dec.Tables() {
		rec := out.Builders[i].NewRecord()
		embeddedtest.Insert(t, db, tbl, rec, token+"-"+tbl.Name())
		rec.Release()
		out.Builders[i].Release()
	}
	mem.AssertSize(t, 0)
}

// wdRows reads JSONEachRow output as rows of text values, whether the
// engine quotes 64-bit integers or not.
func wdRows(t *testing.T, out []byte) []map[string]string {
	t.Helper()
	var rows []map[string]string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		d := json.NewDecoder(strings.NewReader(line))
		d.UseNumber()
		var m map[string]any
		require.NoError(t, d.Decode(&m), line)
		r := map[string]string{}
		for k, v := range m {
			r[k] = fmt.Sprint(v)
		}
		rows = append(rows, r)
	}
	return rows
}

func wdAtoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	require.NoError(t, err, s)
	return n
}

func wdAtof(t *testing.T, s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err, s)
	return f
}

func wdReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// TestWebdebugPayloadColumns proves the ALIAS columns of webdebug_events
// (the well-known payload fields, read from payload at query time) on the
// real engine: each case is one event decoded by the real decoder and
// inserted, and every ALIAS column of its row is asserted. The cases are
// the upstream quirks the decoder used to read into stored columns: PHP's
// double-encoded context, email "to" as a string or an array, legacy query
// requests, status written as a string or as statusCode, values that are
// not strings.
func TestWebdebugPayloadColumns(t *testing.T) {
	ctx := context.Background()
	db := embeddedtest.Target(t, 1)
	require.NoError(t, sql.Apply(ctx, db))
	dec, err := webdebug.New(decode.Options{})
	require.NoError(t, err)

	// Every ALIAS column with nothing set; each case overrides what it reads.
	empty := map[string]any{
		"message": "", "context": "", "query": "", "query_syntax": "", "method": "", "uri": "",
		"response_status": nil, "memory_peak": nil, "name": "", "group_name": "", "email_subject": "",
		"email_from": "", "email_to": []any{}, "access": "", "access_control": "", "access_object": "", "access_action": "",
	}
	cases := []struct {
		name, event string
		want        map[string]any
	}{
		{"log message, double-encoded context unescaped once", `{"type": "log", "payload": {"message": "m", "context": "{\"user_id\": 12345}"}}`,
			map[string]any{"message": "m", "context": `{"user_id": 12345}`}},
		{"object context as compact JSON", `{"type": "log", "payload": {"message": "m", "context": {"a": [1, 2]}}}`,
			map[string]any{"message": "m", "context": `{"a":[1,2]}`}},
		{"legacy log group", `{"type": "log", "payload": {"message": "x", "group": "php:app_03"}}`,
			map[string]any{"message": "x", "group_name": "php:app_03"}},
		{"escaped message", `{"type": "log", "payload": {"message": "caf\u00e9 \/ \"q\""}}`,
			map[string]any{"message": `café / "q"`}},
		{"a number as a message is its text, null is empty", `{"type": "log", "payload": {"message": 15, "context": null}}`,
			map[string]any{"message": "15"}},
		{"non-object payload reads nothing", `{"type": "log", "payload": "just text"}`, map[string]any{}},
		{"missing payload reads nothing", `{"type": "response"}`, map[string]any{}},
		{"a custom type reads nothing", `{"type": "cache", "payload": {"key": "user:1", "name": "n", "message": "m"}}`, map[string]any{}},
		{"PHP empty payload", `{"type": "template", "payload": []}`, map[string]any{}},
		{"template", `{"type": "template", "payload": {"name": "t", "message": "not a log"}}`, map[string]any{"name": "t"}},
		{"middleware", `{"type": "middleware", "payload": {"name": "auth", "group": "not an event"}}`, map[string]any{"name": "auth"}},
		{"event", `{"type": "event", "payload": {"name": "kernel.request", "group": "kernel"}}`,
			map[string]any{"name": "kernel.request", "group_name": "kernel"}},
		{"email to as a string", `{"type": "email", "payload": {"subject": "s", "from": "f@x", "to": "a@x", "body": ""}}`,
			map[string]any{"email_subject": "s", "email_from": "f@x", "email_to": []any{"a@x"}}},
		{"email to as an array, nulls left out", `{"type": "email", "payload": {"to": ["a@x", "b@x", null]}}`,
			map[string]any{"email_to": []any{"a@x", "b@x"}}},
		{"email to items that are not strings", `{"type": "email", "payload": {"to": [1, {"x": 2}]}}`,
			map[string]any{"email_to": []any{"1", `{"x":2}`}}},
		{"email without to", `{"type": "email", "payload": {"subject": "s", "to": null}}`, map[string]any{"email_subject": "s"}},
		{"access check", `{"type": "accessCheck", "payload": {"access": "DENIED", "control": "Cockpit", "object": "R2-D2", "action": "fly"}}`,
			map[string]any{"access": "DENIED", "access_control": "Cockpit", "access_object": "R2-D2", "access_action": "fly"}},
		{"response status and memory peak as strings", `{"type": "response", "payload": {"memoryPeak": "2097152", "status": "503"}}`,
			map[string]any{"memory_peak": json.Number("2097152"), "response_status": json.Number("503")}},
		{"status code", `{"type": "response", "payload": {"statusCode": 500, "memoryPeak": 1024}}`,
			map[string]any{"memory_peak": json.Number("1024"), "response_status": json.Number("500")}},
		{"status before status code", `{"type": "response", "payload": {"statusCode": 500, "status": 404}}`,
			map[string]any{"response_status": json.Number("404")}},
		{"a status beyond 999 or negative is not read", `{"type": "response", "payload": {"status": 5000, "statusCode": -1, "memoryPeak": -5}}`,
			map[string]any{}},
		{"query", `{"type": "query", "duration": 3, "payload": {"target": "mysql", "query": "SELECT 1", "syntax": "sql"}}`,
			map[string]any{"query": "SELECT 1", "query_syntax": "sql"}},
		{"legacy query request", `{"type": "request", "payload": {"type": "mysql", "query": "SELECT 1", "duration": 15}}`,
			map[string]any{"query": "SELECT 1"}},
		{"a current request's param[] query is not a query", `{"type": "request", "payload": {"method": "GET", "uri": "/a", "query": [{"key": "page", "value": 2}]}}`,
			map[string]any{"method": "GET", "uri": "/a"}},
	}
	docs := make([][]byte, len(cases))
	for i, tc := range cases {
		docs[i] = []byte(fmt.Sprintf(`{"id": "case-%02d", "version": 1, "events": [%s]}`, i, tc.event))
	}
	wdDecodeInsert(t, db, dec, "payload-columns", docs...)

	var cols []string
	for c := range empty {
		cols = append(cols, c)
	}
	b, err := db.Query(ctx, "SELECT doc_id, "+strings.Join(cols, ", ")+" FROM webdebug_events ORDER BY doc_id"+
		" SETTINGS output_format_json_quote_64bit_integers = 0", "JSONEachRow", nil)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	require.Len(t, lines, len(cases))
	for i, tc := range cases {
		d := json.NewDecoder(strings.NewReader(lines[i]))
		d.UseNumber()
		var got map[string]any
		require.NoError(t, d.Decode(&got), lines[i])
		require.Equal(t, fmt.Sprintf("case-%02d", i), got["doc_id"])
		delete(got, "doc_id")
		want := map[string]any{}
		for k, v := range empty {
			want[k] = v
		}
		for k, v := range tc.want {
			want[k] = v
		}
		require.Equal(t, want, got, tc.name)
	}
}
