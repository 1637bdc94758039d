package embedded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// These tests open and close engines themselves (one at a time: one engine
// per process), so they do not use embeddedtest and do not run in parallel.

func openTemp(t *testing.T) *Engine {
	t.Helper()
	e, err := Open(context.Background(), Config{DataDir: t.TempDir(), Connections: 2})
	require.NoError(t, err, "the engine library is fetched by `make engine`")
	return e
}

func query(t *testing.T, p *Pool, q string) string {
	t.Helper()
	r, err := p.Query(context.Background(), q, "TabSeparated", nil)
	require.NoError(t, err, q)
	return strings.TrimSpace(string(r.Data))
}

func TestOneEnginePerProcessAndReopen(t *testing.T) {
	e := openTemp(t)
	_, err := Open(context.Background(), Config{DataDir: t.TempDir()})
	require.ErrorIs(t, err, ErrEngineOpen)
	require.Equal(t, "26.7.3", e.Version())
	require.NoError(t, e.Exec(context.Background(), "CREATE TABLE marker (x UInt8) ENGINE = MergeTree ORDER BY x", nil))
	require.NoError(t, e.Close())
	require.NoError(t, e.Close(), "Close is idempotent")

	// After Close another engine opens, on another directory.
	e2 := openTemp(t)
	defer e2.Close()
	require.Equal(t, "0", query(t, e2.Pool, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'marker'"),
		"the second engine runs on its own data directory")
}

// TestGoRuntimeKeepsItsSignalHandlers proves that the engine was started
// without chDB's signal handlers: a nil dereference is still a recoverable
// Go panic (with chDB's handlers the process would die), and stack growth
// and garbage collection keep working while the engine runs.
func TestGoRuntimeKeepsItsSignalHandlers(t *testing.T) {
	e := openTemp(t)
	defer e.Close()
	require.Equal(t, "2", query(t, e.Pool, "SELECT 1 + 1"))

	recovered := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err, _ = r.(error)
			}
		}()
		var p *struct{ x int }
		p.x = 1 // SIGSEGV, turned into a panic by the Go runtime
		return nil
	}()
	var re runtime.Error
	require.ErrorAs(t, recovered, &re, "nil dereference must be a Go panic")

	var deep func(n int) int
	deep = func(n int) int {
		var pad [256]byte
		if n == 0 {
			return int(pad[0])
		}
		return deep(n-1) + int(pad[n%256])
	}
	require.Equal(t, 0, deep(50_000), "stack growth")
	runtime.GC()
	debug.FreeOSMemory()
	require.Equal(t, "3", query(t, e.Pool, "SELECT 1 + 2"), "engine still answers after GC")
}

func TestQueryErrorsCarryCodesAndParamsAreBound(t *testing.T) {
	e := openTemp(t)
	defer e.Close()
	_, err := e.Query(context.Background(), "SELECT * FROM no_such_table", "TabSeparated", nil)
	var ee *EngineError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 60, ee.Code, "UNKNOWN_TABLE")

	// A parameter value is data, never SQL.
	r, err := e.Query(context.Background(), "SELECT {v:String}, length({v:String})", "TabSeparated", map[string]string{"v": "x'); DROP TABLE t; --"})
	require.NoError(t, err)
	require.Equal(t, "x\\'); DROP TABLE t; --\t21", strings.TrimSpace(string(r.Data)))
}

