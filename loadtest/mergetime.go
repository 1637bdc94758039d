package loadtest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tapline/tapline/loadtest/report"
	"github.com/tapline/tapline/sink"
)

// mergeSampleInterval is how often the live phase reads system.merges.
// Most merges of the live phase's parts take 0.1 to a few seconds; a merge
// shorter than this may be missed, but on average each merge counts for
// its own length (see mergeClock). Every 200ms the reads took 1-2% of a
// core from the process measured (the loadtest's measurement part, 3-5%
// instead of 2%).
const mergeSampleInterval = 500 * time.Millisecond

// mergeQuery lists the merges running in the current database (tapline's
// tables); mutations are not merges of inserted parts and are left out.
const mergeQuery = "SELECT table, result_part_name FROM system.merges WHERE database = currentDatabase() AND NOT is_mutation"

// mergeClock adds up the engine's merge time by table from samples of
// system.merges: every merge a sample sees running counts for the time
// since the sample before. That is an unbiased estimate of each table's
// merge time (a merge of length d is seen d/interval times on average),
// in wall time: a merge waiting for a core counts too, as does every merge
// of the table when several run at once. The engine keeps no per-table
// merge log that chDB exposes (system.part_log is off), so sampling is
// the only per-table view there is.
type mergeClock struct {
	last   time.Time // the sample before
	tables map[string]*mergeTally
	// reads and failed count the samples taken and the reads that failed;
	// err is the first failure. A failed read counts nothing (the next
	// sample counts from the last one that answered), so a busy engine
	// loses no time; only a clock that never read (the user may not read
	// system.merges) has no figures (see unread).
	reads, failed int
	err           error
}

// mergeTally is one table's merge time and the distinct merges seen.
type mergeTally struct {
	seconds float64
	merges  map[string]struct{}
}

// newMergeClock starts a clock whose first sample counts from start.
func newMergeClock(start time.Time) *mergeClock {
	return &mergeClock{last: start, tables: map[string]*mergeTally{}}
}

// sample reads system.merges through t and counts what runs at now. A
// read cut short by the end of ctx (the live phase ending) is no failure.
func (c *mergeClock) sample(ctx context.Context, t sink.Target, now time.Time) {
	if c.reads == 0 && c.err != nil {
		return // never answered: not readable here, stop asking
	}
	out, err := t.Query(ctx, mergeQuery, "TabSeparated", nil)
	if err != nil {
		err = fmt.Errorf("loadtest: read the engine's running merges (system.merges): %w", err)
	}
	c.record(string(out), err, ctx.Err() != nil, now)
}

// record counts one read's rows, or its failure: readErr is the read's
// error, cut says the live phase ended during it (no failure then).
func (c *mergeClock) record(rows string, readErr error, cut bool, now time.Time) {
	err := readErr
	if err == nil {
		err = c.add(rows, now)
	}
	if err != nil && !cut {
		c.failed++
		if c.err == nil {
			c.err = err
		}
	}
}

// unread returns why the clock has no figures: its first failure when no
// read answered, else "".
func (c *mergeClock) unread() string {
	if c.reads == 0 && c.err != nil {
		return c.err.Error()
	}
	return ""
}

// add counts the merges of one sample, TabSeparated rows of table and
// result part, as running for the time since the sample before. A sample
// with a line of another shape counts nothing and is an error.
func (c *mergeClock) add(rows string, now time.Time) error {
	type merge struct{ table, part string }
	var seen []merge
	for _, line := range strings.Split(strings.TrimSpace(rows), "\n") {
		if line == "" {
			continue
		}
		table, part, ok := strings.Cut(line, "\t")
		if !ok || table == "" {
			return fmt.Errorf("loadtest: read the engine's running merges: unexpected line %q", line)
		}
		seen = append(seen, merge{table, part})
	}
	dt := now.Sub(c.last).Seconds()
	c.last = now
	c.reads++
	for _, s := range seen {
		table, part := s.table, s.part
		m := c.tables[table]
		if m == nil {
			m = &mergeTally{merges: map[string]struct{}{}}
			c.tables[table] = m
		}
		m.seconds += dt
		m.merges[part] = struct{}{}
	}
	return nil
}

// byTable returns each table's merge time, largest first, with its share
// of all tables' merge time; nil when no merge was seen.
func (c *mergeClock) byTable() []report.TableMergeTime {
	var total float64
	for _, m := range c.tables {
		total += m.seconds
	}
	if total == 0 {
		return nil
	}
	out := make([]report.TableMergeTime, 0, len(c.tables))
	for table, m := range c.tables {
		out = append(out, report.TableMergeTime{Table: table, Seconds: m.seconds, Merges: len(m.merges), Percent: 100 * m.seconds / total})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Seconds != out[j].Seconds {
			return out[i].Seconds > out[j].Seconds
		}
		return out[i].Table < out[j].Table
	})
	return out
}
