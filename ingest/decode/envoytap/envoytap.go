// Package envoytap decodes Envoy tap transport-socket traces: the
// envoy.data.tap.v3.TraceWrapper messages (and their v2alpha predecessors)
// that the tap transport socket writes, holding a socket_buffered_trace or a
// socket_streamed_trace_segment. Spec: envoy api/envoy/data/tap/v3/
// {wrapper,transport,common}.proto, docs/root/operations/traffic_tapping.rst;
// field reference: docs/formats/envoy-tap-transport-socket.md.
//
// Two encodings, both decoded into the generated types of
// github.com/envoyproxy/go-control-plane (proto.Unmarshal; for JSON a
// hand-written reader of the shape Envoy writes, jsonread.go, with protojson
// for every document it does not know):
//
//   - JSON (sink formats JSON_BODY_AS_BYTES, JSON_BODY_AS_STRING): one or more
//     whole documents, pretty-printed or compact, concatenated with no
//     separator ("}{", as file_per_tap writes a streamed trace) or separated
//     by white space. Each document is one record. Keys may be proto names
//     (trace_id, as Envoy writes) or JSON names (traceId); 64-bit ids may be
//     strings or numbers. v2alpha documents decode with the v3 types: every
//     socket message kept its JSON field names (v3 only added
//     SocketEvent.connection, seq_num and SocketEvents).
//   - Protobuf (PROTO_BINARY_LENGTH_DELIMITED): messages each prefixed with
//     their length as a varint. Each message is one record. v2alpha messages
//     are wire-compatible with v3 except Connection, whose addresses moved
//     from fields 2/3 to 1/2; such messages are recognised and repaired (see
//     v2alpha.go).
//
// The encoding comes from the subject: logs.envoytap.json[.<envoy>] or
// logs.envoytap.proto[.<envoy>]. On any other subject the payload is sniffed:
// JSON when its first byte after white space is '{'. The subject tokens after
// the encoding name the originating Envoy (column "envoy"): trace ids are only
// unique per Envoy process, so publishers should put a per-process name there.
//
// Rows: every socket event (read, write, closed) is a row of envoytap_events;
// every buffered trace and every streamed segment that carries the connection
// is a row of envoytap_connections (a connection segment has no time, so it
// cannot be an event row). A record either appends all of its rows or, when
// anything in it is invalid, none, and becomes one reject.
//
// Broken input: a JSON document that is not well-formed has no trustworthy
// end, so the reject runs to the next place a document visibly starts (a '{'
// at the start of a line or right after a '}' that starts a line: how
// pretty-printed documents begin), or to the end of the payload. A protobuf
// length prefix that is not a varint, or that announces more bytes than the
// payload has left, makes everything from it to the end one reject: without a
// trustworthy length there is no next message boundary to find. A payload
// on the protobuf subject whose first message is no tap trace is judged
// whole and is one reject that says what it looks like: JSON, text
// (PROTO_TEXT), one TraceWrapper without a length prefix (PROTO_BINARY), or
// other bytes (shape.go); read on prefix by prefix it would be hundreds.
package envoytap

import (
	"encoding/binary"
	"strings"
	"unicode/utf8"

	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/ingest/decode/jsonscan"
	"github.com/tapline/tapline/schema"
)

// Format is the name this decoder is registered under.
const Format = "envoytap"

// Subject prefixes of the two encodings (tapline's defaults are exactly
// these; a further ".<envoy>" token names the originating Envoy).
const (
	SubjectJSON  = "logs.envoytap.json"
	SubjectProto = "logs.envoytap.proto"
)

// Decoder decodes Envoy tap transport-socket traces. See the package doc.
type Decoder struct {
	bodyLimit int
	sc        jsonscan.Scanner
	jr        jsonReader
	wrapper   tapv3.TraceWrapper
	rec       record
	cols      cols
	bound     *schema.Builder
	jsonOpts  protojson.UnmarshalOptions
	protoOpts proto.UnmarshalOptions
}

var _ decode.Decoder = (*Decoder)(nil)

