package gen

import (
	"strconv"
	"time"
)

// wdBool is an optional JSON bool: absent, false or true.
type wdBool uint8

const (
	wdNone wdBool = iota
	wdFalse
	wdTrue
)

// wdJSON writes pretty-printed JSON the way web debug emitters do: indent
// 2 or 4 spaces with ": " (web-debug-proto's examples and docs), or 3
// spaces with ":" and PHP's escaped slashes (web-debug-php-core's README
// output, PHP's json_encode), where every event also writes its empty
// "tags": [] and "nested": [] and locations use "relativePath".
type wdJSON struct {
	b       []byte
	indent  int
	php     bool
	members []int // per open container: members written so far
}

func (w *wdJSON) reset(buf []byte, indent int, php bool) {
	if php {
		indent = 3
	} else if indent == 3 {
		indent = 4
	}
	w.b, w.indent, w.php, w.members = buf, indent, php, w.members[:0]
}

func (w *wdJSON) newline() {
	w.b = append(w.b, '\n')
	for i := 0; i < len(w.members)*w.indent; i++ {
		w.b = append(w.b, ' ')
	}
}

func (w *wdJSON) beginObject() { w.b = append(w.b, '{'); w.members = append(w.members, 0) }
func (w *wdJSON) beginArray()  { w.b = append(w.b, '['); w.members = append(w.members, 0) }
func (w *wdJSON) endObject()   { w.end('}') }
func (w *wdJSON) endArray()    { w.end(']') }

func (w *wdJSON) end(c byte) {
	n := w.members[len(w.members)-1]
	w.members = w.members[:len(w.members)-1]
	if n > 0 {
		w.newline()
	}
	w.b = append(w.b, c)
}

// elem starts the next element of the innermost array.
func (w *wdJSON) elem() {
	top := len(w.members) - 1
	if w.members[top] > 0 {
		w.b = append(w.b, ',')
	}
	w.members[top]++
	w.newline()
}

func (w *wdJSON) key(k string) {
	w.elem()
	w.str(k)
	if w.php {
		w.b = append(w.b, ':')
	} else {
		w.b = append(w.b, ": "...)
	}
}

func (w *wdJSON) kv(k, v string) { w.key(k); w.str(v) }
func (w *wdJSON) num(v int)      { w.b = strconv.AppendInt(w.b, int64(v), 10) }
func (w *wdJSON) bool(v bool)    { w.b = strconv.AppendBool(w.b, v) }

// str writes a JSON string: quotes, backslashes and control characters
// escaped, and "/" as "\/" in PHP style.
func (w *wdJSON) str(s string) {
	const hex = "0123456789abcdef"
	w.b = append(w.b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			w.b = append(w.b, '\\', c)
		case c == '/' && w.php:
			w.b = append(w.b, '\\', '/')
		case c == '\n':
			w.b = append(w.b, '\\', 'n')
		case c < 0x20:
			w.b = append(w.b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			w.b = append(w.b, c)
		}
	}
	w.b = append(w.b, '"')
}

// params writes a param[] list of {key, value} objects.
func (w *wdJSON) params(ps [][2]string) {
	w.beginArray()
	for _, p := range ps {
		w.elem()
		w.beginObject()
		w.kv("key", p[0])
		w.kv("value", p[1])
		w.endObject()
	}
	w.endArray()
}

func (w *wdJSON) location(k, file string, line int) {
	w.key(k)
	w.beginObject()
	if w.php {
		w.kv("relativePath", file)
	} else {
		w.kv("file", file)
	}
	w.key("line")
	w.num(line)
	w.endObject()
}

// event writes an event with its fields in the PHP emitter's export order
// (AbstractEvent::export): type, payload, tags, importance, time, duration,
// success, calledFrom, definedIn, nested. An event without a type (a
// malformed record) has no "type" key; a nil payload is PHP's empty [].
func (w *wdJSON) event(e *wdEvent) {
	w.beginObject()
	if e.typ != "" {
		w.kv("type", e.typ)
	}
	w.key("payload")
	if e.payload == nil {
		w.b = append(w.b, "[]"...)
	} else {
		w.beginObject()
		e.payload(w)
		w.endObject()
	}
	if len(e.tags) > 0 || w.php {
		w.key("tags")
		w.beginArray()
		for _, t := range e.tags {
			w.elem()
			w.str(t)
		}
		w.endArray()
	}
	if e.importance > 0 {
		w.key("importance")
		w.num(e.importance)
	}
	w.key("time")
	w.b = strconv.AppendInt(w.b, e.time.UnixNano()/int64(time.Millisecond), 10)
	if e.hasDur {
		w.key("duration")
		w.num(e.durationMs)
	}
	for _, f := range []struct {
		k string
		v wdBool
	}{{"success", e.success}, {"state", e.state}} {
		if f.v != wdNone {
			w.key(f.k)
			w.bool(f.v == wdTrue)
		}
	}
	if e.calledFrom != "" {
		w.location("calledFrom", e.calledFrom, 10+len(e.typ))
	}
	if e.definedIn != "" {
		w.location("definedIn", e.definedIn, 1)
	}
	if len(e.nested) > 0 || w.php {
		w.key("nested")
		w.beginArray()
		for i := range e.nested {
			w.elem()
			w.event(&e.nested[i])
		}
		w.endArray()
	}
	w.endObject()
}
