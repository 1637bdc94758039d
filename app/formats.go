package app

import (
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/ingest/decode/django"
	"github.com/tapline/tapline/ingest/decode/envoytap"
	"github.com/tapline/tapline/ingest/decode/g3proxy"
	"github.com/tapline/tapline/ingest/decode/sofarpc"
	"github.com/tapline/tapline/ingest/decode/webdebug"
)

// Registry returns a registry of every decoder tapline ships, with each
// format's framing (lines or documents). Register new formats here. Each
// call returns a new registry; callers may keep it.
func Registry() *decode.Registry {
	r := &decode.Registry{}
	r.Register(sofarpc.Format, decode.Lines, sofarpc.New)
	r.Register(django.Format, decode.Lines, django.New)
	r.Register(g3proxy.Format, decode.Lines, g3proxy.New)
	r.Register(envoytap.Format, decode.Documents, envoytap.New)
	r.Register(webdebug.Format, decode.Documents, webdebug.New)
	return r
}

// Formats lists the names of every format tapline ships, sorted.
func Formats() []string { return Registry().Names() }

// Framing returns how format's records sit in a message (0 for a format
// tapline does not ship).
func Framing(format string) decode.Framing { return Registry().Framing(format) }

// SpansLines reports whether format's records may span lines: its decoder
// frames a payload with decode.NextRecord (a JSON record ends where its
// value closes), so a shipper must cut a file into messages where a record
// ends (decode.NextRecordSoFar), not at any line end. Every line format's
// decoder does (TestLineFormatsFrameRecords).
func SpansLines(format string) bool { return Framing(format) == decode.Lines }
