package schema

// WebdebugEvents is one row per event of a web debug scheme document
// (fe3dback/web-debug-proto), at any nesting depth
// (sql/tables/webdebug_events.sql). Every row carries its document's id and
// version, its place in the event tree (position "0.2.1", parent position,
// depth, document order, time order), the event's common fields, the
// payload as compact JSON text, the well-known payload fields of the
// documented event types as columns (empty or NULL for other types), the
// document's request (doc_*) and the cross-source sample it adds
// (sample_kind; see the SQL for what latency and error mean).
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
	String("message"),
	String("context"),
	LowCardString("query_target"),
	String("query"),
	LowCardString("query_syntax"),
	LowCardString("query_shape"),
	LowCardString("method"),
	String("uri"),
	NullableInt("response_status", "UInt16"),
	NullableInt("memory_peak", "UInt64"),
	LowCardString("name"),
	LowCardString("group_name"),
	String("email_subject"),
	LowCardString("email_from"),
	StringArray("email_to"),
	LowCardString("access"),
	LowCardString("access_control"),
	LowCardString("access_object"),
	LowCardString("access_action"),
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
