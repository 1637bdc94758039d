package embedded

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRepairDedupLogsReleasesOnlyTokensWithoutTheirPart lays out a table the
// way the engine leaves it after a kill: tokens whose parts were merged
// into larger ones or changed by a mutation (kept), a token whose part was
// dropped (kept dropped), tokens whose parts never arrived (released), and
// a last record cut in the middle of its line (removed).
func TestRepairDedupLogsReleasesOnlyTokensWithoutTheirPart(t *testing.T) {
	root := t.TempDir()
	table := filepath.Join(root, "store", "0ab", "0ab-uuid")
	logs := filepath.Join(table, "deduplication_logs")
	require.NoError(t, os.MkdirAll(logs, 0o755))
	for _, part := range []string{
		"all_1_3_1",    // blocks 1-3 merged
		"all_2_2_0",    // merged away, not removed yet
		"all_4_4_0_7",  // block 4 after mutation 7
		"202612_6_6_0", // another partition
		"tmp_insert_all_5_5_0", "detached", "delete_tmp_all_8_8_0",
	} {
		require.NoError(t, os.Mkdir(filepath.Join(table, part), 0o755))
	}
	write := func(name, s string) {
		require.NoError(t, os.WriteFile(filepath.Join(logs, name), []byte(s), 0o644))
	}
	write("deduplication_log_1.txt", "1\tall_1_1_0\tall_a\n1\tall_2_2_0\tall_b\n1\tall_9_9_0\tall_dropped\n2\tall_9_9_0\tall_dropped\n")
	write("deduplication_log_10.txt", "1\tall_3_3_0\tall_c\n1\tall_4_4_0\tall_d\n1\tall_5_5_0\tall_cut\n1\t202612_6_6_0\t202612_e\n1\tall_6_6_0\tall_other_partition\n1\tall_7_7_0\tall_tor")
	write("deduplication_log_2.txt", "1\tall_8_8_0\tall_cut2\n")

	r, skipped, err := repairDedupLogs(root)
	require.NoError(t, err)
	require.Empty(t, skipped)
	var got []string
	for _, x := range r {
		require.Equal(t, filepath.Join("store", "0ab", "0ab-uuid"), x.Table)
		got = append(got, x.Part+" "+x.BlockID)
	}
	require.Equal(t, []string{"all_8_8_0 all_cut2", "all_5_5_0 all_cut", "all_6_6_0 all_other_partition"}, got,
		"released: the parts no part on disk holds, in log order (log 2 before log 10)")

	b, err := os.ReadFile(filepath.Join(logs, "deduplication_log_10.txt"))
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(string(b), "1\tall_6_6_0\tall_other_partition\n2\tall_8_8_0\tall_cut2\n2\tall_5_5_0\tall_cut\n2\tall_6_6_0\tall_other_partition\n"),
		"the cut record is removed and the drops are appended to the newest log: %q", b)

	r, _, err = repairDedupLogs(root)
	require.NoError(t, err)
	require.Empty(t, r, "a second pass finds nothing: the repair is written to disk")
}

// TestRepairDedupLogsLeavesAnUnknownLogAlone: a log this code cannot read
// is named, left as it is, and does not keep other tables from their repair.
func TestRepairDedupLogsLeavesAnUnknownLogAlone(t *testing.T) {
	root := t.TempDir()
	for table, log := range map[string]string{"a-uuid": "3\tall_1_1_0\tall_a\n", "b-uuid": "1\tall_1_1_0\tall_b\n"} {
		logs := filepath.Join(root, "store", "0ab", table, "deduplication_logs")
		require.NoError(t, os.MkdirAll(logs, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(logs, "deduplication_log_1.txt"), []byte(log), 0o644))
	}
	r, skipped, err := repairDedupLogs(root)
	require.NoError(t, err)
	require.Len(t, skipped, 1)
	require.ErrorContains(t, skipped[0], "a-uuid")
	require.ErrorContains(t, skipped[0], "a record this version does not know")
	require.Len(t, r, 1)
	require.Equal(t, "all_b", r[0].BlockID)
	b, err := os.ReadFile(filepath.Join(root, "store", "0ab", "a-uuid", "deduplication_logs", "deduplication_log_1.txt"))
	require.NoError(t, err)
	require.Equal(t, "3\tall_1_1_0\tall_a\n", string(b))
}

// BenchmarkRepairDedupLogs is what Open spends on the repair at the worst:
// 17 tables (tapline's) whose logs each hold 40,000 records (a window of
// 10,000 keeps up to twice its rotation interval of 20,000), with one part
// on disk per 20 blocks.
func BenchmarkRepairDedupLogs(b *testing.B) {
	root := b.TempDir()
	for tb := 0; tb < 17; tb++ {
		dir := filepath.Join(root, "store", "abc", fmt.Sprintf("t%02d", tb))
		require.NoError(b, os.MkdirAll(filepath.Join(dir, "deduplication_logs"), 0o755))
		var log bytes.Buffer
		for i := 1; i <= 40000; i++ {
			fmt.Fprintf(&log, "1\tall_%d_%d_0\tall_%d_%d\n", i, i, 1234567890123456789+i, 9876543210987654321-uint64(i))
		}
		require.NoError(b, os.WriteFile(filepath.Join(dir, "deduplication_logs", "deduplication_log_1.txt"), log.Bytes(), 0o644))
		for i := 1; i <= 40000; i += 20 {
			require.NoError(b, os.Mkdir(filepath.Join(dir, fmt.Sprintf("all_%d_%d_1", i, i+19)), 0o755))
		}
	}
	b.ResetTimer()
	for b.Loop() {
		r, skipped, err := repairDedupLogs(root)
		if err != nil || len(r)+len(skipped) > 0 {
			b.Fatal(r, skipped, err)
		}
	}
}