// New returns a Decoder. opts.BodyLimit() bounds the body prefix kept per
// event row (default 256 bytes, negative keeps none); TimeZone is not used:
// protobuf timestamps are always UTC.
func New(opts decode.Options) (decode.Decoder, error) {
	return &Decoder{
		bodyLimit: opts.BodyLimit(),
		// Unknown keys are dropped so that documents from Envoy versions newer
		// than the generated types still decode; keys of the wrong type, bad
		// base64 and the like remain errors.
		jsonOpts: protojson.UnmarshalOptions{DiscardUnknown: true},
	}, nil
}

// Tables returns envoytap_events and envoytap_connections, in that order.
func (d *Decoder) Tables() []*schema.Table {
	return []*schema.Table{schema.EnvoytapEvents, schema.EnvoytapConnections}
}

// Decode appends the rows of every record in payload to out. See
// decode.Decoder for the contract and the package doc for the encodings.
func (d *Decoder) Decode(payload []byte, meta decode.Meta, out *decode.Output) {
	if d.bound != out.Builders[0] {
		d.cols.bind(out.Builders[0], out.Builders[1])
		d.bound = out.Builders[0]
	}
	enc, envoy := parseSubject(meta.Subject)
	if enc == encUnknown {
		enc = sniff(payload)
	}
	if enc == encJSON {
		d.decodeJSON(payload, envoy, out)
	} else {
		d.decodeProto(payload, envoy, out)
	}
}

type encoding uint8

const (
	encUnknown encoding = iota
	encJSON
	encProto
)

// parseSubject reads logs.envoytap.<json|proto>[.<envoy>]. Other subjects
// name neither an encoding nor an Envoy.
func parseSubject(subject string) (encoding, string) {
	for _, c := range [...]struct {
		prefix string
		enc    encoding
	}{{SubjectJSON, encJSON}, {SubjectProto, encProto}} {
		rest, ok := strings.CutPrefix(subject, c.prefix)
		if !ok {
			continue
		}
		if rest == "" {
			return c.enc, ""
		}
		if rest[0] == '.' {
			return c.enc, rest[1:]
		}
	}
	return encUnknown, ""
}

