package webdebug

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/internal/decodetest"
	"github.com/tapline/tapline/schema"
	"github.com/tapline/tapline/transform/eventtree"
)

const subject = "logs.webdebug.scheme"

func newDecoder() decode.Decoder {
	d, err := New(decode.Options{})
	if err != nil {
		panic(err)
	}
	return d
}

// cell returns column name of row i of rec as a Go value (nil for NULL).
func cell(t *testing.T, tbl *schema.Table, rec arrow.Record, name string, i int) any {
	t.Helper()
	return decodetest.Cell(t, tbl, rec, name, i, "2006-01-02 15:04:05.000")
}

// row returns every column of row i as a map.
func row(t *testing.T, tbl *schema.Table, rec arrow.Record, i int) map[string]any {
	t.Helper()
	return decodetest.Row(t, tbl, rec, i, "2006-01-02 15:04:05.000")
}

func decodeString(t *testing.T, payload string) *decodetest.Result {
	t.Helper()
	return decodetest.Decode(t, newDecoder(), memory.NewGoAllocator(), decodetest.Input{Payload: []byte(payload), Subject: subject})
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return string(b)
}

// emptyEvent is every column of an event row with nothing set, to be
// overridden per test so that each test asserts every column.
func emptyEvent() map[string]any {
	return map[string]any{
		"time": "1970-01-01 00:00:00.000", "doc_id": "", "version": uint16(1), "position": "0", "parent_position": "",
		"depth": uint8(0), "doc_order": uint32(0), "time_order": uint32(0), "children": uint32(0), "time_inherited": false,
		"type": "", "duration_ms": nil, "success": nil, "is_error": false, "sample_kind": "", "importance": nil,
		"tags": []string{}, "called_from_file": "", "called_from_line": nil, "called_from_position_start": nil,
		"called_from_position_end": nil, "defined_in_file": "", "defined_in_line": nil, "defined_in_position_start": nil,
		"defined_in_position_end": nil, "payload": "", "query_target": "", "query_shape": "", "doc_method": "",
		"doc_host": "", "doc_route": "", "extra": map[string]string{},
	}
}

