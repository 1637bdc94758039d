package sql_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/internal/embeddedtest"
	"github.com/tapline/tapline/schema"
	"github.com/tapline/tapline/sql"
)

func TestMain(m *testing.M) { embeddedtest.Main(m) }

// TestSchemaMatchesSQL applies the DDL to the real engine (twice: it must be
// idempotent) and proves that every column tapline sends exists with the
// type schema/ declares, in the same order, and that every other column of
// the table is filled by ClickHouse (DEFAULT or MATERIALIZED).
func TestSchemaMatchesSQL(t *testing.T) {
	ctx := context.Background()
	db := embeddedtest.Target(t, 1)
	require.NoError(t, sql.Apply(ctx, db))
	require.NoError(t, sql.Apply(ctx, db), "applying the schema twice must succeed")

	for _, tbl := range schema.All() {
		out, err := db.Query(ctx, "SELECT name, type, default_kind FROM system.columns WHERE database = currentDatabase() AND table = {t:String} ORDER BY position", "TabSeparatedRaw", map[string]string{"t": tbl.Name()})
		require.NoError(t, err)
		lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		require.NotEmpty(t, strings.TrimSpace(string(out)), "table %s missing in sql/tables", tbl.Name())
		var sent []string
		for _, l := range lines {
			f := strings.Split(l, "\t")
			require.Len(t, f, 3, l)
			if f[2] == "" {
				sent = append(sent, f[0]+" "+f[1])
			}
		}
		var want []string
		for _, c := range tbl.Columns() {
			want = append(want, c.Name+" "+c.CH)
		}
		require.Equal(t, want, sent, "table %s: schema/ and sql/tables disagree (columns without DEFAULT, in order)", tbl.Name())
	}
}

// TestEveryTableFileIsKnown makes sure no table in sql/tables is written
// without a schema/ declaration, unless it is an aggregate fed by a view.
func TestEveryViewTargetsATable(t *testing.T) {
	t.Parallel()
	tables := map[string]bool{}
	for _, st := range sql.Schema() {
		if strings.HasPrefix(st.Name, "tables/") {
			tables[strings.TrimSuffix(strings.TrimPrefix(st.Name, "tables/"), ".sql")] = true
			require.Contains(t, st.SQL, "CREATE TABLE IF NOT EXISTS", st.Name)
		}
	}
	for _, st := range sql.Schema() {
		if strings.HasPrefix(st.Name, "views/") {
			require.Contains(t, st.SQL, "CREATE MATERIALIZED VIEW IF NOT EXISTS", st.Name)
			i := strings.Index(st.SQL, " TO ")
			require.Positive(t, i, "%s: materialized views always write TO a table", st.Name)
			target := strings.Fields(st.SQL[i+4:])[0]
			require.True(t, tables[target], "%s writes to %s, which has no file in sql/tables", st.Name, target)
		}
	}
}
