package schema

// DjangoEvents is one row per structlog JSON line of a Django / Celery
// process using django-structlog (sql/tables/django_events.sql): the
// middleware's request and streaming events, the Celery receivers' task
// events, and every other logger's lines that share the stream.
//
// Bound metadata (request_id, user_id, ip, task_id, ...) has a column on
// every row that carries it; each event's own keys have a column that is
// empty (or NULL for numbers and flags) on rows that do not carry them.
// event_name is the django-structlog event under its current name (old
// names such as "Request finished" or "task_succeed" are mapped), or empty
// for lines of other loggers. is_error is the error every view counts; see
// the SQL file for its definition. Keys tapline does not know are kept in
// extra, so nothing a line carried is dropped.
var DjangoEvents = NewTable("django_events",
	Time("timestamp", 6),
	LowCardString("service"),
	LowCardString("level"),
	LowCardString("logger"),
	String("event"),
	LowCardString("event_name"),
	Bool("is_error"),
	String("request_id"),
	String("correlation_id"),
	String("user_id"),
	String("ip"),
	String("request"),
	LowCardString("method"),
	String("path"),
	LowCardString("user_agent"),
	NullableInt("code", "UInt16"),
	String("task_id"),
	String("parent_task_id"),
	LowCardString("task_name"),
	String("child_task_id"),
	LowCardString("child_task_name"),
	LowCardString("routing_key"),
	NullableInt("priority", "Int32"),
	NullableFloat64("duration_ms"),
	String("reason"),
	String("error"),
	String("exception"),
	NullableBool("terminated"),
	NullableInt("signum", "Int32"),
	LowCardString("signame"),
	NullableBool("expired"),
	StringMap("extra"),
)
