package embedded

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// settingName is what a ClickHouse setting's name looks like.
var settingName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Package is the npm package that ships the engine library, pinned: tapline's
// SQL is tested against exactly this ClickHouse build (26.7).
const (
	Package          = "@chdb/lib-linux-x64-gnu"
	PackageVersion   = "26.7.3-stable.1"
	PackageIntegrity = "sha512-XP97mMqnc5tZpKQywR8N7cLTsHNiTmHr30pC5mzo3jWmukjKn2IBa60c2B/gWUNcuFjOMjWoorQICCqBVj5wpw=="
	// LibraryEnv names the environment variable that points at libchdb.so.
	LibraryEnv = "TAPLINE_LIBCHDB"
)

// CacheSubdir is where the fetched library lives below a cache root:
// <root>/chdb/<PackageVersion>/libchdb.so.
var CacheSubdir = filepath.Join("chdb", PackageVersion)

// Config configures the embedded engine. The zero value is not usable:
// DataDir is required; everything else has a default.
type Config struct {
	// DataDir holds the engine's tables (under DataDir/clickhouse) and the
	// lock file. Created when missing.
	DataDir string
	// Library is the path to libchdb.so. Empty means: $TAPLINE_LIBCHDB, then
	// .cache/chdb/<version>/libchdb.so in the working directory or any parent
	// (where `make engine` puts it), then the same below the user's
	// cache directory.
	Library string
	// Database is created when missing and made the current database of
	// every connection. Empty means "tapline".
	Database string
	// Connections is the size of the connection pool; 0 means 4. One
	// connection runs one statement at a time.
	Connections int
	// Settings are ClickHouse query-level settings applied to every
	// connection, e.g. {"max_threads": "2"}. Names are letters, digits
	// and _ (Validate refuses others).
	Settings map[string]string
	// MergeTree are MergeTree table settings the engine gives every table
	// that does not set them itself (a server config's <merge_tree>
	// section, written to DataDir/ServerConfigFile). nil means
	// DefaultMergeTree(); an empty map sets none and removes a
	// ServerConfigFile an earlier start wrote.
	MergeTree map[string]string
	// MergeWidths gives single tables a merge_selector_base of their own,
	// kept in each table's metadata (ALTER TABLE … MODIFY SETTING, run by
	// Target.SpreadMerges once the schema exists; a table not there yet is
	// skipped). nil means DefaultMergeWidths() while MergeTree is nil, and
	// none with a MergeTree of the caller's own, whose merge settings it
	// would otherwise override for those tables; an empty map changes none.
	// A width set by an earlier start stays in the table's metadata until
	// changed.
	MergeWidths map[string]int
	// Server are server-level settings (the top level of a ClickHouse
	// server config), written with MergeTree to DataDir/ServerConfigFile.
	// nil means DefaultServer(); an empty map sets none. The engine's
	// background pools grow but never shrink within a process: a later
	// Open in the same process asking for smaller pools keeps the larger
	// ones.
	Server map[string]string
	// MemoryPurge is how often the engine hands memory its allocator has
	// freed, but still holds resident, back to the operating system
	// (SYSTEM JEMALLOC PURGE). 0 means DefaultMemoryPurge; a negative
	// value leaves it to the allocator, which returns freed pages over
	// about five seconds.
	MemoryPurge time.Duration
	// MemoryPurgeAbove is the process's resident memory, in bytes, above
	// which the purge runs: at each tick of MemoryPurge below it, the
	// allocator keeps its freed pages for reuse, which spares the CPU of
	// returning them and of faulting them back in. 0 means
	// DefaultMemoryPurgeAbove; a negative value purges at every tick
	// whatever the resident memory.
	MemoryPurgeAbove int64
	// Log receives a line for each deduplication token Open released
	// before the engine started, because a kill had left it without its
	// part, and for each deduplication log Open could not read. nil
	// discards them.
	Log io.Writer
}

func (c Config) log() io.Writer {
	if c.Log == nil {
		return io.Discard
	}
	return c.Log
}