// TestDeduplicationTokenAlsoDeduplicatesViews checks the engine behaviour
// tapline relies on for replays: an insert with a token seen before adds
// nothing to the table and nothing to a materialized view's target table,
// provided the target has a deduplication window too; without one the view
// counts the replay again (which is why every tapline table sets it).
func TestDeduplicationTokenAlsoDeduplicatesViews(t *testing.T) {
	e := openTemp(t)
	defer e.Close()
	ctx := context.Background()
	for _, s := range []string{
		"CREATE TABLE src (k String, v UInt32) ENGINE = MergeTree ORDER BY k SETTINGS non_replicated_deduplication_window = 100",
		"CREATE TABLE agg_dedup (k String, n SimpleAggregateFunction(sum, UInt64)) ENGINE = AggregatingMergeTree ORDER BY k SETTINGS non_replicated_deduplication_window = 100",
		"CREATE TABLE agg_plain (k String, n SimpleAggregateFunction(sum, UInt64)) ENGINE = AggregatingMergeTree ORDER BY k",
		"CREATE MATERIALIZED VIEW mv_dedup TO agg_dedup AS SELECT k, count() AS n FROM src GROUP BY k",
		"CREATE MATERIALIZED VIEW mv_plain TO agg_plain AS SELECT k, count() AS n FROM src GROUP BY k",
	} {
		require.NoError(t, e.Exec(ctx, s, nil), s)
	}
	rows := []byte(`{"k":"a","v":1}` + "\n" + `{"k":"b","v":2}` + "\n")
	insert := func(token string) {
		_, err := e.InsertStream(ctx, "INSERT INTO src SETTINGS insert_deduplication_token = '"+token+"'", "JSONEachRow", rows)
		require.NoError(t, err)
	}
	insert("batch-1")
	insert("batch-1") // replay
	insert("batch-2") // same rows, new batch
	require.Equal(t, "4", query(t, e.Pool, "SELECT count() FROM src"))
	require.Equal(t, "4", query(t, e.Pool, "SELECT sum(n) FROM agg_dedup"))
	require.Equal(t, "6", query(t, e.Pool, "SELECT sum(n) FROM agg_plain"), "a view target without a window counts the replay")
}

// TestDataDirLockedForOtherProcesses runs this test binary again as a child
// that tries to open the same data directory.
func TestDataDirLockedForOtherProcesses(t *testing.T) {
	if dir := os.Getenv("TAPLINE_TEST_OPEN_DIR"); dir != "" {
		_, err := Open(context.Background(), Config{DataDir: dir})
		if errors.Is(err, ErrDataDirLocked) {
			os.Exit(42)
		}
		os.Exit(1)
	}
	dir := t.TempDir()
	e, err := Open(context.Background(), Config{DataDir: dir})
	require.NoError(t, err)
	defer e.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDataDirLockedForOtherProcesses$")
	cmd.Env = append(os.Environ(), "TAPLINE_TEST_OPEN_DIR="+dir)
	err = cmd.Run()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 42, ee.ExitCode(), "the child must be refused with ErrDataDirLocked")
}

func TestConfigValidate(t *testing.T) {
	err := Config{Connections: -1, Settings: map[string]string{"-x": "1", "a=b": "1", "max_threads": "2"}}.Validate()
	require.Error(t, err)
	require.NotContains(t, err.Error(), "max_threads", "a setting's name is letters, digits and _")
	for _, want := range []string{"data directory is empty", "connections = -1", `"-x"`, `"a=b"`} {
		require.Contains(t, err.Error(), want)
	}
	_, err = Config{DataDir: "x", Library: "/nonexistent/libchdb.so"}.ResolveLibrary()
	require.ErrorContains(t, err, "make engine")
}

