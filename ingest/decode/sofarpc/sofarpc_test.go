package sofarpc

import (
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/internal/decodetest"
	"github.com/tapline/tapline/schema"
)

func newDecoder() decode.Decoder {
	d, err := New(decode.Options{})
	if err != nil {
		panic(err)
	}
	return d
}

// row returns column name of row i of rec as a Go value (nil for NULL).
func cell(t *testing.T, tbl *schema.Table, rec arrow.Record, name string, i int) any {
	t.Helper()
	return decodetest.Cell(t, tbl, rec, name, i, "2006-01-02 15:04:05.000")
}

func TestClientDigestLine(t *testing.T) {
	t.Parallel()
	line := `{"timestamp":"2018-05-20 17:03:20.708","tracerId":"1e27326d1526807000498100185597","spanId":"0","span.kind":"client","local.app":"SOFATracerRPC","protocol":"bolt","service":"com.alipay.sofa.tracer.examples.sofarpc.direct.DirectService:1.0","method":"sayDirect","current.thread.name":"main","invoke.type":"sync","router.record":"DIRECT","remote.app":"samples","remote.ip":"127.0.0.1:12200","local.client.ip":"127.0.0.1","result.code":"00","req.serialize.time":"33","resp.deserialize.time":"39","resp.size":"170","req.size":"582","client.conn.time":"0","client.elapse.time":"155","local.client.port":"59774","baggage":""}`
	res := decodetest.Decode(t, newDecoder(), memory.NewGoAllocator(), decodetest.Input{Payload: []byte(line), Subject: "logs.sofarpc.client.digest"})
	defer res.Release()
	require.Equal(t, 1, res.Output.Records)
	require.Empty(t, res.Output.Rejects)
	rec, tbl := res.Records[0], schema.SofarpcDigest
	want := map[string]any{
		"timestamp": "2018-05-20 17:03:20.708", "side": "client", "trace_id": "1e27326d1526807000498100185597",
		"span_id": "0", "local_app": "SOFATracerRPC", "remote_app": "samples", "protocol": "bolt",
		"service": "com.alipay.sofa.tracer.examples.sofarpc.direct.DirectService:1.0", "method": "sayDirect",
		"thread_name": "main", "invoke_type": "sync", "router_record": "DIRECT", "result_code": "00",
		"is_error": false, "latency_ms": uint32(155), "remote_ip": "127.0.0.1:12200", "remote_host": "127.0.0.1",
		"remote_port": uint16(12200), "local_ip": "127.0.0.1", "local_port": uint16(59774),
		"req_size": uint64(582), "resp_size": uint64(170), "req_serialize_ms": uint32(33),
		"resp_deserialize_ms": uint32(39), "client_conn_ms": uint32(0), "client_elapse_ms": uint32(155),
		"server_pool_wait_ms": nil, "biz_impl_ms": nil, "resp_serialize_ms": nil, "req_deserialize_ms": nil,
		"request_url": "", "sql": "", "database_name": "", "database_type": "", "database_endpoint": "",
		"time_cost_ms": nil, "total_time_ms": nil, "connection_establish_ms": nil, "db_execute_ms": nil,
		"baggage": map[string]string{}, "sys_baggage": map[string]string{}, "extra": map[string]string{},
	}
	require.Len(t, tbl.Columns(), len(want), "every column is asserted")
	for name, v := range want {
		require.Equal(t, v, cell(t, tbl, rec, name, 0), name)
	}
}

func TestServerDigestLatencyAndTimeZone(t *testing.T) {
	t.Parallel()
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	d, err := New(decode.Options{TimeZone: shanghai})
	require.NoError(t, err)
	line := `{"timestamp":"2018-05-20 17:00:53.312","tracerId":"1e27326d1526806853032100185011","spanId":"0","span.kind":"server","service":"com.alipay.sofa.tracer.examples.sofarpc.direct.DirectService:1.0","method":"sayDirect","remote.ip":"127.0.0.1","remote.app":"SOFATracerRPC","protocol":"bolt","local.app":"SOFATracerRPC","current.thread.name":"SOFA-BOLT-BIZ-12200-5-T1","result.code":"00","server.pool.wait.time":"3","biz.impl.time":"0","resp.serialize.time":"4","req.deserialize.time":"38","resp.size":"170","req.size":"582","baggage":""}`
	res := decodetest.Decode(t, d, memory.NewGoAllocator(), decodetest.Input{Payload: []byte(line)})
	defer res.Release()
	rec, tbl := res.Records[0], schema.SofarpcDigest
	require.Equal(t, "2018-05-20 09:00:53.312", cell(t, tbl, rec, "timestamp", 0), "17:00 in Shanghai is 09:00 UTC")
	require.Equal(t, uint32(3+38+0+4), cell(t, tbl, rec, "latency_ms", 0), "server latency = pool wait + deserialize + biz + serialize")
	require.Equal(t, "127.0.0.1", cell(t, tbl, rec, "remote_host", 0))
	require.Equal(t, uint16(0), cell(t, tbl, rec, "remote_port", 0))
	require.Nil(t, cell(t, tbl, rec, "client_elapse_ms", 0))
}

