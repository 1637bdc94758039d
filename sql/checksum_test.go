package sql_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/sql"
)

// TestChecksumIgnoresCommentsAndSpace checks the contract of a migration's
// checksum (recorded in every database tapline migrated, so a lexer change
// must not move it): the SHA-256 of the statement without comments and with
// whitespace collapsed, where a "--" or "/*" inside a string is text.
func TestChecksumIgnoresCommentsAndSpace(t *testing.T) {
	t.Parallel()
	const bare = "CREATE TABLE IF NOT EXISTS t ( x UInt8, s String DEFAULT 'a -- b /* c' ) ENGINE = MergeTree ORDER BY x"
	commented := "-- the table t\nCREATE TABLE IF NOT EXISTS t\n(\n    x UInt8, -- a column\n" +
		"    s String DEFAULT 'a -- b /* c' /* a /* nested */ comment */\n)\nENGINE = MergeTree\nORDER BY x;\n"
	sum := sha256.Sum256([]byte(bare))
	for _, text := range []string{bare, commented} {
		ms, err := sql.MigrationsFrom(fstest.MapFS{
			"tables/t.sql": {Data: []byte(text)},
			"views/.keep":  {Data: nil},
		}, sql.RenderOptions{})
		require.NoError(t, err)
		require.Len(t, ms, 1)
		require.Equal(t, hex.EncodeToString(sum[:]), ms[0].Checksum, text)
	}
}

// TestRenderRefusesWhatItCannotRead checks that the cluster rendering names
// the file and the position of text it cannot tokenize, instead of
// renaming inside it.
func TestRenderRefusesWhatItCannotRead(t *testing.T) {
	t.Parallel()
	st := sql.Statement{Name: "tables/t.sql", SQL: "CREATE TABLE IF NOT EXISTS t (s String DEFAULT 'x) ENGINE = MergeTree ORDER BY s"}
	_, err := sql.Render(st, sql.RenderOptions{Cluster: "c"}, map[string]bool{"t": true})
	require.EqualError(t, err, "render tables/t.sql: unterminated quote ' at position 48")
}
