package ingest

import "strings"

// SourceSpec names the stream, subjects and durable consumer of one source.
type SourceSpec struct {
	// Name is the source's format name, e.g. "sofarpc".
	Name string
	// Stream is the JetStream stream holding its messages.
	Stream string
	// Subjects the stream captures.
	Subjects []string
	// Durable is the consumer name shared by every tapline process that
	// reads this source.
	Durable string
}

// DefaultSource returns the conventional spec for a format: stream
// TAPLINE_<FORMAT> capturing logs.<format>.>, durable tapline-<format>.
// Publishers use subjects below logs.<format>., for example
// logs.sofarpc.client.digest or logs.g3proxy.task.
func DefaultSource(format string) SourceSpec {
	return SourceSpec{
		Name:     format,
		Stream:   "TAPLINE_" + strings.ToUpper(format),
		Subjects: []string{"logs." + format + ".>"},
		Durable:  "tapline-" + format,
	}
}
