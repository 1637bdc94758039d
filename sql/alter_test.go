package sql_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/internal/embeddedtest"
	"github.com/tapline/tapline/sql"
)

// TestAlterBringsChangedTableUpToDate walks one table through two releases
// on the embedded engine: a changed table file is reported Changed until
// an alters/ file that names it is applied; then both are Applied, the
// column is there, and a later change without an alter is Changed again.
func TestAlterBringsChangedTableUpToDate(t *testing.T) {
	ctx := context.Background()
	db := embeddedtest.Target(t, 1)
	const v1 = "CREATE TABLE IF NOT EXISTS t (x UInt8) ENGINE = MergeTree ORDER BY x"
	const v2 = "CREATE TABLE IF NOT EXISTS t (x UInt8, y String) ENGINE = MergeTree ORDER BY x"
	fsys := fstest.MapFS{"tables/t.sql": {Data: []byte(v1)}}
	migrate := func() map[string]sql.State {
		ms, err := sql.MigrationsFrom(fsys, sql.RenderOptions{})
		require.NoError(t, err)
		sts, err := sql.Migrate(ctx, db, ms, sql.RenderOptions{})
		require.NoError(t, err)
		out := map[string]sql.State{}
		for _, s := range sts {
			out[s.Version] = s.State
		}
		return out
	}
	require.Equal(t, map[string]sql.State{"tables/t.sql": sql.Applied}, migrate())
	require.NoError(t, db.Exec(ctx, "INSERT INTO t (x) VALUES (7)"))

	fsys["tables/t.sql"] = &fstest.MapFile{Data: []byte(v2)}
	require.Equal(t, sql.Changed, migrate()["tables/t.sql"], "no alter yet")

	fsys["alters/0001_t_y.sql"] = &fstest.MapFile{Data: []byte("-- y\nALTER TABLE t ADD COLUMN IF NOT EXISTS y String;\n")}
	want := map[string]sql.State{"tables/t.sql": sql.Applied, "alters/0001_t_y.sql": sql.Applied}
	require.Equal(t, want, migrate())
	require.Equal(t, want, migrate(), "idempotent")
	out, err := db.Query(ctx, "SELECT x, y FROM t", "TabSeparated", nil)
	require.NoError(t, err)
	require.Equal(t, "7\t\n", string(out))

	fsys["tables/t.sql"] = &fstest.MapFile{Data: []byte(v2 + " SETTINGS index_granularity = 1024")}
	require.Equal(t, sql.Changed, migrate()["tables/t.sql"], "an old alter does not vouch for a later change")
}

// TestAlterFilesAreChecked checks that a malformed alters/ file is refused
// with its name and what to write instead.
func TestAlterFilesAreChecked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, text, err string }{
		{"alters/1_x.sql", "ALTER TABLE t ADD COLUMN y String", "name alter files alters/NNNN_what_it_does.sql"},
		{"alters/0001_x.sql", "DROP TABLE t", "statement 1: expected ALTER TABLE <table> <commands>"},
		{"alters/0001_x.sql", "ALTER TABLE t ADD COLUMN y String; ALTER TABLE u DROP COLUMN z", "statement 2 alters u, which has no file in tables/"},
		{"alters/0001_x.sql", "ALTER TABLE t ON CLUSTER c ADD COLUMN y String", "leave out ON CLUSTER"},
		{"alters/0001_x.sql", "-- nothing\n;", "no statement"},
	} {
		_, err := sql.MigrationsFrom(fstest.MapFS{
			"tables/t.sql": {Data: []byte("CREATE TABLE IF NOT EXISTS t (x UInt8) ENGINE = MergeTree ORDER BY x")},
			tc.name:        {Data: []byte(tc.text)},
		}, sql.RenderOptions{})
		require.ErrorContains(t, err, tc.name+": ", tc.text)
		require.ErrorContains(t, err, tc.err, tc.text)
	}
}

