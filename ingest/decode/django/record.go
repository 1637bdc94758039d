package django

import (
	"bytes"
)

// optInt is an integer field that is set when the key held a usable value.
type optInt struct {
	v   int64
	set bool
}

// optFloat is a number field that is set when the key held a usable value.
type optFloat struct {
	v   float64
	set bool
}

// optBool is a flag field that is set when the key held true or false.
type optBool struct {
	v, set bool
}

// kv is one key/value pair kept for the extra map.
type kv struct{ k, v []byte }

// record holds one line between parsing and appending, so that a line that
// fails half way appends nothing. Byte slices point into the input line or
// into the decoder's arena; both outlive the record.
type record struct {
	tsUs                             int64
	service, level, logger, event    []byte
	requestID, correlationID, userID []byte
	ip, request, userAgent           []byte
	taskID, parentTaskID, task       []byte
	taskNameKey                      []byte // "task_name": bound by users, or old task_enqueued
	childTaskID, childTaskName       []byte
	routingKey, reason, errorText    []byte
	exception, signame               []byte
	code, priority, signum           optInt
	durationMs                       optFloat
	terminated, expired              optBool
	extra                            []kv
	hasTime                          bool
	tsErr                            error // why the last "timestamp" was unusable
	// Derived by derive.
	name         eventName
	method, path []byte
	taskName     []byte
	isError      bool
}

func (r *record) reset() {
	*r = record{extra: r.extra[:0]}
}

// eventName is a django-structlog event under its current name.
type eventName uint8

// The django-structlog events (docs/events.rst); none is any other line.
const (
	none eventName = iota
	requestStarted
	requestFinished
	requestFailed
	requestCancelled
	streamingStarted
	streamingFinished
	streamingCancelled
	streamingFailed
	taskEnqueued
	taskStarted
	taskRetrying
	taskSucceeded
	taskFailed
	taskRevoked
	taskNotFound
	taskRejected
)

var eventNames = [...]string{
	none:               "",
	requestStarted:     "request_started",
	requestFinished:    "request_finished",
	requestFailed:      "request_failed",
	requestCancelled:   "request_cancelled",
	streamingStarted:   "streaming_started",
	streamingFinished:  "streaming_finished",
	streamingCancelled: "streaming_cancelled",
	streamingFailed:    "streaming_failed",
	taskEnqueued:       "task_enqueued",
	taskStarted:        "task_started",
	taskRetrying:       "task_retrying",
	taskSucceeded:      "task_succeeded",
	taskFailed:         "task_failed",
	taskRevoked:        "task_revoked",
	taskNotFound:       "task_not_found",
	taskRejected:       "task_rejected",
}

// String returns the current upstream name ("" for none).
func (e eventName) String() string { return eventNames[e] }

// lookupEvent maps an event text to a django-structlog event, including the
// names of old versions: the 2019 texts ("Request started", "Task success",
// ...; upstream commit e49fdac renamed them) and "task_succeed" (renamed to
// task_succeeded in upstream 1.6.0, June 2020).
func lookupEvent(ev []byte) eventName {
	switch string(ev) {
	case "request_started", "Request started":
		return requestStarted
	case "request_finished", "Request finished":
		return requestFinished
	case "request_failed", "Request raised exception":
		return requestFailed
	case "request_cancelled":
		return requestCancelled
	case "streaming_started":
		return streamingStarted
	case "streaming_finished":
		return streamingFinished
	case "streaming_cancelled":
		return streamingCancelled
	case "streaming_failed":
		return streamingFailed
	case "task_enqueued", "Task enqueued":
		return taskEnqueued
	case "task_started":
		return taskStarted
	case "task_retrying", "Task retry":
		return taskRetrying
	case "task_succeeded", "task_succeed", "Task success":
		return taskSucceeded
	case "task_failed", "Task failure":
		return taskFailed
	case "task_revoked", "Task revoked":
		return taskRevoked
	case "task_not_found", "Task unknown":
		return taskNotFound
	case "task_rejected", "Task rejected":
		return taskRejected
	}
	return none
}

var upstreamLogger = []byte("django_structlog")