func with(base map[string]any, kv ...any) map[string]any {
	m := map[string]any{}
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// TestUpstreamExample decodes web-debug-proto's examples/scheme_v1.json
// (the current example: "uuid", a log, and a failed query with a nested log
// and email) and asserts every column of every row.
func TestUpstreamExample(t *testing.T) {
	t.Parallel()
	res := decodeString(t, readFile(t, "scheme-v1.json"))
	defer res.Release()
	require.Equal(t, 1, res.Output.Records)
	require.Empty(t, res.Output.Rejects)
	require.Equal(t, 4, res.Rows(0))
	rec, tbl := res.Records[0], schema.WebdebugEvents
	require.Len(t, emptyEvent(), len(tbl.Columns()), "emptyEvent lists every column")
	base := with(emptyEvent(), "doc_id", "ef95a542-25a3-4f71-a0e9-640c92f43813")
	want := []map[string]any{
		with(base, "time", "2019-01-09 18:29:21.177", "type", "log", "importance", uint8(1), "tags", []string{"php:app_03"},
			"payload", `{"message":"User X is try to login to admin panel"}`),
		with(base, "time", "2019-01-09 18:29:23.454", "position", "1", "doc_order", uint32(1), "time_order", uint32(1),
			"children", uint32(2), "type", "query", "duration_ms", 18.0, "success", false, "is_error", true, "sample_kind", "query",
			"importance", uint8(4), "payload", `{"target":"mysql","query":"UPDATE users SET last_loggin = ?dt WHERE id = ?id","syntax":"sql"}`,
			"query_target", "mysql", "query_shape", "UPDATE users SET last_loggin = ? WHERE id = ?"),
		with(base, "time", "2019-01-09 18:29:31.245", "position", "1.0", "parent_position", "1", "depth", uint8(1),
			"doc_order", uint32(2), "time_order", uint32(2), "type", "log", "importance", uint8(5),
			"payload", `{"message":"Mysql server is going away!"}`),
		with(base, "time", "2019-01-09 18:29:43.422", "position", "1.1", "parent_position", "1", "depth", uint8(1),
			"doc_order", uint32(3), "time_order", uint32(3), "type", "email",
			"payload", `{"subject":"Mysql is down!","body":"<h1>Hello admin</h1> <p>mysql is down.</p>","from":"no-reply@example.com","to":"admin@example.com"}`),
	}
	for i, w := range want {
		require.Equal(t, w, row(t, tbl, rec, i), "row %d", i)
	}

	doc, dt := res.Records[1], schema.WebdebugDocuments
	require.Equal(t, map[string]any{
		"time": "2019-01-09 18:29:21.177", "doc_id": "ef95a542-25a3-4f71-a0e9-640c92f43813", "version": uint16(1),
		"events": uint32(4), "max_depth": uint8(1), "sorted": true, "errors": uint32(1), "doc_method": "", "doc_host": "",
		"doc_route": "", "doc_uri": "", "duration_ms": nil, "is_error": false, "extra": map[string]string{},
	}, row(t, dt, doc, 0))
}

// TestLegacyDraftExample decodes the example as it was at web-debug-proto
// commit 506943e: a "request" event used for a mysql query (target in
// payload.type, duration in payload.duration), "state" for "success", log
// levels in the payload, and a second log that is newer than the query
// written before it, so time order differs from document order.
func TestLegacyDraftExample(t *testing.T) {
	t.Parallel()
	res := decodeString(t, readFile(t, "scheme-v1-draft.json"))
	defer res.Release()
	require.Equal(t, 1, res.Output.Records)
	rec, tbl := res.Records[0], schema.WebdebugEvents
	require.Equal(t, 6, res.Rows(0))
	q := row(t, tbl, rec, 2)
	require.Equal(t, "request", q["type"])
	require.Equal(t, "query", q["sample_kind"])
	require.Equal(t, "mysql", q["query_target"])
	require.Equal(t, "UPDATE users SET last_loggin = ? WHERE id = ?", q["query_shape"])
	require.Equal(t, 15.0, q["duration_ms"], "legacy payload.duration")
	require.Equal(t, false, q["success"], "legacy state")
	require.Equal(t, true, q["is_error"])
	require.Equal(t, "", q["doc_route"], "a legacy query request is not the document's request")

	var positions, timeOrder []string
	for i := 0; i < res.Rows(0); i++ {
		positions = append(positions, cell(t, tbl, rec, "position", i).(string))
		timeOrder = append(timeOrder, fmt.Sprintf("%s@%d", positions[i], cell(t, tbl, rec, "time_order", i)))
	}
	require.Equal(t, []string{"0", "1", "2", "2.0", "2.1", "2.2"}, positions, "rows keep document order")
	require.Equal(t, []string{"0@0", "1@3", "2@1", "2.0@2", "2.1@4", "2.2@5"}, timeOrder,
		"time_order ranks oldest to newest: the query (…563454) and its first log precede log 1 (…571245)")
	require.Equal(t, false, cell(t, schema.WebdebugDocuments, res.Records[1], "sorted", 0))
	require.Equal(t, "debug", mustJSONField(t, cell(t, tbl, rec, "payload", 0).(string), "level"))
}

// mustJSONField returns a top-level string member of a JSON object.
func mustJSONField(t *testing.T, doc, key string) any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(doc), &m), doc)
	return m[key]
}

func inputs(t *testing.T) []decodetest.Input {
	return decodetest.ReadInputs(t, "testdata/*.json", subject)
}

func TestConformance(t *testing.T) {
	decodetest.Run(t, newDecoder, inputs(t))
}

func TestGolden(t *testing.T) {
	decodetest.Golden(t, newDecoder, inputs(t))
}

