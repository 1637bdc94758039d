package schema

// EnvoytapEvents is one row per socket event of an Envoy tap transport-socket
// trace: a read, a write or a close (sql/tables/envoytap_events.sql). Buffered
// traces and streamed segments both yield rows here; a streamed segment that
// only describes the connection has no event and yields a row in
// EnvoytapConnections instead.
//
// bytes is the length of the body as captured, after Envoy's truncation
// (max_buffered_rx_bytes / max_buffered_tx_bytes); truncated says the body was
// cut. body holds at most decode.Options.BodyLimit bytes of it. The address
// columns are filled when the record that carried the event also named the
// connection (buffered traces; streamed events with set_connection_per_event).
var EnvoytapEvents = NewTable("envoytap_events",
	Time("timestamp", 9),
	LowCardString("envoy"),
	Int("trace_id", "UInt64"),
	LowCardString("mode"),
	Int("event_index", "UInt32"),
	Int("seq_num", "UInt64"),
	LowCardString("kind"),
	Int("bytes", "UInt32"),
	Bool("end_stream"),
	Bool("truncated"),
	String("body"),
	String("local_address"),
	String("remote_address"),
)

// EnvoytapConnections is one row per record that describes a connection
// (sql/tables/envoytap_connections.sql): every socket_buffered_trace, and
// every socket_streamed_trace_segment that carries the connection. Buffered
// rows also summarise their events (count, first/last time, bytes each way,
// duration, error); for streamed rows those columns are 0 or NULL, because a
// connection segment carries no events and no time.
var EnvoytapConnections = NewTable("envoytap_connections",
	LowCardString("envoy"),
	Int("trace_id", "UInt64"),
	LowCardString("mode"),
	String("local_address"),
	LowCardString("local_host"),
	Int("local_port", "UInt16"),
	String("remote_address"),
	LowCardString("remote_host"),
	Int("remote_port", "UInt16"),
	NullableFloat64("sample_rate"),
	Int("events", "UInt32"),
	NullableTime("first_event", 9),
	NullableTime("last_event", 9),
	NullableFloat64("duration_ms"),
	Int("bytes_read", "UInt64"),
	Int("bytes_written", "UInt64"),
	Bool("read_truncated"),
	Bool("write_truncated"),
	NullableBool("is_error"),
)
