package django

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/internal/decodetest"
	"github.com/tapline/tapline/schema"
)

const subject = "logs.django.structlog"

func newDecoder() decode.Decoder {
	d, err := New(decode.Options{})
	if err != nil {
		panic(err)
	}
	return d
}

// decodeLines decodes payload as one message and returns the result; the
// caller releases it.
func decodeLines(t *testing.T, dec decode.Decoder, subj, payload string) *decodetest.Result {
	t.Helper()
	return decodetest.Decode(t, dec, memory.NewGoAllocator(), decodetest.Input{Payload: []byte(payload), Subject: subj})
}

// cell returns column name of row i as a Go value (nil for NULL).
func cell(t *testing.T, rec arrow.Record, name string, i int) any {
	t.Helper()
	return decodetest.Cell(t, schema.DjangoEvents, rec, name, i, "2006-01-02 15:04:05.000000")
}

// row returns every column of row i by name.
func row(t *testing.T, rec arrow.Record, i int) map[string]any {
	t.Helper()
	return decodetest.Row(t, schema.DjangoEvents, rec, i, "2006-01-02 15:04:05.000000")
}

// readLine returns line n (1-based) of a testdata file.
func readLine(t *testing.T, file string, n int) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + file)
	require.NoError(t, err)
	lines := strings.Split(string(b), "\n")
	require.Greater(t, len(lines), n-1)
	return lines[n-1]
}

// emptyRow is a row with every column empty or NULL; tests override what
// the line sets, so that each test asserts every column.
func emptyRow() map[string]any {
	m := map[string]any{}
	for _, c := range schema.DjangoEvents.Columns() {
		switch {
		case c.Nullable:
			m[c.Name] = nil
		case c.Name == "is_error":
			m[c.Name] = false
		case c.Name == "extra":
			m[c.Name] = map[string]string{}
		default:
			m[c.Name] = ""
		}
	}
	return m
}

func with(m map[string]any, kv map[string]any) map[string]any {
	for k, v := range kv {
		if _, ok := m[k]; !ok {
			panic("no column " + k)
		}
		m[k] = v
	}
	return m
}

func TestReadmeRequestStartedLine(t *testing.T) {
	t.Parallel()
	res := decodeLines(t, newDecoder(), subject, readLine(t, "readme-json-example.log", 3))
	defer res.Release()
	require.Equal(t, 1, res.Output.Records)
	require.Empty(t, res.Output.Rejects)
	want := with(emptyRow(), map[string]any{
		"timestamp": "2019-04-13 19:39:31.086155", "level": "info", "logger": "django_structlog.middlewares.request",
		"event": "request_started", "event_name": "request_started",
		"request_id": "3a8f801c-072b-4805-8f38-e1337f363ed4", "user_id": "1", "ip": "0.0.0.0",
		"request": "POST /success_task", "method": "POST", "path": "/success_task",
		"user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_4) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/73.0.3683.86 Safari/537.36",
	})
	require.Equal(t, want, row(t, res.Records[0], 0))
}

func TestTaskEventsCarryTheirKeys(t *testing.T) {
	t.Parallel()
	payload := readLine(t, "events-doc.log", 4) + "\n" + readLine(t, "events-doc.log", 23) + "\n" + readLine(t, "events-doc.log", 25)
	res := decodeLines(t, newDecoder(), subject, payload)
	defer res.Release()
	require.Equal(t, 3, res.Output.Records, res.Output.Rejects)
	rec := res.Records[0]

	bound := map[string]any{
		"request_id": "5b0e9a7c-2f43-4c1e-8a55-3d6f0b9e1c22", "user_id": "7f2c8d4e-1b3a-4c5d-9e6f-0a1b2c3d4e5f",
		"ip": "198.51.100.23", "logger": "django_structlog.celery.receivers",
	}
	enqueued := with(with(emptyRow(), bound), map[string]any{
		"timestamp": "2025-03-04 10:15:03.020000", "level": "info", "event": "task_enqueued", "event_name": "task_enqueued",
		"child_task_id": "c1d2e3f4-0000-4a1b-8c2d-111111111111", "child_task_name": "shop.tasks.send_receipt",
		"routing_key": "celery", "priority": int32(5),
	})
	require.Equal(t, enqueued, row(t, rec, 0))

	failed := with(with(emptyRow(), bound), map[string]any{
		"timestamp": "2025-03-04 10:15:13.487000", "level": "error", "event": "task_failed", "event_name": "task_failed",
		"is_error": true, "task_id": "c1d2e3f4-0000-4a1b-8c2d-111111111111", "duration_ms": float64(87),
		"error":     "SMTPRecipientsRefused({'x@example.invalid': (550, b'5.1.1 unknown')})",
		"exception": "Traceback (most recent call last):\n  File \"/app/shop/tasks.py\", line 19, in send_receipt\n    smtp.send(msg)\nsmtplib.SMTPRecipientsRefused: {'x@example.invalid': (550, b'5.1.1 unknown')}",
	})
	require.Equal(t, failed, row(t, rec, 1))

	revoked := with(with(emptyRow(), bound), map[string]any{
		"timestamp": "2025-03-04 10:16:00.000000", "level": "warning", "event": "task_revoked", "event_name": "task_revoked",
		"task_id": "f4a5b6c7-0000-4d1e-9f20-444444444444", "task_name": "shop.tasks.rebuild_index",
		"terminated": true, "signum": int32(15), "signame": "SIGTERM", "expired": false,
	})
	require.Equal(t, revoked, row(t, rec, 2))
}

