package embedded

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestReadOnlyPoolStreamsAndCancels checks the walls a read-only pool
// gives the HTTP endpoint, on the real engine: its connections refuse
// writes and setting changes (a query's SETTINGS clause included), the
// file-mapped default database is gone, results arrive in chunks, a
// statement is cancelled inside a long computation when its context ends
// (KILL QUERY through the connection's tag), and the connection serves the
// next statement.
func TestReadOnlyPoolStreamsAndCancels(t *testing.T) {
	ctx := context.Background()
	e := openTemp(t)
	defer e.Close()
	canary := filepath.Join(t.TempDir(), "canary.txt")
	require.NoError(t, os.WriteFile(canary, []byte("engine-canary\n"), 0o600))
	ro, err := e.NewPoolWith(e.Database(), 1, PoolOptions{ReadOnly: true, Tag: "test", Settings: map[string]string{"max_execution_time": "60", "max_threads": "1"}})
	require.NoError(t, err)
	require.Equal(t, "1\t60\t1", query(t, ro, "SELECT getSetting('readonly'), getSetting('max_execution_time'), getSetting('max_threads')"))

	for _, q := range []string{
		"CREATE TABLE x (a UInt8) ENGINE = Memory",
		"SELECT 1 SETTINGS max_execution_time = 600",
		"SELECT 1 SETTINGS readonly = 0",
		"SET max_threads = 2",
		"SELECT * FROM file('" + canary + "', 'LineAsString')",
		"SELECT * FROM default.`" + canary + "`",
		"SELECT * FROM `" + canary + "`",
	} {
		r, err := ro.Query(ctx, q, "TabSeparated", nil)
		require.Error(t, err, q)
		require.NotContains(t, string(r.Data), "engine-canary", q)
	}
	r, err := e.Pool.Query(ctx, "SELECT * FROM default.`"+canary+"`", "TabSeparated", nil)
	require.Error(t, err, "the file-mapped default database is gone for every connection")
	require.NotContains(t, string(r.Data), "engine-canary")

	chunks, size := 0, 0
	_, err = ro.Stream(ctx, "SELECT number FROM numbers(3000000)", "TabSeparated", nil, func(b []byte) error {
		chunks++
		size += len(b)
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, chunks, 10, "a result arrives in chunks")
	want := 0
	for i := 0; i < 3000000; i++ {
		want += len(strconv.Itoa(i)) + 1
	}
	require.Equal(t, want, size, "every byte of the result, once")

	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = ro.Stream(cctx, "SELECT count() FROM numbers_mt(1000000000000)", "TabSeparated", nil, func([]byte) error { return nil })
	require.Error(t, err)
	require.Less(t, time.Since(start), 20*time.Second, "cancelled inside the computation, not at max_execution_time (60 s)")
	require.True(t, strings.Contains(err.Error(), "cancel") || strings.Contains(err.Error(), "deadline"), err.Error())
	require.Equal(t, "1", query(t, ro, "SELECT 1"), "the connection serves the next statement")
}