// DefaultMemoryPurge is how often the engine returns freed memory unless
// Config.MemoryPurge says otherwise. On the live loadtest the engine's
// allocator held 100-330 MB more resident than it had allocated, for up to
// five seconds after each burst of merges; purging every second keeps the
// difference to a few tens of MB (docs/performance.md, "The engine's
// memory peak").
const DefaultMemoryPurge = time.Second

// DefaultMemoryPurgeAbove is the resident memory above which the purge runs
// unless Config.MemoryPurgeAbove says otherwise: 1 GiB. Below it a purge
// costs CPU and saves nothing a target asks for: at about half of the live
// loadtest's maximum rate (900-950 MiB resident), purging every second took
// 5% of a core in the purge itself (madvise and its TLB shootdowns) and more
// in page faults when the engine reused the pages; purging only above 1 GiB
// ran at 132-161% against 147-168% CPU (four alternating pairs) with the
// same peak. At the maximum rate the process stays above it most of the
// time and the purge keeps the peak down as before (docs/performance.md,
// "The purge only above 1 GiB").
const DefaultMemoryPurgeAbove = 1 << 30

// DefaultServer returns the server settings the embedded engine runs with
// unless Config.Server says otherwise:
//
//   - background_pool_size 2 and
//     background_merges_mutations_concurrency_ratio 1: at most two merges
//     at once. chDB's default is four merge threads and twice as many
//     merges interleaved. Every source inserts into each of its tables
//     about once a second, so the tables reach their next merge at about
//     the same moment, and each merge of twenty small parts holds 60-140 MB:
//     four at once made the engine's share of the loadtest's memory peak,
//     and on two cores more merges at once only share the same CPU.
func DefaultServer() map[string]string {
	return map[string]string{
		"background_pool_size":                          "2",
		"background_merges_mutations_concurrency_ratio": "1",
	}
}

// server returns the server settings to run with.
func (c Config) server() map[string]string {
	if c.Server == nil {
		return DefaultServer()
	}
	return c.Server
}

// memoryPurge returns the purge interval to run with; 0 means none.
func (c Config) memoryPurge() time.Duration {
	return zeroMeansDefault(c.MemoryPurge, DefaultMemoryPurge)
}

// memoryPurgeAbove returns the resident memory above which the purge runs;
// 0 means at every tick.
func (c Config) memoryPurgeAbove() int64 {
	return zeroMeansDefault(c.MemoryPurgeAbove, DefaultMemoryPurgeAbove)
}