// TestInsertWithWritesAsItGoes checks the streaming insert Target.Insert
// uses: every Write reaches the engine before it returns (the one buffer
// is overwritten between writes, row by row), a fill that fails leaves
// nothing committed, and data the engine cannot parse is its error with
// its code, nothing committed either.
func TestInsertWithWritesAsItGoes(t *testing.T) {
	e := openTemp(t)
	defer e.Close()
	ctx := context.Background()
	require.NoError(t, e.Exec(ctx, "CREATE TABLE w (k UInt32, s String) ENGINE = MergeTree ORDER BY k", nil))
	buf := make([]byte, 0, 64)
	_, err := e.InsertWith(ctx, "INSERT INTO w", "JSONEachRow", func(w io.Writer) error {
		for k := 1; k <= 1000; k++ {
			buf = fmt.Appendf(buf[:0], `{"k":%d,"s":"row-%d"}`+"\n", k, k)
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, "1000\t500500\t1000", query(t, e.Pool, "SELECT count(), sum(k), countIf(s = concat('row-', toString(k))) FROM w"))

	failed := errors.New("source broke")
	_, err = e.InsertWith(ctx, "INSERT INTO w", "JSONEachRow", func(w io.Writer) error {
		if _, err := w.Write([]byte(`{"k":5000,"s":"partial"}` + "\n")); err != nil {
			return err
		}
		return failed
	})
	require.ErrorIs(t, err, failed)

	_, err = e.InsertWith(ctx, "INSERT INTO w", "JSONEachRow", func(w io.Writer) error {
		_, err := w.Write([]byte(`{"k":6000,"s":"ok"}` + "\n" + `{"k":"not a number"}` + "\n"))
		return err
	})
	var ee *EngineError
	require.ErrorAs(t, err, &ee)
	require.NotZero(t, ee.Code, ee.Message)
	require.Equal(t, "1000", query(t, e.Pool, "SELECT count() FROM w"), "failed inserts commit nothing")
}

// TestMergeTreeSettingsReachTheEngine: the engine runs with
// DefaultMergeTree unless Config.MergeTree says otherwise, an empty map
// leaves ClickHouse's own defaults, and a table keeps its own SETTINGS.
func TestMergeTreeSettingsReachTheEngine(t *testing.T) {
	ctx := context.Background()
	base := func(cfg Config) string {
		t.Helper()
		cfg.DataDir = t.TempDir()
		e, err := Open(ctx, cfg)
		require.NoError(t, err)
		defer e.Close()
		require.FileExists(t, filepath.Join(cfg.DataDir, ServerConfigFile))
		require.NoError(t, e.Exec(ctx, "CREATE TABLE own (k UInt8) ENGINE = MergeTree ORDER BY k SETTINGS merge_selector_base = 3", nil))
		require.Contains(t, query(t, e.Pool, "SHOW CREATE TABLE own"), "merge_selector_base = 3", "a table keeps its own setting")
		return query(t, e.Pool, "SELECT value, changed FROM system.merge_tree_settings WHERE name = 'merge_selector_base'")
	}
	require.Equal(t, DefaultMergeTree()["merge_selector_base"]+"\t1", base(Config{}), "the default reaches the engine")
	require.Equal(t, "7\t1", base(Config{MergeTree: map[string]string{"merge_selector_base": "7", "parts_to_delay_insert": "500"}}))

	// Empty maps in a data directory an earlier start wrote the file in:
	// the file goes, so that what is on disk is what the engine runs with.
	dir := t.TempDir()
	e, err := Open(ctx, Config{DataDir: dir})
	require.NoError(t, err)
	e.Close()
	require.FileExists(t, filepath.Join(dir, ServerConfigFile))
	e, err = Open(ctx, Config{DataDir: dir, MergeTree: map[string]string{}, Server: map[string]string{}})
	require.NoError(t, err)
	require.Equal(t, "5\t0", query(t, e.Pool, "SELECT value, changed FROM system.merge_tree_settings WHERE name = 'merge_selector_base'"), "an empty map leaves ClickHouse's default")
	require.NoFileExists(t, filepath.Join(dir, ServerConfigFile), "the file an earlier start wrote is removed")
	e.Close()

	err = Config{DataDir: "x", MergeTree: map[string]string{"a><b": "1", "ok": "</merge_tree>"}}.Validate()
	require.ErrorContains(t, err, `"a><b" is not a ClickHouse setting name`)
	require.ErrorContains(t, err, "may not hold <, > or &")
}

// TestServerSettingsReachTheEngine: the engine runs with DefaultServer
// (at most two merges at once) unless Config.Server says otherwise, and
// Validate refuses names and values that would break the file. The merge
// pool can only grow within a process, so each engine is counted in a
// child process of its own.
func TestServerSettingsReachTheEngine(t *testing.T) {
	if mode := os.Getenv("TAPLINE_TEST_MERGE_POOL"); mode != "" {
		cfg := Config{DataDir: os.Getenv("TAPLINE_TEST_OPEN_DIR")}
		if mode == "none" {
			cfg.Server = map[string]string{}
		}
		e, err := Open(context.Background(), cfg)
		require.NoError(t, err)
		require.NoError(t, e.Exec(context.Background(), "CREATE TABLE pooled (k UInt8) ENGINE = MergeTree ORDER BY k", nil))
		fmt.Printf("pool=%s\n", query(t, e.Pool, "SELECT value FROM system.metrics WHERE metric = 'BackgroundMergesAndMutationsPoolSize'"))
		fmt.Printf("settings=%q\n", query(t, e.Pool, "SELECT name, value, changed FROM system.server_settings WHERE name IN ('background_pool_size', 'background_merges_mutations_concurrency_ratio') ORDER BY name"))
		require.NoError(t, e.Close())
		return
	}
	child := func(mode string) string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestServerSettingsReachTheEngine$", "-test.v")
		cmd.Env = append(os.Environ(), "TAPLINE_TEST_MERGE_POOL="+mode, "TAPLINE_TEST_OPEN_DIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	def := child("default")
	require.Contains(t, def, "pool=2\n", "two merge threads run")
	require.Contains(t, def, `settings="background_merges_mutations_concurrency_ratio\t1\t1\nbackground_pool_size\t2\t1"`, "the defaults reach the engine")
	none := child("none")
	require.NotContains(t, none, "pool=2\n", "without DefaultServer chDB runs its own pool size (the control half of this test)")
	require.Contains(t, none, "pool=", none)

	err := Config{DataDir: "x", Server: map[string]string{"a b": "1", "ok": "<x>"}}.Validate()
	require.ErrorContains(t, err, `server setting name "a b" is not a ClickHouse setting name`)
	require.ErrorContains(t, err, "server setting ok = \"<x>\": the value may not hold <, > or &")
}

// TestFreedMemoryGoesBackToTheSystem: memory a query allocated and freed
// stays resident in the engine's allocator for seconds unless the engine
// purges it (Config.MemoryPurge). The first half shows the allocator
// keeping it, so the second half can fail.
func TestFreedMemoryGoesBackToTheSystem(t *testing.T) {
	ctx := context.Background()
	// held is what the allocator holds resident beyond what is allocated.
	held := func(e *Engine) int64 {
		var alloc, resident int64
		s := query(t, e.Pool, "SELECT extract(s, 'Allocated: (\\\\d+)'), extract(s, 'resident: (\\\\d+)') FROM (SELECT arrayStringConcat(groupArray(*), ' ') AS s FROM system.jemalloc_stats)")
		_, err := fmt.Sscan(s, &alloc, &resident)
		require.NoError(t, err, s)
		return resident - alloc
	}
	const big = "SELECT sum(length(a)) FROM (SELECT number % 1000 AS k, groupArray(toString(number)) AS a FROM numbers(5000000) GROUP BY k)"
	const mib = 1 << 20
	// heldAfter runs the query on an engine purging every `every` above
	// `above` resident bytes and returns what is held once it drops under
	// 64 MiB, or after 2 s.
	heldAfter := func(every time.Duration, above int64) int64 {
		e, err := Open(ctx, Config{DataDir: t.TempDir(), Connections: 2, MemoryPurge: every, MemoryPurgeAbove: above})
		require.NoError(t, err)
		defer e.Close()
		require.Equal(t, "5000000", query(t, e.Pool, big))
		var h int64
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if h = held(e); h < 64*mib {
				break
			}
		}
		return h
	}
	require.Greater(t, heldAfter(-1, 0), int64(128*mib), "without purging the allocator keeps what the query freed (the control half of this test; JE_MALLOC_CONF with a short dirty_decay_ms in the environment breaks it)")
	require.Less(t, heldAfter(100*time.Millisecond, -1), int64(64*mib), "purged every 100ms, the freed memory is returned")
	rss, err := residentBytes()
	require.NoError(t, err)
	require.Greater(t, rss, int64(64*mib), "this process's resident memory, from /proc/self/statm, includes the engine's")
	require.Less(t, heldAfter(100*time.Millisecond, rss/2), int64(64*mib), "purged every 100ms while above half of this process's resident memory, the freed memory is returned")
	require.Greater(t, heldAfter(100*time.Millisecond, 1<<40), int64(128*mib), "purged only above 1 TiB of resident memory, which this process never reaches, the allocator keeps what the query freed")
}

// TestSpreadMergesGivesTablesTheirOwnWidths: with the default
// configuration SpreadMerges gives each table DefaultMergeWidths names that
// exists its own merge_selector_base, in the table's metadata, and leaves
// the others to the engine-wide default; a MergeTree of the caller's own
// (whose merge settings it would override) or an empty MergeWidths sets
// none; a MergeWidths of the caller's own is what is set.
func TestSpreadMergesGivesTablesTheirOwnWidths(t *testing.T) {
	ctx := context.Background()
	widths := DefaultMergeWidths()
	seen := map[int]string{}
	def := DefaultMergeTree()["merge_selector_base"]
	for name, w := range widths {
		require.NotEqual(t, def, fmt.Sprint(w), "%s: a width of its own, not the engine-wide %s", name, def)
		require.Empty(t, seen[w], "%s and %s share width %d: their merges would come at the same moments", name, seen[w], w)
		seen[w] = name
	}
	spread := func(cfg Config, tables ...string) ([]string, map[string]string) {
		t.Helper()
		cfg.DataDir = t.TempDir()
		e, err := Open(ctx, cfg)
		require.NoError(t, err)
		defer e.Close()
		for _, name := range tables {
			require.NoError(t, e.Exec(ctx, "CREATE TABLE "+name+" (k UInt8) ENGINE = MergeTree ORDER BY k", nil))
		}
		set, err := NewTarget(e.Pool).SpreadMerges(ctx)
		require.NoError(t, err)
		created := map[string]string{}
		for _, name := range tables {
			created[name] = query(t, e.Pool, "SHOW CREATE TABLE "+name)
		}
		return set, created
	}

	set, created := spread(Config{}, "django_events", "g3proxy_task", "sofarpc_digest", "webdebug_events")
	require.Equal(t, []string{"django_events", "g3proxy_task", "sofarpc_digest"}, set, "the named tables that exist, in order; envoytap_events does not exist here")
	for _, name := range set {
		require.Contains(t, created[name], fmt.Sprintf("merge_selector_base = %d", widths[name]), name)
	}
	require.NotContains(t, created["webdebug_events"], "merge_selector_base", "a table not named keeps the engine-wide width")

	set, created = spread(Config{MergeTree: map[string]string{"merge_selector_base": "8"}}, "sofarpc_digest")
	require.Empty(t, set, "the caller's own MergeTree settings are not overridden")
	require.NotContains(t, created["sofarpc_digest"], "merge_selector_base")
	set, _ = spread(Config{MergeWidths: map[string]int{}}, "sofarpc_digest")
	require.Empty(t, set, "an empty MergeWidths sets none")
	set, created = spread(Config{MergeWidths: map[string]int{"own_table": 7}}, "own_table", "sofarpc_digest")
	require.Equal(t, []string{"own_table"}, set)
	require.Contains(t, created["own_table"], "merge_selector_base = 7")

	err := Config{DataDir: "x", MergeWidths: map[string]int{"t": 1, "a-b": 20}}.Validate()
	require.ErrorContains(t, err, "merge width 1 for t: must be 2 to 1000")
	require.ErrorContains(t, err, `merge width for "a-b": not a table name`)
}
