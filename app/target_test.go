package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/internal/embeddedtest"
	"github.com/tapline/tapline/sink/embedded"
	"github.com/tapline/tapline/sql"
)

// TestWarnChanged: one line per changed migration, saying what brings the
// object to its file: schema apply for a view (MODIFY QUERY) and for a
// table a pending alter names; a newer tapline or an ALTER by hand for a
// table no alter names. Nothing for applied or pending migrations.
func TestWarnChanged(t *testing.T) {
	t.Parallel()
	st := func(version string, state sql.State, alters ...string) sql.Status {
		return sql.Status{Migration: sql.Migration{Version: version, Alters: alters}, State: state, AppliedAt: "2026-12-01 10:00:00"}
	}
	var w bytes.Buffer
	WarnChanged([]sql.Status{
		st("tables/sofarpc_digest.sql", sql.Changed),
		st("tables/webdebug_events.sql", sql.Changed),
		st("tables/latency_1m.sql", sql.Applied),
		st("alters/0009_webdebug.sql", sql.Pending, "webdebug_events"),
		st("views/latency_1m_webdebug_mv.sql", sql.Changed),
		st("views/latency_1m_sofarpc_mv.sql", sql.Pending),
	}, &w)
	lines := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
	require.Len(t, lines, 3, w.String())
	require.Contains(t, lines[0], "tables/sofarpc_digest.sql changed since it was applied (2026-12-01 10:00:00)")
	require.Contains(t, lines[0], "no alters/ file of this tapline brings table sofarpc_digest to it: if a newer tapline applied it")
	require.Contains(t, lines[0], "ALTER TABLE sofarpc_digest by hand to match `tapline schema print`")
	require.Contains(t, lines[1], "tables/webdebug_events.sql changed")
	require.Contains(t, lines[1], "run `tapline schema apply`: alters/0009_webdebug.sql brings the table to it")
	require.Contains(t, lines[2], "views/latency_1m_webdebug_mv.sql changed")
	require.Contains(t, lines[2], "run `tapline schema apply` to replace the view's query in place")
	require.NotContains(t, w.String(), "by hand if the change matters")
}

// TestApplySchemaSpreadsMergesOnTheEmbeddedEngine: applying the schema to
// the embedded engine also gives the busiest tables their own merge widths
// (embedded.DefaultMergeWidths), so that their merges do not come in step.
func TestApplySchemaSpreadsMergesOnTheEmbeddedEngine(t *testing.T) {
	ctx := context.Background()
	et := embeddedtest.Target(t, 2)
	require.NoError(t, ApplySchema(ctx, &Target{Target: et, Database: et.Pool().Database()}, "", io.Discard))
	widths := embedded.DefaultMergeWidths()
	require.NotEmpty(t, widths)
	for name, w := range widths {
		out, err := et.Query(ctx, "SHOW CREATE TABLE "+name, "TabSeparatedRaw", nil)
		require.NoError(t, err, "%s is a table of the schema", name)
		settings := string(out)[strings.LastIndex(string(out), "SETTINGS"):]
		require.Contains(t, settings, fmt.Sprintf("merge_selector_base = %d", w), name)
	}
}
