// Package decode is the seam between transport and formats: a Decoder turns
// the payload of one message into rows appended to typed Arrow builders, and
// reports every record it cannot decode so that nothing is lost. Decoders
// never see NATS; the pipeline never sees a format.
package decode

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/tapline/tapline/schema"
)

// Decoder decodes message payloads of one format.
//
// Contract:
//   - Tables is fixed for the decoder's lifetime; Decode appends to
//     out.Builders[i] for Tables()[i].
//   - Decode splits payload into records (a line, a JSON document, a
//     length-delimited protobuf message: the format decides) and, for each
//     record, either appends all of its rows or none of them. A record that
//     cannot be decoded becomes one Reject; the decoder keeps going with the
//     next record. Records + len(Rejects) added by a call equals the records
//     the payload held.
//   - Decode must not retain payload, or any slice of it, after it returns.
//   - Decode is not safe for concurrent use; use one Decoder per goroutine.
//   - The same payload always yields the same rows (replays depend on it).
type Decoder interface {
	Tables() []*schema.Table
	Decode(payload []byte, meta Meta, out *Output)
}

// Ordered is implemented by a decoder whose batches must be inserted one at
// a time, in stream order: its tables' views join a row to one inserted by
// an earlier batch (a request's end to its start), so two batches inserted
// at once could miss each other's halves.
type Ordered interface {
	// InsertInOrder reports whether batches must be inserted in order.
	InsertInOrder() bool
}

// InOrder reports whether d's batches must be inserted one at a time, in
// stream order (d implements Ordered and says so).
func InOrder(d Decoder) bool {
	o, ok := d.(Ordered)
	return ok && o.InsertInOrder()
}

// Meta is what the transport knows about a payload.
type Meta struct {
	// Subject is the NATS subject the message was published to. Some
	// formats take facts from it (for example client or server side).
	Subject string
}

// Output accumulates the rows and rejects of one or more Decode calls.
type Output struct {
	// Builders receive rows, one per table in Decoder.Tables() order. A
	// decoder may append a String column through Builder.Strings instead of
	// its Arrow field builder (one or the other, per column).
	Builders []*schema.Builder
	// Records counts input records whose rows were appended.
	Records int
	// Rejects lists the records that could not be decoded.
	Rejects []Reject

	// line-number cache for Rejectf: the payload last seen (its first byte
	// and length), and an offset in it with its line number.
	lineBase *byte
	lineLen  int
	lineOff  int
	lineNo   int
}

// Reject is one record that could not be decoded.
type Reject struct {
	// Start and End delimit the record's original bytes in the payload.
	Start, End int
	// Line is the 1-based line of the record's first byte in the payload.
	Line int
	// Reason says what was wrong, in words a person can act on.
	Reason string
}

// Rejectf appends a Reject for payload[start:end] with a formatted reason
// and computes its line number. Line numbers are counted incrementally
// while rejects of one payload come in increasing order, so a payload full
// of bad lines costs linear, not quadratic, time.
func (o *Output) Rejectf(payload []byte, start, end int, format string, args ...any) {
	o.Rejects = append(o.Rejects, Reject{Start: start, End: end, Line: o.lineOf(payload, start), Reason: fmt.Sprintf(format, args...)})
}

func (o *Output) lineOf(payload []byte, off int) int {
	if len(payload) == 0 {
		return 1
	}
	if o.lineBase != &payload[0] || o.lineLen != len(payload) || off < o.lineOff {
		o.lineBase, o.lineLen, o.lineOff, o.lineNo = &payload[0], len(payload), 0, 1
	}
	if off > len(payload) {
		off = len(payload)
	}
	o.lineNo += bytes.Count(payload[o.lineOff:off], []byte{'\n'})
	o.lineOff = off
	return o.lineNo
}

// LineOf returns the 1-based line number of offset off in payload.
func LineOf(payload []byte, off int) int {
	n := 1
	if off > len(payload) {
		off = len(payload)
	}
	for _, c := range payload[:off] {
		if c == '\n' {
			n++
		}
	}
	return n
}

// Quote returns a short, quoted copy of a record for error messages: at most
// max bytes of it, with an ellipsis when cut.
func Quote(record []byte, max int) string {
	if len(record) <= max {
		return fmt.Sprintf("%q", record)
	}
	return fmt.Sprintf("%q...", record[:max])
}

// Options are the settings every decoder constructor receives. The zero
// value is valid and means: timestamps without a zone are UTC, bodies are
// kept up to 256 bytes.
type Options struct {
	// TimeZone reads timestamps that carry no zone (SOFATracer writes the
	// JVM's local time). Nil means UTC.
	TimeZone *time.Location
	// BodyPrefix bounds how many bytes of a payload body (Envoy tap socket
	// data) are kept per row; 0 means 256, negative means none.
	BodyPrefix int
}

// Location returns TimeZone, or UTC when it is nil.
func (o Options) Location() *time.Location {
	if o.TimeZone == nil {
		return time.UTC
	}
	return o.TimeZone
}

// BodyLimit returns the effective body prefix length.
func (o Options) BodyLimit() int {
	switch {
	case o.BodyPrefix == 0:
		return 256
	case o.BodyPrefix < 0:
		return 0
	}
	return o.BodyPrefix
}

// Constructor builds a Decoder from Options.
type Constructor func(Options) (Decoder, error)

// Framing is how a format's records sit in a message payload, which is what
// a publisher needs to know to pack records into messages.
type Framing int

const (
	// Lines: one record per line; a message carries one record or many,
	// newline-separated.
	Lines Framing = iota + 1
	// Documents: a message carries one whole document (JSON or protobuf),
	// which its decoder may split into several rows; documents are never
	// concatenated into one message.
	Documents
)

// String returns "lines" or "documents".
func (f Framing) String() string {
	switch f {
	case Lines:
		return "lines"
	case Documents:
		return "documents"
	}
	return fmt.Sprintf("Framing(%d)", int(f))
}

// Registry maps format names to constructors and framings. It is filled
// explicitly by the program (app.Registry), never by init functions. The
// zero value is empty and ready to use; a Registry is not safe for
// concurrent Register calls.
type Registry struct {
	formats map[string]entry
}

type entry struct {
	framing Framing
	new     Constructor
}

// ErrUnknownFormat is wrapped by Registry.New for a name nobody registered.
var ErrUnknownFormat = errors.New("unknown format")

// Register adds a format with its framing. It panics on a duplicate name or
// an unknown framing (wiring bugs).
func (r *Registry) Register(name string, framing Framing, c Constructor) {
	if r.formats == nil {
		r.formats = map[string]entry{}
	}
	if _, dup := r.formats[name]; dup {
		panic("BUG: decode: format registered twice: " + name)
	}
	if framing != Lines && framing != Documents {
		panic("BUG: decode: format " + name + " registered with " + framing.String())
	}
	r.formats[name] = entry{framing: framing, new: c}
}

// Framing returns how the named format's records sit in a message, or 0
// for a name nobody registered.
func (r *Registry) Framing(name string) Framing {
	return r.formats[name].framing
}

// New builds a decoder for the named format.
func (r *Registry) New(name string, opts Options) (Decoder, error) {
	e, ok := r.formats[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknownFormat, name, r.Names())
	}
	return e.new(opts)
}

// Names lists the registered formats, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.formats))
	for n := range r.formats {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
