package chhttp

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/tapline/tapline/sink"
	"github.com/tapline/tapline/sink/embedded"
)

// ClickHouse error codes the endpoint reports itself (src/Common/ErrorCodes.cpp).
const (
	codeSyntaxError          = 62
	codeUnknownDatabase      = 81
	codeBadArguments         = 36
	codeNotImplemented       = 48
	codeUnknownSetting       = 115
	codeReadonly             = 164
	codeRequiredPassword     = 194
	codeUnknownQueryParam    = 456
	codeAccessDenied         = 497
	codeAuthenticationFailed = 516
	codeCannotDecompress     = 271
	codeUnknownFormat        = 73
	codeIllegalColumn        = 44
	codeCannotReadAllData    = 33
	codeQueryIsTooLarge      = 229
	codeUnsupportedMediaType = 779
	codeUnknownCompression   = 89
	codeChecksumDoesntMatch  = 40
	codeUnknownTypeOfQuery   = 78
)

var codeNames = map[int]string{
	codeSyntaxError:          "SYNTAX_ERROR",
	codeUnknownDatabase:      "UNKNOWN_DATABASE",
	codeBadArguments:         "BAD_ARGUMENTS",
	codeNotImplemented:       "NOT_IMPLEMENTED",
	codeUnknownSetting:       "UNKNOWN_SETTING",
	codeReadonly:             "READONLY",
	codeRequiredPassword:     "REQUIRED_PASSWORD",
	codeUnknownQueryParam:    "UNKNOWN_QUERY_PARAMETER",
	codeAccessDenied:         "ACCESS_DENIED",
	codeAuthenticationFailed: "AUTHENTICATION_FAILED",
	codeCannotDecompress:     "CANNOT_DECOMPRESS",
	codeUnknownFormat:        "UNKNOWN_FORMAT",
	codeIllegalColumn:        "ILLEGAL_COLUMN",
	codeCannotReadAllData:    "CANNOT_READ_ALL_DATA",
	codeQueryIsTooLarge:      "QUERY_IS_TOO_LARGE",
	codeUnsupportedMediaType: "UNSUPPORTED_MEDIA_TYPE",
	codeUnknownCompression:   "UNKNOWN_COMPRESSION_METHOD",
	codeChecksumDoesntMatch:  "CHECKSUM_DOESNT_MATCH",
	codeUnknownTypeOfQuery:   "UNKNOWN_TYPE_OF_QUERY",
	1000:                     "POCO_EXCEPTION",
	1001:                     "STD_EXCEPTION",
}

// chError is an error in ClickHouse's terms: a code and a message, written
// to clients as "Code: N. DB::Exception: message. (NAME)".
type chError struct {
	code int
	msg  string
	// text is the complete message when it came from the engine already
	// formatted ("Code: 60. DB::Exception: ..."); empty otherwise.
	text string
}

func errorf(code int, format string, args ...any) *chError {
	return &chError{code: code, msg: fmt.Sprintf(format, args...)}
}

// Error returns the message as ClickHouse writes it.
func (e *chError) Error() string {
	if e.text != "" {
		return e.text
	}
	name := codeNames[e.code]
	if name == "" {
		name = "UNKNOWN_EXCEPTION"
	}
	return fmt.Sprintf("Code: %d. DB::Exception: %s. (%s)", e.code, strings.TrimSuffix(e.msg, "."), name)
}

var engineCodeRE = regexp.MustCompile(`^Code: (\d+)\. `)

// formatScopeRE matches the scope the engine appends to a syntax error
// found by formatQuerySingleLine: the client never wrote that query.
var formatScopeRE = regexp.MustCompile(`(?s)[.:]? *: In scope SELECT formatQuerySingleLine\(.*\)\.`)

// engineError turns a target's error into a chError carrying the engine's
// own message; canonicalizing marks errors of the formatQuerySingleLine
// step, whose scope is removed.
func engineError(err error, canonicalizing bool) *chError {
	var text string
	code := 0
	var se *sink.Error
	var ee *embedded.EngineError
	switch {
	case errors.As(err, &ee):
		text, code = ee.Message, ee.Code
	case errors.As(err, &se):
		text, code = strings.TrimSpace(se.Err.Error()), se.Code
	default:
		return &chError{code: 1000, msg: err.Error()}
	}
	if canonicalizing {
		text = formatScopeRE.ReplaceAllString(text, ".")
	}
	if code == 0 {
		if m := engineCodeRE.FindStringSubmatch(text); m != nil {
			code, _ = strconv.Atoi(m[1])
		}
	}
	if !strings.HasPrefix(text, "Code: ") {
		return &chError{code: code, msg: text}
	}
	return &chError{code: code, text: text}
}

