package embedded

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// A MergeTree table without replication remembers the deduplication
// tokens of its inserts in deduplication_logs/deduplication_log_N.txt, one
// record per line: "1\t<part>\t<block id>\n" when a part is added, "2\t...\n"
// when it is dropped. The engine (26.7) writes a part's "1" record and only
// then renames the part's temporary directory into place; when the insert
// fails between the two, it writes the "2" record itself. A SIGKILL of the
// process between the two leaves the "1" record without its part: the
// temporary directory is deleted at the next start, and the token still
// deduplicates. The replay of that batch is then dropped in exactly the table
// (or view target) whose commit was cut, and the batch is lost there while
// every other table of the insert has it. strace shows the window (about a
// third of a millisecond per part, longer on a loaded machine), and a kill
// aimed at the rename reproduces the loss every time
// (TestReplayAfterAKillBetweenTokenAndPartRestoresTheBatch).
//
// repairDedupLogs closes that window after the fact, before the engine
// starts: every "1" record whose part no part on disk covers gets the "2"
// record the engine would have written had the insert failed in the
// ordinary way. The next insert with that token is then inserted rather than
// deduplicated. A token whose part was committed, or merged into a larger
// part since, keeps deduplicating. It runs with the data directory locked,
// so no engine is writing the logs.

// blockRange is the block numbers one part on disk holds.
type blockRange struct{ min, max uint64 }

// dedupRepair is one deduplication token the engine had recorded for a part
// that never reached the disk, which Open made insertable again.
type dedupRepair struct {
	// Table is the table's directory below the data directory.
	Table string
	// Part is the part the token was recorded for.
	Part string
	// BlockID is the engine's block ID of the token.
	BlockID string
}

// errUnknownLog marks a deduplication log this code cannot read.
var errUnknownLog = errors.New("a record this version does not know")

// repairDedupLogs repairs every table's deduplication log below root (the
// engine's path, DataDir/clickhouse) and returns what it repaired. A log it
// cannot read is left as it is and named in skipped (the engine reads it
// on its own terms); a repair it cannot write is an error, because the
// engine would then drop a replay.
func repairDedupLogs(root string) (repaired []dedupRepair, skipped []error, err error) {
	var tables []string
	for _, pattern := range []string{"store/*/*/deduplication_logs", "data/*/*/deduplication_logs"} {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			return nil, nil, err
		}
		for _, logs := range m {
			table := filepath.Dir(logs)
			// data/<db>/<table> of an Atomic database is a link into store/.
			if fi, err := os.Lstat(table); err != nil || fi.Mode()&fs.ModeSymlink != 0 {
				continue
			}
			tables = append(tables, table)
		}
	}
	// A table whose log holds 40,000 records (a full log of a window of
	// 10,000) takes about 25 ms of one core (BenchmarkRepairDedupLogs):
	// the tables are read in parallel.
	type result struct {
		r   []dedupRepair
		err error
	}
	results := make([]result, len(tables))
	var wg sync.WaitGroup
	work := make(chan int)
	for range min(runtime.GOMAXPROCS(0), len(tables)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				results[i].r, results[i].err = repairTable(tables[i])
			}
		}()
	}
	for i := range tables {
		work <- i
	}
	close(work)
	wg.Wait()
	for i, table := range tables {
		r, err := results[i].r, results[i].err
		if errors.Is(err, errUnknownLog) {
			skipped = append(skipped, err)
			continue
		}
		if err != nil {
			return repaired, skipped, err
		}
		rel, _ := filepath.Rel(root, table)
		for j := range r {
			r[j].Table = rel
		}
		repaired = append(repaired, r...)
	}
	return repaired, skipped, nil
}

// repairTable repairs one table's deduplication log.
func repairTable(table string) ([]dedupRepair, error) {
	logs, err := logFiles(filepath.Join(table, "deduplication_logs"))
	if err != nil || len(logs) == 0 {
		return nil, err
	}
	texts := make([]string, len(logs))
	lines := 0
	for i, f := range logs {
		if texts[i], err = readDedupLog(f); err != nil {
			return nil, err
		}
		lines += strings.Count(texts[i], "\n")
	}
	live := make(map[string]string, lines) // block ID -> part of its last "1" record
	order := make([]string, 0, lines)
	for i, text := range texts {
		for text != "" {
			var line string
			line, text, _ = strings.Cut(text, "\n")
			op, rest, _ := strings.Cut(line, "\t")
			part, id, ok := strings.Cut(rest, "\t")
			if !ok || strings.Contains(id, "\t") || (op != "1" && op != "2") {
				return nil, fmt.Errorf("embedded engine: deduplication log %s has %w: %q; it is left as it is, and a replay into its table after a kill may be dropped (was the data directory written by another ClickHouse version?)", logs[i], errUnknownLog, line)
			}
			if op == "2" {
				delete(live, id)
				continue
			}
			if _, ok := live[id]; !ok {
				order = append(order, id)
			}
			live[id] = part
		}
	}
	if len(live) == 0 {
		return nil, nil
	}
	onDisk, err := partsOnDisk(table)
	if err != nil {
		return nil, err
	}
	var repairs []dedupRepair
	var drop bytes.Buffer
	for _, id := range order {
		part, ok := live[id]
		if !ok || covered(onDisk, part) {
			continue
		}
		delete(live, id) // once, even if the ID was added twice
		repairs = append(repairs, dedupRepair{Part: part, BlockID: id})
		fmt.Fprintf(&drop, "2\t%s\t%s\n", part, id)
	}
	if len(repairs) == 0 {
		return nil, nil
	}
	last := logs[len(logs)-1]
	fail := func(err error) ([]dedupRepair, error) {
		return nil, fmt.Errorf("embedded engine: release %d deduplication token(s) of parts a kill cut short, in %s: %w; the engine is not started, because it would drop the replay of those batches: make the data directory writable (owner, mode, free space) and start again", len(repairs), last, err)
	}
	f, err := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fail(err)
	}
	if _, err := f.Write(drop.Bytes()); err != nil {
		f.Close()
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	return repairs, nil
}