func TestOldEventNamesAndRequestRepr(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/readme-json-2019.log")
	require.NoError(t, err)
	res := decodeLines(t, newDecoder(), subject, string(b))
	defer res.Release()
	require.Equal(t, 8, res.Output.Records)
	rec := res.Records[0]
	var names, methods, paths, children, taskIDs []string
	for i := 0; i < int(rec.NumRows()); i++ {
		names = append(names, cell(t, rec, "event_name", i).(string))
		methods = append(methods, cell(t, rec, "method", i).(string))
		paths = append(paths, cell(t, rec, "path", i).(string))
		children = append(children, cell(t, rec, "child_task_id", i).(string))
		taskIDs = append(taskIDs, cell(t, rec, "task_id", i).(string))
	}
	require.Equal(t, []string{"request_started", "request_finished", "request_started", "", "task_enqueued", "", "request_finished", "task_succeeded"}, names)
	require.Equal(t, []string{"GET", "", "POST", "", "", "", "", ""}, methods)
	require.Equal(t, []string{"/", "", "/success_task", "", "", "", "", ""}, paths)
	// "Task enqueued" named the enqueued task task_id (before upstream 1.2.0).
	require.Equal(t, "6b11fd80-3cdf-4de5-acc2-3fd4633aa654", children[4])
	require.Equal(t, "", taskIDs[4])
	require.Equal(t, "6b11fd80-3cdf-4de5-acc2-3fd4633aa654", taskIDs[5], "app line logged inside the task")
	require.Equal(t, map[string]string{"result": "None"}, cell(t, rec, "extra", 7))
}

func TestTimestamps(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	for _, tc := range []struct {
		ts   string
		loc  *time.Location
		want string
	}{
		{`"2019-04-13T19:39:29.321453Z"`, nil, "2019-04-13 19:39:29.321453"},
		{`"2025-03-04T12:20:00.5+02:00"`, nil, "2025-03-04 10:20:00.500000"},
		{`"2025-03-04T10:20:01.25"`, nil, "2025-03-04 10:20:01.250000"},
		{`"2025-03-04T10:20:01.25"`, berlin, "2025-03-04 09:20:01.250000"},
		{`"2025-07-04T10:20:01"`, berlin, "2025-07-04 08:20:01.000000"},
		{`"2025-07-04T10:20:01Z"`, berlin, "2025-07-04 10:20:01.000000"},
		{`"2025-07-04 10:20:01.123456789"`, nil, "2025-07-04 10:20:01.123456"},
		{`1741083600.123456`, nil, "2025-03-04 10:20:00.123456"},
		{`1741083600`, berlin, "2025-03-04 10:20:00.000000"},
		{`-1.5`, nil, "1969-12-31 23:59:58.500000"},
	} {
		d, err := New(decode.Options{TimeZone: tc.loc})
		require.NoError(t, err)
		res := decodeLines(t, d, subject, `{"event": "x", "timestamp": `+tc.ts+`}`)
		require.Equal(t, 1, res.Output.Records, "%s: %v", tc.ts, res.Output.Rejects)
		require.Equal(t, tc.want, cell(t, res.Records[0], "timestamp", 0), tc.ts)
		res.Release()
	}
}

