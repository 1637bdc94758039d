// Package g3proxy decodes g3proxy task logs (bytedance/g3: the records
// g3proxy/src/log/task/*.rs emit; keys documented in
// sphinx/g3proxy/log/task/*.rst, format reference
// docs/formats/g3proxy-task-log.md) into table g3proxy_task.
//
// A payload holds one record per line (an object that starts a line may
// span several: decode.NextRecord; a syslog line is always one), in any of
// the JSON shapes g3proxy's log drivers lead to:
//   - the bare JSON object (the syslog driver's CEE content, or fluentd's
//     record converted to JSON, where absent values and zero durations are
//     null instead of omitted);
//   - the syslog line itself: an RFC 3164 or RFC 5424 header, the CEE cookie
//     "@cee:" (lib/g3-syslog/src/format/cee.rs), then the object; the header's
//     hostname, if any, goes to syslog_host;
//   - rsyslog's LocalJsonDump form (ansible/roles/g3proxy/templates/rsyslog.d):
//     {"timereported": "<RFC 3339>", "sd": {...g3proxy object...}} with, for
//     RFC 5424 input, "msg" beside "sd" and every value a string.
//
// Every task emits several records (Created, Connected, Periodic...,
// Finished) sharing one task_id; each is its own row and the decoder never
// pairs them. Keys tapline does not know, and known keys whose value does not
// parse, go to the extra map with their value as written.
package g3proxy

import (
	"bytes"
	"errors"
	"fmt"
	"unsafe"

	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/ingest/decode/jsonscan"
	"github.com/tapline/tapline/ingest/decode/timeparse"
	"github.com/tapline/tapline/schema"
)

// Format is the name this decoder is registered under.
const Format = "g3proxy"

// Decoder decodes g3proxy task log lines. See the package doc. It keeps no
// state between Decode calls apart from scratch space.
type Decoder struct {
	sc    jsonscan.Scanner
	arena []byte // copies of unescaped strings of the current payload's records
	line  []byte // the JSON text being parsed (for arena decisions)
	rows  []task // accepted records not yet appended, then the one being parsed
	t     *task  // the record being parsed: the slot after the accepted ones
	cols  cols
	bound *schema.Builder
}

var _ decode.Decoder = (*Decoder)(nil)

// New returns a Decoder. No option applies: g3proxy writes UTC timestamps
// with their zone.
func New(decode.Options) (decode.Decoder, error) {
	return &Decoder{}, nil
}

// Tables returns g3proxy_task.
func (d *Decoder) Tables() []*schema.Table {
	return []*schema.Table{schema.G3proxyTask}
}

// Decode appends one row per task log line of payload to out. See
// decode.Decoder for the contract.
func (d *Decoder) Decode(payload []byte, _ decode.Meta, out *decode.Output) {
	if d.bound != out.Builders[0] {
		d.cols.bind(out.Builders[0])
		d.bound = out.Builders[0]
	}
	// Records are parsed into d.rows and appended column by column, up to
	// chunk records at a time: for messages of many records that is about a
	// sixth faster than writing 70 builders per row (BenchmarkDecode), and
	// no slower for one record; chunks keep the parsed rows in cache. A
	// rejected record never reaches the builders.
	const chunk = 64
	if d.rows == nil {
		d.rows = make([]task, chunk+1)
	}
	n := 0
	d.arena = d.arena[:0]
	for off := 0; ; {
		r, ok := decode.NextRecord(payload, off)
		if !ok {
			break
		}
		off = r.Next
		if r.Cut != decode.NotCut {
			out.Rejectf(payload, r.Start, r.End, "%s", r.Reason())
			continue
		}
		d.t = &d.rows[n]
		arena := len(d.arena)
		if err := d.parseLine(payload[r.Start:r.End]); err != nil {
			out.Rejectf(payload, r.Start, r.End, "%v", err)
			d.arena = d.arena[:arena]
		} else if n++; n == chunk {
			d.flush(n, out)
			n = 0
		}
	}
	d.flush(n, out)
	// Drop every reference to payload: nothing may read it after we return.
	d.rows[n].reset()
	d.t, d.line = nil, nil
	d.sc.Reset(nil)
}

