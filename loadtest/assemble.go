package loadtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/tapline/tapline/loadtest/procstat"
	"github.com/tapline/tapline/loadtest/report"
	"github.com/tapline/tapline/pipeline"
)

// report assembles what the live phase measured.
func (r *run) report() *report.Report {
	cfg := r.cfg
	rep := &report.Report{
		Command: cfg.Command,
		Started: r.began,
		Machine: machine(),
		Setup: report.Setup{
			RunID: r.id, NATS: r.env.NATS, ClickHouse: r.env.ClickHouse, Mix: cfg.Mix, Seed: cfg.Seed, Rate: cfg.Rate,
			DurationSec: cfg.Duration.Seconds(), Count: cfg.Count, Publishers: cfg.publishers(), PerMessage: cfg.perMessage(), MaxMsgBytes: cfg.MaxMessageBytes,
			MaxInFlight: cfg.MaxInFlight, Malformed: cfg.Malformed, ProbeEveryMs: ms(cfg.probeInterval()),
			BatchRows: orDefault(cfg.Pipeline.MaxRows, 100_000), BatchBytes: orDefault(cfg.Pipeline.MaxBytes, 32<<20),
			BatchAgeMs: ms(cfg.Pipeline.MaxAge), SampleEveryMs: ms(cfg.sampleInterval()), Calibration: cfg.Calibration,
		},
		Series: r.series,
	}
	if rep.Setup.BatchAgeMs == 0 {
		rep.Setup.BatchAgeMs = 1000
	}
	total := r.pub.Total()
	stats := map[string]pipeline.Stats{}
	for _, s := range r.stats {
		stats[s.Source] = s
	}
	l := &rep.Live
	l.PublishSec = r.pub.Stopped.Sub(r.pub.Started).Seconds()
	end := r.finished
	if end.Before(r.pub.Stopped) {
		end = r.pub.Stopped
	}
	l.EndToEndSec = end.Sub(r.pub.Started).Seconds()
	l.Records, l.Valid, l.Malformed, l.Probes = total.Records, total.Valid, total.Malformed, total.Probes
	l.Messages, l.Bytes = total.Messages, total.Bytes
	l.PublishedPerSec = per(float64(l.Records), l.PublishSec)
	for _, f := range r.formats {
		t := r.pub.Formats[f]
		st := stats[f]
		fl := report.FormatLive{Format: f, Committed: st.RecordsCommitted, DeadLetters: st.Rejected, Rows: map[string]uint64{},
			Reader: &report.ReaderTime{BuildingSec: st.ReadBuilding.Seconds(), WaitingSec: st.ReadWaiting.Seconds(), BlockedSec: st.ReadBlocked.Seconds()}}
		if t != nil {
			fl.Records, fl.Valid, fl.Malformed, fl.Probes = t.Records, t.Valid, t.Malformed, t.Probes
			fl.Messages, fl.Bytes, fl.Samples = t.Messages, t.Bytes, t.Samples
		}
		fl.Sealed = sealedByName(st.Sealed)
		for _, table := range r.env.Tables[f] {
			n := r.after[rowsOf(table)] - min(r.after[rowsOf(table)], r.before[rowsOf(table)])
			fl.Rows[table] = n
			l.Rows += n
		}
		l.Committed += st.RecordsCommitted
		l.DeadLetters += st.Rejected
		l.Formats = append(l.Formats, fl)
	}
	if r.phases != nil {
		l.CommitPhases = r.phases.phases("")
		for i := range l.Formats {
			l.Formats[i].CommitPhases = r.phases.phases(l.Formats[i].Format)
		}
	}
	l.RecordsPerSec = per(float64(l.Committed+l.DeadLetters), l.EndToEndSec)
	l.RowsPerSec = per(float64(l.Rows), l.EndToEndSec)
	var rssSum float64
	for i, p := range r.series {
		rssSum += float64(p.RSS)
		l.CPUPeakPercent = max(l.CPUPeakPercent, p.CPUPercent)
		if i > 0 {
			q := r.series[i-1]
			if dt := p.T - q.T; dt > 0.5*cfg.sampleInterval().Seconds() && p.Rows >= q.Rows {
				l.PeakRowsPerSec = max(l.PeakRowsPerSec, float64(p.Rows-q.Rows)/dt)
			}
		}
	}
	if n := len(r.series); n > 0 {
		l.RSSAvgBytes = uint64(rssSum / float64(n))
		mergesByMinute(l, r.series)
		partsByMinute(l, r.series)
	}
	if mc := r.mergeTime; mc != nil {
		l.MergeSampleSeconds = mergeSampleInterval.Seconds()
		l.MergeTimeUnread = mc.unread()
		l.MergeTimeByTable = mc.byTable()
		if mc.failed > 0 && l.MergeTimeUnread == "" {
			rep.Notes = append(rep.Notes, fmt.Sprintf("Merge time by table: %d of %d reads of system.merges failed and counted nothing (the first: %v); each read that answered counted the time since the one that answered before it.", mc.failed, mc.reads+mc.failed, mc.err))
		}
	}
	l.RSSPeakBytes = r.procEnd.HWM
	l.CPUSec = (r.procEnd.CPU - r.procLive.CPU).Seconds()
	l.CPUAvgPercent = 100 * per(l.CPUSec, r.procEnd.At.Sub(r.procLive.At).Seconds())
	if mw := r.machineEnd.At.Sub(r.machineLive.At).Seconds(); mw > 0 && !r.machineLive.At.IsZero() {
		machine := (r.machineEnd.Busy - r.machineLive.Busy).Seconds()
		l.OthersCPUPercent = max(0, 100*per(machine-l.CPUSec, mw))
		l.StealPercent = 100 * per((r.machineEnd.Steal-r.machineLive.Steal).Seconds(), mw)
		if l.OthersCPUPercent > 10 || l.StealPercent > 10 {
			rep.Notes = append(rep.Notes, fmt.Sprintf("The machine was not tapline's alone: other processes used %.0f%% of one core on average during the live phase (hypervisor steal %.0f%%), out of %d cores; tapline's figures are lower than on an idle machine.", l.OthersCPUPercent, l.StealPercent, rep.Machine.CPUs))
		}
	}
	if r.cpuSplit != nil {
		wall := r.procEnd.At.Sub(r.procLive.At).Seconds()
		for _, part := range []struct{ label, name string }{
			{partPipeline, "pipeline"},
			{procstat.Native, "ClickHouse engine threads"},
			{partNATSServer, "NATS server"},
			{partNATSClient, "NATS client"},
			{"", "Go runtime and GC"},
			{partLoad, "load generator"},
			{partMeasure, "loadtest measurement"},
		} {
			sec := r.cpuSplit[part.label].Seconds()
			l.CPUByPart = append(l.CPUByPart, report.PartCPU{Part: part.name, Seconds: sec, Percent: 100 * per(sec, wall)})
			if part.label != partLoad && part.label != partMeasure {
				l.TaplineCPUPercent += 100 * per(sec, wall)
			}
		}
	}
	l.HeldSec = r.pub.Held.Seconds()
	l.GeneratorSec = r.pub.GenTime.Seconds()
	l.Retries = r.pub.Retries

	rep.Notes = append(rep.Notes, "CPU and memory are this process's: the load generator and the pipeline always, the NATS server and the ClickHouse engine when they are embedded. The split by part comes from a CPU profile of the live phase: goroutines are labelled by part (the pipeline's include the engine's work inside its insert calls), the ClickHouse engine's own threads are recognised by their native code, the NATS server's goroutines (when embedded: storing every published message, delivering it, taking its acknowledgement) and the NATS client library's by their code, and garbage collection, which every part causes, counts under the Go runtime. Memory cannot be split.")
	switch {
	case cfg.Rate <= 0 && cfg.MaxInFlight > 0:
		rep.Notes = append(rep.Notes, fmt.Sprintf("As fast as tapline keeps up: publishers stop while %s records are published and not yet committed, so the committed rate is tapline's capacity on this machine and freshness is about that many records ÷ that rate (Little's law); run with --rate below the capacity to measure freshness at a given load.", report.SI(float64(cfg.MaxInFlight))))
	case cfg.Rate > 0 && l.HeldSec > 0.5*float64(cfg.publishers()):
		rep.Notes = append(rep.Notes, fmt.Sprintf("tapline did not keep up with --rate %s: publishers waited %.1fs (summed) for the bound of %s records in flight.", report.SI(cfg.Rate), l.HeldSec, report.SI(float64(cfg.MaxInFlight))))
	}
	return rep
}

