package sql_test

import (
	"context"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/internal/clickhousetest"
	"github.com/tapline/tapline/sink/clickhouse"
	"github.com/tapline/tapline/sql"
)

// TestAlterOnServer runs the alters/ path over clickhouse-go's native
// protocol against a real server (18.16, so the fixture uses SQL it knows:
// no IF NOT EXISTS in ALTER): a table with a row, its file changed with an
// alter; the alter runs once, the table file counts as applied, the row
// survives with the new column's default.
func TestAlterOnServer(t *testing.T) {
	srv := clickhousetest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, err := clickhouse.ParseDSN(srv.DSN("alters"))
	require.NoError(t, err)
	cfg.CreateDatabase = true
	db, err := clickhouse.Open(ctx, cfg)
	require.NoError(t, err)
	defer db.Close()

	fsys := fstest.MapFS{"tables/t.sql": {Data: []byte("CREATE TABLE IF NOT EXISTS t (x UInt32) ENGINE = MergeTree ORDER BY x")}}
	migrate := func() []sql.Status {
		ms, err := sql.MigrationsFrom(fsys, sql.RenderOptions{})
		require.NoError(t, err)
		sts, err := sql.Migrate(ctx, db, ms, sql.RenderOptions{})
		require.NoError(t, err)
		return sts
	}
	migrate()
	require.NoError(t, db.Exec(ctx, "INSERT INTO t (x) SELECT 42"))

	fsys["tables/t.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE IF NOT EXISTS t (x UInt32, note String DEFAULT 'old') ENGINE = MergeTree ORDER BY x")}
	fsys["alters/0001_t_note.sql"] = &fstest.MapFile{Data: []byte("ALTER TABLE t ADD COLUMN note String DEFAULT 'old'")}
	for range 2 { // the second run must not add the column again (it would fail)
		for _, s := range migrate() {
			require.Equal(t, sql.Applied, s.State, s.Version)
		}
	}
	out, err := db.Query(ctx, "SELECT x, note FROM t", "TabSeparated", nil)
	require.NoError(t, err)
	require.Equal(t, "42\told\n", string(out))
	out, err = db.Query(ctx, "SELECT version FROM tapline_migrations ORDER BY version, checksum", "TabSeparated", nil)
	require.NoError(t, err)
	require.Equal(t, "alters/0001_t_note.sql\ntables/t.sql\ntables/t.sql\n", string(out), "the alter once, the table file at both checksums")
}
