package loadtest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tapline/tapline/loadtest/procstat"
	"github.com/tapline/tapline/loadtest/report"
	"github.com/tapline/tapline/sink"
)

// sampler records the live phase: every few milliseconds the pipeline's
// done count (for the publishers' bound on records in flight), and every
// SampleInterval a Point (and a progress line).
type sampler struct {
	r      *run
	rows   []string // the base tables' row measures
	rows0  uint64   // their sum before publishing
	last   procstat.Sample
	lastM  procstat.Machine
	prev   report.Point
	hasPrv bool
	// the engine's counters when the live phase started (ok: they answered)
	engine0  engineCounts
	engineOK bool
	// merges adds up the engine's merge time by table (run.mergeTime when
	// the phase ends).
	merges *mergeClock
}

func newSampler(ctx context.Context, r *run) (*sampler, error) {
	s := &sampler{r: r, merges: newMergeClock(time.Now())}
	for _, f := range r.formats {
		for _, t := range r.env.Tables[f] {
			s.rows = append(s.rows, rowsOf(t))
			s.rows0 += r.before[rowsOf(t)]
		}
	}
	p, err := procstat.Read()
	if err != nil {
		return nil, err
	}
	s.last = p
	r.procLive = p
	if m, err := procstat.ReadMachine(); err == nil {
		s.lastM, r.machineLive = m, m
	}
	if c, err := engineCounters(ctx, r.env.Target); err == nil {
		s.engine0, s.engineOK = c, true
	}
	return s, nil
}

// run samples until ctx ends, then takes a last sample.
func (s *sampler) run(ctx context.Context) {
	fast := time.NewTicker(5 * time.Millisecond)
	defer fast.Stop()
	slow := time.NewTicker(s.r.cfg.sampleInterval())
	defer slow.Stop()
	merges := time.NewTicker(mergeSampleInterval)
	defer merges.Stop()
	s.sample(ctx)
	for {
		select {
		case <-ctx.Done():
			s.sample(context.WithoutCancel(ctx)) // the last point
			s.r.mergeTime = s.merges
			if s.r.cfg.Progress != nil && s.r.cfg.InPlace {
				fmt.Fprintln(s.r.cfg.Progress)
			}
			return
		case now := <-merges.C:
			s.merges.sample(ctx, s.r.env.Target, now)
		case <-fast.C:
			c, d := s.r.doneNow()
			s.r.done.Store(c + d)
		case <-slow.C:
			s.sample(ctx)
		}
	}
}

// sample takes one Point, appends it to the series and prints progress.
func (s *sampler) sample(ctx context.Context) {
	r := s.r
	now := time.Now()
	c, d := r.doneNow()
	r.done.Store(c + d)
	p := report.Point{T: now.Sub(r.began).Seconds(), Published: r.live.Records.Load(), Committed: c, DeadLetters: d}
	p.InFlight = int64(p.Published) - int64(c+d)
	if m, err := count(ctx, r.env.Target, s.rows); err == nil {
		var sum uint64
		for _, k := range s.rows {
			sum += m[k]
		}
		p.Rows = sum - min(sum, s.rows0)
	} else if s.hasPrv {
		p.Rows = s.prev.Rows // ClickHouse busy: keep the last count
	}
	if lag, err := r.lag(ctx); err == nil {
		p.Lag = lag
	}
	if s.engineOK {
		if c, err := engineCounters(ctx, r.env.Target); err == nil {
			p.EngineInsertedRows = c.inserted - min(c.inserted, s.engine0.inserted)
			p.EngineMergedRows = c.merged - min(c.merged, s.engine0.merged)
			p.EngineInsertedParts = c.parts - min(c.parts, s.engine0.parts)
		} else if s.hasPrv {
			p.EngineInsertedRows, p.EngineMergedRows, p.EngineInsertedParts = s.prev.EngineInsertedRows, s.prev.EngineMergedRows, s.prev.EngineInsertedParts
		}
	}
	if c, err := activeParts(ctx, r.env.Target); err == nil {
		p.ActiveParts, p.PartitionParts = c.active, c.partition
	}
	if proc, err := procstat.Read(); err == nil {
		p.CPUPercent = procstat.CPUPercent(s.last, proc)
		p.RSS = proc.RSS
		s.last = proc
	}
	if m, err := procstat.ReadMachine(); err == nil {
		p.MachineCPUPercent = procstat.MachinePercent(s.lastM, m)
		s.lastM = m
	}
	r.series = append(r.series, p)
	if r.cfg.Progress != nil && s.hasPrv {
		dt := p.T - s.prev.T
		if dt > 0 {
			line := fmt.Sprintf("%5.0fs  published %s rec/s (%s)  committed %s rec/s, %s rows/s (%s)  lag %s msgs  dead letters %s  CPU %.0f%%  RSS %s",
				p.T, report.SI(float64(p.Published-s.prev.Published)/dt), report.SI(float64(p.Published)),
				report.SI(float64(p.Committed+p.DeadLetters-s.prev.Committed-s.prev.DeadLetters)/dt), report.SI(float64(p.Rows-min(p.Rows, s.prev.Rows))/dt), report.SI(float64(p.Rows)),
				report.SI(float64(p.Lag)), report.SI(float64(p.DeadLetters)), p.CPUPercent, report.IBytes(p.RSS))
			if r.cfg.InPlace {
				fmt.Fprintf(r.cfg.Progress, "\r\033[K%s", line)
			} else {
				fmt.Fprintln(r.cfg.Progress, line)
			}
		}
	}
	s.prev, s.hasPrv = p, true
}

