package schema

// WebdebugEvents is one row per event of a web debug scheme document
// (fe3dback/web-debug-proto), at any nesting depth
// (sql/tables/webdebug_events.sql). Every row carries its document's id and
// version, its place in the event tree (position "0.2.1", parent position,
// depth, document order, time order), the event's common fields, the
// payload as compact JSON text, the query target and shape of query events
// (the views group by them), the document's request (doc_*) and the
// cross-source sample it adds (sample_kind; see the SQL for what latency and
// error mean). The other well-known payload fields (message, query, uri, ...)
// are the table's ALIAS columns, read from payload: tapline does not send
// them.
var WebdebugEvents = NewTable("webdebug_events",
	Time("time", 3),
	String("doc_id"),
	Int("version", "UInt16"),
	LowCardString("position"),
	LowCardString("parent_position"),
	Int("depth", "UInt8"),
	Int("doc_order", "UInt32"),
	Int("time_order", "UInt32"),
	Int("children", "UInt32"),
	Bool("time_inherited"),
	LowCardString("type"),
	NullableFloat64("duration_ms"),
	NullableBool("success"),
	Bool("is_error"),
	LowCardString("sample_kind"),
	NullableInt("importance", "UInt8"),
	LowCardStringArray("tags"),
	LowCardString("called_from_file"),
	NullableInt("called_from_line", "UInt32"),
	NullableInt("called_from_position_start", "UInt32"),
	NullableInt("called_from_position_end", "UInt32"),
	LowCardString("defined_in_file"),
	NullableInt("defined_in_line", "UInt32"),
	NullableInt("defined_in_position_start", "UInt32"),
	NullableInt("defined_in_position_end", "UInt32"),
	String("payload"),
	LowCardString("query_target"),
	LowCardString("query_shape"),
	LowCardString("doc_method"),
	LowCardString("doc_host"),
	LowCardString("doc_route"),
	StringMap("extra"),
)

// WebdebugDocuments is one row per web debug scheme document
// (sql/tables/webdebug_documents.sql), including documents without events,
// which add no row to WebdebugEvents: the document's id, version, how many
// events it holds and how deep, whether they came sorted oldest to newest,
// its request and its request-level latency, and top-level keys tapline
// does not know.
var WebdebugDocuments = NewTable("webdebug_documents",
	Time("time", 3),
	String("doc_id"),
	Int("version", "UInt16"),
	Int("events", "UInt32"),
	Int("max_depth", "UInt8"),
	Bool("sorted"),
	Int("errors", "UInt32"),
	LowCardString("doc_method"),
	LowCardString("doc_host"),
	LowCardString("doc_route"),
	String("doc_uri"),
	NullableFloat64("duration_ms"),
	Bool("is_error"),
	StringMap("extra"),
)