// TestRequestLevelSample checks which event gives the request-level sample
// and where the document's host and route come from.
func TestRequestLevelSample(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, events        string
		host, route, method string
		samplePos           string // position of the "request" sample, "" for none
		docDuration         any
		docError            bool
	}{
		{
			name: "response duration wins over request duration",
			events: `{"type": "request", "time": 1000, "duration": 90, "payload": {"method": "GET", "uri": "https://Shop.Example.com:8443/api/users/42?x=1", "headers": [{"key": "Host", "value": "other.example"}]}},
			         {"type": "response", "time": 1100, "duration": 100, "payload": {"memoryPeak": 1024, "status": 200}}`,
			host: "shop.example.com", route: "/api/users/{id}", method: "GET", samplePos: "1", docDuration: 100.0,
		},
		{
			name: "request duration when the response has none; host from the Host header",
			events: `{"type": "request", "time": 1000, "duration": 90, "success": false, "payload": {"method": "POST", "uri": "/orders/", "headers": [{"key": "accept", "value": "*/*"}, {"key": "HOST", "value": "api.example:80"}]}},
			         {"type": "response", "time": 1100, "payload": {"memoryPeak": 1024}}`,
			host: "api.example", route: "/orders", method: "POST", samplePos: "0", docDuration: 90.0, docError: true,
		},
		{
			name:   "no duration: the response is the sample, without a duration; a 5xx response is still the document's error",
			events: `{"type": "request", "payload": {"uri": "/"}}, {"type": "response", "payload": {"statusCode": 502}}`,
			route:  "/", samplePos: "1", docError: true,
		},
		{
			name:   "no duration and no response: the request is the sample, without a duration",
			events: `{"type": "log", "duration": 3, "payload": {"message": "m"}}, {"type": "request", "success": false, "payload": {"method": "GET", "uri": "/a"}}`,
			route:  "/a", method: "GET", samplePos: "1", docError: true,
		},
		{
			name:   "neither request nor response: no request sample",
			events: `{"type": "log", "duration": 3, "payload": {"message": "m"}}, {"type": "query", "duration": 2, "payload": {"target": "mysql", "query": "SELECT 1"}}`,
		},
		{
			name: "a nested request is the document's request when it is the first",
			events: `{"type": "middleware", "payload": {"name": "auth"}, "nested": [{"type": "request", "payload": {"method": "DELETE", "uri": "/carts/5f1d7c2e9b3a4d6e8f0a1b2c/items/7"}}]},
			         {"type": "request", "payload": {"method": "GET", "uri": "/ignored"}}, {"type": "response", "duration": 12, "payload": []}`,
			route: "/carts/{id}/items/{id}", method: "DELETE", samplePos: "2", docDuration: 12.0,
		},
		{
			name:      "a response without a request: sample without route",
			events:    `{"type": "response", "duration": 7, "success": true, "payload": {}}`,
			samplePos: "0", docDuration: 7.0,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := decodeString(t, `{"id": "x", "version": 1, "events": [`+tc.events+`]}`)
			defer res.Release()
			require.Empty(t, res.Output.Rejects)
			rec, tbl := res.Records[0], schema.WebdebugEvents
			got := ""
			for i := 0; i < res.Rows(0); i++ {
				r := row(t, tbl, rec, i)
				require.Equal(t, tc.host, r["doc_host"], "row %d", i)
				require.Equal(t, tc.route, r["doc_route"], "row %d", i)
				require.Equal(t, tc.method, r["doc_method"], "row %d", i)
				if r["sample_kind"] == "request" {
					require.Empty(t, got, "at most one request sample per document")
					got = r["position"].(string)
				}
			}
			require.Equal(t, tc.samplePos, got)
			doc := row(t, schema.WebdebugDocuments, res.Records[1], 0)
			require.Equal(t, tc.docDuration, doc["duration_ms"])
			require.Equal(t, tc.docError, doc["is_error"])
		})
	}
}