func per(n, sec float64) float64 {
	if sec <= 0 {
		return 0
	}
	return n / sec
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// machine describes this machine from /proc (fields it cannot read stay
// empty).
func machine() report.Machine {
	m := report.Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == "MemTotal" {
				f := strings.Fields(v)
				if len(f) > 0 {
					kb, _ := strconv.ParseUint(f[0], 10, 64)
					m.MemoryBytes = kb * 1024
				}
				break
			}
		}
	}
	return m
}

// partsByMinute fills l's active part counts from the series' readings of
// system.parts (points without one, ActiveParts 0, are skipped): the last
// reading, the most of any reading, the most in each minute, and the most
// in one partition.
func partsByMinute(l *report.Live, series []report.Point) {
	for _, p := range series {
		if p.ActiveParts == 0 {
			continue // no reading
		}
		l.ActivePartsEnd = p.ActiveParts
		l.ActivePartsMax = max(l.ActivePartsMax, p.ActiveParts)
		l.PartitionPartsMax = max(l.PartitionPartsMax, p.PartitionParts)
		m := int(p.T / 60)
		for len(l.ActivePartsByMinute) <= m {
			l.ActivePartsByMinute = append(l.ActivePartsByMinute, 0)
		}
		l.ActivePartsByMinute[m] = max(l.ActivePartsByMinute[m], p.ActiveParts)
	}
}

// mergesByMinute fills l's engine counters, merge ratios and parts per
// second from the series: the whole live phase from its last point, each
// minute from the last point in it minus the last point before it.
func mergesByMinute(l *report.Live, series []report.Point) {
	last := series[len(series)-1]
	if last.EngineInsertedRows == 0 {
		return // the engine's counters did not answer
	}
	l.EngineInsertedRows, l.EngineMergedRows = last.EngineInsertedRows, last.EngineMergedRows
	l.MergedPerInserted = float64(l.EngineMergedRows) / float64(l.EngineInsertedRows)
	if l.EngineInsertedParts = last.EngineInsertedParts; last.T > 0 {
		l.PartsPerSecond = float64(l.EngineInsertedParts) / last.T
	}
	var before report.Point
	for i, p := range series {
		if i+1 < len(series) && int(series[i+1].T/60) == int(p.T/60) {
			continue // not the minute's last point
		}
		for len(l.MergedPerInsertedByMinute) < int(p.T/60) {
			l.MergedPerInsertedByMinute = append(l.MergedPerInsertedByMinute, 0) // a minute without a point
		}
		ratio := 0.0
		if ins := p.EngineInsertedRows - min(p.EngineInsertedRows, before.EngineInsertedRows); ins > 0 {
			ratio = float64(p.EngineMergedRows-min(p.EngineMergedRows, before.EngineMergedRows)) / float64(ins)
		}
		l.MergedPerInsertedByMinute = append(l.MergedPerInsertedByMinute, ratio)
		before = p
	}
}