func TestErrorFlag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line  string
		isErr bool
	}{
		{`"event": "request_finished", "code": 200`, false},
		{`"event": "request_finished", "code": 404, "level": "warning"`, false},
		{`"event": "request_finished", "code": 500, "level": "error"`, true},
		{`"event": "Request finished", "code": 502`, true},
		{`"event": "request_finished"`, false},
		{`"event": "request_failed", "code": 500`, true},
		{`"event": "request_cancelled", "level": "warning"`, false},
		{`"event": "streaming_failed"`, true},
		{`"event": "streaming_cancelled"`, false},
		{`"event": "task_failed", "level": "info"`, true},
		{`"event": "task_retrying", "level": "warning"`, false},
		{`"event": "task_not_found"`, true},
		{`"event": "task_rejected"`, true},
		{`"event": "task_revoked", "expired": false, "terminated": true`, false},
		{`"event": "task_revoked", "expired": true`, true},
		{`"event": "task_succeeded", "level": "error"`, false},
		{`"event": "boom", "level": "error"`, true},
		{`"event": "boom", "level": "CRITICAL"`, true},
		{`"event": "fine", "level": "warning"`, false},
		{`"event": "request_failed", "logger": "someone.else", "level": "info"`, false},
	} {
		res := decodeLines(t, newDecoder(), subject, `{`+tc.line+`, "timestamp": "2025-01-01T00:00:00Z"}`)
		require.Equal(t, 1, res.Output.Records, tc.line)
		require.Equal(t, tc.isErr, cell(t, res.Records[0], "is_error", 0), tc.line)
		res.Release()
	}
}

func TestParseRequest(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][2]string{
		"GET /":                             {"GET", "/"},
		"GET /path?q=1&b":                   {"GET", "/path"},
		"POST /api/v1/items/":               {"POST", "/api/v1/items/"},
		"<WSGIRequest: GET '/'>":            {"GET", "/"},
		"<WSGIRequest: POST '/x/?a=b'>":     {"POST", "/x/"},
		`<ASGIRequest: GET "/it's">`:        {"GET", "/it's"},
		"<WSGIRequest: GET '/'":             {"", ""},
		"<WSGIRequest>":                     {"", ""},
		"GET":                               {"", ""},
		"get /lower":                        {"", ""},
		"GET relative":                      {"", ""},
		"":                                  {"", ""},
		"<ASGIRequest: GET '/unbalanced\">": {"", ""},
	} {
		m, p := parseRequest([]byte(in))
		require.Equal(t, want, [2]string{string(m), string(p)}, in)
	}
}

func TestServiceFromRecordOrSubject(t *testing.T) {
	t.Parallel()
	line := `{"event": "x", "timestamp": "2025-01-01T00:00:00Z"}` + "\n" + `{"event": "y", "service": "shop", "timestamp": "2025-01-01T00:00:00Z"}`
	for subj, want := range map[string][2]string{
		"logs.django.structlog":         {"", "shop"},
		"logs.django.structlog.billing": {"billing", "shop"},
		"":                              {"", "shop"},
	} {
		res := decodeLines(t, newDecoder(), subj, line)
		require.Equal(t, want[0], cell(t, res.Records[0], "service", 0), subj)
		require.Equal(t, want[1], cell(t, res.Records[0], "service", 1), subj)
		res.Release()
	}
}