// TestQuirks covers the upstream quirks one event at a time, asserting
// the stored columns each one touches. The payload fields the table reads
// from payload (ALIAS columns) are asserted on the engine, in
// sql.TestWebdebugPayloadColumns.
func TestQuirks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, event string
		want        map[string]any
	}{
		{"PHP empty payload [] is {}", `{"type": "template", "payload": [], "nested": []}`,
			map[string]any{"payload": "{}"}},
		{"PHP empty payload with white space", `{"type": "template", "payload": [ ]}`,
			map[string]any{"payload": "{}"}},
		{"custom type keeps the payload as JSON only", `{"type": "cache", "payload": {"key": "user:1", "name": "n", "message": "m"}}`,
			map[string]any{"type": "cache", "payload": `{"key":"user:1","name":"n","message":"m"}`}},
		{"non-object payload kept as written", `{"type": "log", "payload": "just text"}`,
			map[string]any{"payload": `"just text"`}},
		{"missing payload", `{"type": "log"}`, map[string]any{"payload": ""}},
		{"object payload kept as compact JSON", `{"type": "log", "payload": {"message": "m", "context": {"a": [1, 2]}}}`,
			map[string]any{"payload": `{"message":"m","context":{"a":[1,2]}}`}},
		{"legacy state", `{"type": "log", "state": false, "payload": {}}`,
			map[string]any{"success": false, "is_error": true}},
		{"success wins over state", `{"type": "log", "state": false, "success": true, "payload": {}}`,
			map[string]any{"success": true, "is_error": false}},
		{"success that is not a bool goes to extra", `{"type": "log", "success": "no", "payload": {}}`,
			map[string]any{"success": nil, "is_error": false, "extra": map[string]string{"success": "no"}}},
		{"unknown keys go to extra", `{"type": "log", "payload": {}, "level": "warning", "meta": {"a": [1, 2]}, "n": 3}`,
			map[string]any{"extra": map[string]string{"level": "warning", "meta": `{"a":[1,2]}`, "n": "3"}}},
		{"escaped key and value", `{"type": "log", "payload": {"message": "caf\u00e9 \/ \"q\""}, "k\u00e9y": "v\nw"}`,
			map[string]any{"extra": map[string]string{"kéy": "v\nw"}, "payload": `{"message":"caf\u00e9 \/ \"q\""}`}},
		{"time as RFC 3339", `{"type": "log", "time": "2019-04-02T22:55:13.359+03:00", "payload": {}}`,
			map[string]any{"time": "2019-04-02 19:55:13.359", "time_inherited": false}},
		{"time as a digit string", `{"type": "log", "time": "1554234913359", "payload": {}}`,
			map[string]any{"time": "2019-04-02 19:55:13.359"}},
		{"unreadable time goes to extra", `{"type": "log", "time": "yesterday", "payload": {}}`,
			map[string]any{"time": "1970-01-01 00:00:00.000", "time_inherited": true, "extra": map[string]string{"time": "yesterday"}}},
		{"time beyond 2299 goes to extra", `{"type": "log", "time": 99999999999999, "payload": {}}`,
			map[string]any{"time_inherited": true, "extra": map[string]string{"time": "99999999999999"}}},
		{"fractional and string durations", `{"type": "query", "duration": "12.5", "payload": {"target": "redis", "query": "HGETALL user:1"}}`,
			map[string]any{"duration_ms": 12.5, "sample_kind": "query", "query_target": "redis", "query_shape": "HGETALL"}},
		{"negative duration goes to extra", `{"type": "query", "duration": -3, "payload": {"target": "t", "query": "q"}}`,
			map[string]any{"duration_ms": nil, "sample_kind": "", "extra": map[string]string{"duration": "-3"}}},
		{"escaped known key with an object value", `{"type": "log", "payload": {}, "dur\u0061tion": {"\u0078": 1}}`,
			map[string]any{"duration_ms": nil, "extra": map[string]string{"duration": `{"\u0078":1}`}}},
		{"importance out of UInt8 goes to extra", `{"type": "log", "importance": 300, "payload": {}}`,
			map[string]any{"importance": nil, "extra": map[string]string{"importance": "300"}}},
		{"tags: a string, numbers, nulls", `{"type": "log", "tags": ["db:mysql", 7, null, true], "payload": {}}`,
			map[string]any{"tags": []string{"db:mysql", "7", "true"}}},
		{"tags as one string", `{"type": "log", "tags": "is_production", "payload": {}}`,
			map[string]any{"tags": []string{"is_production"}}},
		{"location relativePath (PHP) and unknown members", `{"type": "template", "payload": {"name": "t"}, "definedIn": {"relativePath": "/views/a.twig", "line": "7", "positionStart": 1.5, "column": 3}}`,
			map[string]any{"defined_in_file": "/views/a.twig", "defined_in_line": uint32(7), "defined_in_position_start": nil,
				"extra": map[string]string{"definedIn.positionStart": "1.5", "definedIn.column": "3"}}},
		{"location as a string goes to extra", `{"type": "log", "calledFrom": "/src/a.php:12", "payload": {}}`,
			map[string]any{"called_from_file": "", "extra": map[string]string{"calledFrom": "/src/a.php:12"}}},
		{"access check", `{"type": "accessCheck", "payload": {"access": "DENIED", "control": "Cockpit", "object": "R2-D2", "action": "fly"}}`,
			map[string]any{"is_error": false}},
		{"response status as a string", `{"type": "response", "payload": {"memoryPeak": "2097152", "status": "503"}}`,
			map[string]any{"is_error": true}},
		{"status code", `{"type": "response", "payload": {"statusCode": 500}}`,
			map[string]any{"is_error": true}},
		{"4xx is not an error", `{"type": "response", "payload": {"status": 404}}`,
			map[string]any{"is_error": false}},
		{"a status beyond 999 is not read", `{"type": "response", "payload": {"status": 5000}}`,
			map[string]any{"is_error": false}},
		{"legacy query request without a duration key uses none", `{"type": "request", "payload": {"type": "mysql", "query": "SELECT 1"}}`,
			map[string]any{"query_target": "mysql", "query_shape": "SELECT ?", "duration_ms": nil, "sample_kind": ""}},
		{"a current request's param[] query is not a legacy query", `{"type": "request", "duration": 5, "payload": {"type": "x", "query": [{"key": "page", "value": 2}], "uri": "/a"}}`,
			map[string]any{"query_target": "", "query_shape": "", "sample_kind": "request", "doc_route": "/a"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := decodeString(t, `{"uuid": "u", "version": 1, "events": [`+tc.event+`]}`)
			defer res.Release()
			require.Empty(t, res.Output.Rejects)
			require.Equal(t, 1, res.Rows(0))
			got := row(t, schema.WebdebugEvents, res.Records[0], 0)
			require.Equal(t, "u", got["doc_id"])
			for k, v := range tc.want {
				require.Equal(t, v, got[k], k)
			}
			if _, ok := tc.want["extra"]; !ok {
				require.Equal(t, map[string]string{}, got["extra"])
			}
		})
	}
}