// derive fills the derived fields once all keys are read: the event name
// (only for lines of django-structlog's own loggers, or of no named logger,
// so that another library's "request_finished" is not taken for one), the
// method and path of "request", the task name, and the error flag.
func (r *record) derive() {
	if len(r.logger) == 0 || bytes.HasPrefix(r.logger, upstreamLogger) {
		r.name = lookupEvent(r.event)
	}
	r.method, r.path = parseRequest(r.request)
	r.taskName = r.task
	if len(r.taskName) == 0 {
		r.taskName = r.taskNameKey
	}
	if r.name == taskEnqueued {
		// Before upstream 1.2.0 (May 2019), task_enqueued named
		// the enqueued task "task_id" and "task_name", overriding the bound
		// task_id of the enqueuing task, which is lost.
		if len(r.childTaskID) == 0 && len(r.taskID) > 0 {
			r.childTaskID, r.taskID = r.taskID, nil
		}
		if len(r.childTaskName) == 0 && len(r.taskNameKey) > 0 {
			r.childTaskName, r.taskName = r.taskNameKey, r.task
		}
	}
	r.isError = r.errorFlag()
}

// errorFlag is the error every view counts (sql/tables/django_events.sql):
//   - request_failed (an unhandled exception; Django answered 500);
//   - request_finished with a status code of 500 or more;
//   - streaming_failed (the response broke while streaming);
//   - task_failed, whatever its level (expected exceptions of Task.throws
//     are logged at INFO but the task still failed);
//   - task_not_found and task_rejected (the task could not run);
//   - task_revoked with expired=true (it waited in the queue past its
//     expiry: nobody cancelled it, the workers did not get to it);
//   - any other line (other loggers) logged at error or critical level.
//
// Not errors: request_cancelled and streaming_cancelled (the client went
// away), task_retrying (the task runs again; its final outcome counts), and
// task_revoked without expiry (an operator or the app cancelled it).
func (r *record) errorFlag() bool {
	switch r.name {
	case requestFailed, streamingFailed, taskFailed, taskNotFound, taskRejected:
		return true
	case requestFinished:
		return r.code.set && r.code.v >= 500
	case taskRevoked:
		return r.expired.set && r.expired.v
	case none:
		return isErrorLevel(r.level)
	}
	return false
}

func isErrorLevel(l []byte) bool {
	switch len(l) {
	case 5:
		return bytes.EqualFold(l, []byte("error")) || bytes.EqualFold(l, []byte("fatal"))
	case 8:
		return bytes.EqualFold(l, []byte("critical"))
	case 9:
		return bytes.EqualFold(l, []byte("exception"))
	}
	return false
}

// parseRequest returns the method and path (without the query string) of a
// "request" value: "GET /path?q" as django-structlog formats it since
// upstream issue #72, or the Python repr of the request object that older
// versions logged, "<WSGIRequest: GET '/path?q'>" (or <ASGIRequest: ...>,
// with double quotes when the path holds a single quote). Anything else
// gives empty method and path; the raw value stays in the request column.
func parseRequest(v []byte) (method, path []byte) {
	if len(v) > 0 && v[0] == '<' {
		i := bytes.Index(v, []byte(": "))
		if i < 0 || v[len(v)-1] != '>' {
			return nil, nil
		}
		v = v[i+2 : len(v)-1]
		sp := bytes.IndexByte(v, ' ')
		if sp < 0 {
			return nil, nil
		}
		q := v[sp+1:]
		if len(q) < 2 || (q[0] != '\'' && q[0] != '"') || q[len(q)-1] != q[0] {
			return nil, nil
		}
		method, path = v[:sp], q[1:len(q)-1]
	} else {
		sp := bytes.IndexByte(v, ' ')
		if sp < 0 {
			return nil, nil
		}
		method, path = v[:sp], v[sp+1:]
	}
	if !isMethod(method) || len(path) == 0 || path[0] != '/' {
		return nil, nil
	}
	if q := bytes.IndexByte(path, '?'); q >= 0 {
		path = path[:q]
	}
	return method, path
}

// isMethod accepts 1 to 20 upper-case letters (GET, PROPFIND, ...).
func isMethod(m []byte) bool {
	if len(m) == 0 || len(m) > 20 {
		return false
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}