func TestStatLine(t *testing.T) {
	t.Parallel()
	line := `{"time":"2018-05-18 07:02:19.717","stat.key":{"method":"method","local.app":"client","service":"app.service:1.0","zone":"gz"},"count":10,"total.cost.milliseconds":17,"success":"Y"}`
	res := decodetest.Decode(t, newDecoder(), memory.NewGoAllocator(), decodetest.Input{Payload: []byte(line), Subject: "logs.sofarpc.server.stat"})
	defer res.Release()
	require.Equal(t, 1, res.Output.Records)
	require.Nil(t, res.Records[0], "no digest rows")
	rec, tbl := res.Records[1], schema.SofarpcStat
	want := map[string]any{
		"time": "2018-05-18 07:02:19.717", "side": "server", "local_app": "client", "remote_app": "",
		"service": "app.service:1.0", "method": "method", "count": uint64(10), "total_cost_ms": uint64(17),
		"success": true, "load_test": nil, "stat_key_extra": map[string]string{"zone": "gz"}, "extra": map[string]string{},
	}
	require.Len(t, tbl.Columns(), len(want), "every column is asserted")
	for name, v := range want {
		require.Equal(t, v, cell(t, tbl, rec, name, 0), name)
	}
}

func TestMalformedLinesAreRejectedWithReasons(t *testing.T) {
	t.Parallel()
	payload := "{\"timestamp\":\"2018-05-20 17:03:20.708\",\"method\":\"ok\"}\n" +
		"{\"timestamp\":\"2018-05-20 17:03:20.708\",\"method\":\"un\"escaped\"}\n" +
		"not json at all\n" +
		"{\"tracerId\":\"x\"}\n" +
		"{\"timestamp\":\"yesterday\"}\n" +
		"\n   \n" +
		"{\"timestamp\":\"2018-05-20 17:03:20.709\",\"method\":\"ok2\"} trailing\n"
	res := decodetest.Decode(t, newDecoder(), memory.NewGoAllocator(), decodetest.Input{Payload: []byte(payload)})
	defer res.Release()
	require.Equal(t, 2, res.Output.Records)
	require.Equal(t, 2, res.Rows(0))
	var lines []int
	for _, rj := range res.Output.Rejects {
		lines = append(lines, rj.Line)
	}
	require.Equal(t, []int{2, 3, 4, 5, 8}, lines)
	require.Contains(t, res.Output.Rejects[0].Reason, "expected ',' or '}'")
	require.Contains(t, res.Output.Rejects[2].Reason, "no timestamp")
	require.Contains(t, res.Output.Rejects[3].Reason, "not a yyyy-MM-dd HH:mm:ss.SSS timestamp")
	require.Equal(t, "trailing", payload[res.Output.Rejects[4].Start:res.Output.Rejects[4].End])
}

func TestErrorCodes(t *testing.T) {
	t.Parallel()
	for code, isErr := range map[string]bool{"00": false, "01": true, "02": true, "03": true, "04": true, "": false, "0": false, "200": false, "404": false, "500": true, "success": false, "failed": true} {
		d := digest{resultCode: []byte(code)}
		require.Equal(t, isErr, d.isError(), code)
	}
	require.True(t, (&digest{resultCode: []byte("00"), errorText: []byte("boom")}).isError())
}

func inputs(t *testing.T) []decodetest.Input {
	var ins []decodetest.Input
	ins = append(ins, decodetest.ReadInputs(t, "testdata/*.log", "logs.sofarpc.client.digest")...)
	return ins
}

func TestConformance(t *testing.T) {
	decodetest.Run(t, newDecoder, inputs(t))
}

func TestGolden(t *testing.T) {
	decodetest.Golden(t, newDecoder, inputs(t))
}
