package g3proxy

import (
	"os"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/internal/decodetest"
)

// TestPrettyPrintedRecordsDecodeLikeLines decodes the real task record of
// bytedance/g3 issue #751 in its three shapes with the two JSON ones
// pretty-printed (a copied example; indent 2 and 4) and the syslog "@cee:"
// line kept on its line: the rows equal those of the one-line file.
func TestPrettyPrintedRecordsDecodeLikeLines(t *testing.T) {
	t.Parallel()
	render := func(name string) string {
		b, err := os.ReadFile("testdata/" + name)
		require.NoError(t, err)
		dec := newDecoder()
		res := decodetest.Decode(t, dec, memory.NewGoAllocator(), decodetest.Input{Payload: b, Subject: subject})
		defer res.Release()
		require.Empty(t, res.Output.Rejects, name)
		require.Equal(t, 3, res.Output.Records, name)
		return decodetest.Render(dec, res, b)
	}
	require.Equal(t, render("issue751-tcptproxy.log"), render("issue751-tcptproxy-pretty.log"))
}
