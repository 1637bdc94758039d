package report

import (
	"fmt"
	"sort"
	"strings"
)

// Markdown renders the report's summary.
func Markdown(r *Report) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# tapline loadtest: %s\n\n", r.Verdict.Text)
	w("`%s`, %s to %s (UTC).\n\n", r.Command, r.Started.UTC().Format("2006-01-02 15:04:05"), r.Finished.UTC().Format("15:04:05"))
	w("Machine: %d CPUs%s, %s memory, %s, %s. NATS: %s. ClickHouse: %s.\n\n", r.Machine.CPUs, paren(r.Machine.CPUModel), IBytes(r.Machine.MemoryBytes), r.Machine.OS, r.Machine.GoVersion, r.Setup.NATS, r.Setup.ClickHouse)
	w("Load: %s, seed %d, %s, %d publishers, up to %d records and %s per message (line formats; documents one per message), %.2f%% malformed, at most %s records in flight; batches of %s rows / %s / %gms.\n\n",
		mix(r.Setup.Mix), r.Setup.Seed, rateText(r.Setup.Rate, r.Setup.Calibration), r.Setup.Publishers, r.Setup.PerMessage, bytesCap(r.Setup.MaxMsgBytes), 100*r.Setup.Malformed, inFlightText(r.Setup.MaxInFlight), SI(float64(r.Setup.BatchRows)), IBytes(uint64(r.Setup.BatchBytes)), r.Setup.BatchAgeMs)

	l := r.Live
	w("## Figures\n\n| measure | value | how it is taken |\n|---|---|---|\n")
	w("| published | **%s records/s** (%s records in %s messages, %s, over %.1fs) | records acknowledged by the stream / time from the first publish to the last acknowledgement |\n",
		SI(l.PublishedPerSec), SI(float64(l.Records)), SI(float64(l.Messages)), IBytes(l.Bytes), l.PublishSec)
	w("| committed, end to end | **%s records/s**, **%s rows/s** | records committed or dead-lettered, and rows counted in ClickHouse, / time from the first publish until the pipeline had done every published record (%.1fs) |\n",
		SI(l.RecordsPerSec), SI(l.RowsPerSec), l.EndToEndSec)
	w("| committed rows/s, best interval | %s rows/s | highest rows/s over one %gms sample, rows counted in ClickHouse |\n", SI(l.PeakRowsPerSec), r.Setup.SampleEveryMs)
	f := r.Freshness
	w("| freshness (publish to queryable) | **p50 %s, p99 %s** (p90 %s, max %s; %d of %d probes) | per probe: ClickHouse's ingested_at of its row minus the time just before it was published |\n",
		Ms(f.P50Ms), Ms(f.P99Ms), Ms(f.P90Ms), Ms(f.MaxMs), f.Found, f.Probes)
	w("| publish acknowledgement | p50 %s, p99 %s | probes: publish call to the stream's acknowledgement |\n", Ms(f.PublishAckP50Ms), Ms(f.PublishAckP99Ms))
	w("| CPU (whole process) | **%.0f%%** of one core on average, %.0f%% at peak (%.1f CPU-seconds) | getrusage over the live phase; the process holds the load generator, NATS, the pipeline and ClickHouse |\n", l.CPUAvgPercent, l.CPUPeakPercent, l.CPUSec)
	if len(l.CPUByPart) > 0 {
		var parts []string
		for _, p := range l.CPUByPart {
			parts = append(parts, fmt.Sprintf("%s %.0f%%", p.Part, p.Percent))
		}
		w("| CPU by part | **tapline %.0f%%** of one core (%s) | a CPU profile of the live phase, goroutines labelled by part; tapline is the pipeline plus NATS and the Go runtime |\n", l.TaplineCPUPercent, strings.Join(parts, ", "))
	}
	w("| other processes | %.0f%% of one core (steal %.0f%%) | the machine's busy time (/proc/stat) minus this process's, over the live phase |\n", l.OthersCPUPercent, l.StealPercent)
	w("| resident memory | **%s** on average, %s at peak | VmRSS sampled, VmHWM |\n", IBytes(l.RSSAvgBytes), IBytes(l.RSSPeakBytes))
	if l.EngineInsertedRows > 0 {
		w("| engine merges | %.2f rows merged per row inserted (%s merged, %s inserted); by minute %s | the engine's MergedRows and InsertedRows (system.events) over the live phase, every table and view's table; rising by minute means merge work the first minute did not pay |\n",
			l.MergedPerInserted, SI(float64(l.EngineMergedRows)), SI(float64(l.EngineInsertedRows)), RatioList(l.MergedPerInsertedByMinute))
	}
	if len(l.CommitPhases) > 0 {
		w("| commit phases | p50/p99 per batch: %s; %d batches | pipeline.Phase, every committed batch of the live phase: queued (sealed until a writer takes it), claim (journal write and clearance), insert (every table of the batch; its rows are queryable after it), health (its pipeline_batches row), journal (marked committed, messages acknowledged). A record is queryable after its wait in its batch (up to the batch age) plus queued, claim and insert; the probes' freshness stops at ingested_at, stamped early in the insert (as the engine reads the block, before it writes the part), so it leaves out most of the insert |\n", PhaseList(l.CommitPhases), l.CommitPhases[0].Batches)
	}
	if l.EngineInsertedParts > 0 {
		w("| parts written | %.1f/s (%d in all) | the engine's InsertedCompactParts and InsertedWideParts (system.events) over the live phase: every table's and view's table's part from an insert; each costs a fixed amount whatever its rows, so the batch age, not the rate, sets this |\n", l.PartsPerSecond, l.EngineInsertedParts)
	}
	if l.ActivePartsMax > 0 {
		w("| active parts | %d at the end, at most %d; by minute %s; at most %d in one partition | system.parts read with every sample: every table's active parts, and the most in one partition of one table (what ClickHouse holds against parts_to_delay_insert); merges trade these against rows merged per row inserted |\n", l.ActivePartsEnd, l.ActivePartsMax, CountList(l.ActivePartsByMinute), l.PartitionPartsMax)
	}
	if len(l.MergeTimeByTable) > 0 {
		w("| merge time by table | %s | system.merges read every %.1fs, each merge seen running counted for the time since the read before: wall time, a merge waiting for a core included; where the merges of the rows merged per row inserted go |\n", MergeTimeList(l.MergeTimeByTable, len(l.MergeTimeByTable)), l.MergeSampleSeconds)
	} else if l.MergeTimeUnread != "" {
		w("| merge time by table | not measured: %s | |\n", l.MergeTimeUnread)
	}
	w("| load generator | %.1fs in the generators | wall time inside gen.Next, summed over publishers |\n", l.GeneratorSec)
	if l.HeldSec > 0 {
		w("| publishers held | %.1fs (summed over publishers) | time publishers waited because %s records were in flight |\n", l.HeldSec, SI(float64(r.Setup.MaxInFlight)))
	}
	w("\n")

	bl := r.Baselines
	w("## Baselines: the same messages without tapline\n\n")
	if bl.Broker != nil || bl.Engine != nil {
		w("| baseline | its rate | tapline's rate | tapline ÷ baseline |\n|---|---|---|---|\n")
	}
	if bl.Broker != nil {
		w("| broker: consume and acknowledge every message one by one, no processing (all formats, %s messages) | %s records/s | %s records/s (live, end to end) | **%.2f** |\n",
			SI(float64(bl.Broker.Messages)), SI(bl.Broker.RecordsPerSec), SI(l.RecordsPerSec), bl.BrokerRatio)
	}
	if bl.Engine != nil && bl.Drain != nil {
		w("| engine: the same JSON lines with FORMAT JSONEachRow into the same tables and views (%s) | %s lines/s | %s lines/s (drain from the backlog) | **%.2f** |\n",
			formatsOf(bl.Engine.Formats), SI(bl.Engine.PerSec), SI(bl.Drain.PerSec), bl.EngineRatio)
	}
	if bl.Drain != nil && bl.DrainBroker > 0 {
		w("| broker on the JSON-lines formats' messages (%s) | %s records/s | %s records/s (drain from the backlog) | **%.2f** |\n",
			formatsOf(bl.Drain.Formats), SI(bl.DrainBroker), SI(bl.Drain.PerSec), bl.DrainRatio)
	}
	w("\n")
	if bl.Engine != nil && bl.Drain != nil {
		w("Per JSON-lines format, from the backlog, one format at a time:\n\n| format | lines | engine lines/s (rows it wrote) | tapline lines/s (batches) | tapline ÷ engine | tapline's reader |\n|---|---|---|---|---|---|\n")
		drain := map[string]FormatRate{}
		for _, d := range bl.Drain.Formats {
			drain[d.Format] = d
		}
		for _, e := range bl.Engine.Formats {
			d := drain[e.Format]
			ratio := 0.0
			if e.PerSec > 0 {
				ratio = d.PerSec / e.PerSec
			}
			tail := ""
			switch {
			case d.Tail:
				tail = ", incl. the last batch's wait"
			case d.Sealed["age"] > 0:
				tail = ", the last left out: it waited for its age"
			}
			reader := ""
			if d.Reader != nil {
				reader = d.Reader.String()
			}
			w("| %s | %s | %s (%s rows) | %s (%d batches%s) | %.2f | %s |\n", e.Format, SI(float64(e.Records)), SI(e.PerSec), SI(float64(e.Rows)), SI(d.PerSec), d.Batches, tail, ratio, reader)
		}
		w("\n")
	}
	for _, s := range bl.Skipped {
		w("- not measured: %s\n", s)
	}
	if len(bl.Skipped) > 0 {
		w("\n")
	}

	w("## Per format (live phase)\n\n| format | records | valid | malformed | probes | messages | bytes | committed | dead letters | rows | tapline's reader |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, x := range l.Formats {
		reader := ""
		if x.Reader != nil {
			reader = x.Reader.String()
		}
		w("| %s | %d | %d | %d | %d | %d | %s | %d | %d | %s | %s |\n", x.Format, x.Records, x.Valid, x.Malformed, x.Probes, x.Messages, IBytes(x.Bytes), x.Committed, x.DeadLetters, rows(x.Rows), reader)
	}
	w("\nFreshness per format: ")
	var parts []string
	for _, x := range f.Formats {
		parts = append(parts, fmt.Sprintf("%s p50 %s, p99 %s (%d/%d)", x.Format, Ms(x.P50Ms), Ms(x.P99Ms), x.Found, x.Probes))
	}
	w("%s.\n\n", strings.Join(parts, "; "))
	parts = parts[:0]
	for _, x := range l.Formats {
		if len(x.CommitPhases) > 0 {
			parts = append(parts, fmt.Sprintf("%s %s (%d batches)", x.Format, PhaseList(x.CommitPhases), x.CommitPhases[0].Batches))
		}
	}
	if len(parts) > 0 {
		w("Commit phases per format, p50/p99 per batch: %s.\n\n", strings.Join(parts, "; "))
	}
	parts = parts[:0]
	for _, x := range l.Formats {
		if len(x.Sealed) > 0 {
			parts = append(parts, x.Format+" "+SealedList(x.Sealed))
		}
	}
	if len(parts) > 0 {
		w("Batches closed per format, by why (pipeline.Seal: age is --batch-age; a live source that keeps up closes by age): %s.\n\n", strings.Join(parts, "; "))
	}

	w("## Loss and duplication checks\n\n| check | compares | published | found | |\n|---|---|---|---|---|\n")
	for _, c := range r.Checks {
		mark := "ok"
		if !c.OK {
			mark = "**FAILED**"
		}
		w("| %s | %s | %d | %d | %s |\n", c.Name, c.What, c.Want, c.Got, mark)
	}
	w("\n")
	if len(r.Notes) > 0 {
		w("## Notes\n\n")
		for _, n := range r.Notes {
			w("- %s\n", n)
		}
		w("\n")
	}
	w("Charts: report.html. Every figure and the time series: report.json.\n")
	return b.String()
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func mix(m map[string]float64) string {
	total := 0.0
	var names []string
	for f, w := range m {
		total += w
		names = append(names, f)
	}
	sort.Strings(names)
	var parts []string
	for _, f := range names {
		parts = append(parts, fmt.Sprintf("%s %.0f%%", f, 100*m[f]/total))
	}
	return strings.Join(parts, ", ")
}

