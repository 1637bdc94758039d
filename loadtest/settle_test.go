package loadtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/internal/embeddedtest"
)

// TestSettleWaitsForRunningMerges starts a merge in the embedded engine
// (OPTIMIZE ... FINAL of a table of a few parts), waits until
// system.merges shows it, and then settles: settle must not return while
// that merge runs, and must say on the progress output that it waits and in
// a note that it waited.
func TestSettleWaitsForRunningMerges(t *testing.T) {
	ctx := context.Background()
	target := embeddedtest.Target(t, 2)
	require.NoError(t, target.Exec(ctx, "CREATE TABLE settle_big (k UInt64, s String) ENGINE = MergeTree ORDER BY k SETTINGS merge_selector_base = 1000"))
	for part := 0; part < 4; part++ {
		require.NoError(t, target.Exec(ctx, "INSERT INTO settle_big SELECT rand64(), randomPrintableASCII(40) FROM numbers(3000000)"))
	}
	mergesOfTable := func() string {
		out, err := target.Query(ctx, "SELECT count() FROM system.merges WHERE database = currentDatabase() AND table = 'settle_big'", "TabSeparated", nil)
		require.NoError(t, err)
		return strings.TrimSpace(string(out))
	}
	done := make(chan error, 1)
	go func() { done <- target.Exec(ctx, "OPTIMIZE TABLE settle_big FINAL") }()
	seen := false
	for !seen {
		select {
		case err := <-done:
			require.NoError(t, err)
			t.Fatal("the merge ended before system.merges showed it: make the table bigger")
		default:
		}
		seen = mergesOfTable() != "0"
		if !seen {
			time.Sleep(5 * time.Millisecond)
		}
	}

	var progress strings.Builder
	r := &run{cfg: Config{Progress: &progress}}
	waited := r.settle(ctx, target, "the test's baseline")
	require.Equal(t, "0", mergesOfTable(), "settle returned while the table's merge still ran")
	require.Greater(t, waited, time.Duration(0))
	require.Len(t, r.notes, 1)
	require.Contains(t, r.notes[0], "Before the test's baseline, it waited")
	require.Contains(t, progress.String(), "baseline: waiting for the engine's")
	require.NoError(t, <-done)
}

// TestActivePartsCountsActivePartsByPartition writes five parts into two
// partitions of a table and two into a second table's partition of the
// same id, merges stopped, then merges the first table: the count is every
// active part of the database and the most in one partition of one table,
// and parts a merge replaced (inactive until the engine removes them) are
// not counted.
func TestActivePartsCountsActivePartsByPartition(t *testing.T) {
	ctx := context.Background()
	target := embeddedtest.Target(t, 2)
	c, err := activeParts(ctx, target)
	require.NoError(t, err)
	require.Equal(t, partCounts{}, c, "an empty database has no parts")

	require.NoError(t, target.Exec(ctx, "CREATE TABLE parts_two (k UInt8, v UInt64) ENGINE = MergeTree PARTITION BY k ORDER BY v"))
	require.NoError(t, target.Exec(ctx, "SYSTEM STOP MERGES parts_two"))
	for _, k := range []int{0, 0, 0, 1, 1} {
		require.NoError(t, target.Exec(ctx, "INSERT INTO parts_two SELECT "+string(rune('0'+k))+", number FROM numbers(10)"))
	}
	require.NoError(t, target.Exec(ctx, "CREATE TABLE parts_more (k UInt8, v UInt64) ENGINE = MergeTree PARTITION BY k ORDER BY v"))
	require.NoError(t, target.Exec(ctx, "SYSTEM STOP MERGES parts_more"))
	for range 2 {
		require.NoError(t, target.Exec(ctx, "INSERT INTO parts_more SELECT 0, number FROM numbers(10)"))
	}
	c, err = activeParts(ctx, target)
	require.NoError(t, err)
	require.Equal(t, partCounts{active: 7, partition: 3}, c, "partition 0 of each table counts on its own")

	require.NoError(t, target.Exec(ctx, "SYSTEM START MERGES parts_two"))
	require.NoError(t, target.Exec(ctx, "OPTIMIZE TABLE parts_two FINAL"))
	c, err = activeParts(ctx, target)
	require.NoError(t, err)
	require.Equal(t, partCounts{active: 4, partition: 2}, c, "the merged parts are counted, the parts they replaced are not")
}
