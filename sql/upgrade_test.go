package sql_test

import (
	"context"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/internal/embeddedtest"
	"github.com/tapline/tapline/sql"
)

// release0 is the schema as released before alters/ existed
// (testdata/release-0: tables/ and views/ of main at 0b27b60): the
// database an upgrade starts from.
func release0(t *testing.T) []sql.Migration {
	t.Helper()
	ms, err := sql.MigrationsFrom(os.DirFS("testdata/release-0"), sql.RenderOptions{})
	require.NoError(t, err)
	return ms
}

// TestReleasedChecksumsStable pins the checksums databases recorded: every
// file of release 0 keeps its checksum, except table files an alters/ file
// brings up to date (tables/pipeline_batches.sql with alters/0001; the
// latency tables and sofarpc_digest with alters/0004) and views/ files,
// which Migrate replaces in place (MODIFY QUERY).
func TestReleasedChecksumsStable(t *testing.T) {
	t.Parallel()
	now, err := sql.Migrations(sql.RenderOptions{})
	require.NoError(t, err)
	sums := map[string]string{}
	altered := map[string]bool{}
	for _, m := range now {
		sums[m.Version] = m.Checksum
		for _, tbl := range m.Alters {
			altered["tables/"+tbl+".sql"] = true
		}
	}
	var changed []string
	for _, m := range release0(t) {
		if m.Checksum == sums[m.Version] {
			continue
		}
		changed = append(changed, m.Version)
		if strings.HasPrefix(m.Version, "views/") {
			continue
		}
		require.True(t, altered[m.Version], "%s changed: databases that applied it report it changed; add an alters/ file that brings it to the new shape", m.Version)
	}
	require.Subset(t, changed, []string{"tables/pipeline_batches.sql", "tables/sofarpc_digest.sql", "tables/latency_1m.sql",
		"tables/sofarpc_latency_1m.sql", "views/latency_1m_sofarpc_mv.sql", "views/sofarpc_latency_1m_mv.sql"})
}

