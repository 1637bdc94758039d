// Package webdebug decodes documents of the web debug event scheme: the
// JSON "debug/profile scheme" of the Web Application Debug protocol
// (fe3dback/web-debug-proto docs/scheme, v1; reference emitter
// fe3dback/web-debug-php-core; field reference:
// docs/formats/web-debug-scheme.md).
//
// A record is one document, {"id", "version", "events": [...]}, usually
// pretty-printed over many lines. A payload holds one or more documents,
// back to back or separated by white space. Each document becomes one row in
// webdebug_documents and one row per event, at any depth, in
// webdebug_events: the nested event tree is flattened by
// transform/eventtree, which gives each event its position ("0.2.1"), its
// parent's position, its depth and its ranks in document and time order.
//
// Upstream quirks handled (each named where it is handled):
//   - "uuid" instead of "id" (every upstream example) and documents wrapped
//     in a JSON response under "_x_http_debug" (the json-response transport);
//   - legacy "state" for "success", and the legacy "request" event used for
//     database queries (payload type/query/parsed/duration/bindings);
//   - payload "context" as double-encoded JSON, email "to" as a string or an
//     array, param values as numbers or strings, location "relativePath"
//     (what the PHP emitter writes) for the documented "file";
//   - PHP's empty payload "[]" (stored as "{}"), custom event types (payload
//     kept as JSON text only), unknown event keys (kept in extra).
//
// Nesting is bounded by eventtree.DefaultMaxDepth levels; a deeper document
// is rejected with its deepest position named, not followed down the stack.
package webdebug

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/ingest/decode/jsonscan"
	"github.com/tapline/tapline/schema"
	"github.com/tapline/tapline/transform/eventtree"
)

// Format is the name this decoder is registered under.
const Format = "webdebug"

// Decoder decodes web debug scheme documents. See the package doc.
type Decoder struct {
	sc    jsonscan.Scanner // the document
	ps    jsonscan.Scanner // one event's payload, read after the event
	rec   []byte           // the payload from the current document's start
	arena []byte           // copies of unescaped strings and compacted payloads
	tree  eventtree.Tree
	evs   []event // per event, indexed by tree id
	doc   document
	cols  cols
	bound *schema.Builder
}

var _ decode.Decoder = (*Decoder)(nil)

// New returns a Decoder. The scheme's times are Unix milliseconds (UTC), so
// opts.TimeZone does not apply; no option changes decoding.
func New(opts decode.Options) (decode.Decoder, error) {
	return &Decoder{}, nil
}

// Tables returns webdebug_events and webdebug_documents, in that order.
func (d *Decoder) Tables() []*schema.Table {
	return []*schema.Table{schema.WebdebugEvents, schema.WebdebugDocuments}
}

// Decode appends the rows of every document in payload to out. See
// decode.Decoder for the contract. A document that cannot be decoded is one
// reject: its bytes run from its opening '{' to the matching '}' (or, when
// the braces never balance, to the next line that starts with '{', where
// the next document presumably begins). Bytes between documents that are
// not a JSON object are one reject up to that same point.
func (d *Decoder) Decode(payload []byte, meta decode.Meta, out *decode.Output) {
	if d.bound != out.Builders[0] {
		d.cols.bind(out.Builders[0], out.Builders[1])
		d.bound = out.Builders[0]
	}
	defer d.forget()
	off := 0
	for {
		off = skipSpace(payload, off)
		if off >= len(payload) {
			return
		}
		start := off
		switch payload[start] {
		case '{':
		case '[':
			end := matchEnd(payload, start)
			out.Rejectf(payload, start, end, "a JSON array, not a web debug document: publish documents one after another, not in an array")
			off = end
			continue
		default:
			end := nextDocStart(payload, start+1)
			out.Rejectf(payload, start, end, "not a web debug document: a document is a JSON object {\"id\", \"version\", \"events\"}, found %s", decode.Quote(firstLine(payload[start:end]), 40))
			off = end
			continue
		}
		d.rec = payload[start:]
		d.arena = d.arena[:0]
		d.sc.Reset(d.rec)
		if err := d.parse(); err != nil {
			end := matchEnd(payload, start)
			out.Rejectf(payload, start, end, "%s", d.reason(payload, start, err))
			off = end
			continue
		}
		d.finish()
		d.cols.appendDocument(d)
		out.Records++
		off = start + d.sc.Pos()
	}
}

// reason words a failure: syntax errors get the line they are on.
func (d *Decoder) reason(payload []byte, start int, err error) string {
	var se *jsonscan.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v (line %d)", err, decode.LineOf(payload, start+se.Offset))
	}
	return err.Error()
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// nextDocStart returns the offset of the next line after from whose first
// byte is '{' or '[' (documents are written from column 0), or len(b).
func nextDocStart(b []byte, from int) int {
	for i := from; i < len(b); {
		nl := bytes.IndexByte(b[i:], '\n')
		if nl < 0 {
			return len(b)
		}
		i += nl + 1
		if i < len(b) && (b[i] == '{' || b[i] == '[') {
			return i
		}
	}
	return len(b)
}

// matchEnd returns the end of the JSON value starting at b[start] (an
// object or array) by bracket matching outside strings, without
// validating it. When the brackets never balance it returns
// nextDocStart(b, start+1).
func matchEnd(b []byte, start int) int {
	depth := 0
	inStr := false
	for i := start; i < len(b); i++ {
		c := b[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return nextDocStart(b, start+1)
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return bytes.TrimRight(b[:i], "\r")
	}
	return b
}
