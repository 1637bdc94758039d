// Package sink is the seam between tapline and ClickHouse. A Target is a
// ClickHouse that tapline writes record batches into and runs SQL on; two
// implementations exist: sink/embedded (the chDB engine in this process)
// and sink/clickhouse (a server through clickhouse-go/v2). The pipeline,
// the migrations and the CLI see only this interface.
package sink

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/tapline/tapline/schema"
)

// Target is one ClickHouse database that tapline writes to and reads from.
// Implementations are safe for concurrent use.
type Target interface {
	// Exec runs one statement that returns no rows (DDL, SET, ...) in the
	// target's database.
	Exec(ctx context.Context, stmt string) error
	// Query runs one read statement and returns its result in the named
	// ClickHouse output format ("TabSeparatedWithNames", "JSONEachRow",
	// "PrettyCompactMonoBlock", ...). params bind {name:Type} placeholders on
	// the server side; values are never spliced into the text.
	Query(ctx context.Context, query, format string, params map[string]string) ([]byte, error)
	// Insert writes rec into table as one INSERT and returns only after
	// ClickHouse committed it. token is the insert_deduplication_token: an
	// insert with a token ClickHouse has seen recently (within the table's
	// deduplication window) is dropped, for the table and for the
	// materialized views fed by it, so replaying a batch with its token
	// never counts it twice. rec must have table.Arrow() as its schema. The
	// caller keeps ownership of rec.
	Insert(ctx context.Context, table *schema.Table, rec arrow.Record, token string) error
	// Close releases the target. In-flight calls finish first.
	Close() error
}

// Error is a failure reported by ClickHouse or on the way to it.
type Error struct {
	// Op says what was attempted: "insert into sofarpc_digest", "query", ...
	Op string
	// Code is the ClickHouse error code, 0 when the failure has none
	// (a refused connection, a timeout).
	Code int
	// Retryable says whether trying the same operation again later can
	// succeed: the server is down or overloaded, not the request wrong.
	Retryable bool
	// Err is the underlying error. Implementations make sure it never
	// carries credentials.
	Err error
}

// Error formats the operation, code and cause, and what to do.
func (e *Error) Error() string {
	var sb strings.Builder
	sb.WriteString(e.Op)
	if e.Code != 0 {
		fmt.Fprintf(&sb, ": ClickHouse error %d", e.Code)
	}
	fmt.Fprintf(&sb, ": %v", e.Err)
	if e.Retryable {
		sb.WriteString(" (temporary: tapline retries)")
	}
	return sb.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// IsRetryable reports whether err is a *Error marked retryable.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}

// retryableCodes are ClickHouse error codes (src/Common/ErrorCodes.cpp) for
// conditions that pass: overload, timeouts, network trouble, replicas or
// Keeper away. Everything else (unknown table or column, type mismatch,
// syntax, authentication) fails the same way when retried.
var retryableCodes = map[int]bool{
	3:   true, // UNEXPECTED_END_OF_FILE
	159: true, // TIMEOUT_EXCEEDED
	202: true, // TOO_MANY_SIMULTANEOUS_QUERIES
	203: true, // NO_FREE_CONNECTION
	209: true, // SOCKET_TIMEOUT
	210: true, // NETWORK_ERROR
	236: true, // ABORTED
	241: true, // MEMORY_LIMIT_EXCEEDED
	242: true, // TABLE_IS_READ_ONLY
	252: true, // TOO_MANY_PARTS
	285: true, // TOO_FEW_LIVE_REPLICAS
	319: true, // UNKNOWN_STATUS_OF_INSERT
	394: true, // QUERY_WAS_CANCELLED (seen from the embedded engine under heavy load)
	425: true, // SYSTEM_ERROR
	439: true, // CANNOT_SCHEDULE_TASK
	999: true, // KEEPER_EXCEPTION
}

// RetryableCode reports whether a ClickHouse error code is worth retrying.
func RetryableCode(code int) bool { return retryableCodes[code] }

// QuoteIdent quotes a ClickHouse identifier with backticks, escaping
// backslashes and backticks. Use it for every identifier that reaches SQL
// text from configuration (database, table, cluster names).
func QuoteIdent(name string) string {
	var sb strings.Builder
	sb.Grow(len(name) + 2)
	sb.WriteByte('`')
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '`' || c == '\\' {
			sb.WriteByte('\\')
		}
		sb.WriteByte(c)
	}
	sb.WriteByte('`')
	return sb.String()
}

// QuoteString quotes a ClickHouse string literal with single quotes,
// escaping backslashes and quotes. Only for values that cannot be query
// parameters, such as SETTINGS values (the deduplication token).
func QuoteString(s string) string {
	var sb strings.Builder
	sb.Grow(len(s) + 2)
	sb.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\'' || c == '\\' {
			sb.WriteByte('\\')
		}
		sb.WriteByte(c)
	}
	sb.WriteByte('\'')
	return sb.String()
}

// InsertStatement returns "INSERT INTO `table` (`col`, ...) SETTINGS
// insert_deduplication_token = '...'" for table's columns (no FORMAT clause).
// Both targets use it, so both send the same statement.
func InsertStatement(table *schema.Table, token string) string {
	var sb strings.Builder
	sb.WriteString("INSERT INTO ")
	sb.WriteString(QuoteIdent(table.Name()))
	sb.WriteString(" (")
	for i, c := range table.Columns() {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(QuoteIdent(c.Name))
	}
	sb.WriteString(")")
	if token != "" {
		sb.WriteString(" SETTINGS insert_deduplication_token = ")
		sb.WriteString(QuoteString(token))
	}
	return sb.String()
}