// statusFor maps an error code to the HTTP status ClickHouse's server sends
// for it (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp; codes checked with
// errorCodeToName on the engine): clients such as clickhouse-go and Grafana
// branch on both. Codes not listed there are 500, READONLY included.
func statusFor(code int) int {
	switch code {
	case codeRequiredPassword:
		return http.StatusUnauthorized
	case 192, 193, codeAuthenticationFailed, 512, codeAccessDenied:
		// UNKNOWN_USER, WRONG_PASSWORD, AUTHENTICATION_FAILED, SET_NON_GRANTED_ROLE, ACCESS_DENIED
		return http.StatusForbidden
	case codeBadArguments, 427, 6, 25, 26, 38, 41, 72, 441, 675, 676, 27, 376, 15, codeIllegalColumn,
		37, 123, 8, 167, 168, 223, codeSyntaxError, 117, 53, 321:
		// BAD_ARGUMENTS, CANNOT_COMPILE_REGEXP, CANNOT_PARSE_{TEXT, ESCAPE_SEQUENCE,
		// QUOTED_STRING, DATE, DATETIME, NUMBER, DOMAIN_VALUE_FROM_STRING, IPV4, IPV6,
		// INPUT_ASSERTION_FAILED, UUID}, DUPLICATE_COLUMN, ILLEGAL_COLUMN,
		// UNKNOWN_ELEMENT_IN_AST, UNKNOWN_TYPE_OF_AST_NODE, THERE_IS_NO_COLUMN, TOO_DEEP_AST,
		// TOO_BIG_AST, UNEXPECTED_AST_STRUCTURE, SYNTAX_ERROR, INCORRECT_DATA, TYPE_MISMATCH,
		// VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
		return http.StatusBadRequest
	case 60, 46, 47, 50, 56, codeUnknownDatabase, codeUnknownSetting, 152, 63, codeUnknownFormat, 336, codeUnknownTypeOfQuery, 511:
		// UNKNOWN_TABLE, UNKNOWN_FUNCTION, UNKNOWN_IDENTIFIER, UNKNOWN_TYPE, UNKNOWN_STORAGE,
		// UNKNOWN_DATABASE, UNKNOWN_SETTING, UNKNOWN_DIRECTION_OF_SORTING,
		// UNKNOWN_AGGREGATE_FUNCTION, UNKNOWN_FORMAT, UNKNOWN_DATABASE_ENGINE,
		// UNKNOWN_TYPE_OF_QUERY, UNKNOWN_ROLE
		return http.StatusNotFound
	case codeQueryIsTooLarge:
		return http.StatusRequestEntityTooLarge
	case codeNotImplemented:
		return http.StatusNotImplemented
	case 209, 76, 439: // SOCKET_TIMEOUT, CANNOT_OPEN_FILE, CANNOT_SCHEDULE_TASK
		return http.StatusServiceUnavailable
	case 381: // HTTP_LENGTH_REQUIRED
		return http.StatusLengthRequired
	case 159: // TIMEOUT_EXCEEDED
		return http.StatusRequestTimeout
	case codeUnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	}
	return http.StatusInternalServerError
}

// writeError writes err the way ClickHouse does: the message as text, its
// code in X-ClickHouse-Exception-Code, and the status of statusFor.
func writeError(w http.ResponseWriter, err *chError) {
	h := w.Header()
	h.Del("Content-Encoding")
	h.Del("X-ClickHouse-Format")
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("X-ClickHouse-Exception-Code", strconv.Itoa(err.code))
	if err.code == codeRequiredPassword {
		h.Set("WWW-Authenticate", `Basic realm="tapline"`)
	}
	w.WriteHeader(statusFor(err.code))
	_, _ = io.WriteString(w, err.Error()+"\n")
}
