// Package django decodes the JSON lines that structlog's JSONRenderer writes
// for a Django / Celery process using django-structlog (format reference:
// docs/formats/django-structlog.md; upstream: jrobichaud/django-structlog
// docs/events.rst, django_structlog/middlewares/request.py,
// django_structlog/celery/receivers.py; structlog.processors.JSONRenderer).
//
// A payload holds one record per line: a JSON object, which may be
// pretty-printed over several lines (structlog's JSONRenderer with an
// indent; decode.NextRecord reassembles it). Every object with a
// usable "timestamp" becomes one row of django_events, whatever logger wrote
// it: django-structlog's request, streaming and Celery task events, and the
// lines of the application's and third-party loggers that share the stream
// (they carry the same bound context: request_id, user_id, task_id, ...).
// Key order does not matter (it depends on the processor configuration).
//
// Upstream quirks this decoder handles:
//   - old event names ("Request finished", "Task success", "task_succeed",
//     "Task unknown", ...) are mapped to the current ones in event_name;
//   - "request" is "GET /path?q" (current) or the Python repr
//     "<WSGIRequest: GET '/path?q'>" (before upstream 2.2.0, issue #72); both give
//     method and path (path without the query string);
//   - old task_enqueued lines name the enqueued task "task_id"/"task_name";
//     they land in child_task_id/child_task_name as current lines have them;
//   - user_id is an int, a string or null; ip and user_agent may be null;
//   - exception is traceback text (format_exc_info) or a list of frames
//     (dict_tracebacks); non-string values are kept as their JSON text;
//   - timestamps are ISO 8601 with "Z", with an offset, or without a zone
//     (TimeStamper(utc=False): read in Options.TimeZone, default UTC), or
//     UNIX seconds (TimeStamper() without fmt).
//
// The service column is the record's "service" key when it has one, else
// the last token of a subject with more than three tokens
// (logs.django.structlog.billing -> billing), else empty.
//
// Request latency needs request_started and request_finished, which arrive
// as separate lines, often in separate messages. A decoder is stateless
// across payloads, so the pairing happens in ClickHouse: see
// sql/tables/django_requests.sql, sql/tables/django_open_requests.sql and
// sql/views/django_request_ends_mv.sql.
package django

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"unsafe"

	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/ingest/decode/jsonscan"
	"github.com/tapline/tapline/ingest/decode/timeparse"
	"github.com/tapline/tapline/schema"
)

// Format is the name this decoder is registered under.
const Format = "django"

// Decoder decodes django-structlog JSON lines. See the package doc. A
// Decoder keeps only scratch space and a time-zone cache between calls.
type Decoder struct {
	zone  zone
	sc    jsonscan.Scanner
	arena []byte // copies of unescaped strings of the current record
	line  []byte // the record being parsed (for arena decisions)
	rec   record
	cols  cols
	bound *schema.Builder
}

var _ decode.Decoder = (*Decoder)(nil)

// New returns a Decoder. opts.TimeZone is the zone of timestamps written
// without one (structlog's TimeStamper(utc=False)); nil means UTC.
func New(opts decode.Options) (decode.Decoder, error) {
	d := &Decoder{}
	if loc := opts.Location(); loc.String() != "UTC" {
		d.zone = zone{loc: loc, hour: math.MinInt64}
	}
	return d, nil
}

// Tables returns django_events.
// InsertInOrder reports true: the latency views join a request's (or a
// task's) end to its start, which an earlier batch may have inserted (see
// decode.Ordered).
func (d *Decoder) InsertInOrder() bool { return true }

func (d *Decoder) Tables() []*schema.Table {
	return []*schema.Table{schema.DjangoEvents}
}

// Decode appends one django_events row per record of payload (a line, or
// an object pretty-printed over several lines: decode.NextRecord) to
// out.Builders[0], or one Reject per record it cannot read. See
// decode.Decoder for the contract.
func (d *Decoder) Decode(payload []byte, meta decode.Meta, out *decode.Output) {
	if d.bound != out.Builders[0] {
		d.cols.bind(out.Builders[0])
		d.bound = out.Builders[0]
	}
	service := subjectService(meta.Subject)
	// Line numbers of rejects are counted as the loop goes: Output.Rejectf
	// counts from the payload's start for each reject, which makes a
	// message of many bad lines (a plain-text logger) quadratic.
	lineNo, counted := 1, 0
	for off := 0; ; {
		r, ok := decode.NextRecord(payload, off)
		if !ok {
			break
		}
		off = r.Next
		start, end := r.Start, r.End
		var err error
		if r.Cut != decode.NotCut {
			err = errors.New(r.Reason())
		} else {
			err = d.parse(payload[start:end])
		}
		if err != nil {
			lineNo += bytes.Count(payload[counted:start], newline)
			counted = start
			out.Rejects = append(out.Rejects, decode.Reject{Start: start, End: end, Line: lineNo, Reason: err.Error()})
		} else {
			if len(d.rec.service) == 0 {
				d.rec.service = service
			}
			d.cols.append(&d.rec)
			out.Records++
		}
	}
}