// sniff says JSON when the first byte after white space is '{'. A
// length-delimited message of 123 bytes also starts with '{' (0x7b), which is
// why the subject, when it names the encoding, wins over sniffing.
func sniff(payload []byte) encoding {
	if i := skipSpace(payload, 0); i < len(payload) && payload[i] == '{' {
		return encJSON
	}
	return encProto
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// decodeJSON reads payload's documents one after another: with the JSON
// reader (jsonread.go) where it can, else delimited with the JSON scanner
// (which finds where a document ends without building it) and decoded with
// protojson.
func (d *Decoder) decodeJSON(payload []byte, envoy string, out *decode.Output) {
	for off := skipSpace(payload, 0); off < len(payload); off = skipSpace(payload, off) {
		start := off
		if payload[start] != '{' {
			end := resync(payload, start)
			out.Rejectf(payload, start, end, "not a JSON document: expected '{' at byte %d; skipped to the next document start", start)
			off = end
			continue
		}
		if n, ok := d.jr.next(payload[start:], &d.wrapper); ok {
			d.emit(payload, start, start+n, envoy, out)
			off = start + n
			continue
		}
		d.sc.Reset(payload[start:])
		raw, ok := d.sc.Skip()
		if !ok {
			end := resync(payload, start)
			out.Rejectf(payload, start, end, "broken JSON document starting at byte %d (%v, offset relative to the document); skipped to the next document start", start, d.sc.Err())
			off = end
			continue
		}
		end := start + len(raw)
		doc := payload[start:end]
		if err := d.jsonOpts.Unmarshal(doc, &d.wrapper); err != nil {
			if !utf8.Valid(doc) {
				out.Rejectf(payload, start, end, "document is not valid UTF-8 (%s): a JSON_BODY_AS_STRING sink cannot carry binary bodies; configure the tap sink with JSON_BODY_AS_BYTES or PROTO_BINARY_LENGTH_DELIMITED", protoError(err))
			} else {
				out.Rejectf(payload, start, end, "not an Envoy tap TraceWrapper: %s", protoError(err))
			}
			off = end
			continue
		}
		d.emit(payload, start, end, envoy, out)
		off = end
	}
}

// resync returns where the next document visibly starts after start: a '{'
// at the start of a line, or right after a '}' that starts a line (Envoy's
// file sink glues streamed documents as "}{"). It returns len(payload) when
// there is none.
func resync(payload []byte, start int) int {
	for p := start + 1; p < len(payload); p++ {
		if payload[p] != '{' {
			continue
		}
		prev := payload[p-1]
		if prev == '\n' || (prev == '}' && (p-1 == 0 || payload[p-2] == '\n')) {
			return p
		}
	}
	return len(payload)
}

// decodeProto splits payload into varint-length-delimited messages, as
// Envoy's PROTO_BINARY_LENGTH_DELIMITED sink writes them
// (SerializeDelimitedTo*: a varint32 length, then the message).
func (d *Decoder) decodeProto(payload []byte, envoy string, out *decode.Output) {
	for off := 0; off < len(payload); {
		n, k := binary.Uvarint(payload[off:])
		if off == 0 && (k <= 0 || n > uint64(len(payload)-k)) {
			out.Rejectf(payload, 0, len(payload), "%s", d.notDelimited(payload, "its first length prefix is not a varint or announces more bytes than follow"))
			return
		}
		if k <= 0 {
			out.Rejectf(payload, off, len(payload), "corrupt length prefix at byte %d (not a varint); the remaining %d bytes cannot be split into messages. Is this JSON published on the proto subject, or PROTO_BINARY without length prefixes? Use PROTO_BINARY_LENGTH_DELIMITED", off, len(payload)-off)
			return
		}
		if n > uint64(len(payload)-off-k) {
			out.Rejectf(payload, off, len(payload), "corrupt length prefix at byte %d: it announces %d bytes but only %d follow; the rest of the payload is rejected (a message cut short, or not PROTO_BINARY_LENGTH_DELIMITED)", off, n, len(payload)-off-k)
			return
		}
		start, end := off, off+k+int(n)
		err := d.protoOpts.Unmarshal(payload[off+k:end], &d.wrapper)
		if off == 0 && (err != nil || d.wrapper.GetTrace() == nil) {
			// The first message is no tap trace: judge the payload whole
			// (JSON, text, a message without prefix) rather than reading
			// on from a length prefix that is probably none.
			first := "its first message holds no trace"
			if err != nil {
				first = "its first message is no protobuf: " + protoError(err)
			}
			out.Rejectf(payload, 0, len(payload), "%s", d.notDelimited(payload, first))
			return
		}
		if err != nil {
			out.Rejectf(payload, start, end, "not an Envoy tap TraceWrapper: %s", protoError(err))
			off = end
			continue
		}
		if err := repairV2alpha(&d.wrapper); err != nil {
			out.Rejectf(payload, start, end, "v2alpha connection: %s", protoError(err))
			off = end
			continue
		}
		d.emit(payload, start, end, envoy, out)
		off = end
	}
}

// emit turns the decoded wrapper into rows, or rejects payload[start:end].
func (d *Decoder) emit(payload []byte, start, end int, envoy string, out *decode.Output) {
	if err := d.rec.fromWrapper(&d.wrapper); err != nil {
		out.Rejectf(payload, start, end, "%v", err)
		return
	}
	d.cols.appendRecord(&d.rec, envoy, d.bodyLimit)
	out.Records++
}

// protoError renders a protobuf-go error for a reject reason. protobuf-go
// deliberately varies the spaces in its messages between builds (a
// non-breaking space after "proto:") so that nobody matches on them; reasons
// must be the same for the same payload, so the prefix is dropped and the
// spaces made plain.
func protoError(err error) string {
	s := strings.ReplaceAll(err.Error(), "\u00a0", " ")
	return strings.TrimPrefix(s, "proto: ")
}