func TestDocumentKeys(t *testing.T) {
	t.Parallel()
	res := decodeString(t, `{"id": "i", "uuid": "u", "version": 1, "host": "php_03", "events": [], "x": {"y": null}}`)
	defer res.Release()
	require.Equal(t, map[string]any{
		"time": "1970-01-01 00:00:00.000", "doc_id": "i", "version": uint16(1), "events": uint32(0), "max_depth": uint8(0),
		"sorted": true, "errors": uint32(0), "doc_method": "", "doc_host": "", "doc_route": "", "doc_uri": "",
		"duration_ms": nil, "is_error": false, "extra": map[string]string{"host": "php_03", "x": `{"y":null}`, "uuid": "u"},
	}, row(t, schema.WebdebugDocuments, res.Records[1], 0), `"id" wins over "uuid", which is kept in extra`)
	require.Nil(t, res.Records[0], "no events, no event rows")
}

// TestJSONResponseWrapper decodes the json-response transport example: the
// document under "_x_http_debug" next to a json-rpc response whose numeric
// "id" is not the document's.
func TestJSONResponseWrapper(t *testing.T) {
	t.Parallel()
	res := decodeString(t, readFile(t, "json-response-transport.json")+
		`{"events": [{"type": "ignored"}], "_x_http_debug": {"id": "w", "version": 1, "events": []}, "id": 4, "version": "x"}`)
	defer res.Release()
	require.Equal(t, 2, res.Output.Records)
	require.Empty(t, res.Output.Rejects)
	require.Equal(t, 1, res.Rows(0))
	require.Equal(t, "ef95a542-25a3-4f71-a0e9-640c92f43813", cell(t, schema.WebdebugEvents, res.Records[0], "doc_id", 0))
	require.Equal(t, "w", cell(t, schema.WebdebugDocuments, res.Records[1], "doc_id", 1))
	require.Equal(t, map[string]string{}, cell(t, schema.WebdebugDocuments, res.Records[1], "extra", 1), "the response's own keys are not kept")
}

