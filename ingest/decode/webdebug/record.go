package webdebug

import (
	"errors"
	"fmt"
	"math"

	"github.com/tapline/tapline/ingest/decode/jsonscan"
	"github.com/tapline/tapline/ingest/decode/timeparse"
)

// kv is one key/value pair kept for a map column.
type kv struct{ k, v []byte }

// opt32 is an optional non-negative integer that fits 32 bits.
type opt32 struct {
	v   uint32
	set bool
}

// location is a code location: calledFrom or definedIn.
type location struct {
	file                   []byte
	line, posStart, posEnd opt32
}

// Sample kinds: what an event adds to the cross-source latency_1m view.
const (
	sampleRequest = "request"
	sampleQuery   = "query"
)

// event holds one event between parsing and appending, so that a document
// that fails half way appends nothing. Byte slices point into the payload or
// into the decoder's arena, both valid until the document is appended.
type event struct {
	typ         []byte
	rawPayload  []byte // as written, nil when absent
	payload     []byte // compacted JSON text
	duration    float64
	hasDuration bool
	success     int8 // -1 absent, 0 false, 1 true
	state       int8 // legacy "state", same encoding
	importance  uint8
	hasImport   bool
	tags        [][]byte
	calledFrom  location
	definedIn   location
	extra       []kv

	// The payload fields tapline computes from (payload.go).
	target, query, syntax []byte
	shape                 []byte
	legacyQuery           bool // a legacy "request" event carrying a query
	legacyDuration        float64
	hasLegacyDuration     bool
	method, uri, host     []byte
	status                uint16
	hasStatus             bool

	// Decided in finish.
	isError bool
	sample  string
}

func (e *event) reset() {
	*e = event{success: -1, state: -1, tags: e.tags[:0], extra: e.extra[:0]}
}

// isQuery says whether the event is a database (or any backend) query: type
// "query", or a legacy "request" event with a query string.
func (e *event) isQuery() bool {
	return string(e.typ) == "query" || e.legacyQuery
}

// document holds the document-level facts.
type document struct {
	id, uuid    []byte
	version     int64
	hasVersion  bool
	hasEvents   bool
	wrapped     bool // read from inside "_x_http_debug"
	extra       []kv
	req, resp   int // ids of the document's request and response events, -1 when none
	sampleID    int // id of the event giving the request-level sample, -1 when none
	outcome     int // the sample event, else the response, else the request, else -1
	method, uri []byte
	host, route []byte
	errors      int
	earliest    int64
	err         error // the first problem with id, uuid, version or events
}

// fail keeps the first document-level problem; see parseDoc.
func (doc *document) fail(err error) {
	if doc.err == nil {
		doc.err = err
	}
}

func (doc *document) reset() {
	*doc = document{extra: doc.extra[:0], req: -1, resp: -1, sampleID: -1, outcome: -1}
}

func (d *Decoder) resetDoc() {
	d.doc.reset()
	d.tree.Reset()
}

// forget drops every reference into the payload (scanners, parsed slices,
// also in reused capacity), so that the decoder does not keep a message's
// bytes alive after Decode returns.
func (d *Decoder) forget() {
	d.rec = nil
	d.sc.Reset(nil)
	d.ps.Reset(nil)
	for i := range d.evs {
		e := &d.evs[i]
		clear(e.tags[:cap(e.tags)])
		clear(e.extra[:cap(e.extra)])
		e.reset()
	}
	clear(d.doc.extra[:cap(d.doc.extra)])
	d.doc.reset()
}

// docID returns the document id: "id" as the spec names it, else "uuid" as
// every upstream example writes it.
func (doc *document) docID() []byte {
	if len(doc.id) > 0 {
		return doc.id
	}
	return doc.uuid
}

