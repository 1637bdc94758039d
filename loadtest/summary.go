package loadtest

import (
	"fmt"
	"io"
	"strings"

	"github.com/tapline/tapline/loadtest/report"
)

// PrintSummary writes the report's verdict and headline figures, and
// where the report files are (paths).
func PrintSummary(w io.Writer, r *report.Report, paths []string) {
	l, f, b := r.Live, r.Freshness, r.Baselines
	fmt.Fprintf(w, "\n%s\n", r.Verdict.Text)
	fmt.Fprintf(w, "  published          %s records/s (%s records in %s messages, %s, in %.1fs)\n", report.SI(l.PublishedPerSec), report.SI(float64(l.Records)), report.SI(float64(l.Messages)), report.IBytes(l.Bytes), l.PublishSec)
	best := ""
	if l.PeakRowsPerSec > 0 {
		best = fmt.Sprintf("; best %gs interval %s rows/s", r.Setup.SampleEveryMs/1000, report.SI(l.PeakRowsPerSec))
	}
	fmt.Fprintf(w, "  committed          %s records/s, %s rows/s end to end (%.1fs)%s\n", report.SI(l.RecordsPerSec), report.SI(l.RowsPerSec), l.EndToEndSec, best)
	fmt.Fprintf(w, "  freshness          p50 %s, p99 %s, max %s (publish to ingested_at, %d probes)\n", report.Ms(f.P50Ms), report.Ms(f.P99Ms), report.Ms(f.MaxMs), f.Found)
	if b.Broker != nil {
		fmt.Fprintf(w, "  tapline ÷ broker   %.2f (%s vs %s records/s: consume and ack only, same messages)\n", b.BrokerRatio, report.SI(l.RecordsPerSec), report.SI(b.Broker.RecordsPerSec))
	}
	if b.Engine != nil && b.Drain != nil {
		fmt.Fprintf(w, "  tapline ÷ engine   %.2f (%s vs %s lines/s: the same JSON lines, tapline from the stream vs FORMAT JSONEachRow)\n", b.EngineRatio, report.SI(b.Drain.PerSec), report.SI(b.Engine.PerSec))
	}
	if b.Drain != nil && b.DrainBroker > 0 {
		fmt.Fprintf(w, "  drain ÷ broker     %.2f (%s vs %s records/s: tapline draining the JSON lines' backlog vs the broker consuming the same messages)\n", b.DrainRatio, report.SI(b.Drain.PerSec), report.SI(b.DrainBroker))
		fmt.Fprintf(w, "  drain's reader     %s (decoding bounds the drain when building is near 100%%; the inserts, when blocked is)\n", b.Drain.Reader)
	}
	for _, sk := range b.Skipped {
		fmt.Fprintf(w, "  not measured       %s\n", sk)
	}
	fmt.Fprintf(w, "  CPU                %.0f%% of one core on average, %.0f%% at peak (%d CPUs), whole process\n", l.CPUAvgPercent, l.CPUPeakPercent, r.Machine.CPUs)
	if len(l.CPUByPart) > 0 {
		var parts []string
		for _, p := range l.CPUByPart {
			parts = append(parts, fmt.Sprintf("%s %.0f%%", p.Part, p.Percent))
		}
		fmt.Fprintf(w, "  CPU by part        tapline %.0f%% (%s)\n", l.TaplineCPUPercent, strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, "  other processes    %.0f%% of one core (steal %.0f%%) on this machine meanwhile\n", l.OthersCPUPercent, l.StealPercent)
	fmt.Fprintf(w, "  memory             %s resident on average, %s at peak\n", report.IBytes(l.RSSAvgBytes), report.IBytes(l.RSSPeakBytes))
	if l.EngineInsertedRows > 0 {
		fmt.Fprintf(w, "  merges             %.2f rows merged per row inserted (the engine's system.events), by minute %s\n", l.MergedPerInserted, report.RatioList(l.MergedPerInsertedByMinute))
	}
	if len(l.MergeTimeByTable) > 0 {
		fmt.Fprintf(w, "  merge time         %s (system.merges every %v; wall time)\n", report.MergeTimeList(l.MergeTimeByTable, 4), mergeSampleInterval)
	}
	if l.ActivePartsMax > 0 {
		fmt.Fprintf(w, "  active parts       %d at the end, at most %d (by minute %s), at most %d in one partition (system.parts)\n", l.ActivePartsEnd, l.ActivePartsMax, report.CountList(l.ActivePartsByMinute), l.PartitionPartsMax)
	}
	if len(l.CommitPhases) > 0 {
		fmt.Fprintf(w, "  commit phases      p50/p99 per batch: %s (a record is queryable after its wait in a batch plus queued, claim and insert; the probes' ingested_at is stamped early in the insert)\n", report.PhaseList(l.CommitPhases))
	}
	if l.EngineInsertedParts > 0 {
		fmt.Fprintf(w, "  parts written      %.1f/s by inserts, views' tables included (%d in all; each costs the engine a fixed amount whatever its rows)\n", l.PartsPerSecond, l.EngineInsertedParts)
	}
	fmt.Fprintf(w, "  report             %s\n", strings.Join(paths, ", "))
}
