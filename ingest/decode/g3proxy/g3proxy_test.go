package g3proxy

import (
	"bytes"
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

const subject = "logs.g3proxy.task"

func newDecoder() decode.Decoder {
	d, err := New(decode.Options{})
	if err != nil {
		panic(err)
	}
	return d
}

// decodeText decodes payload with a fresh decoder.
func decodeText(t *testing.T, payload string) *decodetest.Result {
	t.Helper()
	return decodetest.Decode(t, newDecoder(), memory.NewGoAllocator(), decodetest.Input{Payload: []byte(payload), Subject: subject})
}

// row returns every column of row i as Go values (nil for NULL; times as
// "2006-01-02 15:04:05.999999999" UTC; maps as map[string]string).
func row(t *testing.T, res *decodetest.Result, i int) map[string]any {
	t.Helper()
	rec := res.Records[0]
	require.NotNil(t, rec, "no rows")
	out := map[string]any{}
	for c, col := range schema.G3proxyTask.Columns() {
		out[col.Name] = cell(t, rec.Column(c), i)
	}
	return out
}

func cell(t *testing.T, col arrow.Array, i int) any {
	t.Helper()
	v := decodetest.Value(t, col, i)
	if ts, ok := v.(time.Time); ok {
		return ts.Format("2006-01-02 15:04:05.999999999")
	}
	return v
}

// blank is a row where every optional column is empty or NULL and every
// required one holds a placeholder no decoded value equals; tests override
// what a record carries, so every column is asserted.
func blank() map[string]any {
	m := map[string]any{}
	for _, c := range schema.G3proxyTask.Columns() {
		switch {
		case c.Nullable:
			m[c.Name] = nil
		case c.CH == "Map(String, String)":
			m[c.Name] = map[string]string{}
		case c.Arrow.ID() == arrow.STRING, arrow.TypeEqual(c.Arrow, schema.LowCardDict):
			m[c.Name] = ""
		default:
			m[c.Name] = "<must be asserted>"
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

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// The Finished record of a transparent-proxy tunnel, values from the real
// line in bytedance/g3 issue #751; every column asserted.
func TestTCPTProxyFinishedRecord(t *testing.T) {
	t.Parallel()
	line := readLines(t, "testdata/issue751-tcptproxy.log")[0]
	res := decodeText(t, line)
	defer res.Release()
	require.Equal(t, 1, res.Output.Records)
	require.Empty(t, res.Output.Rejects)
	want := with(blank(), map[string]any{
		"event_time": "2025-06-04 17:17:43.553122", // start_at + total_time 441.887s
		"start_at":   "2025-06-04 17:10:21.666122",
		"log_type":   "Task", "pid": uint32(2473), "server_type": "TcpTProxy", "server_name": "http",
		"task_type": "TcpConnect", "task_id": "cc3020e8416611f0b325062ca2008675", "task_event": "Finished",
		"stage": "Relaying", "reason": "Finished", "is_error": false, "msg": "finished", "escaper": "escaper1",
		"ready_time_ns": uint64(14_998_000), "total_time_ns": uint64(441_887_000_000),
		"server_addr": "142.250.186.74:443", "client_addr": "192.168.10.2:54492", "upstream": "142.250.186.74:443",
		"next_bound_addr": "192.168.179.22:43608", "next_peer_addr": "142.250.186.74:443",
		"tcp_connect_tries": uint32(1), "tcp_connect_spend_ns": uint64(14_998_000),
		"c_rd_bytes": uint64(171478), "c_wr_bytes": uint64(61686), "r_rd_bytes": uint64(71032), "r_wr_bytes": uint64(115024),
	})
	require.Equal(t, want, row(t, res, 0))
	require.Nil(t, row(t, res, 0)["wait_time_ns"], "g3proxy omits zero durations: no wait_time key, NULL")
}

// The same record as a bare object, a syslog @cee: line and rsyslog's
// {"timereported","sd"} dump differs only in the envelope columns.
func TestEnvelopesYieldTheSameRow(t *testing.T) {
	t.Parallel()
	res := decodeText(t, strings.Join(readLines(t, "testdata/issue751-tcptproxy.log"), "\n"))
	defer res.Release()
	require.Equal(t, 3, res.Output.Records)
	bare, cee, rsys := row(t, res, 0), row(t, res, 1), row(t, res, 2)
	require.Equal(t, bare, cee, "RFC 3164 header without hostname: no syslog_host")
	require.Equal(t, "2025-06-04 17:17:43.552", rsys["rsyslog_time"])
	rsys["rsyslog_time"] = nil
	require.Equal(t, bare, rsys)
}

func TestSyslogAndDriverShapes(t *testing.T) {
	t.Parallel()
	res := decodeText(t, strings.Join(readLines(t, "testdata/envelopes.log"), "\n"))
	defer res.Release()
	require.Empty(t, res.Output.Rejects)
	require.Equal(t, 8, res.Output.Records)
	hosts := []string{}
	for i := 0; i < 8; i++ {
		hosts = append(hosts, row(t, res, i)["syslog_host"].(string))
	}
	require.Equal(t, []string{"proxy-01", "proxy-02", "", "", "proxy-03", "proxy-04", "", ""}, hosts)

	r := row(t, res, 3)
	require.Equal(t, "2025-06-04 18:06:02", r["report_ts"], "report_ts is Unix seconds")
	require.Equal(t, "closed by upstream", r["msg"])

	// rsyslog's RFC 5424 path: every value a string, msg beside sd.
	r = row(t, res, 6)
	require.Equal(t, uint32(2001), r["pid"])
	require.Equal(t, uint32(1), r["tcp_connect_tries"])
	require.Equal(t, uint64(5000), r["c_wr_bytes"])
	require.Equal(t, uint64(2_750_000_000), r["total_time_ns"])
	require.Equal(t, "closed by upstream", r["msg"])
	require.Equal(t, "2025-06-04 18:06:02.75122", r["rsyslog_time"])
	require.Equal(t, map[string]string{}, r["extra"])

	// fluentd: nulls are absent values, not text.
	r = row(t, res, 7)
	require.Equal(t, "Connected", r["task_event"])
	require.Nil(t, r["wait_time_ns"])
	require.Nil(t, r["ready_time_ns"])
	require.Nil(t, r["next_expire"])
	require.Equal(t, "", r["user"])
	require.Equal(t, "", r["next_bind_ip"])
	require.Equal(t, uint64(9_002_000), r["tcp_connect_spend_ns"])
	require.Equal(t, map[string]string{}, r["extra"])
}

// An HttpForward task writes Created, Connected, Periodic and Finished
// records; each is its own row, only the Finished one carries the reason.
func TestHTTPForwardLifeCycle(t *testing.T) {
	t.Parallel()
	res := decodeText(t, strings.Join(readLines(t, "testdata/code-http-forward.log")[:4], "\n"))
	defer res.Release()
	require.Equal(t, 4, res.Output.Records)
	var events []string
	for i := 0; i < 4; i++ {
		r := row(t, res, i)
		events = append(events, r["task_event"].(string))
		require.Equal(t, "b7d9f0aa417211f0a0c3525400c0ffee", r["task_id"])
		require.Equal(t, false, r["is_error"])
	}
	require.Equal(t, []string{"Created", "Connected", "Periodic", "Finished"}, events)

	created := row(t, res, 0)
	require.Equal(t, uint64(512_300), created["pipeline_wait_ns"], "512.300µs")
	require.Nil(t, created["reuse_connection"])
	require.Equal(t, created["start_at"], created["event_time"], "no total_time: event_time is start_at")

	want := with(blank(), map[string]any{
		"event_time": "2025-06-04 18:02:25.945002", "start_at": "2025-06-04 18:02:13.441002",
		"daemon_name": "edge", "log_type": "Task", "pid": uint32(1187), "server_type": "HttpProxy", "server_name": "http",
		"task_type": "HttpForward", "task_id": "b7d9f0aa417211f0a0c3525400c0ffee", "task_event": "Finished",
		"stage": "Finished", "reason": "Finished", "is_error": false, "msg": "finished", "user": "bob", "escaper": "direct",
		"wait_time_ns": uint64(2_031_000), "ready_time_ns": uint64(18_904_000), "total_time_ns": uint64(12_504_000_000),
		"server_addr": "10.0.0.5:8080", "client_addr": "192.168.10.7:50620", "upstream": "www.example.com:80",
		"next_bound_addr": "10.0.0.5:41900", "next_peer_addr": "93.184.215.14:80",
		"tcp_connect_tries": uint32(1), "tcp_connect_spend_ns": uint64(18_220_000),
		"method": "GET", "uri": "http://www.example.com/search?q=g3proxy&lang=en", "user_agent": "curl/8.5.0",
		"rsp_status": uint16(200), "origin_status": uint16(200), "reuse_connection": false,
		"pipeline_wait_ns": uint64(512_300), "dur_req_send_hdr_ns": uint64(19_011_000), "dur_req_send_all_ns": uint64(19_011_000),
		"dur_rsp_recv_hdr_ns": uint64(84_640_000), "dur_rsp_recv_all_ns": uint64(12_503_000_000),
		"c_rd_bytes": uint64(97), "c_wr_bytes": uint64(1524380), "r_rd_bytes": uint64(1524602), "r_wr_bytes": uint64(97),
	})
	require.Equal(t, want, row(t, res, 3))
}

// rsp_status/origin_status are u16 written as 0 when there is none.
func TestStatusZeroIsNull(t *testing.T) {
	t.Parallel()
	lines := readLines(t, "testdata/code-http-forward.log")
	res := decodeText(t, lines[5]+"\n"+lines[6])
	defer res.Release()
	refused := row(t, res, 0)
	require.Equal(t, uint16(521), refused["rsp_status"], "g3proxy's own 521 Web Server Is Down")
	require.Nil(t, refused["origin_status"], "origin_status 0: no response from the origin")
	require.Equal(t, "UpstreamNotConnected", refused["reason"])
	require.Equal(t, true, refused["is_error"])
	closed := row(t, res, 1)
	require.Equal(t, "ClosedByUpstream", closed["reason"])
	require.Equal(t, true, closed["is_error"], "an HTTP upstream closing before the response is a 502")
	require.Equal(t, true, closed["reuse_connection"])
}

// The docs call it udp_server_addr, the code writes udp_listen_addr.
func TestUDPServerAddressUnderBothNames(t *testing.T) {
	t.Parallel()
	code := readLines(t, "testdata/code-udp-associate.log")[3]
	doc := strings.Replace(code, `"udp_listen_addr"`, `"udp_server_addr"`, 1)
	require.NotEqual(t, code, doc)
	res := decodeText(t, code+"\n"+doc)
	defer res.Release()
	a, b := row(t, res, 0), row(t, res, 1)
	require.Equal(t, "10.0.0.5:40123", a["udp_listen_addr"])
	require.Equal(t, a, b)
	require.Equal(t, "Idle", a["reason"])
	require.Equal(t, false, a["is_error"], "UDP associations end by going idle")
	require.Equal(t, uint64(110), a["r_wr_packets"])
}

func TestIsError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		taskType, event, reason string
		want                    bool
	}{
		{"TcpConnect", "Finished", "Finished", false},
		{"TcpConnect", "Finished", "ClosedByClient", false},
		{"TcpConnect", "Finished", "ClosedByUpstream", false},
		{"UdpConnect", "Finished", "ClosedByUpstream", false},
		{"HttpForward", "Finished", "ClosedByUpstream", true},
		{"FtpOverHttp", "Finished", "ClosedByUpstream", true},
		{"HttpForward", "Finished", "ClosedByClient", false},
		{"HttpForward", "Finished", "ClosedEarlyByClient", false},
		{"UdpAssociate", "Finished", "Idle", false},
		{"HttpForward", "Finished", "", false},
		{"HttpForward", "", "UpstreamAppTimeout", true}, // no task_event: Finished
		{"TcpConnect", "Finished", "UpstreamNotResolved", true},
		{"TcpConnect", "Finished", "ForbiddenByRule", true},
		{"TcpConnect", "Finished", "CanceledAsServerQuit", true},
		{"TcpConnect", "Finished", "SomethingNew", true},
		{"TcpConnect", "Periodic", "UpstreamReadFailed", false},
		{"TcpConnect", "ClientShutdown", "", false},
	}
	for _, c := range cases {
		var tk task
		tk.reset()
		tk.str[sTaskType], tk.str[sTaskEvent], tk.str[sReason] = []byte(c.taskType), []byte(c.event), []byte(c.reason)
		require.Equal(t, c.want, tk.isError(), "%+v", c)
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	good := map[string]uint64{
		"100.000ns": 100, "12.345µs": 12_345, "12.345μs": 12_345, "12.345us": 12_345,
		"2.500ms": 2_500_000, "14.998ms": 14_998_000, "441.887s": 441_887_000_000,
		"1000.000ms": 1_000_000_000, "3600.000s": 3_600_000_000_000, "1.5s": 1_500_000_000,
		"7s": 7_000_000_000, "1.123456789s": 1_123_456_789, "1.1234567899s": 1_123_456_789,
		"0.000ns": 0, "18446744073.709551615s": 1<<64 - 1,
	}
	for in, want := range good {
		got, ok := ParseDuration([]byte(in))
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "s", ".5s", "1.s", "1.5", "1m30s", "1.5h", "-1.000ms", "1.000 ms", "1,5ms", "18446744073.709551616s", "99999999999999999999s", "1.000Ms"} {
		_, ok := ParseDuration([]byte(in))
		require.False(t, ok, in)
	}
}

// rustDebug3 formats d as Rust's format!("{:.3?}", Duration) does: unit by
// magnitude, three decimals rounded half up.
func rustDebug3(ns uint64) (string, uint64) {
	unit, suffix := uint64(1), "ns"
	switch {
	case ns >= 1e9:
		unit, suffix = 1e9, "s"
	case ns >= 1e6:
		unit, suffix = 1e6, "ms"
	case ns >= 1e3:
		unit, suffix = 1e3, "µs"
	}
	step := unit / 1000
	q := ns * 1000 // ns unit: three zero decimals
	if step > 0 {
		q = (ns + step/2) / step
	}
	var b bytes.Buffer
	b.WriteString(uintText(q / 1000))
	b.WriteByte('.')
	frac := uintText(q%1000 + 1000)
	b.WriteString(frac[1:])
	b.WriteString(suffix)
	if step == 0 {
		return b.String(), ns
	}
	return b.String(), q * step
}

func uintText(v uint64) string {
	if v == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	for v > 0 {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return string(buf[i:])
}

func TestParseDurationReadsRustFormatting(t *testing.T) {
	t.Parallel()
	for _, ns := range []uint64{1, 999, 1000, 1499, 12_345, 999_999, 999_999_499, 999_999_500, 999_999_999, 1e9, 441_887_123_456, 3600e9} {
		text, exact := rustDebug3(ns)
		got, ok := ParseDuration([]byte(text))
		require.True(t, ok, text)
		require.Equal(t, exact, got, text)
	}
	text, _ := rustDebug3(999_999_999)
	require.Equal(t, "1000.000ms", text, "the rounding quirk the format reference lists")
}

func TestSyslogHost(t *testing.T) {
	t.Parallel()
	for header, want := range map[string]string{
		"<30>Jun  4 19:17:43 g3proxy[2473]: ":                        "",
		"<30>Jun  4 19:17:43 proxy-01 g3proxy[2473]: ":               "proxy-01",
		"Jun 14 19:17:43 proxy-01 g3proxy[2473]: ":                   "proxy-01",
		"<30>1 2025-06-04T18:06:02.751220Z proxy-02 g3proxy 2001 - ": "proxy-02",
		"<30>1 2025-06-04T18:06:02.751220Z - g3proxy 2001 - ":        "",
		"2025-06-04T18:06:02.751220+00:00 proxy-05 g3proxy[2001]: ":  "proxy-05",
		"<30>":                           "",
		"<30":                            "",
		"":                               "",
		"garbage with many words here: ": "",
		"<30>1 ":                         "",
		"<30>Jun  4 19:17:43 a b c: ":    "",
		"<30>Jun  4 19:17:43 proxy-01 g3proxy[2473]:       ":             "proxy-01",
		"<13>Jun  4 19:17:43 proxy-01.example.net g3proxy[2473]: ":       "proxy-01.example.net",
		"<30>1 2025-06-04T18:06:02Z proxy-02":                            "proxy-02",
		"<30>Jun  4 19:17:43 proxy-01 g3proxy[2473]: @other-cookie-here": "",
	} {
		require.Equal(t, want, string(syslogHost([]byte(header))), "%q", header)
	}
}

// Lines are independent: decoding a payload at once (more records than
// one append chunk, rejects in between) or line by line in reverse order
// gives the same rows (no pairing of a task's records).
func TestRecordsAreIndependentOfMessageBoundaries(t *testing.T) {
	t.Parallel()
	var lines []string
	for i := 0; i < 4; i++ {
		for _, f := range []string{"code-tcp-connect", "code-http-forward", "adversarial", "code-udp-associate", "envelopes"} {
			for _, l := range readLines(t, "testdata/"+f+".log") {
				if strings.TrimSpace(l) != "" {
					lines = append(lines, l)
				}
			}
		}
	}
	whole := decodeText(t, strings.Join(lines, "\n"))
	defer whole.Release()
	var ins []decodetest.Input
	for i := len(lines) - 1; i >= 0; i-- { // reversed, one line per message
		ins = append(ins, decodetest.Input{Payload: []byte(lines[i]), Subject: subject})
	}
	split := decodetest.Decode(t, newDecoder(), memory.NewGoAllocator(), ins...)
	defer split.Release()
	n := whole.Output.Records
	require.Greater(t, n, 2*64, "more records than one append chunk")
	require.Equal(t, n, split.Output.Records)
	require.Equal(t, len(lines), n+len(whole.Output.Rejects))
	for i := 0; i < n; i++ {
		require.Equal(t, row(t, whole, i), row(t, split, n-1-i), "row %d", i)
	}
}

func TestMalformedLinesAreRejectedWithReasons(t *testing.T) {
	t.Parallel()
	good := readLines(t, "testdata/code-udp-connect.log")[0]
	payload := good + "\n" +
		"not json\n" +
		`{"log_type":"Resolve","task_id":"x","task_type":"y","start_at":"2025-06-04T18:10:00Z"}` + "\n" +
		`{"task_type":"TcpConnect","start_at":"2025-06-04T18:10:00Z"}` + "\n" +
		`{"task_type":"TcpConnect","task_id":"a","start_at":"2025-06-04 18:10"}` + "\n" +
		"\r\n" +
		good[:len(good)/2] + "\n" +
		good + ` {}` + "\n" +
		good + "\n"
	res := decodeText(t, payload)
	defer res.Release()
	require.Equal(t, 2, res.Output.Records)
	require.Equal(t, 2, res.Rows(0))
	var lines []int
	var reasons []string
	for _, rj := range res.Output.Rejects {
		lines = append(lines, rj.Line)
		reasons = append(reasons, rj.Reason)
		require.NotContains(t, payload[rj.Start:rj.End], "\n")
	}
	require.Equal(t, []int{2, 3, 4, 5, 7, 8}, lines)
	require.Contains(t, reasons[0], "not a g3proxy task record")
	require.Contains(t, reasons[1], `log_type "Resolve" is not a task log`)
	require.Contains(t, reasons[2], "no task_id")
	require.Contains(t, reasons[3], "not an RFC 3339 timestamp")
	require.Contains(t, reasons[4], "unterminated string")
	require.Contains(t, reasons[5], "unexpected bytes after the JSON object")
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

// The generator in gen formats durations the same way; this
// keeps the test helper honest about Rust's unit thresholds.
func TestRustDebug3Units(t *testing.T) {
	t.Parallel()
	for ns, want := range map[uint64]string{
		100: "100.000ns", 12_345: "12.345µs", 2_500_000: "2.500ms", 441_887_000_000: "441.887s",
		uint64(time.Hour): "3600.000s", 999_999: "999.999µs", 999_999_600: "1000.000ms",
	} {
		got, _ := rustDebug3(ns)
		require.Equal(t, want, got)
	}
}

// Values are bytes: invalid UTF-8 is kept as written (ClickHouse strings are
// bytes), not replaced.
func TestInvalidUTF8IsKept(t *testing.T) {
	t.Parallel()
	lines := readLines(t, "testdata/adversarial.log")
	last := lines[len(lines)-1]
	require.Contains(t, last, "\xff\xfe")
	res := decodeText(t, last)
	defer res.Release()
	require.Equal(t, "\xff\xfe", row(t, res, 0)["user"])
}