// parse reads one document at the scanner's position into d.doc, d.tree and
// d.evs.
func (d *Decoder) parse() error {
	d.resetDoc()
	if err := d.parseDoc(false); err != nil {
		return err
	}
	doc := &d.doc
	switch {
	case len(doc.id) == 0 && len(doc.uuid) == 0:
		return errors.New(`document has no "id" (or "uuid"): every web debug document names its request with a uuid; fix the emitter`)
	case !doc.hasVersion:
		return errors.New(`document has no "version": web debug scheme documents carry "version": 1`)
	case !doc.hasEvents:
		return errors.New(`document has no "events" array: this is not a web debug scheme v1 document (drafts before 2019-02-20 listed "queries", "logs", ... instead)`)
	}
	if len(doc.id) > 0 && len(doc.uuid) > 0 {
		doc.extra = append(doc.extra, kv{[]byte("uuid"), doc.uuid})
	}
	return nil
}

// parseDoc reads the members of a document object. Inside a JSON response
// wrapper (the json-response transport puts the scheme under
// "_x_http_debug" next to the application's own keys) the wrapped object is
// the document and every other key of the response is ignored, including an
// "id" that is the response's (json-rpc) id: so a wrong "id", "uuid",
// "version" or "events" is only reported once the whole object was read
// without finding a wrapper.
func (d *Decoder) parseDoc(inner bool) error {
	sc := &d.sc
	sc.EnterObject()
	for {
		k, ok := sc.Key()
		if !ok {
			break
		}
		if !inner && d.doc.wrapped {
			sc.Skip()
			continue
		}
		switch string(k) {
		case "id":
			d.doc.id = d.idValue("id")
		case "uuid":
			d.doc.uuid = d.idValue("uuid")
		case "version":
			d.readVersion()
		case "events":
			if sc.Peek() != jsonscan.Array {
				v, _ := sc.Skip()
				d.doc.fail(fmt.Errorf(`"events" is %s, not an array of events`, quote(v)))
				continue
			}
			if err := d.parseEvents(); err != nil {
				return err
			}
		case "_x_http_debug":
			if inner || sc.Peek() != jsonscan.Object {
				d.docExtra(k)
				continue
			}
			d.resetDoc()
			d.doc.wrapped = true
			if err := d.parseDoc(true); err != nil {
				return err
			}
		default:
			d.docExtra(k)
		}
		if err := sc.Err(); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return d.doc.err
}

func (d *Decoder) docExtra(k []byte) {
	kk := d.keep(k)
	d.doc.extra = append(d.doc.extra, kv{kk, d.anyValue(&d.sc)})
}

// idValue reads "id" or "uuid": a non-empty string.
func (d *Decoder) idValue(key string) []byte {
	sc := &d.sc
	if sc.Peek() != jsonscan.String {
		v, _ := sc.Skip()
		d.doc.fail(fmt.Errorf("%q is %s, not a string: the document id is a uuid string", key, quote(v)))
		return nil
	}
	v, _ := sc.Str()
	if len(v) == 0 {
		d.doc.fail(fmt.Errorf("%q is empty: the document id is a uuid string", key))
		return nil
	}
	return d.keep(v)
}

func (d *Decoder) readVersion() {
	sc := &d.sc
	if sc.Peek() == jsonscan.Number {
		if v, ok := sc.Float(); ok && v >= 0 && v <= math.MaxUint16 && v == math.Trunc(v) {
			d.doc.version, d.doc.hasVersion = int64(v), true
			return
		}
	} else {
		sc.Skip()
	}
	d.doc.fail(errors.New(`"version" is not an integer from 0 to 65535: web debug scheme documents carry "version": 1`))
}

func (d *Decoder) parseEvents() error {
	sc := &d.sc
	d.doc.hasEvents = true
	sc.EnterArray()
	for sc.Elem() {
		if err := d.parseEvent(-1); err != nil {
			return err
		}
	}
	return sc.Err()
}

// parseEvent reads one event object and, recursively, its nested events.
func (d *Decoder) parseEvent(parent int) error {
	sc := &d.sc
	id, err := d.tree.Add(parent)
	if err != nil {
		return fmt.Errorf("%w (flatten or trim the tree before publishing)", err)
	}
	if id == len(d.evs) {
		d.evs = append(d.evs, event{})
	}
	d.evs[id].reset()
	if sc.Peek() != jsonscan.Object {
		v, _ := sc.Skip()
		return fmt.Errorf("event %s is %s, not an object", d.tree.Path(id), quote(v))
	}
	sc.EnterObject()
	for {
		k, ok := sc.Key()
		if !ok {
			break
		}
		// d.evs may grow while nested events are read: index, never hold a pointer.
		e := &d.evs[id]
		switch string(k) {
		case "type":
			if sc.Peek() != jsonscan.String {
				v, _ := sc.Skip()
				return fmt.Errorf(`event %s: "type" is %s, not a string`, d.tree.Path(id), quote(v))
			}
			v, _ := sc.Str()
			e.typ = d.keep(v)
		case "payload":
			if sc.Null() {
				continue
			}
			e.rawPayload, _ = sc.Skip()
		case "tags":
			d.readTags(id, k)
		case "importance":
			d.readImportance(id)
		case "time":
			d.readTime(id)
		case "duration":
			d.readDuration(id)
		case "success":
			d.readBool(&e.success, &e.extra, k)
		case "state":
			// Drafts before 2019-03 named "success" "state".
			d.readBool(&e.state, &e.extra, k)
		case "calledFrom":
			d.readLocation(id, k, &e.calledFrom)
		case "definedIn":
			d.readLocation(id, k, &e.definedIn)
		case "nested":
			if sc.Null() {
				continue
			}
			if sc.Peek() != jsonscan.Array {
				v, _ := sc.Skip()
				return fmt.Errorf(`event %s: "nested" is %s, not an array of events`, d.tree.Path(id), quote(v))
			}
			sc.EnterArray()
			for sc.Elem() {
				if err := d.parseEvent(id); err != nil {
					return err
				}
			}
		default:
			kk := d.keep(k)
			v := d.anyValue(sc)
			d.evs[id].extra = append(d.evs[id].extra, kv{kk, v})
		}
		if err := sc.Err(); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	e := &d.evs[id]
	if len(e.typ) == 0 {
		return fmt.Errorf(`event %s has no "type": every event names its type (log, query, request, ...)`, d.tree.Path(id))
	}
	d.readPayload(e)
	return nil
}

func (d *Decoder) readTags(id int, k []byte) {
	sc := &d.sc
	switch sc.Peek() {
	case jsonscan.Array:
		sc.EnterArray()
		for sc.Elem() {
			if sc.Null() {
				continue
			}
			v := d.anyValue(sc)
			d.evs[id].tags = append(d.evs[id].tags, v)
		}
	case jsonscan.String:
		v, _ := sc.Str()
		d.evs[id].tags = append(d.evs[id].tags, d.keep(v))
	case jsonscan.Null:
		sc.Null()
	default:
		d.evs[id].extra = append(d.evs[id].extra, kv{d.keep(k), d.anyValue(sc)})
	}
}

func (d *Decoder) readImportance(id int) {
	v, raw, ok := d.number()
	switch {
	case ok && v == math.Trunc(v) && v <= math.MaxUint8:
		d.evs[id].importance, d.evs[id].hasImport = uint8(v), true
	case raw != nil:
		d.evs[id].extra = append(d.evs[id].extra, kv{keyImportance, raw})
	}
}

// readDuration reads "duration" (milliseconds; the scheme says an integer,
// fractions are kept).
func (d *Decoder) readDuration(id int) {
	v, raw, ok := d.number()
	switch {
	case ok:
		d.evs[id].duration, d.evs[id].hasDuration = v, true
	case raw != nil:
		d.evs[id].extra = append(d.evs[id].extra, kv{keyDuration, raw})
	}
}

// Keys of known members whose value can land in extra. The key slice a
// scanner returns may be overwritten while the value is read, so these use
// constants rather than keeping it.
var (
	keyImportance = []byte("importance")
	keyDuration   = []byte("duration")
	keyTime       = []byte("time")
)

// maxTimeMs is 2300-01-01 in Unix milliseconds: DateTime64 ends in 2299.
const maxTimeMs = 10413792000000

// readTime reads an event time: Unix milliseconds as the scheme says (a JSON
// number or a string of digits; fractions are cut), or an RFC 3339 string.
// Anything else, and times outside 1970..2299, go to extra.
func (d *Decoder) readTime(id int) {
	sc := &d.sc
	if sc.Peek() == jsonscan.String {
		v, _ := sc.Str()
		if ns, ok := timeparse.RFC3339(v); ok && ns >= 0 && ns/1e6 < maxTimeMs {
			d.tree.SetTime(id, ns/1e6)
			return
		}
		if f, ok := parseNumber(v); ok && f >= 0 && f < maxTimeMs {
			d.tree.SetTime(id, int64(f))
			return
		}
		d.evs[id].extra = append(d.evs[id].extra, kv{keyTime, d.keep(v)})
		return
	}
	v, raw, ok := d.number()
	switch {
	case ok && v < maxTimeMs:
		d.tree.SetTime(id, int64(v))
	case raw != nil:
		d.evs[id].extra = append(d.evs[id].extra, kv{keyTime, raw})
	}
}

// number reads a non-negative finite number written as a JSON number or as
// a numeric string; ok=false for anything else. raw is the value's text for
// the extra map when the caller cannot use v (anyValue's form: strings
// unescaped, other values as compact JSON); nil for null.
func (d *Decoder) number() (v float64, raw []byte, ok bool) {
	sc := &d.sc
	switch sc.Peek() {
	case jsonscan.Null:
		sc.Null()
		return 0, nil, false
	case jsonscan.Number:
		raw, _ = sc.Num()
		v, ok = parseNumber(raw)
	case jsonscan.String:
		s, _ := sc.Str()
		raw = d.keep(s)
		v, ok = parseNumber(raw)
	default:
		raw = d.anyValue(sc)
	}
	if sc.Err() != nil {
		return 0, nil, false
	}
	if !ok || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, raw, false
	}
	return v, raw, true
}

func (d *Decoder) readBool(dst *int8, extra *[]kv, k []byte) {
	sc := &d.sc
	switch sc.Peek() {
	case jsonscan.Bool:
		b, _ := sc.Bool()
		if b {
			*dst = 1
		} else {
			*dst = 0
		}
	case jsonscan.Null:
		sc.Null()
	default:
		*extra = append(*extra, kv{d.keep(k), d.anyValue(sc)})
	}
}

// readLocation reads a location object. The docs name the path "file"; the
// PHP emitter (TypeLocation) writes "relativePath": both are the file.
// Unknown members and values of the wrong type go to extra as
// "<key>.<member>"; a location that is not an object goes to extra as it is.
func (d *Decoder) readLocation(id int, k []byte, dst *location) {
	sc := &d.sc
	if sc.Null() {
		return
	}
	if sc.Peek() != jsonscan.Object {
		d.evs[id].extra = append(d.evs[id].extra, kv{d.keep(k), d.anyValue(sc)})
		return
	}
	prefix := d.keep(k)
	var l location
	sc.EnterObject()
	for {
		m, ok := sc.Key()
		if !ok {
			break
		}
		var dst *opt32
		switch string(m) {
		case "file", "relativePath":
			if sc.Peek() == jsonscan.String {
				v, _ := sc.Str()
				l.file = d.keep(v)
				continue
			}
		case "line":
			dst = &l.line
		case "positionStart":
			dst = &l.posStart
		case "positionEnd":
			dst = &l.posEnd
		}
		key := d.joinKey(prefix, m)
		if dst == nil {
			d.evs[id].extra = append(d.evs[id].extra, kv{key, d.anyValue(sc)})
			continue
		}
		v, raw, ok := d.number()
		switch {
		case ok && v == math.Trunc(v) && v <= math.MaxUint32:
			*dst = opt32{v: uint32(v), set: true}
		case raw != nil:
			d.evs[id].extra = append(d.evs[id].extra, kv{key, raw})
		}
	}
	*dst = l
}

// joinKey returns "prefix.m" in the arena.
func (d *Decoder) joinKey(prefix, m []byte) []byte {
	n := len(d.arena)
	d.arena = append(d.arena, prefix...)
	d.arena = append(d.arena, '.')
	d.arena = append(d.arena, m...)
	return d.arena[n:len(d.arena):len(d.arena)]
}
