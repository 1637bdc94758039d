package g3proxy

import (
	"testing"

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
		text, records := decodetest.RenderFile(t, newDecoder, "testdata/"+name, subject)
		require.Equal(t, 3, records, name)
		return text
	}
	require.Equal(t, render("issue751-tcptproxy.log"), render("issue751-tcptproxy-pretty.log"))
}
