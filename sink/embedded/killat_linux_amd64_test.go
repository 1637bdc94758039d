//go:build linux && amd64

package embedded

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/internal/killat"
)

// TestReplayAfterAKillBetweenTokenAndPartRestoresTheBatch kills a process
// that inserts a batch exactly where the engine has recorded a part's
// deduplication token and is about to rename the part's temporary directory
// into place: a child process inserts, traced with ptrace, and is SIGKILLed
// on entering the rename of its first, second or third part (the table's,
// then each view target's). The batch is then inserted again with the same
// token, as tapline's replay does. Every table must hold the batch once.
//
// Without repairDedupLogs the table or view whose rename was cut keeps the
// token and drops the replay: that was the SOFARPC view short after
// SIGKILLs in the crash test.
func TestReplayAfterAKillBetweenTokenAndPartRestoresTheBatch(t *testing.T) {
	if dir := os.Getenv("TAPLINE_TEST_KILLAT_DIR"); dir != "" {
		e, err := Open(context.Background(), Config{DataDir: dir, Connections: 1})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if _, err := e.InsertStream(context.Background(), killatInsert(os.Getenv("TAPLINE_TEST_KILLAT_TOKEN")), "JSONEachRow", killatRows()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0) // not killed: the parent fails
	}

	dir := t.TempDir()
	ctx := context.Background()
	e, err := Open(ctx, Config{DataDir: dir, Connections: 1})
	require.NoError(t, err)
	for _, s := range []string{
		"CREATE TABLE src (k String, v UInt32) ENGINE = MergeTree ORDER BY k SETTINGS non_replicated_deduplication_window = 100",
		"CREATE TABLE by_k (k String, n SimpleAggregateFunction(sum, UInt64)) ENGINE = AggregatingMergeTree ORDER BY k SETTINGS non_replicated_deduplication_window = 100",
		"CREATE TABLE by_v (v UInt32, n SimpleAggregateFunction(sum, UInt64)) ENGINE = AggregatingMergeTree ORDER BY v SETTINGS non_replicated_deduplication_window = 100",
		"CREATE MATERIALIZED VIEW mv_k TO by_k AS SELECT k, count() AS n FROM src GROUP BY k",
		"CREATE MATERIALIZED VIEW mv_v TO by_v AS SELECT v, count() AS n FROM src GROUP BY v",
	} {
		require.NoError(t, e.Exec(ctx, s, nil), s)
	}
	_, err = e.InsertStream(ctx, killatInsert("first"), "JSONEachRow", killatRows())
	require.NoError(t, err)
	require.NoError(t, e.Close())

	batches := 1
	for nth, table := range []string{"the table src", "a view target", "the other view target"} {
		token := fmt.Sprintf("cut-%d", nth)
		cmd := exec.Command(os.Args[0], "-test.run=^TestReplayAfterAKillBetweenTokenAndPartRestoresTheBatch$")
		cmd.Env = append(os.Environ(), "TAPLINE_TEST_KILLAT_DIR="+dir, "TAPLINE_TEST_KILLAT_TOKEN="+token)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cut := runKilledAtRename(t, cmd, nth+1)
		require.NotEmpty(t, cut, "the child must be killed entering the rename of part %d (%s); stderr: %s", nth+1, table, stderr.String())
		_, err := os.Stat(cut)
		require.NoError(t, err, "the part's temporary directory is still there: the kill landed before the rename")

		var log bytes.Buffer
		e, err := Open(ctx, Config{DataDir: dir, Connections: 1, Log: &log})
		require.NoError(t, err)
		require.Equal(t, 1, strings.Count(log.String(), "the token is released"), "Open must release the one token whose part never arrived (%s): %s", table, log.String())
		// The replay.
		_, err = e.InsertStream(ctx, killatInsert(token), "JSONEachRow", killatRows())
		require.NoError(t, err)
		batches++
		want := fmt.Sprint(batches * killatN)
		for _, q := range []string{"SELECT count() FROM src", "SELECT sum(n) FROM by_k", "SELECT sum(n) FROM by_v"} {
			require.Equal(t, want, query(t, e.Pool, q), "%s after a kill in the commit of %s and a replay", q, table)
		}
		// A second replay is deduplicated everywhere: the repair released
		// only the token whose part never arrived.
		_, err = e.InsertStream(ctx, killatInsert(token), "JSONEachRow", killatRows())
		require.NoError(t, err)
		for _, q := range []string{"SELECT count() FROM src", "SELECT sum(n) FROM by_k", "SELECT sum(n) FROM by_v"} {
			require.Equal(t, want, query(t, e.Pool, q), "%s after a second replay", q)
		}
		require.NoError(t, e.Close())
	}
}

// killatN is the number of rows of a test batch.
const killatN = 1000

func killatInsert(token string) string {
	return "INSERT INTO src SETTINGS insert_deduplication_token = '" + token + "'"
}

func killatRows() []byte {
	var b bytes.Buffer
	for i := 0; i < killatN; i++ {
		fmt.Fprintf(&b, "{\"k\":\"k%d\",\"v\":%d}\n", i%7, i%11)
	}
	return b.Bytes()
}

// runKilledAtRename runs cmd and SIGKILLs it on entering the nth rename of
// a temporary insert directory (the engine's commit of a part). It returns
// the directory whose rename was cut, or "" when the process exited before
// its nth rename.
func runKilledAtRename(t *testing.T, cmd *exec.Cmd, nth int) string {
	t.Helper()
	renames := 0
	cut, err := killat.AtRename(cmd, nil, func(from string) bool {
		if strings.HasPrefix(filepath.Base(from), "tmp_insert_") {
			renames++
		}
		return renames == nth
	})
	require.NoError(t, err)
	return cut
}
