package sql_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/internal/embeddedtest"
	"github.com/tapline/tapline/sql"
)

// TestEveryTableHasRetention checks that no table grows without bound by
// default: every file of tables/ has a retention class; a table with an
// ingested_at column expires by it; the others by updated_at (added by
// alters/0002) or their time partition column.
func TestEveryTableHasRetention(t *testing.T) {
	t.Parallel()
	cols := sql.RetainedTables()
	partition := regexp.MustCompile(`PARTITION BY toYYYYMM(?:DD)?\((\w+)\)`)
	n := 0
	for _, st := range sql.Schema() {
		if !strings.HasPrefix(st.Name, "tables/") {
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(st.Name, "tables/"), ".sql")
		if strings.Contains(st.SQL, "ENGINE = Null") {
			_, ok := cols[name]
			require.False(t, ok, "%s stores nothing: it needs no retention", st.Name)
			continue
		}
		n++
		col, ok := cols[name]
		require.True(t, ok, "%s has no retention: add it to sql/retention.go", st.Name)
		switch {
		case strings.Contains(st.SQL, "ingested_at DateTime64"):
			require.Equal(t, "ingested_at", col, "%s: raw rows expire by arrival", st.Name)
		case col == "updated_at":
		default:
			m := partition.FindStringSubmatch(st.SQL)
			require.NotNil(t, m, "%s: not partitioned by time and no arrival column", st.Name)
			require.Equal(t, m[1], col, "%s: TTL column is not the partition column", st.Name)
		}
	}
	require.Len(t, cols, n, "sql/retention.go names a table that has no file")
	for _, d := range []time.Duration{sql.DefaultRetention().Raw, sql.DefaultRetention().Aggregates, sql.DefaultRetention().Batches} {
		require.Positive(t, d)
	}
}

func TestRetentionValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, sql.Retention{}.Validate())
	require.NoError(t, sql.DefaultRetention().Validate())
	err := sql.Retention{Raw: -time.Hour, Batches: 1500 * time.Millisecond}.Validate()
	require.ErrorContains(t, err, "retention raw -1h0m0s is negative")
	require.ErrorContains(t, err, "retention batches 1.5s is not whole seconds")
}

func engineFull(ctx context.Context, t *testing.T, db sql.DB, table string) string {
	t.Helper()
	out, err := db.Query(ctx, "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {t:String}", "TabSeparatedRaw", map[string]string{"t": table})
	require.NoError(t, err)
	return string(out)
}

// TestRetentionFollowsTheFlags changes the retention of an installed
// schema: the TTL follows each change (other units, removal for 0), an
// unchanged retention alters nothing, and the TTL really deletes: after a
// merge, rows older than the retention are gone and newer ones stay, in
// a raw table (by arrival, whole daily parts dropped) and an aggregate.
func TestRetentionFollowsTheFlags(t *testing.T) {
	ctx := context.Background()
	db := embeddedtest.Target(t, 1)
	require.NoError(t, sql.Apply(ctx, db))

	r := sql.Retention{Raw: 36 * time.Hour, Aggregates: 90 * time.Minute, Batches: 0}
	changes, err := sql.ApplyRetention(ctx, db, r, sql.RenderOptions{})
	require.NoError(t, err)
	require.Len(t, changes, len(sql.RetainedTables())-1, "every table but pipeline_batches (kept forever, has no TTL)")
	require.Contains(t, engineFull(ctx, t, db, "sofarpc_digest"), " TTL ingested_at + toIntervalHour(36) SETTINGS")
	require.Contains(t, engineFull(ctx, t, db, "latency_1m"), " TTL minute + toIntervalMinute(90) SETTINGS")
	require.NotContains(t, engineFull(ctx, t, db, "pipeline_batches"), " TTL ")
	changes, err = sql.RetentionChanges(ctx, db, r, sql.RenderOptions{})
	require.NoError(t, err)
	require.Empty(t, changes, "unchanged retention: nothing to alter")

	// Rows 3 days old and 1 hour old, each inserted on its own.
	for _, age := range []string{"3 DAY", "1 HOUR"} {
		require.NoError(t, db.Exec(ctx, "INSERT INTO sofarpc_digest (timestamp, ingested_at, service) SELECT now() - INTERVAL "+age+", now() - INTERVAL "+age+", '"+age+"'"))
		require.NoError(t, db.Exec(ctx, "INSERT INTO latency_1m (minute, service) SELECT now() - INTERVAL "+age+", '"+age+"'"))
	}
	for _, table := range []string{"sofarpc_digest", "latency_1m"} {
		require.NoError(t, db.Exec(ctx, "OPTIMIZE TABLE "+table+" FINAL"))
	}
	out, err := db.Query(ctx, "SELECT DISTINCT service FROM sofarpc_digest", "TabSeparated", nil)
	require.NoError(t, err)
	require.Equal(t, "1 HOUR\n", string(out), "raw rows past 36h are dropped")
	out, err = db.Query(ctx, "SELECT DISTINCT service FROM latency_1m", "TabSeparated", nil)
	require.NoError(t, err)
	require.Equal(t, "1 HOUR\n", string(out), "aggregate rows past 90 minutes are deleted (so are the views' rows of the old digest)")

	r = sql.Retention{Raw: 0, Aggregates: 400 * 24 * time.Hour, Batches: 7 * time.Second}
	changes, err = sql.ApplyRetention(ctx, db, r, sql.RenderOptions{})
	require.NoError(t, err)
	require.Len(t, changes, len(sql.RetainedTables()))
	require.NotContains(t, engineFull(ctx, t, db, "sofarpc_digest"), " TTL ")
	require.Contains(t, engineFull(ctx, t, db, "latency_1m"), " TTL minute + toIntervalDay(400) SETTINGS")
	require.Contains(t, engineFull(ctx, t, db, "pipeline_batches"), " TTL committed_at + toIntervalSecond(7) SETTINGS")
	changes, err = sql.RetentionChanges(ctx, db, r, sql.RenderOptions{})
	require.NoError(t, err)
	require.Empty(t, changes)
}

// TestRetentionNeedsTheTables checks the error on a database without the
// schema.
func TestRetentionNeedsTheTables(t *testing.T) {
	ctx := context.Background()
	db := embeddedtest.Target(t, 1)
	_, err := sql.ApplyRetention(ctx, db, sql.DefaultRetention(), sql.RenderOptions{})
	require.ErrorContains(t, err, "cannot set retention: tables django_events, ")
	require.ErrorContains(t, err, "run `tapline schema apply` first")
}
