package clickhouse

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	chgo "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/tapline/tapline/sink"
)

// ClickHouse error codes this package decides on (src/Common/ErrorCodes.cpp).
const (
	codeUnknownDatabase      = 81
	codeUnknownUser          = 192
	codeWrongPassword        = 193
	codeRequiredPassword     = 194
	codeAuthenticationFailed = 516
)

// scrubbed is an error whose text had the password removed. Unwrap keeps
// the original chain for errors.As (codes, net errors); its text is never
// printed by this package's errors.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// classify turns err into a *sink.Error for op: the ClickHouse error code
// when the server sent one, Retryable from that code (sink.RetryableCode)
// or, without a code, from the kind of failure (connection refused, reset,
// timeout, EOF: the server is away, so trying later can work). The text is
// scrubbed of the password.
func (t *Target) classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var se *sink.Error
	if errors.As(err, &se) {
		return err
	}
	out := &sink.Error{Op: op, Err: &scrubbed{msg: scrub(err.Error(), string(t.cfg.Password)), err: err}}
	var ex *chgo.Exception
	switch {
	case errors.As(err, &ex):
		out.Code = int(ex.Code)
		out.Retryable = sink.RetryableCode(out.Code)
		out.Err = &scrubbed{msg: scrub(ex.Message, string(t.cfg.Password)) + hint(out.Code), err: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The caller gave up; its context says why.
	default:
		out.Retryable = connectionTrouble(err)
	}
	return out
}

// connectionTrouble reports whether err says the server could not be
// reached or the connection broke, as opposed to a refused request.
func connectionTrouble(err error) bool {
	var ne net.Error
	switch {
	case errors.As(err, &ne):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return true
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, chgo.ErrAcquireConnTimeout):
		return true
	}
	return false
}

// hint says what to do about a code that needs the operator.
func hint(code int) string {
	switch code {
	case codeUnknownUser, codeWrongPassword, codeRequiredPassword, codeAuthenticationFailed:
		return " (check the user and password in --clickhouse / TAPLINE_CLICKHOUSE)"
	case codeUnknownDatabase:
		return " (create it with `tapline schema apply`)"
	case 16, 47, 60: // NO_SUCH_COLUMN_IN_TABLE, UNKNOWN_IDENTIFIER, UNKNOWN_TABLE
		return " (the server's tables are not the ones this tapline writes: run `tapline schema status`, then `tapline schema apply`)"
	case 53: // TYPE_MISMATCH
		return " (a column's type on the server differs from what tapline sends: run `tapline schema status`)"
	}
	return ""
}

// isAuth reports whether err is an authentication failure.
func isAuth(err error) bool {
	var se *sink.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code {
	case codeUnknownUser, codeWrongPassword, codeRequiredPassword, codeAuthenticationFailed:
		return true
	}
	return false
}
