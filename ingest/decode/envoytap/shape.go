package envoytap

import (
	"fmt"
	"unicode/utf8"

	"github.com/tapline/tapline/ingest/decode"
)

// notDelimited explains, for a payload on the protobuf subject whose first
// message is not a tap trace, what the payload is instead, so that the
// whole message becomes one reject that names the cause. Read byte by byte
// as length prefixes, JSON or text would be cut into one bogus "message" per
// few bytes and yield hundreds of rejects that hide it. first says what was
// wrong with the first message.
//
// The shapes recognised: text (JSON when it starts with '{' or '['; PROTO_TEXT
// output or log lines otherwise), one TraceWrapper without a length prefix
// (sink format PROTO_BINARY, as file_per_tap writes .pb files), and other
// bytes.
func (d *Decoder) notDelimited(payload []byte, first string) string {
	if isText(payload) {
		start := payload[skipSpace(payload, 0):]
		if len(start) > 0 && (start[0] == '{' || start[0] == '[') {
			return fmt.Sprintf("payload is JSON, not a length-delimited protobuf stream (%d bytes, starting %s): publish the tap's JSON output (JSON_BODY_AS_BYTES, JSON_BODY_AS_STRING) on %s[.<envoy>], or configure the sink with PROTO_BINARY_LENGTH_DELIMITED", len(payload), decode.Quote(start, 40), SubjectJSON)
		}
		return fmt.Sprintf("payload is text, not a length-delimited protobuf stream (%d bytes, starting %s): PROTO_TEXT output and log lines cannot be decoded; configure the tap sink with PROTO_BINARY_LENGTH_DELIMITED (or JSON on %s)", len(payload), decode.Quote(start, 40), SubjectJSON)
	}
	if err := d.protoOpts.Unmarshal(payload, &d.wrapper); err == nil && d.wrapper.GetTrace() != nil {
		return fmt.Sprintf("payload is one TraceWrapper without a length prefix (%d bytes; sink format PROTO_BINARY, as file_per_tap writes .pb files), not a length-delimited stream: configure the tap sink with PROTO_BINARY_LENGTH_DELIMITED", len(payload))
	}
	head := payload
	if len(head) > 16 {
		head = head[:16]
	}
	return fmt.Sprintf("payload is not a length-delimited stream of Envoy tap TraceWrapper messages (%d bytes, starting % x; %s): configure the tap sink with PROTO_BINARY_LENGTH_DELIMITED, and publish nothing else on %s", len(payload), head, first, SubjectProto)
}

// isText reports whether b is UTF-8 text without control characters other
// than tab, newline and carriage return. A length-delimited tap stream is
// never text: its field tags and small lengths are control bytes within its
// first few bytes, where this check stops.
func isText(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f {
			return false
		}
	}
	return utf8.Valid(b)
}
