package schema

// SofarpcDigest is one row per SOFARPC (or SOFATracer) digest record, client
// or server side (sql/tables/sofarpc_digest.sql). Durations are
// milliseconds; sizes are bytes. Fields a side does not log are NULL, and so
// is latency_ms when the record carries no usable timing (it is then no
// latency sample in the views).
var SofarpcDigest = NewTable("sofarpc_digest",
	Time("timestamp", 3),
	LowCardString("side"),
	String("trace_id"),
	String("span_id"),
	LowCardString("local_app"),
	LowCardString("remote_app"),
	LowCardString("protocol"),
	LowCardString("service"),
	LowCardString("method"),
	LowCardString("invoke_type"),
	LowCardString("router_record"),
	LowCardString("thread_name"),
	LowCardString("result_code"),
	Bool("is_error"),
	NullableInt("latency_ms", "UInt32"),
	String("remote_ip"),
	LowCardString("remote_host"),
	Int("remote_port", "UInt16"),
	LowCardString("local_ip"),
	Int("local_port", "UInt16"),
	String("request_url"),
	String("sql"),
	LowCardString("database_name"),
	LowCardString("database_type"),
	LowCardString("database_endpoint"),
	NullableInt("req_size", "UInt64"),
	NullableInt("resp_size", "UInt64"),
	NullableInt("req_serialize_ms", "UInt32"),
	NullableInt("resp_deserialize_ms", "UInt32"),
	NullableInt("client_conn_ms", "UInt32"),
	NullableInt("client_elapse_ms", "UInt32"),
	NullableInt("server_pool_wait_ms", "UInt32"),
	NullableInt("biz_impl_ms", "UInt32"),
	NullableInt("resp_serialize_ms", "UInt32"),
	NullableInt("req_deserialize_ms", "UInt32"),
	NullableInt("time_cost_ms", "UInt32"),
	NullableInt("total_time_ms", "UInt32"),
	NullableInt("connection_establish_ms", "UInt32"),
	NullableInt("db_execute_ms", "UInt32"),
	StringMap("baggage"),
	StringMap("sys_baggage"),
	StringMap("extra"),
)

// SofarpcStat is one row per SOFARPC (or SOFATracer) stat record: calls of
// one stat key (app, service, method) in one reporting period, by outcome
// (sql/tables/sofarpc_stat.sql). The nested stat.key object is flattened
// into columns; stat.key members tapline does not know go to stat_key_extra.
var SofarpcStat = NewTable("sofarpc_stat",
	Time("time", 3),
	LowCardString("side"),
	LowCardString("local_app"),
	LowCardString("remote_app"),
	LowCardString("service"),
	LowCardString("method"),
	Int("count", "UInt64"),
	Int("total_cost_ms", "UInt64"),
	Bool("success"),
	NullableBool("load_test"),
	StringMap("stat_key_extra"),
	StringMap("extra"),
)