var (
	newline        = []byte{'\n'}
	errNotObject   = errors.New("line is not a JSON object: render every logger of this stream with structlog's JSONRenderer (structlog.stdlib.ProcessorFormatter for the stdlib loggers)")
	errEmpty       = errors.New("line holds no JSON value")
	errNoTimestamp = errors.New(`record has no "timestamp": add structlog.processors.TimeStamper(fmt="iso") to the processors`)
)

// parse reads one line into d.rec. On error d.rec is garbage and nothing
// may be appended.
func (d *Decoder) parse(line []byte) error {
	sc := &d.sc
	sc.Reset(line)
	d.line = line
	d.arena = d.arena[:0]
	r := &d.rec
	r.reset()
	if sc.Peek() != jsonscan.Object {
		if sc.AtEnd() {
			return errEmpty
		}
		return errNotObject
	}
	sc.EnterObject()
	for {
		k, ok := sc.Key()
		if !ok {
			break
		}
		if err := d.member(k); err != nil {
			if err == sc.Err() {
				return invalidJSON(err)
			}
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return invalidJSON(err)
	}
	if !sc.AtEnd() {
		return fmt.Errorf("unexpected data after the JSON object at byte %d: structlog writes one object per line; was the newline lost on the way?", sc.Pos())
	}
	if r.tsErr != nil {
		return r.tsErr
	}
	if !r.hasTime {
		return errNoTimestamp
	}
	r.derive()
	return nil
}

func invalidJSON(err error) error {
	return fmt.Errorf("invalid JSON (%w): structlog's JSONRenderer does not write this; was the line cut or edited on the way?", err)
}

// member reads the value of key k into its field, or into extra when
// tapline does not know the key. A key that appears twice keeps its last
// value in columns (JSON objects from structlog never repeat keys).
func (d *Decoder) member(k []byte) error {
	r := &d.rec
	switch string(k) {
	case "timestamp":
		return d.timestamp()
	case "event":
		r.event = d.text()
	case "level":
		r.level = d.text()
	case "logger":
		r.logger = d.text()
	case "request_id":
		r.requestID = d.text()
	case "correlation_id":
		r.correlationID = d.text()
	case "user_id":
		r.userID = d.text()
	case "ip":
		r.ip = d.text()
	case "request":
		r.request = d.text()
	case "user_agent":
		r.userAgent = d.text()
	case "task_id":
		r.taskID = d.text()
	case "parent_task_id":
		r.parentTaskID = d.text()
	case "task":
		r.task = d.text()
	case "task_name":
		r.taskNameKey = d.text()
	case "child_task_id":
		r.childTaskID = d.text()
	case "child_task_name":
		r.childTaskName = d.text()
	case "routing_key":
		r.routingKey = d.text()
	case "reason":
		r.reason = d.text()
	case "error":
		r.errorText = d.text()
	case "exception":
		r.exception = d.text()
	case "signame":
		r.signame = d.text()
	case "service":
		r.service = d.text()
	case "code":
		d.integer(k, &r.code, 0, math.MaxUint16)
	case "priority":
		d.integer(k, &r.priority, math.MinInt32, math.MaxInt32)
	case "signum":
		d.integer(k, &r.signum, math.MinInt32, math.MaxInt32)
	case "duration_ms":
		d.float(k, &r.durationMs)
	case "terminated":
		d.flag(k, &r.terminated)
	case "expired":
		d.flag(k, &r.expired)
	default:
		kk := d.keep(k)
		r.extra = append(r.extra, kv{kk, d.text()})
	}
	return d.sc.Err()
}

// timestamp reads structlog's TimeStamper output: an ISO 8601 string, or a
// number of UNIX seconds (TimeStamper() without fmt). An unusable value
// rejects the record unless a later "timestamp" key replaces it (the last
// value of a repeated key counts, as for every column).
func (d *Decoder) timestamp() error {
	sc := &d.sc
	r := &d.rec
	r.hasTime, r.tsErr = false, nil
	switch sc.Peek() {
	case jsonscan.String:
		v, _ := sc.Str()
		ns, ok := parseISO(v)
		if !ok {
			r.tsErr = fmt.Errorf("timestamp %q is not ISO 8601 (2019-04-13T19:39:29.321453Z) between the years 1900 and 2261: use structlog.processors.TimeStamper(fmt=\"iso\")", v)
			break
		}
		if zoneless(v) {
			ns = d.zone.toUTC(ns)
		}
		r.tsUs, r.hasTime = floorDiv(ns, 1000), true
	case jsonscan.Number:
		raw, _ := sc.Num()
		f, ok := parseFloat(raw)
		// 1900-01-01 .. 2261-12-31, the span DateTime64(6) and int64 ns share.
		if !ok || f < -2208988800 || f >= 9214646400 {
			r.tsErr = fmt.Errorf("timestamp %s is not UNIX seconds between the years 1900 and 2261: use structlog.processors.TimeStamper(fmt=\"iso\")", raw)
			break
		}
		r.tsUs, r.hasTime = int64(math.Round(f*1e6)), true
	default:
		v, _ := sc.Skip()
		if sc.Err() == nil {
			r.tsErr = fmt.Errorf("timestamp %s is neither an ISO 8601 string nor UNIX seconds: use structlog.processors.TimeStamper(fmt=\"iso\")", decode.Quote(v, 40))
		}
	}
	return sc.Err()
}

// text reads any value as text: strings unescaped, null as empty, anything
// else (numbers, booleans, objects, arrays) as its JSON text.
func (d *Decoder) text() []byte {
	sc := &d.sc
	switch sc.Peek() {
	case jsonscan.String:
		v, _ := sc.Str()
		return d.keep(v)
	case jsonscan.Null:
		sc.Null()
		return nil
	}
	v, _ := sc.Skip()
	return v
}

// integer reads an integer within [lo, hi] into dst. null leaves dst unset;
// a number written as a string ("200") is accepted; any other value is kept
// in extra under its key, so nothing is lost.
func (d *Decoder) integer(k []byte, dst *optInt, lo, hi int64) {
	sc := &d.sc
	var raw []byte
	switch sc.Peek() {
	case jsonscan.Null:
		sc.Null()
		return
	case jsonscan.Number:
		raw, _ = sc.Num()
	case jsonscan.String:
		raw, _ = sc.Str()
	}
	if raw != nil {
		if v, ok := jsonscan.ParseInt(raw); ok && v >= lo && v <= hi {
			*dst = optInt{v: v, set: true}
			return
		}
		d.rec.extra = append(d.rec.extra, kv{d.keep(k), d.keep(raw)})
		return
	}
	d.toExtra(k)
}

// float reads a number (or a numeric string) into dst, like integer.
func (d *Decoder) float(k []byte, dst *optFloat) {
	sc := &d.sc
	var raw []byte
	switch sc.Peek() {
	case jsonscan.Null:
		sc.Null()
		return
	case jsonscan.Number:
		raw, _ = sc.Num()
	case jsonscan.String:
		raw, _ = sc.Str()
	}
	if raw != nil {
		if v, ok := parseFloat(raw); ok {
			*dst = optFloat{v: v, set: true}
			return
		}
		d.rec.extra = append(d.rec.extra, kv{d.keep(k), d.keep(raw)})
		return
	}
	d.toExtra(k)
}

// flag reads true/false into dst; null leaves it unset; anything else goes
// to extra.
func (d *Decoder) flag(k []byte, dst *optBool) {
	sc := &d.sc
	switch sc.Peek() {
	case jsonscan.Null:
		sc.Null()
	case jsonscan.Bool:
		v, _ := sc.Bool()
		*dst = optBool{v: v, set: true}
	default:
		d.toExtra(k)
	}
}

func (d *Decoder) toExtra(k []byte) {
	kk := d.keep(k)
	d.rec.extra = append(d.rec.extra, kv{kk, d.text()})
}

// subjectService returns the last token of a subject with more than three
// tokens (logs.django.structlog.<service>), else nil. The slice aliases the
// subject's bytes without a copy: it is only ever read (appended to a
// builder, which copies it).
func subjectService(subject string) []byte {
	if strings.Count(subject, ".") < 3 {
		return nil
	}
	tok := subject[strings.LastIndexByte(subject, '.')+1:]
	return unsafe.Slice(unsafe.StringData(tok), len(tok))
}

// keep returns v if it points into the current line, or a copy in the arena
// if it points into the scanner's scratch space (escaped strings), which the
// next read overwrites. Arena copies stay valid for the record: the arena is
// only truncated between records, and growing it leaves the earlier backing
// array untouched.
func (d *Decoder) keep(v []byte) []byte {
	if len(v) == 0 || inside(d.line, v) {
		return v
	}
	n := len(d.arena)
	d.arena = append(d.arena, v...)
	return d.arena[n:len(d.arena):len(d.arena)]
}

func inside(buf, v []byte) bool {
	if len(buf) == 0 {
		return false
	}
	b0, v0 := uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&v[0]))
	return v0 >= b0 && v0 < b0+uintptr(len(buf))
}

// parseISO reads an ISO 8601 timestamp into Unix nanoseconds, refusing
// years whose nanoseconds would not fit in int64.
func parseISO(v []byte) (int64, bool) {
	if len(v) < 4 {
		return 0, false
	}
	y := 0
	for _, c := range v[:4] {
		if c < '0' || c > '9' {
			return 0, false
		}
		y = y*10 + int(c-'0')
	}
	if y < 1900 || y > 2261 {
		return 0, false
	}
	return timeparse.RFC3339(v)
}

// zoneless reports whether an ISO timestamp that parsed ends without a zone
// designator ("Z" or "+hh:mm").
func zoneless(v []byte) bool {
	n := len(v)
	if c := v[n-1]; c == 'Z' || c == 'z' {
		return false
	}
	return !(n >= 6 && (v[n-6] == '+' || v[n-6] == '-') && v[n-3] == ':')
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