// flush appends the first n parsed rows and forgets them (and the arena
// copies they pointed to).
func (d *Decoder) flush(n int, out *decode.Output) {
	d.cols.append(d.rows[:n])
	out.Records += n
	for i := range d.rows[:n] {
		d.rows[i].reset()
	}
	d.arena = d.arena[:0]
}

var (
	ceeCookie = []byte("@cee:")
	errShape  = errors.New(`not a g3proxy task record: expected a JSON object, a syslog line with the "@cee:" cookie before the object, or rsyslog's {"timereported", "sd"} form; check the log driver (syslog needs use_cee_log_syntax: true)`)
)

// parseLine finds the JSON object of one line and parses it into d.t.
func (d *Decoder) parseLine(line []byte) error {
	d.t.reset()
	js := line
	if line[0] != '{' {
		var header []byte
		if i := bytes.Index(line, ceeCookie); i >= 0 {
			header, js = line[:i], line[i+len(ceeCookie):]
		} else if i := bytes.IndexByte(line, '{'); i > 0 && line[0] == '<' {
			// A syslog line whose cookie was configured to something else
			// (cee_event_flag): the header holds no '{'. The cookie is no
			// part of the header.
			header, js = line[:i], line[i:]
			if j := bytes.LastIndexByte(header, ' '); j >= 0 && j+1 < len(header) && header[j+1] == '@' {
				header = header[:j]
			}
		} else {
			return errShape
		}
		d.t.syslogHost = syslogHost(header)
		js = bytes.TrimLeft(js, " \t") // rsyslog has seen "@cee: {"
		if len(js) == 0 || js[0] != '{' {
			return errors.New("no JSON object after the syslog header: the cookie must be followed by the g3proxy record object")
		}
	}
	d.line = js
	d.sc.Reset(js)
	if err := d.object(false); err != nil {
		return err
	}
	if !d.sc.AtEnd() {
		return fmt.Errorf("unexpected bytes after the JSON object at offset %d: one record per line", d.sc.Pos())
	}
	return d.validate()
}

// validate checks what a row needs: a task log with an id, a type and a
// start time.
func (d *Decoder) validate() error {
	t := d.t
	if lt := t.str[sLogType]; len(lt) > 0 && string(lt) != "Task" {
		return fmt.Errorf("log_type %s is not a task log: publish only g3proxy Task logs on this stream (escape and resolve logs have other keys)", decode.Quote(lt, 40))
	}
	if len(t.str[sTaskID]) == 0 {
		return errors.New("record has no task_id: not a g3proxy task log")
	}
	if len(t.str[sTaskType]) == 0 {
		return errors.New("record has no task_type: not a g3proxy task log")
	}
	if !t.hasStart {
		return errors.New("record has no start_at: not a g3proxy task log")
	}
	return nil
}

// object parses the object at the scanner's position. nested is true inside
// rsyslog's "sd", where a second "sd" is an ordinary unknown key.
func (d *Decoder) object(nested bool) error {
	sc := &d.sc
	if !sc.EnterObject() {
		return sc.Err()
	}
	for {
		k, ok := sc.Key()
		if !ok {
			break
		}
		if err := d.member(k, nested); err != nil {
			return err
		}
	}
	return sc.Err()
}

// member reads the value of key k into the task.
func (d *Decoder) member(k []byte, nested bool) error {
	sc := &d.sc
	t := d.t
	f, known := fieldOf(k)
	next := sc.Peek()
	if !known || (nested && f.kind == kSD) {
		kk := d.keep(k)
		t.extra = append(t.extra, kv{kk, d.str(next)})
		return sc.Err()
	}
	if next == jsonscan.Null {
		// fluentd writes absent values and zero durations as nil.
		sc.Null()
		return sc.Err()
	}
	switch f.kind {
	case kStr:
		t.str[f.idx] = d.str(next)
	case kSD:
		if next == jsonscan.Object {
			return d.object(true)
		}
		t.extra = append(t.extra, kv{d.keep(k), d.str(next)})
	case kStart:
		if next != jsonscan.String {
			return fmt.Errorf("start_at is a JSON %v, not an RFC 3339 timestamp string", next)
		}
		v, ok := sc.Str()
		if !ok {
			return sc.Err()
		}
		ns, ok := parseTime(v)
		if !ok {
			return fmt.Errorf("start_at %s is not an RFC 3339 timestamp between 1900 and 2261", decode.Quote(v, 40))
		}
		t.startNs, t.hasStart = ns, true
	default:
		return d.typed(k, f, next)
	}
	return sc.Err()
}

