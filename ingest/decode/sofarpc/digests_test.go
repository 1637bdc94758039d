package sofarpc

import (
	"os"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/internal/decodetest"
	"github.com/tapline/tapline/schema"
)

// decodeFile decodes testdata/name as one message and returns its digest
// rows as column name -> value maps, one per record.
func decodeFile(t *testing.T, name string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	res := decodetest.Decode(t, newDecoder(), memory.NewCheckedAllocator(memory.NewGoAllocator()), decodetest.Input{Payload: b})
	defer res.Release()
	require.Empty(t, res.Output.Rejects)
	rec, tbl := res.Records[0], schema.SofarpcDigest
	require.NotNil(t, rec)
	var rows []map[string]any
	for i := range int(rec.NumRows()) {
		r := map[string]any{}
		for _, c := range tbl.Columns() {
			r[c.Name] = cell(t, tbl, rec, c.Name, i)
		}
		rows = append(rows, r)
	}
	return rows
}

// requireFields checks the named columns of row against want.
func requireFields(t *testing.T, row map[string]any, want map[string]any) {
	t.Helper()
	for name, v := range want {
		require.Contains(t, row, name)
		require.Equal(t, v, row[name], "%s (trace %v)", name, row["trace_id"])
	}
}

// TestOtherDigestsFromTheDocs decodes the digest examples of SOFATracer's
// documentation for Dubbo, datasource, HttpClient and OpenFeign (sources in
// testdata/README.md) into their typed columns, field for field; the keys
// without a column stay in extra.
func TestOtherDigestsFromTheDocs(t *testing.T) {
	t.Parallel()
	dubbo := decodeFile(t, "dubbo-digest-docs.log")
	require.Len(t, dubbo, 2)
	requireFields(t, dubbo[0], map[string]any{
		"timestamp": "2019-04-03 11:36:01.909", "trace_id": "0a0fe8451554262561656100126684", "span_id": "0",
		"side": "client", "local_app": "dubbo-consumer", "protocol": "dubbo",
		"service": "com.alipay.sofa.tracer.examples.dubbo.facade.HelloService", "method": "SayHello",
		"invoke_type": "sync", "remote_ip": "", "remote_host": "10.15.232.69", "remote_port": uint16(20880),
		"local_ip": "10.15.232.69", "local_port": uint16(0),
		"req_serialize_ms": uint32(35), "resp_deserialize_ms": uint32(0), "req_size": uint64(323), "resp_size": uint64(323),
		"result_code": "00", "is_error": false, "thread_name": "main", "time_cost_ms": uint32(252), "latency_ms": uint32(252),
		"req_deserialize_ms": nil, "resp_serialize_ms": nil, "extra": map[string]string{}, "baggage": map[string]string{},
	})
	requireFields(t, dubbo[1], map[string]any{
		"timestamp": "2019-04-03 11:36:01.880", "side": "server", "local_app": "dubbo-provider",
		"local_ip": "10.15.232.69", "local_port": uint16(54178), "remote_host": "", "protocol": "dubbo",
		"resp_serialize_ms": uint32(0), "req_deserialize_ms": uint32(27), "req_serialize_ms": nil,
		"thread_name": "DubboServerHandler-10.15.232.69:20880-thread-2",
		// time.cost.milliseconds, not the serialization times: the span.
		"time_cost_ms": uint32(3), "latency_ms": uint32(3), "extra": map[string]string{},
	})

	ds := decodeFile(t, "datasource-digest-docs.log")
	require.Len(t, ds, 1)
	requireFields(t, ds[0], map[string]any{
		"timestamp": "2018-09-28 01:11:56.715", "local_app": "SOFATracerDataSource", "trace_id": "1e1bcab91538068316462100111113",
		"span_id": "0.1.2", "database_name": "test", "sql": "CREATE TABLE TEST(ID INT PRIMARY KEY%2C NAME VARCHAR(255));",
		"result_code": "success", "is_error": false, "total_time_ms": uint32(228), "connection_establish_ms": uint32(220),
		"db_execute_ms": uint32(3), "database_type": "h2", "database_endpoint": "jdbc:h2:~/test:-1",
		"thread_name": "http-nio-8080-exec-1", "time_cost_ms": nil, "latency_ms": uint32(228), "extra": map[string]string{},
	})

	hc := decodeFile(t, "httpclient-digest-docs.log")
	require.Len(t, hc, 2)
	requireFields(t, hc[0], map[string]any{
		"timestamp": "2018-09-27 21:58:43.067", "local_app": "HttpClientDemo", "request_url": "http://localhost:8080/httpclient",
		"method": "GET", "result_code": "200", "is_error": false, "req_size": uint64(0), "resp_size": nil,
		"time_cost_ms": uint32(33), "latency_ms": uint32(33), "thread_name": "I/O dispatcher 1", "remote_app": "",
		// -1 is "unknown": NULL in the column, kept as written.
		"extra": map[string]string{"resp.size.bytes": "-1"},
	})
	requireFields(t, hc[1], map[string]any{
		"timestamp": "2019-09-02 23:43:13.191", "side": "client", "request_url": "http://localhost:8080/httpclient",
		"time_cost_ms": uint32(21), "latency_ms": uint32(21), "resp_size": nil,
		"extra": map[string]string{"resp.size.bytes": "-1"}, "sys_baggage": map[string]string{}, "baggage": map[string]string{},
	})

	feign := decodeFile(t, "openfeign-digest-docs.log")
	require.Len(t, feign, 1)
	requireFields(t, feign[0], map[string]any{
		"request_url": "http://10.15.232.143:8800/feign", "remote_host": "10.15.232.143", "remote_port": uint16(8800),
		"resp_size": uint64(18), "time_cost_ms": uint32(206), "latency_ms": uint32(206), "is_error": false,
		"extra": map[string]string{"error": "", "component.client.impl": "open-feign"},
	})
}

// TestLatencyNullWithoutUsableTiming: a digest whose timing is absent,
// negative, overflowing, in another unit, or part of a server sum that has
// an unreadable member has a NULL latency (no sample), never 0; the value is
// kept in extra as written.
func TestLatencyNullWithoutUsableTiming(t *testing.T) {
	t.Parallel()
	rows := decodeFile(t, "no-latency.log")
	want := map[string]map[string]string{
		"t-absent":     {},
		"t-negative":   {"time.cost.milliseconds": "-1"},
		"t-overflow":   {"time.cost.milliseconds": "99999999999999999999999ms"},
		"t-seconds":    {"client.elapse.time": "0.228s"},
		"t-server-bad": {"biz.impl.time": "-5"},
		"t-too-big":    {"client.elapse.time": "4294967296"},
	}
	require.Len(t, rows, len(want))
	for _, r := range rows {
		id := r["trace_id"].(string)
		require.Contains(t, want, id)
		require.Nil(t, r["latency_ms"], id)
		require.Equal(t, want[id], r["extra"], id)
	}
	require.Equal(t, true, rows[0]["is_error"], "a request without latency still counts its error")
	require.Nil(t, rows[5]["client_elapse_ms"], "too large for the column: NULL, not clamped")
}