// TestRejectsAndResync checks that every bad document is one reject with
// its line and reason, and that decoding resumes with the next document.
func TestRejectsAndResync(t *testing.T) {
	t.Parallel()
	good := `{"id": "ok", "version": 1, "events": [{"type": "log", "payload": {"message": "m"}}]}`
	cases := []struct {
		name, bad, reason, rejected string
	}{
		{"no id", `{"version": 1, "events": []}`, `document has no "id" (or "uuid")`, ""},
		{"empty id", `{"id": "", "version": 1, "events": []}`, `"id" is empty`, ""},
		{"numeric id", `{"id": 7, "version": 1, "events": []}`, `"id" is "7", not a string`, ""},
		{"no version", `{"id": "a", "events": []}`, `document has no "version"`, ""},
		{"fractional version", `{"id": "a", "version": 1.5, "events": []}`, `"version" is not an integer`, ""},
		{"no events", `{"id": "a", "version": 1}`, `document has no "events" array`, ""},
		{"events not an array", `{"id": "a", "version": 1, "events": {}}`, `"events" is "{}", not an array`, ""},
		{"event not an object", `{"id": "a", "version": 1, "events": [{"type": "log"}, "log"]}`, `event 1 is "\"log\"", not an object`, ""},
		{"event without type", `{"id": "a", "version": 1, "events": [{"type": "x", "nested": [{"type": "y"}, {"payload": {}}]}]}`, `event 0.1 has no "type"`, ""},
		{"type not a string", `{"id": "a", "version": 1, "events": [{"type": 5}]}`, `event 0: "type" is "5", not a string`, ""},
		{"nested not an array", `{"id": "a", "version": 1, "events": [{"type": "x", "nested": "no"}]}`, `event 0: "nested" is "\"no\"", not an array`, ""},
		{"syntax error", "{\"id\": \"a\",\n\"version\": 1\n\"events\": []}", `expected ',' or '}' after object member at offset 25 (line 4)`, ""},
		// The parser meets the next document's '{' where a member name
		// should be; the braces never balance, so the reject ends where
		// the next line starts with '{'.
		{"truncated document", `{"id": "a", "version": 1, "events": [{"type": "log",`, `expected member name at offset 53 (line 3)`,
			`{"id": "a", "version": 1, "events": [{"type": "log",` + "\n"},
		{"junk", `<html>oops</html>`, `not a web debug document`, "<html>oops</html>\n"},
		{"array of documents", `[` + good + `]`, `a JSON array, not a web debug document`, "[" + good + "]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			payload := good + "\n" + tc.bad + "\n" + good
			res := decodeString(t, payload)
			defer res.Release()
			require.Equal(t, 2, res.Output.Records, "both good documents are kept")
			require.Equal(t, 2, res.Rows(0))
			require.Len(t, res.Output.Rejects, 1)
			rj := res.Output.Rejects[0]
			require.Contains(t, rj.Reason, tc.reason)
			require.Equal(t, 2, rj.Line)
			want := tc.bad
			if tc.rejected != "" {
				want = tc.rejected
			}
			require.Equal(t, want, payload[rj.Start:rj.End])
		})
	}
}