func rateText(rate float64, c *Calibration) string {
	switch {
	case rate <= 0:
		return "as fast as tapline keeps up"
	case c != nil:
		return fmt.Sprintf("%s records/s target (%.0f%% of the maximum, %s records/s committed in a calibration run of %.0fs as fast as tapline keeps up)", SI(rate), 100*c.Share, SI(c.MaxRecordsPerSec), c.Seconds)
	}
	return SI(rate) + " records/s target"
}

func bytesCap(n int) string {
	if n <= 0 {
		return "any size"
	}
	return IBytes(uint64(n))
}

func inFlightText(n int64) string {
	if n <= 0 {
		return "unbounded"
	}
	return SI(float64(n))
}

func formatsOf(fs []FormatRate) string {
	var names []string
	for _, f := range fs {
		names = append(names, f.Format)
	}
	return strings.Join(names, ", ")
}

func rows(m map[string]uint64) string {
	var names []string
	for t := range m {
		names = append(names, t)
	}
	sort.Strings(names)
	var parts []string
	for _, t := range names {
		parts = append(parts, fmt.Sprintf("%s %d", t, m[t]))
	}
	return strings.Join(parts, ", ")
}

// SI formats a count or rate with k, M, G suffixes ("12.3k").
func SI(v float64) string {
	switch a := abs(v); {
	case a >= 1e9:
		return trim(fmt.Sprintf("%.2fG", v/1e9))
	case a >= 1e6:
		return trim(fmt.Sprintf("%.2fM", v/1e6))
	case a >= 1e4:
		return trim(fmt.Sprintf("%.1fk", v/1e3))
	case a >= 1e3:
		return trim(fmt.Sprintf("%.2fk", v/1e3))
	case a >= 100 || a == 0:
		return fmt.Sprintf("%.0f", v)
	}
	return trim(fmt.Sprintf("%.2f", v))
}

// trim removes a fraction of zeros: "12.00k" -> "12k".
func trim(s string) string {
	i := strings.IndexByte(s, '.')
	if i < 0 {
		return s
	}
	j := i + 1
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	frac := strings.TrimRight(s[i+1:j], "0")
	if frac == "" {
		return s[:i] + s[j:]
	}
	return s[:i+1] + frac + s[j:]
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// IBytes formats a size with binary units ("1.5 GiB").
func IBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Ms formats milliseconds, as seconds from 10s on ("850ms", "1.25s").
func Ms(ms float64) string {
	switch {
	case ms >= 10000:
		return fmt.Sprintf("%.1fs", ms/1000)
	case ms >= 1000:
		return fmt.Sprintf("%.2fs", ms/1000)
	case ms >= 10:
		return fmt.Sprintf("%.0fms", ms)
	}
	return fmt.Sprintf("%.1fms", ms)
}