// seed inserts one row stamped now into every retained table db has
// (every Date or DateTime column now, the others their defaults; views copy
// some into aggregates) and returns the row count per table.
func seed(ctx context.Context, t *testing.T, db sql.DB) map[string]string {
	t.Helper()
	var tables []string
	for table := range sql.RetainedTables() {
		out, err := db.Query(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = {t:String}", "TabSeparated", map[string]string{"t": table})
		require.NoError(t, err)
		if strings.TrimSpace(string(out)) == "1" {
			tables = append(tables, table)
		}
	}
	for _, table := range tables {
		out, err := db.Query(ctx, "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String} AND type LIKE '%Date%' AND type NOT LIKE 'AggregateFunction%'", "TabSeparatedRaw", map[string]string{"t": table})
		require.NoError(t, err)
		cols := strings.Fields(string(out))
		require.NotEmpty(t, cols, table)
		nows := strings.TrimSuffix(strings.Repeat("now(), ", len(cols)), ", ")
		require.NoError(t, db.Exec(ctx, "INSERT INTO "+table+" ("+strings.Join(cols, ", ")+") SELECT "+nows), table)
	}
	n := counts(ctx, t, db, tables)
	for table, c := range n {
		require.NotEqual(t, "0", c, table)
	}
	return n
}

func counts(ctx context.Context, t *testing.T, db sql.DB, tables []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, table := range tables {
		n, err := db.Query(ctx, "SELECT count() FROM "+table, "TabSeparated", nil)
		require.NoError(t, err)
		out[table] = strings.TrimSpace(string(n))
	}
	return out
}

// shape is everything that makes two databases' schemas the same: each
// column (position, type, default, codec) and each table's engine with
// its keys, TTL and settings, and each view's query; database names
// removed.
func shape(ctx context.Context, t *testing.T, db sql.DB) []string {
	t.Helper()
	out, err := db.Query(ctx, `SELECT table, position, name, type, default_kind, default_expression, compression_codec
		FROM system.columns WHERE database = currentDatabase() ORDER BY table, position`, "TabSeparatedRaw", nil)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	out, err = db.Query(ctx, `SELECT name, engine, engine_full, replaceAll(as_select, currentDatabase() || '.', '')
		FROM system.tables WHERE database = currentDatabase() AND name != 'tapline_migrations' ORDER BY name`, "TabSeparatedRaw", nil)
	require.NoError(t, err)
	lines = append(lines, strings.Split(strings.TrimSpace(string(out)), "\n")...)
	sort.Strings(lines)
	return lines
}

// TestUpgradeMatchesFreshInstall upgrades a database written by release 0,
// with rows in every table, to the current migrations and the default
// retention, and proves its shape equals a fresh install's (columns, TTLs,
// settings, views), that every row survived, that nothing is reported
// changed, and that running everything again changes nothing.
func TestUpgradeMatchesFreshInstall(t *testing.T) {
	ctx := context.Background()
	old := embeddedtest.Target(t, 1)
	sts, err := sql.Migrate(ctx, old, release0(t), sql.RenderOptions{})
	require.NoError(t, err)
	for _, s := range sts {
		require.Equal(t, sql.Applied, s.State, s.Version)
	}
	// Web debug events written while their payload fields were stored
	// (before alters/0005) read the same fields from payload after it.
	require.NoError(t, old.Exec(ctx, `INSERT INTO webdebug_events (time, type, payload, message, response_status, email_to)
		VALUES (now(), 'log', '{"message":"m"}', 'm', NULL, []), (now(), 'response', '{"status":503}', '', 503, []),
		       (now(), 'email', '{"to":"a@x"}', '', NULL, ['a@x'])`))
	const payloadFields = "SELECT type, message, response_status, email_to FROM webdebug_events WHERE type != '' ORDER BY type"
	storedFields, err := old.Query(ctx, payloadFields, "TabSeparated", nil)
	require.NoError(t, err)
	before := seed(ctx, t, old)

	ms, err := sql.Migrations(sql.RenderOptions{})
	require.NoError(t, err)
	sts, err = sql.StatusOf(ctx, old, ms)
	require.NoError(t, err)
	states := map[string]sql.State{}
	for _, s := range sts {
		states[s.Version] = s.State
	}
	require.Equal(t, sql.Changed, states["tables/pipeline_batches.sql"])
	require.Equal(t, sql.Pending, states["alters/0001_pipeline_batches_instance.sql"])
	require.Equal(t, sql.Changed, states["tables/sofarpc_digest.sql"])
	require.Equal(t, sql.Pending, states["alters/0004_latency_optional.sql"])
	require.Equal(t, sql.Changed, states["views/latency_1m_sofarpc_mv.sql"], "replaced in place by the upgrade")
	require.Equal(t, sql.Changed, states["views/latency_1m_g3proxy_mv.sql"])

	upgrade := func(db sql.DB) {
		sts, err := sql.Migrate(ctx, db, ms, sql.RenderOptions{})
		require.NoError(t, err)
		for _, s := range sts {
			require.Equal(t, sql.Applied, s.State, "%s after the upgrade", s.Version)
		}
		_, err = sql.ApplyRetention(ctx, db, sql.DefaultRetention(), sql.RenderOptions{})
		require.NoError(t, err)
	}
	upgrade(old)
	fresh := embeddedtest.Target(t, 1)
	upgrade(fresh)

	require.Equal(t, shape(ctx, t, fresh), shape(ctx, t, old), "an upgraded database must have a fresh install's shape")
	seeded := make([]string, 0, len(before))
	for table := range before {
		seeded = append(seeded, table)
	}
	require.Equal(t, before, counts(ctx, t, old, seeded), "rows survive the upgrade")
	out, err := old.Query(ctx, payloadFields, "TabSeparated", nil)
	require.NoError(t, err)
	require.Equal(t, "email\t\t\\N\t['a@x']\nlog\tm\t\\N\t[]\nresponse\t\t503\t[]\n", string(storedFields))
	require.Equal(t, string(storedFields), string(out), "web debug events read the same payload fields after alters/0005")
	out, err = old.Query(ctx, "SELECT instance, adopted FROM pipeline_batches", "TabSeparated", nil)
	require.NoError(t, err)
	require.Equal(t, "\tfalse\n", string(out), "rows committed before the alter read '' and false")
	out, err = old.Query(ctx, "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'sofarpc_digest'", "TabSeparatedRaw", nil)
	require.NoError(t, err)
	require.Contains(t, string(out), "TTL ingested_at + toIntervalDay(30) SETTINGS")
	require.Contains(t, string(out), "ttl_only_drop_parts = 1")

	out, err = old.Query(ctx, "SELECT toTypeName(latency_ms), latency_ms FROM sofarpc_digest", "TabSeparated", nil)
	require.NoError(t, err)
	require.Equal(t, "Nullable(UInt32)\t0\n", string(out), "rows written before the alter keep their latency")

	// The replaced views and the fresh ones aggregate alike: a digest
	// without a latency is a request and an error, counted in no_latency,
	// and no sample.
	// Stamped now: the aggregates' retention drops older rows on insert.
	const digests = `INSERT INTO sofarpc_digest (timestamp, side, service, method, result_code, is_error, latency_ms)
		SELECT toStartOfMinute(now()), 'client', 'svc', 'm', c.1, c.2, c.3
		FROM (SELECT arrayJoin([('03', true, NULL), ('00', false, 40)]) AS c)`
	const views = `SELECT * FROM (SELECT 'latency_1m' AS v, sum(requests), sum(errors), sum(no_latency), sum(latency_sum_ms),
			quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)[1]
		FROM latency_1m WHERE source = 'sofarpc' AND service = 'svc'
		UNION ALL
		SELECT 'sofarpc_latency_1m', sum(calls), sum(errors), sum(no_latency), sum(latency_sum_ms),
			quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)[1]
		FROM sofarpc_latency_1m WHERE service = 'svc') ORDER BY v`
	for _, db := range []sql.DB{old, fresh} {
		require.NoError(t, db.Exec(ctx, digests))
		out, err := db.Query(ctx, views, "TabSeparated", nil)
		require.NoError(t, err)
		require.Equal(t, "latency_1m\t2\t1\t1\t40\t40\nsofarpc_latency_1m\t2\t1\t1\t40\t40\n", string(out))
	}

	for _, db := range []sql.DB{old, fresh} {
		recorded, err := db.Query(ctx, "SELECT count() FROM "+sql.MigrationsTable, "TabSeparated", nil)
		require.NoError(t, err)
		upgrade(db)
		again, err := db.Query(ctx, "SELECT count() FROM "+sql.MigrationsTable, "TabSeparated", nil)
		require.NoError(t, err)
		require.Equal(t, string(recorded), string(again), "a second run records nothing")
		changes, err := sql.RetentionChanges(ctx, db, sql.DefaultRetention(), sql.RenderOptions{})
		require.NoError(t, err)
		require.Empty(t, changes, "a second run alters no TTL")
	}
}

// TestAltersKeepTheTableFilesColumns proves that the alters/ files, which
// a fresh install runs right after creating every table from its current
// file, leave each column the file defines as the file defines it (position,
// type, default, codec). Otherwise a fresh install would get an alter's
// definition instead of its table file's, and two copies of one definition
// (an ALIAS expression in tables/webdebug_events.sql and in alters/0005,
// which drops and adds it back) could drift apart unseen: the upgrade test
// compares two databases that both ran the alter. An alter may add what a
// file does not define (alters/0002's updated_at columns, 0003's settings).
func TestAltersKeepTheTableFilesColumns(t *testing.T) {
	ctx := context.Background()
	ms, err := sql.Migrations(sql.RenderOptions{})
	require.NoError(t, err)
	var tables, withAlters []sql.Migration
	for _, m := range ms {
		if strings.HasPrefix(m.Version, "tables/") {
			tables = append(tables, m)
		}
		if !strings.HasPrefix(m.Version, "views/") {
			withAlters = append(withAlters, m)
		}
	}
	require.Greater(t, len(withAlters), len(tables), "there are alters/ files")
	db := embeddedtest.Target(t, 1)
	columns := func() []string {
		out, err := db.Query(ctx, `SELECT table, position, name, type, default_kind, default_expression, compression_codec
			FROM system.columns WHERE database = currentDatabase() AND table != 'tapline_migrations' ORDER BY table, position`, "TabSeparatedRaw", nil)
		require.NoError(t, err)
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}
	_, err = sql.Migrate(ctx, db, tables, sql.RenderOptions{})
	require.NoError(t, err)
	created := columns()
	require.NotEmpty(t, created)
	sts, err := sql.Migrate(ctx, db, withAlters, sql.RenderOptions{})
	require.NoError(t, err)
	for _, s := range sts {
		require.Equal(t, sql.Applied, s.State, s.Version)
	}
	require.Subset(t, columns(), created, "an alters/ file changed a column as its table file defines it: make the two agree")
}