func TestConcatenatedWithoutSeparator(t *testing.T) {
	t.Parallel()
	doc := `{"id":"a","version":1,"events":[{"type":"log","payload":{}}]}`
	res := decodeString(t, doc+doc+"  \r\n\t"+doc+` {"id":"b"`)
	defer res.Release()
	require.Equal(t, 3, res.Output.Records)
	require.Equal(t, 3, res.Rows(1))
	require.Len(t, res.Output.Rejects, 1, "the cut fourth document")
}

// nest returns a document whose event chain is levels deep.
func nest(levels int) string {
	var sb strings.Builder
	sb.WriteString(`{"id": "deep", "version": 1, "events": [`)
	for i := 0; i < levels; i++ {
		if i > 0 {
			sb.WriteString(`, "nested": [`)
		}
		sb.WriteString(`{"type": "log", "payload": {}`)
	}
	for i := 0; i < levels; i++ {
		sb.WriteString("}")
		if i < levels-1 {
			sb.WriteString("]")
		}
	}
	sb.WriteString("]}")
	return sb.String()
}

func TestNestingBound(t *testing.T) {
	t.Parallel()
	res := decodeString(t, nest(eventtree.DefaultMaxDepth))
	defer res.Release()
	require.Empty(t, res.Output.Rejects)
	require.Equal(t, eventtree.DefaultMaxDepth, res.Rows(0))
	last := res.Rows(0) - 1
	require.Equal(t, uint8(eventtree.DefaultMaxDepth-1), cell(t, schema.WebdebugEvents, res.Records[0], "depth", last))
	require.Equal(t, strings.Repeat("0.", eventtree.DefaultMaxDepth-1)+"0", cell(t, schema.WebdebugEvents, res.Records[0], "position", last))

	for _, levels := range []int{eventtree.DefaultMaxDepth + 1, 10000} {
		res := decodeString(t, nest(levels))
		require.Zero(t, res.Output.Records)
		require.Len(t, res.Output.Rejects, 1)
		require.Contains(t, res.Output.Rejects[0].Reason, "events nest too deep")
		require.Contains(t, res.Output.Rejects[0].Reason, "at most 64 levels")
		res.Release()
	}
}

// TestNoStateAcrossDocuments decodes a rich document, then a bare one with
// the same decoder: reused per-event scratch must not leak into the second.
func TestNoStateAcrossDocuments(t *testing.T) {
	t.Parallel()
	dec := newDecoder()
	first := readFile(t, "adversarial.json")
	bare := `{"id": "bare", "version": 1, "events": [{"type": "log"}, {"type": "log", "nested": [{"type": "x"}]}]}`
	res := decodetest.Decode(t, dec, memory.NewGoAllocator(),
		decodetest.Input{Payload: []byte(first)}, decodetest.Input{Payload: []byte(bare)})
	defer res.Release()
	fresh := decodeString(t, bare)
	defer fresh.Release()
	n := res.Rows(0)
	for i := 0; i < fresh.Rows(0); i++ {
		require.Equal(t, row(t, schema.WebdebugEvents, fresh.Records[0], i), row(t, schema.WebdebugEvents, res.Records[0], n-fresh.Rows(0)+i))
	}
	require.Equal(t, row(t, schema.WebdebugDocuments, fresh.Records[1], 0), row(t, schema.WebdebugDocuments, res.Records[1], res.Rows(1)-1))
}
