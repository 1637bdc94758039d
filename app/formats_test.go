package app

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest/decode"
)

// TestFramingOfEveryFormat: publishers pack records by the registry's
// framing, so a line format said to be a document (or the reverse) would
// publish messages its decoder splits wrongly.
func TestFramingOfEveryFormat(t *testing.T) {
	t.Parallel()
	want := map[string]decode.Framing{
		"sofarpc": decode.Lines, "django": decode.Lines, "g3proxy": decode.Lines,
		"webdebug": decode.Documents, "envoytap": decode.Documents,
	}
	require.ElementsMatch(t, Formats(), []string{"django", "envoytap", "g3proxy", "sofarpc", "webdebug"})
	for f, fr := range want {
		require.Equal(t, fr, Framing(f), f)
	}
	require.Zero(t, Framing("nope"))
	require.Panics(t, func() { (&decode.Registry{}).Register("x", 0, nil) }, "a format needs a framing")
}
