package django

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/internal/decodetest"
)

// TestPrettyPrintedRecordsDecodeLikeLines decodes the django-structlog
// README's example records as structlog's JSONRenderer writes them with an
// indent (indent=2; indent=0 with sort_keys, the configuration of
// hynek/structlog issue #284), each record over many lines, and requires
// exactly the rows of the one-line originals, field for field.
func TestPrettyPrintedRecordsDecodeLikeLines(t *testing.T) {
	t.Parallel()
	decodeFile := func(name string) string {
		text, _ := decodetest.RenderFile(t, newDecoder, "testdata/"+name, subject)
		return text
	}
	want := decodeFile("readme-json-example.log")
	require.Contains(t, want, "# records accepted: 8, rejected: 0")
	for _, name := range []string{"readme-json-example-indent2.log", "readme-json-example-indent0-sorted.log"} {
		require.Equal(t, want, decodeFile(name), name)
	}
}

// TestPrettyPrintedRecordWithoutTimestampIsOneReject decodes the two
// pretty-printed Django request logs quoted in HHS/simpler-grants-pdf-builder
// PR #390 (a JSON formatter without structlog's TimeStamper): each is one
// reject holding the whole record, with the reason, not one per line.
func TestPrettyPrintedRecordWithoutTimestampIsOneReject(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/pr390-request-logs.log")
	require.NoError(t, err)
	res := decodeLines(t, newDecoder(), subject, string(b))
	defer res.Release()
	require.Equal(t, 0, res.Output.Records)
	require.Len(t, res.Output.Rejects, 2)
	for i, line := range []int{1, 10} {
		rj := res.Output.Rejects[i]
		require.Equal(t, line, rj.Line)
		rec := string(b[rj.Start:rj.End])
		require.True(t, strings.HasPrefix(rec, "{\n") && strings.HasSuffix(rec, "\n}"), "the whole record: %q", rec)
		require.Contains(t, rj.Reason, "TimeStamper")
	}
}

// TestCutPrettyRecordIsOneReject: a pretty-printed record cut off by the
// end of the message (a file shipped while being written) is one reject
// with the whole fragment and says so; the record before it still decodes.
func TestCutPrettyRecordIsOneReject(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/readme-json-example-indent2.log")
	require.NoError(t, err)
	cut := string(b[:len(b)-200])
	res := decodeLines(t, newDecoder(), subject, cut)
	defer res.Release()
	require.Equal(t, 7, res.Output.Records)
	require.Len(t, res.Output.Rejects, 1)
	rj := res.Output.Rejects[0]
	require.Equal(t, len(cut), rj.End)
	require.Contains(t, rj.Reason, "JSON value not closed after")
	require.Contains(t, rj.Reason, "the payload ends inside it")
}
