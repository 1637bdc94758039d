package sofarpc

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/tapline/tapline/schema"
)

// cols holds the typed builders of both tables, bound once per set of
// record builders so that appending is free of type assertions; the
// top-level String columns are the Builders' StringColumns.
type cols struct {
	// sofarpc_digest
	ts                                                        *array.TimestampBuilder
	side, traceID, spanID, localApp, remoteApp, protocol      *schema.StringColumn
	service, method, invokeType, routerRecord, thread, result *schema.StringColumn
	remoteIP, remoteHost, localIP                             *schema.StringColumn
	requestURL, sql, dbName, dbType, dbURL                    *schema.StringColumn
	isError                                                   *array.BooleanBuilder
	latency                                                   *array.Uint32Builder
	remotePort, localPort                                     *array.Uint16Builder
	reqSize, respSize                                         *array.Uint64Builder
	reqSer, respDeser, connTime, elapse                       *array.Uint32Builder
	poolWait, bizImpl, respSer, reqDeser                      *array.Uint32Builder
	timeCost, totalTime, connEstablish, dbExec                *array.Uint32Builder
	baggage, sysBaggage, extra                                mapCol
	// sofarpc_stat
	sTime                                           *array.TimestampBuilder
	sSide, sLocalApp, sRemoteApp, sService, sMethod *schema.StringColumn
	sCount, sTotal                                  *array.Uint64Builder
	sSuccess, sLoadTest                             *array.BooleanBuilder
	sKeyExtra, sExtra                               mapCol
}

// mapCol is a Map(String, String) builder with its key and item builders.
type mapCol struct {
	m    *array.MapBuilder
	k, v *array.StringBuilder
}

func bindMap(b array.Builder) mapCol {
	m := b.(*array.MapBuilder)
	return mapCol{m: m, k: m.KeyBuilder().(*array.StringBuilder), v: m.ItemBuilder().(*array.StringBuilder)}
}

func (c mapCol) append(pairs []kv) {
	c.m.Append(true)
	for _, p := range pairs {
		c.k.BinaryBuilder.Append(p.k)
		c.v.BinaryBuilder.Append(p.v)
	}
}

func (c *cols) bind(digest, stat *schema.Builder) {
	t := schema.SofarpcDigest
	f := func(name string) array.Builder { return digest.Field(t.Index(name)) }
	str := func(name string) *schema.StringColumn { return digest.Strings(t.Index(name)) }
	u32 := func(name string) *array.Uint32Builder { return f(name).(*array.Uint32Builder) }
	c.ts = f("timestamp").(*array.TimestampBuilder)
	c.side, c.traceID, c.spanID = str("side"), str("trace_id"), str("span_id")
	c.localApp, c.remoteApp, c.protocol = str("local_app"), str("remote_app"), str("protocol")
	c.service, c.method, c.invokeType = str("service"), str("method"), str("invoke_type")
	c.routerRecord, c.thread, c.result = str("router_record"), str("thread_name"), str("result_code")
	c.remoteIP, c.remoteHost, c.localIP = str("remote_ip"), str("remote_host"), str("local_ip")
	c.requestURL, c.sql = str("request_url"), str("sql")
	c.dbName, c.dbType, c.dbURL = str("database_name"), str("database_type"), str("database_endpoint")
	c.isError = f("is_error").(*array.BooleanBuilder)
	c.latency = u32("latency_ms")
	c.remotePort, c.localPort = f("remote_port").(*array.Uint16Builder), f("local_port").(*array.Uint16Builder)
	c.reqSize, c.respSize = f("req_size").(*array.Uint64Builder), f("resp_size").(*array.Uint64Builder)
	c.reqSer, c.respDeser, c.connTime, c.elapse = u32("req_serialize_ms"), u32("resp_deserialize_ms"), u32("client_conn_ms"), u32("client_elapse_ms")
	c.poolWait, c.bizImpl, c.respSer, c.reqDeser = u32("server_pool_wait_ms"), u32("biz_impl_ms"), u32("resp_serialize_ms"), u32("req_deserialize_ms")
	c.timeCost, c.totalTime = u32("time_cost_ms"), u32("total_time_ms")
	c.connEstablish, c.dbExec = u32("connection_establish_ms"), u32("db_execute_ms")
	c.baggage, c.sysBaggage, c.extra = bindMap(f("baggage")), bindMap(f("sys_baggage")), bindMap(f("extra"))

	s := schema.SofarpcStat
	g := func(name string) array.Builder { return stat.Field(s.Index(name)) }
	sstr := func(name string) *schema.StringColumn { return stat.Strings(s.Index(name)) }
	c.sTime = g("time").(*array.TimestampBuilder)
	c.sSide, c.sLocalApp, c.sRemoteApp = sstr("side"), sstr("local_app"), sstr("remote_app")
	c.sService, c.sMethod = sstr("service"), sstr("method")
	c.sCount, c.sTotal = g("count").(*array.Uint64Builder), g("total_cost_ms").(*array.Uint64Builder)
	c.sSuccess, c.sLoadTest = g("success").(*array.BooleanBuilder), g("load_test").(*array.BooleanBuilder)
	c.sKeyExtra, c.sExtra = bindMap(g("stat_key_extra")), bindMap(g("extra"))
}