func TestOtherLoggersAreKept(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/structlog-example-json.log")
	require.NoError(t, err)
	res := decodeLines(t, newDecoder(), subject, string(b))
	defer res.Release()
	require.Equal(t, 22, res.Output.Records)
	require.Len(t, res.Output.Rejects, 1, "django.server's plain access line")
	require.Equal(t, 23, res.Output.Rejects[0].Line)
	require.Contains(t, res.Output.Rejects[0].Reason, "not a JSON object")
	rec := res.Records[0]
	want := with(emptyRow(), map[string]any{
		"timestamp": "2024-09-23 07:12:41.252393", "level": "debug", "logger": "celery.utils.functional",
		"event": "\ndef chain(*args, **kwargs):\n    return 1\n", "ip": "127.0.0.1",
		"request_id": "36755c1f-84cb-43c1-b75f-88b4acd7e75e", "user_id": "1",
		"extra": map[string]string{"filename": "functional.py", "lineno": "335", "func_name": "head_from_fun"},
	})
	require.Equal(t, want, row(t, rec, 6))
	require.Equal(t, `(0.000) SELECT "django_session"."session_key", "django_session"."session_data", "django_session"."expire_date" FROM "django_session" WHERE ("django_session"."expire_date" > '2024-09-23 07:12:41.242868' AND "django_session"."session_key" = 'h3r177ov3g2evdwehgdxwgmghsy7oxbp') LIMIT 21; args=('2024-09-23 07:12:41.242868', 'h3r177ov3g2evdwehgdxwgmghsy7oxbp'); alias=default`,
		cell(t, rec, "event", 0))
	require.Equal(t, uint16(302), cell(t, rec, "code", 21))
	require.Equal(t, "/admin/app1/value/6/change/", cell(t, rec, "path", 21))
}

func TestMalformedLinesAreRejectedWithReasons(t *testing.T) {
	t.Parallel()
	payload := `{"event": "ok", "timestamp": "2025-01-01T00:00:00Z"}` + "\n" +
		`{"event": "un"quoted", "timestamp": "2025-01-01T00:00:00Z"}` + "\n" +
		"plain text\n" +
		`{"event": "no time"}` + "\n" +
		`{"event": "x", "timestamp": "01/02/2025"}` + "\n" +
		"\n  \r\n" +
		`{"event": "ok2", "timestamp": "2025-01-01T00:00:01Z"} trailing` + "\n" +
		`{"event": "ok3", "timestamp": "2025-01-01T00:00:02Z"}`
	res := decodeLines(t, newDecoder(), subject, payload)
	defer res.Release()
	require.Equal(t, 2, res.Output.Records)
	require.Equal(t, 2, res.Rows(0))
	var lines []int
	for _, rj := range res.Output.Rejects {
		lines = append(lines, rj.Line)
	}
	require.Equal(t, []int{2, 3, 4, 5, 8}, lines)
	require.Contains(t, res.Output.Rejects[0].Reason, "invalid JSON")
	require.Contains(t, res.Output.Rejects[1].Reason, "JSONRenderer")
	require.Contains(t, res.Output.Rejects[2].Reason, "TimeStamper")
	require.Contains(t, res.Output.Rejects[3].Reason, `"01/02/2025" is not ISO 8601`)
	require.Contains(t, res.Output.Rejects[4].Reason, "one object per line")
	require.Equal(t, `{"event": "ok2", "timestamp": "2025-01-01T00:00:01Z"} trailing`, payload[res.Output.Rejects[4].Start:res.Output.Rejects[4].End])
}

// TestValuesOfTheWrongTypeGoToExtra checks that a known key whose value
// does not fit its column is kept in extra rather than dropped or rejected.
func TestValuesOfTheWrongTypeGoToExtra(t *testing.T) {
	t.Parallel()
	res := decodeLines(t, newDecoder(), subject, readLine(t, "adversarial.log", 8))
	defer res.Release()
	require.Equal(t, 1, res.Output.Records, res.Output.Rejects)
	rec := res.Records[0]
	require.Equal(t, map[string]string{"code": "70000", "priority": "high", "signum": "Signals.SIGTERM", "duration_ms": "true", "terminated": "yes"},
		cell(t, rec, "extra", 0))
	for _, c := range []string{"code", "priority", "signum", "duration_ms", "terminated", "expired"} {
		require.Nil(t, cell(t, rec, c, 0), c)
	}
}

func inputs(t *testing.T) []decodetest.Input {
	return decodetest.ReadInputs(t, "testdata/*.log", subject)
}

func TestConformance(t *testing.T) {
	decodetest.Run(t, newDecoder, inputs(t))
}

func TestGolden(t *testing.T) {
	decodetest.Golden(t, newDecoder, inputs(t))
}

// TestBatchesGoInOrder: the latency views join a request's end to its
// start, so the pipeline must insert this format's batches one at a time
// (decode.Ordered); a pipeline built without app's help learns it from the
// decoder.
func TestBatchesGoInOrder(t *testing.T) {
	d, err := New(decode.Options{})
	require.NoError(t, err)
	require.True(t, decode.InOrder(d))
}