// zeroMeansDefault reads a setting where 0 asks for the default def and a
// negative value turns the setting off: it returns def, 0 or v.
func zeroMeansDefault[T ~int64](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// DefaultMergeTree returns the MergeTree settings the embedded engine runs
// with unless Config.MergeTree says otherwise, tuned for tapline's load:
// every source inserts a part per batch, and merging those parts took
// 40-50% of the engine's CPU over 17 drain-sized inserts.
//
//   - merge_selector_base 20 (ClickHouse's default is 5): a merge waits for
//     about twenty parts of similar size instead of five, so each row is
//     rewritten about half as often (write amplification ~ log base 20
//     instead of log base 5 of the parts merged). The cost is more parts
//     between merges: tens per partition, far below the 1,000 at which
//     ClickHouse delays inserts; queries read a few more files.
func DefaultMergeTree() map[string]string {
	return map[string]string{"merge_selector_base": "20"}
}

// DefaultMergeWidths returns the merge_selector_base the embedded engine
// gives the busiest tables besides webdebug_events (which keeps
// DefaultMergeTree's 20), a different one each. Every source inserts about
// one part per second into its tables, so with one width for all of them
// the tables reached their merges in the same second: at half the maximum
// rate the raw tables' merges ran together every 17-18 s, took both cores
// for two to three seconds, and the probes inserted meanwhile waited (the
// freshness p99's outliers came in those bursts; docs/performance.md,
// "Merges in step"). A table whose merges take a few more parts each
// reaches them at other moments, and drifts further from the others with
// each merge. Wider merges rewrite each row a little less often; the price
// is a few more parts between merges.
func DefaultMergeWidths() map[string]int {
	return map[string]int{
		"g3proxy_task":    23,
		"sofarpc_digest":  26,
		"django_events":   29,
		"envoytap_events": 32,
	}
}

// mergeWidths returns the per-table merge widths to run with.
func (c Config) mergeWidths() map[string]int {
	switch {
	case c.MergeWidths != nil:
		return c.MergeWidths
	case c.MergeTree == nil:
		return DefaultMergeWidths()
	}
	return nil
}

// mergeTree returns the MergeTree settings to run with.
func (c Config) mergeTree() map[string]string {
	if c.MergeTree == nil {
		return DefaultMergeTree()
	}
	return c.MergeTree
}

// Validate reports every problem with the configuration at once. It does not
// modify c and does not touch the file system.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("embedded engine: data directory is empty: set --data-dir (or TAPLINE_DATA_DIR)"))
	}
	if c.Database == "default" {
		errs = append(errs, errors.New("embedded engine: database \"default\" is the engine's file-mapped database, which tapline removes: choose another name (the default is \"tapline\")"))
	}
	if c.Connections < 0 {
		errs = append(errs, fmt.Errorf("embedded engine: connections = %d: must be 0 (default 4) or more", c.Connections))
	}
	for _, k := range sortedKeys(c.MergeWidths) {
		if !settingName.MatchString(k) {
			errs = append(errs, fmt.Errorf("embedded engine: merge width for %q: not a table name (letters, digits and _)", k))
		}
		if w := c.MergeWidths[k]; w < 2 || w > 1000 {
			errs = append(errs, fmt.Errorf("embedded engine: merge width %d for %s: must be 2 to 1000 (ClickHouse's default is 5, tapline's 20)", w, k))
		}
	}
	for k := range c.Settings {
		if !settingName.MatchString(k) {
			errs = append(errs, fmt.Errorf("embedded engine: setting name %q is not a ClickHouse setting name (letters, digits and _)", k))
		}
	}
	for _, kind := range []struct {
		name string
		m    map[string]string
	}{{"MergeTree", c.MergeTree}, {"server", c.Server}} {
		for _, k := range sortedKeys(kind.m) {
			if !settingName.MatchString(k) {
				errs = append(errs, fmt.Errorf("embedded engine: %s setting name %q is not a ClickHouse setting name (letters, digits and _)", kind.name, k))
			}
			if v := kind.m[k]; strings.ContainsAny(v, "<>&\x00") {
				errs = append(errs, fmt.Errorf("embedded engine: %s setting %s = %q: the value may not hold <, > or &", kind.name, k, v))
			}
		}
	}
	return errors.Join(errs...)
}

func (c Config) database() string {
	if c.Database == "" {
		return "tapline"
	}
	return c.Database
}

func (c Config) connections() int {
	if c.Connections == 0 {
		return 4
	}
	return c.Connections
}

// ResolveLibrary returns the library path Open would load, following the
// order documented on Config.Library, or an error that says how to fetch it.
func (c Config) ResolveLibrary() (string, error) {
	if c.Library != "" {
		return existing(c.Library)
	}
	if p := os.Getenv(LibraryEnv); p != "" {
		return existing(p)
	}
	var tried []string
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			p := filepath.Join(dir, ".cache", CacheSubdir, "libchdb.so")
			tried = append(tried, p)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	if ucd, err := os.UserCacheDir(); err == nil {
		p := filepath.Join(ucd, "tapline", CacheSubdir, "libchdb.so")
		tried = append(tried, p)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("embedded engine: libchdb.so not found (looked in $%s and %d cache paths, first %s): run `make engine` or `tapline engine fetch`, or set $%s",
		LibraryEnv, len(tried), first(tried), LibraryEnv)
}

func existing(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("embedded engine: library %s: %w (run `make engine` to fetch it)", abs, err)
	}
	return abs, nil
}

func first(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return s[0]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