// TestAlterRendersForCluster checks the cluster rendering: ON CLUSTER on
// the per-shard table, and column commands also on the Distributed table.
func TestAlterRendersForCluster(t *testing.T) {
	t.Parallel()
	ms, err := sql.MigrationsFrom(fstest.MapFS{
		"tables/t.sql":      {Data: []byte("CREATE TABLE IF NOT EXISTS t (x UInt8) ENGINE = MergeTree ORDER BY x")},
		"alters/0001_a.sql": {Data: []byte("ALTER TABLE t ADD COLUMN IF NOT EXISTS y String, MODIFY COLUMN x UInt16;\nALTER TABLE t MODIFY SETTING ttl_only_drop_parts = 1, ADD COLUMN z UInt8")},
	}, sql.RenderOptions{Cluster: "c"})
	require.NoError(t, err)
	require.Equal(t, "alters/0001_a.sql", ms[1].Version)
	require.Equal(t, []string{
		"ALTER TABLE t_local ON CLUSTER `c` ADD COLUMN IF NOT EXISTS y String, MODIFY COLUMN x UInt16",
		"ALTER TABLE t ON CLUSTER `c` ADD COLUMN IF NOT EXISTS y String, MODIFY COLUMN x UInt16",
		"ALTER TABLE t_local ON CLUSTER `c` MODIFY SETTING ttl_only_drop_parts = 1, ADD COLUMN z UInt8",
	}, ms[1].Statements)
	require.Equal(t, []string{"t"}, ms[1].Alters)
}

// TestChangedViewIsReplacedInPlace: a view file that changed is applied
// with ALTER TABLE ... MODIFY QUERY (on a cluster: ON CLUSTER, reading the
// per-shard source table), becomes Applied, and the view runs the new query.
func TestChangedViewIsReplacedInPlace(t *testing.T) {
	ms, err := sql.Migrations(sql.RenderOptions{Cluster: "c"})
	require.NoError(t, err)
	var replace []string
	for _, m := range ms {
		if m.Version == "views/latency_1m_sofarpc_mv.sql" {
			replace = m.Replace
		}
	}
	require.Len(t, replace, 1)
	require.True(t, strings.HasPrefix(replace[0], "ALTER TABLE latency_1m_sofarpc_mv ON CLUSTER `c` MODIFY QUERY SELECT"), replace[0])
	require.Contains(t, replace[0], "FROM sofarpc_digest_local")

	ctx := context.Background()
	db := embeddedtest.Target(t, 1)
	fsys := fstest.MapFS{
		"tables/s.sql": {Data: []byte("CREATE TABLE IF NOT EXISTS s (x UInt8) ENGINE = MergeTree ORDER BY x")},
		"tables/d.sql": {Data: []byte("CREATE TABLE IF NOT EXISTS d (y UInt16) ENGINE = MergeTree ORDER BY y")},
		"views/mv.sql": {Data: []byte("CREATE MATERIALIZED VIEW IF NOT EXISTS mv TO d AS SELECT x AS y FROM s")},
	}
	migrate := func() map[string]sql.State {
		ms, err := sql.MigrationsFrom(fsys, sql.RenderOptions{})
		require.NoError(t, err)
		sts, err := sql.Migrate(ctx, db, ms, sql.RenderOptions{})
		require.NoError(t, err)
		out := map[string]sql.State{}
		for _, s := range sts {
			out[s.Version] = s.State
		}
		return out
	}
	migrate()
	fsys["views/mv.sql"] = &fstest.MapFile{Data: []byte("-- now times 100\nCREATE MATERIALIZED VIEW IF NOT EXISTS mv TO d AS SELECT x * 100 AS y FROM s")}
	require.Equal(t, sql.Applied, migrate()["views/mv.sql"])
	require.NoError(t, db.Exec(ctx, "INSERT INTO s (x) VALUES (3)"))
	out, err := db.Query(ctx, "SELECT y FROM d", "TabSeparated", nil)
	require.NoError(t, err)
	require.Equal(t, "300\n", string(out))

	fsys["views/bad.sql"] = &fstest.MapFile{Data: []byte("CREATE MATERIALIZED VIEW IF NOT EXISTS bad AS SELECT x FROM s")}
	_, err = sql.MigrationsFrom(fsys, sql.RenderOptions{})
	require.ErrorContains(t, err, "views/bad.sql: expected CREATE MATERIALIZED VIEW IF NOT EXISTS <name> TO <table> AS <select>")
}