func appendNum32(b *array.Uint32Builder, n num) {
	if n.set {
		b.Append(clamp32(n.v))
	} else {
		b.AppendNull()
	}
}

func appendNum64(b *array.Uint64Builder, n num) {
	if n.set {
		b.Append(n.v)
	} else {
		b.AppendNull()
	}
}

func (c *cols) appendDigest(d *digest) {
	c.ts.Append(arrow.Timestamp(d.tsMs))
	c.side.Append(d.side)
	c.traceID.Append(d.traceID)
	c.spanID.Append(d.spanID)
	c.localApp.Append(d.localApp)
	c.remoteApp.Append(d.remoteApp)
	c.protocol.Append(d.protocol)
	c.service.Append(d.service)
	c.method.Append(d.method)
	c.invokeType.Append(d.invokeType)
	c.routerRecord.Append(d.routerRecord)
	c.thread.Append(d.thread)
	c.result.Append(d.resultCode)
	c.isError.Append(d.isError())
	if ms, ok := d.latency(); ok {
		c.latency.Append(ms)
	} else {
		c.latency.AppendNull()
	}
	c.remoteIP.Append(d.remoteIP)
	// remote.ip ("ip:port" on RPC clients) or, for Dubbo and OpenFeign,
	// remote.host and remote.port; the explicit keys win.
	host, port := splitHostPort(d.remoteIP)
	if len(d.remoteHost) > 0 {
		host = d.remoteHost
	}
	if d.remotePort.set && d.remotePort.v <= 65535 {
		port = uint16(d.remotePort.v)
	}
	c.remoteHost.Append(host)
	c.remotePort.Append(port)
	c.localIP.Append(d.localIP)
	if d.localPort.set && d.localPort.v <= 65535 {
		c.localPort.Append(uint16(d.localPort.v))
	} else {
		c.localPort.Append(0)
	}
	c.requestURL.Append(d.requestURL)
	c.sql.Append(d.sql)
	c.dbName.Append(d.dbName)
	c.dbType.Append(d.dbType)
	c.dbURL.Append(d.dbURL)
	appendNum64(c.reqSize, d.reqSize)
	appendNum64(c.respSize, d.respSize)
	appendNum32(c.reqSer, d.reqSer)
	appendNum32(c.respDeser, d.respDeser)
	appendNum32(c.connTime, d.connTime)
	appendNum32(c.elapse, d.elapse)
	appendNum32(c.poolWait, d.poolWait)
	appendNum32(c.bizImpl, d.bizImpl)
	appendNum32(c.respSer, d.respSer)
	appendNum32(c.reqDeser, d.reqDeser)
	appendNum32(c.timeCost, d.timeCost)
	appendNum32(c.totalTime, d.totalTime)
	appendNum32(c.connEstablish, d.connEstablish)
	appendNum32(c.dbExec, d.dbExec)
	c.baggage.append(d.baggage)
	c.sysBaggage.append(d.sysBaggage)
	c.extra.append(d.extra)
}

func (c *cols) appendStat(s *stat) {
	c.sTime.Append(arrow.Timestamp(s.tsMs))
	c.sSide.Append(s.side)
	c.sLocalApp.Append(s.localApp)
	c.sRemoteApp.Append(s.remoteApp)
	c.sService.Append(s.service)
	c.sMethod.Append(s.meth)
	c.sCount.Append(s.count.v)
	c.sTotal.Append(s.totalCost.v)
	c.sSuccess.Append(s.success)
	switch s.loadTest {
	case 1:
		c.sLoadTest.Append(true)
	case 0:
		c.sLoadTest.Append(false)
	default:
		c.sLoadTest.AppendNull()
	}
	c.sKeyExtra.append(s.statKeyExtra)
	c.sExtra.append(s.extra)
}