// engineCounts are the engine's own counters the loadtest follows.
type engineCounts struct {
	inserted, merged uint64 // InsertedRows, MergedRows
	parts            uint64 // InsertedCompactParts + InsertedWideParts
}

// engineCounters returns the engine's InsertedRows, MergedRows and parts
// written by inserts (system.events; an event the engine has not counted
// yet is 0). An error means this user may not read system.events or the
// engine did not answer: at the start of the live phase the report then
// leaves the merge and part figures out, later a sample keeps the counts of
// the one before.
func engineCounters(ctx context.Context, t sink.Target) (engineCounts, error) {
	var c engineCounts
	out, err := t.Query(ctx, "SELECT event, value FROM system.events WHERE event IN ('InsertedRows', 'MergedRows', 'InsertedCompactParts', 'InsertedWideParts')", "TabSeparated", nil)
	if err != nil {
		return c, fmt.Errorf("loadtest: read the engine's counters: %w", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		name, v, ok := strings.Cut(line, "\t")
		n, perr := strconv.ParseUint(v, 10, 64)
		if !ok || perr != nil {
			return c, fmt.Errorf("loadtest: read the engine's counters: unexpected line %q", line)
		}
		switch name {
		case "InsertedRows":
			c.inserted = n
		case "MergedRows":
			c.merged = n
		case "InsertedCompactParts", "InsertedWideParts":
			c.parts += n
		}
	}
	return c, nil
}

// partCounts are the engine's active parts of tapline's tables.
type partCounts struct {
	active    uint64 // in all
	partition uint64 // the most in one partition of one table
}

// activePartsQuery counts the active parts of the tables in the current
// database (tapline's), by table and partition.
const activePartsQuery = "SELECT sum(n), max(n) FROM (SELECT count() AS n FROM system.parts WHERE database = currentDatabase() AND active GROUP BY table, partition_id)"

// activeParts returns the active parts of the tables in t's database
// (system.parts): in all, and the most in one partition of one table. An
// error means this user may not read system.parts or the engine did not
// answer; the sample then has no reading.
func activeParts(ctx context.Context, t sink.Target) (partCounts, error) {
	var c partCounts
	out, err := t.Query(ctx, activePartsQuery, "TabSeparated", nil)
	if err != nil {
		return c, fmt.Errorf("loadtest: read the engine's active parts: %w", err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		return c, fmt.Errorf("loadtest: read the engine's active parts: unexpected answer %q", out)
	}
	var perr error
	if c.active, perr = strconv.ParseUint(f[0], 10, 64); perr == nil {
		c.partition, perr = strconv.ParseUint(f[1], 10, 64)
	}
	if perr != nil {
		return c, fmt.Errorf("loadtest: read the engine's active parts: unexpected answer %q", out)
	}
	return c, nil
}
