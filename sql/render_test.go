package sql_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/internal/embeddedtest"
	"github.com/tapline/tapline/sql"
)

// updating reports whether -update was given. The flag is shared with
// decodetest's (imported by other tests of this package): register it only
// when nothing else did.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata/")
	}
}

// rendered is every migration's DDL under opts, as `tapline schema print`
// shows it.
func rendered(t *testing.T, opts sql.RenderOptions) string {
	ms, err := sql.Migrations(opts)
	require.NoError(t, err)
	var sb strings.Builder
	for _, m := range ms {
		sb.WriteString("-- " + m.Version + "\n")
		for _, st := range m.Statements {
			sb.WriteString(st + ";\n\n")
		}
	}
	return sb.String()
}

// TestRenderGolden pins the DDL of both modes. When .sql files are added or
// changed, regenerate with `go test ./sql -run TestRenderGolden -update`
// and review the diff.
func TestRenderGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file string
		opts sql.RenderOptions
	}{
		{"render-single.golden.sql", sql.RenderOptions{}},
		{"render-cluster.golden.sql", sql.RenderOptions{Cluster: "logs", Database: "tapline"}},
	} {
		got := rendered(t, tc.opts)
		path := filepath.Join("testdata", tc.file)
		if updating() {
			require.NoError(t, os.MkdirAll("testdata", 0o755))
			require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err, "run `go test ./sql -run TestRenderGolden -update` to create it")
		require.Equal(t, string(want), got, "%s is stale: regenerate with `go test ./sql -run TestRenderGolden -update` and review the diff", path)
	}
}

// TestRenderClusterShape checks the properties replication needs on every
// rendered statement, whatever files exist.
func TestRenderClusterShape(t *testing.T) {
	t.Parallel()
	ms, err := sql.Migrations(sql.RenderOptions{Cluster: "logs", Database: "db1"})
	require.NoError(t, err)
	for _, m := range ms {
		for _, st := range m.Statements {
			require.Contains(t, st, "ON CLUSTER `logs`", m.Version)
			require.NotContains(t, st, "non_replicated_deduplication_window", m.Version)
		}
		if strings.HasPrefix(m.Version, "tables/") && strings.Contains(m.Statements[0], "ENGINE = Null") {
			require.Len(t, m.Statements, 1, m.Version, "a Null table stores nothing: local only")
			require.Contains(t, m.Statements[0], sql.LocalSuffix+" ON CLUSTER", m.Version)
		} else if strings.HasPrefix(m.Version, "tables/") {
			require.Len(t, m.Statements, 2, m.Version)
			require.Contains(t, m.Statements[0], "ENGINE = Replicated", m.Version)
			require.Contains(t, m.Statements[0], "'/clickhouse/tables/{shard}/db1/", m.Version)
			require.Contains(t, m.Statements[0], "replicated_deduplication_window", m.Version)
			require.Contains(t, m.Statements[1], "ENGINE = Distributed('logs', 'db1', ", m.Version)
			require.Contains(t, m.Statements[1], "cityHash64(", m.Version)
		} else if strings.HasPrefix(m.Version, "alters/") {
			require.NotEmpty(t, m.Alters, m.Version)
			for _, st := range m.Statements {
				require.True(t, strings.HasPrefix(st, "ALTER TABLE "), m.Version)
			}
			require.Contains(t, m.Statements[0], sql.LocalSuffix+" ON CLUSTER", m.Version, "an alter changes the per-shard table first")
		} else {
			require.Contains(t, m.Statements[0], sql.LocalSuffix+" AS", m.Version, "a view writes TO a local table")
		}
	}
}

// TestMigrationsOnEmbedded executes the single-server rendering for real on
// the embedded engine: applied twice (the second run applies nothing),
// recorded, and the tables then match schema/. The cluster rendering
// cannot run without ZooKeeper; every statement of it (and the retention
// ALTERs) is parsed by the engine's own parser (formatQuery), so a syntax
// error fails here.
func TestMigrationsOnEmbedded(t *testing.T) {
	ctx := context.Background()
	db := embeddedtest.Target(t, 1)
	ms, err := sql.Migrations(sql.RenderOptions{})
	require.NoError(t, err)
	for range 2 {
		sts, err := sql.Migrate(ctx, db, ms, sql.RenderOptions{})
		require.NoError(t, err)
		require.Len(t, sts, len(ms))
		for _, s := range sts {
			require.Equal(t, sql.Applied, s.State, s.Version)
			require.NotEmpty(t, s.AppliedAt)
		}
	}
	out, err := db.Query(ctx, "SELECT count(), uniqExact(version) FROM "+sql.MigrationsTable, "TabSeparated", nil)
	require.NoError(t, err)
	n := strings.Fields(string(out))
	require.Equal(t, n[0], n[1], "each migration recorded once")

	cluster, err := sql.Migrations(sql.RenderOptions{Cluster: "logs"})
	require.NoError(t, err)
	cluster = append(cluster, sql.Migration{Version: "retention", Statements: sql.RetentionStatements(sql.DefaultRetention(), sql.RenderOptions{Cluster: "logs"})})
	for _, m := range cluster {
		for _, st := range m.Statements {
			// Parameter values are in escaped (TabSeparated) form.
			q := strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\t", `\t`).Replace(st)
			_, err := db.Query(ctx, "SELECT formatQuery({q:String})", "TabSeparated", map[string]string{"q": q})
			require.NoError(t, err, "%s does not parse:\n%s", m.Version, st)
		}
	}
}