// typed reads a number, duration, bool or time value. A value of the wrong
// shape is not a reason to lose the record: it goes to extra under its key
// and the column stays NULL.
func (d *Decoder) typed(k []byte, f field, next jsonscan.Kind) error {
	sc := &d.sc
	t := d.t
	raw, isStr := d.scalar(next)
	if err := sc.Err(); err != nil {
		return err
	}
	if isStr && len(raw) == 0 {
		return nil // an empty string is an absent value
	}
	ok := false
	switch f.kind {
	case kCount:
		var v uint64
		if v, ok = jsonscan.ParseUint(raw); ok {
			t.count[f.idx], t.countSet = v, t.countSet|1<<f.idx
		}
	case kTries:
		var v uint64
		if v, ok = jsonscan.ParseUint(raw); ok && v <= 1<<32-1 {
			t.tries[f.idx], t.triesSet = uint32(v), t.triesSet|1<<f.idx
		} else {
			ok = false
		}
	case kDur:
		if isStr {
			var v uint64
			if v, ok = ParseDuration(raw); ok {
				t.dur[f.idx], t.durSet = v, t.durSet|1<<f.idx
			}
		}
	case kStatus:
		var v uint64
		if v, ok = jsonscan.ParseUint(raw); ok && v <= 65535 {
			// rsp_status/origin_status are u16 written as 0 when there is none.
			if v != 0 {
				t.status[f.idx], t.statusSet = uint16(v), t.statusSet|1<<f.idx
			}
		} else {
			ok = false
		}
	case kReuse:
		switch string(raw) {
		case "true":
			t.reuse, ok = 1, true
		case "false":
			t.reuse, ok = 0, true
		}
	case kPid:
		var v uint64
		if v, ok = jsonscan.ParseUint(raw); ok && v <= 1<<32-1 {
			t.pid = uint32(v)
		} else {
			ok = false
		}
	case kReportTS:
		var v int64
		if v, ok = jsonscan.ParseInt(raw); ok && v > -1<<40 && v < 1<<40 {
			t.reportS, t.hasReport = v, true
		} else {
			ok = false
		}
	case kExpire:
		if isStr {
			t.expireNs, ok = parseTime(raw)
			t.hasExpire = ok
		}
	case kRsyslogTime:
		if isStr {
			t.rsyslogNs, ok = parseTime(raw)
			t.hasRsyslog = ok
		}
	default:
		panic(fmt.Sprintf("BUG: g3proxy: key %s has kind %d without a reader", k, f.kind))
	}
	if !ok {
		t.extra = append(t.extra, kv{d.keep(k), d.keep(raw)})
	}
	return nil
}

// scalar reads the next value, of kind next (from Peek): a string comes
// back unescaped with isStr true (not yet kept: see keep), any other value
// as its raw JSON text.
func (d *Decoder) scalar(next jsonscan.Kind) (raw []byte, isStr bool) {
	if next == jsonscan.String {
		v, _ := d.sc.Str()
		return v, true
	}
	v, _ := d.sc.Skip()
	return v, false
}

// str reads the next value, of kind next (from Peek): strings unescaped and
// kept, anything else as its raw JSON text.
func (d *Decoder) str(next jsonscan.Kind) []byte {
	v, isStr := d.scalar(next)
	if isStr {
		return d.keep(v)
	}
	return v
}

// parseTime reads an RFC 3339 timestamp within the years ClickHouse's
// DateTime64 holds and int64 nanoseconds reach (1900..2261).
func parseTime(v []byte) (int64, bool) {
	if len(v) < 4 {
		return 0, false
	}
	y := int(v[0]-'0')*1000 + int(v[1]-'0')*100 + int(v[2]-'0')*10 + int(v[3]-'0')
	if y < 1900 || y > 2261 {
		return 0, false
	}
	return timeparse.RFC3339(v)
}

// keep returns v if it points into the current JSON text, or a copy in the
// arena if it points into the scanner's scratch space (escaped strings),
// which the next read overwrites. Arena copies stay valid until the rows
// are appended: the arena is only truncated at the start of Decode (and
// back to a rejected record's start), and growing it leaves the earlier
// backing array untouched.
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