// logFiles lists deduplication_log_N.txt in dir by N.
func logFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("embedded engine: read deduplication logs: %w", err)
	}
	type numbered struct {
		n    uint64
		path string
	}
	var files []numbered
	for _, e := range ents {
		s, ok := strings.CutPrefix(e.Name(), "deduplication_log_")
		if !ok {
			continue
		}
		s, ok = strings.CutSuffix(s, ".txt")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || e.IsDir() {
			continue
		}
		files = append(files, numbered{n, filepath.Join(dir, e.Name())})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].n < files[j].n })
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.path
	}
	return out, nil
}

// readDedupLog returns the text of one log. A last line cut short (the
// process died in the middle of writing it) is cut off the file: the engine
// cannot read it and would stop reading there, and the "2" records appended
// after it must start on a line of their own.
func readDedupLog(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("embedded engine: read deduplication log: %w", err)
	}
	if n := bytes.LastIndexByte(b, '\n') + 1; n < len(b) {
		if err := os.Truncate(path, int64(n)); err != nil {
			return "", fmt.Errorf("embedded engine: cut the unfinished last record of deduplication log %s: %w", path, err)
		}
		b = b[:n]
	}
	return string(b), nil
}

// partsOnDisk returns the block ranges of the part directories in table, by
// partition: committed parts and parts merged away but not yet removed, not
// temporary or detached ones.
func partsOnDisk(table string) (map[string]*partRanges, error) {
	ents, err := os.ReadDir(table)
	if err != nil {
		return nil, fmt.Errorf("embedded engine: list parts: %w", err)
	}
	out := map[string]*partRanges{}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		p, r, ok := parsePart(e.Name())
		if !ok {
			continue
		}
		if out[p] == nil {
			out[p] = &partRanges{}
		}
		out[p].ranges = append(out[p].ranges, r)
	}
	for _, pr := range out {
		pr.index()
	}
	return out, nil
}

// partRanges are the block ranges of one partition's parts, sorted by their
// first block, with the largest last block of each prefix: a range
// [lo, hi] lies inside one part when the parts starting at or before lo
// reach hi.
type partRanges struct {
	ranges  []blockRange
	reaches []uint64 // reaches[i]: the largest max of ranges[:i+1]
}

func (pr *partRanges) index() {
	sort.Slice(pr.ranges, func(i, j int) bool { return pr.ranges[i].min < pr.ranges[j].min })
	pr.reaches = make([]uint64, len(pr.ranges))
	var m uint64
	for i, r := range pr.ranges {
		m = max(m, r.max)
		pr.reaches[i] = m
	}
}

// holds reports whether one part holds all of r.
func (pr *partRanges) holds(r blockRange) bool {
	i := sort.Search(len(pr.ranges), func(i int) bool { return pr.ranges[i].min > r.min }) - 1
	return i >= 0 && pr.reaches[i] >= r.max
}

// parsePart splits a part name, partition_min_max_level[_mutation], into
// its partition and block range. Partition IDs have no underscore.
func parsePart(name string) (string, blockRange, bool) {
	var f [5]string
	n := 0
	for rest := name; ; n++ {
		if n == len(f) {
			return "", blockRange{}, false
		}
		var more bool
		f[n], rest, more = strings.Cut(rest, "_")
		if !more {
			n++
			break
		}
	}
	if n < 4 || f[0] == "" {
		return "", blockRange{}, false
	}
	var nums [4]uint64
	for i := 1; i < n; i++ {
		v, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return "", blockRange{}, false
		}
		nums[i-1] = v
	}
	if nums[0] > nums[1] {
		return "", blockRange{}, false
	}
	return f[0], blockRange{nums[0], nums[1]}, true
}

// covered reports whether a part on disk holds the blocks of part.
func covered(onDisk map[string]*partRanges, part string) bool {
	p, r, ok := parsePart(part)
	if !ok {
		return true // a name this code does not understand: leave its token alone
	}
	pr := onDisk[p]
	return pr != nil && pr.holds(r)
}
