// Package report holds what a loadtest measured and writes it to a report
// directory in three forms: report.json (machine-readable, the Report type
// below), report.md (a summary a person reads) and report.html (one
// self-contained page with charts drawn as inline SVG: no script, no
// network).
package report

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Report is everything a loadtest measured. Rates are per second of wall
// time, latencies in milliseconds, sizes in bytes.
type Report struct {
	// Command is the command line that produced the report.
	Command string `json:"command"`
	// Started and Finished bound the whole run, baselines included.
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Machine is where it ran, Setup how it was configured.
	Machine Machine `json:"machine"`
	Setup   Setup   `json:"setup"`
	// Live is the live phase: publishing while tapline consumes.
	Live Live `json:"live"`
	// Freshness is publish-to-queryable latency, from probes.
	Freshness Freshness `json:"freshness"`
	// Checks are the loss and duplication checks; Verdict sums them up.
	Checks  []Check `json:"checks"`
	Verdict Verdict `json:"verdict"`
	// Baselines are the same messages consumed by the broker alone and
	// ingested by the engine alone.
	Baselines Baselines `json:"baselines"`
	// Series is the live phase sampled at a fixed interval.
	Series []Point `json:"series"`
	// Notes are things a reader should know about this run.
	Notes []string `json:"notes,omitempty"`
}

// Machine describes where the loadtest ran: logical CPUs and their model,
// memory, operating system and architecture, Go version. Fields it could
// not read are zero.
type Machine struct {
	CPUs        int    `json:"cpus"`
	CPUModel    string `json:"cpu_model,omitempty"`
	MemoryBytes uint64 `json:"memory_bytes,omitempty"`
	OS          string `json:"os"`
	GoVersion   string `json:"go_version"`
}

// Setup is how the run was configured: the run id (message ids and probes
// carry it), where NATS and ClickHouse were, and the loadtest's and the
// pipeline's settings under their flag names (durations as seconds or
// milliseconds, as the names say).
type Setup struct {
	RunID      string             `json:"run_id"`
	NATS       string             `json:"nats"`
	ClickHouse string             `json:"clickhouse"`
	Mix        map[string]float64 `json:"mix"`
	Seed       uint64             `json:"seed"`
	// Rate is the target in records/s; 0 means as fast as tapline keeps up.
	Rate          float64 `json:"rate"`
	DurationSec   float64 `json:"duration_seconds,omitempty"`
	Count         int64   `json:"count,omitempty"`
	Publishers    int     `json:"publishers"`
	PerMessage    int     `json:"records_per_message"`
	MaxMsgBytes   int     `json:"max_message_bytes"`
	MaxInFlight   int64   `json:"max_in_flight"`
	Malformed     float64 `json:"malformed"`
	ProbeEveryMs  float64 `json:"probe_interval_ms"`
	BatchRows     int     `json:"batch_rows"`
	BatchBytes    int     `json:"batch_bytes"`
	BatchAgeMs    float64 `json:"batch_age_ms"`
	SampleEveryMs float64 `json:"sample_interval_ms"`
	// Calibration is how Rate was found when it was given as a share of
	// the maximum rate (--rate N%); nil otherwise.
	Calibration *Calibration `json:"calibration,omitempty"`
}

// Calibration is a run as fast as tapline keeps up, for Seconds, before a
// loadtest whose rate is Share of what it committed (MaxRecordsPerSec,
// records per second end to end).
type Calibration struct {
	Share            float64 `json:"share"`
	MaxRecordsPerSec float64 `json:"max_records_per_second"`
	Seconds          float64 `json:"seconds"`
}

// Live is the live phase: publishing while tapline consumes.
type Live struct {
	// PublishSec is from the first publish to the last acknowledgement;
	// EndToEndSec from the first publish until the pipeline had committed
	// or dead-lettered every published record.
	PublishSec  float64 `json:"publish_seconds"`
	EndToEndSec float64 `json:"end_to_end_seconds"`
	// Records published (acknowledged by the stream), Valid and Malformed
	// among them, Probes among the valid; Messages and Bytes carrying them.
	Records   uint64 `json:"records"`
	Valid     uint64 `json:"valid"`
	Malformed uint64 `json:"malformed"`
	Probes    uint64 `json:"probes"`
	Messages  uint64 `json:"messages"`
	Bytes     uint64 `json:"bytes"`
	// PublishedPerSec is Records / PublishSec.
	PublishedPerSec float64 `json:"published_per_second"`
	// Committed records and DeadLetters, as the pipeline counted them.
	Committed   uint64 `json:"committed"`
	DeadLetters uint64 `json:"dead_letters"`
	// Rows is every row the run added to tapline's tables, counted in
	// ClickHouse (views' tables excluded).
	Rows uint64 `json:"rows"`
	// RecordsPerSec is (committed + dead-lettered) / EndToEndSec: tapline's
	// end-to-end rate; RowsPerSec is Rows / EndToEndSec.
	RecordsPerSec float64 `json:"records_per_second"`
	RowsPerSec    float64 `json:"rows_per_second"`
	// PeakRowsPerSec is the highest rows/s over one sample interval.
	PeakRowsPerSec float64 `json:"peak_rows_per_second"`
	// HeldSec sums the time publishers waited for the bound on records in
	// flight (over all publishers).
	HeldSec float64 `json:"held_seconds"`
	// GeneratorSec sums the wall time spent inside the generators.
	GeneratorSec float64 `json:"generator_seconds"`
	// Publish retries (same message id).
	Retries uint64 `json:"publish_retries"`
	// CPU of the whole process over the live phase: CPUSec in total, as a
	// percentage of one core on average and at the busiest sample.
	CPUSec         float64 `json:"cpu_seconds"`
	CPUAvgPercent  float64 `json:"cpu_avg_percent"`
	CPUPeakPercent float64 `json:"cpu_peak_percent"`
	// CPUByPart splits the CPU by what it worked for, from a CPU profile of
	// the live phase (goroutines labelled by part; see procstat.CPUByLabel):
	// the pipeline (decoding, inserting, the engine's work inside those
	// insert calls, journal and dead letters), the ClickHouse engine's own
	// threads (inserts' parallel work, materialized views, merges), the NATS
	// server when embedded (storing, delivering and acknowledging every
	// message, the publishers' included), the NATS client library's own
	// goroutines, the Go runtime (garbage collection, the scheduler), the
	// load generator (generators and publishing clients) and the loadtest's
	// own measurement.
	CPUByPart []PartCPU `json:"cpu_by_part,omitempty"`
	// OthersCPUPercent is what other processes on the machine used over the
	// live phase, as a percentage of one core (the machine's busy time from
	// /proc/stat minus this process's), and StealPercent the time the
	// hypervisor gave to other guests: on a shared machine both take from
	// tapline's figures.
	OthersCPUPercent float64 `json:"others_cpu_percent"`
	StealPercent     float64 `json:"steal_percent"`
	// TaplineCPUPercent is the CPU of everything but the load generator and
	// the measurement, as a percentage of one core: what tapline itself used
	// (with its embedded NATS and engine).
	TaplineCPUPercent float64 `json:"tapline_cpu_percent,omitempty"`
	// RSS of the process: average over the samples, and its peak (VmHWM).
	RSSAvgBytes  uint64 `json:"rss_avg_bytes"`
	RSSPeakBytes uint64 `json:"rss_peak_bytes"`
	// EngineInsertedRows and EngineMergedRows are the engine's counters over
	// the live phase (see Point; a ClickHouse server counts every client's
	// work). MergedPerInserted is EngineMergedRows / EngineInsertedRows: how
	// often the engine wrote a row again in merges. MergedPerInsertedByMinute
	// is the same per minute of the live phase (the last minute may be
	// partial; 0 for a minute without inserts). A ratio that rises from
	// minute to minute is merge work the first minute did not pay, so the
	// first minute's CPU is not the sustained cost (docs/performance.md,
	// "The climb in ten minutes, pinned down").
	EngineInsertedRows        uint64    `json:"engine_inserted_rows,omitempty"`
	EngineMergedRows          uint64    `json:"engine_merged_rows,omitempty"`
	MergedPerInserted         float64   `json:"merged_per_inserted,omitempty"`
	MergedPerInsertedByMinute []float64 `json:"merged_per_inserted_by_minute,omitempty"`
	// EngineInsertedParts is the parts the engine wrote for inserts over
	// the live phase (see Point), and PartsPerSecond that over the phase's
	// seconds. Each part costs the engine a fixed amount whatever its rows
	// (docs/performance.md, "What an insert costs whatever its rows"), so
	// this is the part of the engine's CPU that the batch age sets, not the
	// rate.
	EngineInsertedParts uint64  `json:"engine_inserted_parts,omitempty"`
	PartsPerSecond      float64 `json:"parts_per_second,omitempty"`
	// ActivePartsEnd is the active parts of tapline's tables at the live
	// phase's last reading of system.parts (see Point), ActivePartsMax the
	// most any reading saw, ActivePartsByMinute the most in each minute (0
	// for a minute without a reading), and PartitionPartsMax the most any
	// reading saw in one partition of one table. Merges trade these against
	// MergedPerInserted: wider merges rewrite rows less often and leave more
	// parts for every query to read. All 0 (and the list empty) when
	// system.parts never answered.
	ActivePartsEnd      uint64   `json:"active_parts_end,omitempty"`
	ActivePartsMax      uint64   `json:"active_parts_max,omitempty"`
	ActivePartsByMinute []uint64 `json:"active_parts_by_minute,omitempty"`
	PartitionPartsMax   uint64   `json:"partition_parts_max,omitempty"`
	// MergeTimeByTable is the engine's merge time by table over the live
	// phase, largest first, sampled: system.merges read every
	// MergeSampleSeconds, each merge seen running counting for the time
	// since the read before. Wall time: a merge waiting for a core counts,
	// and two merges of one table at once count twice. Empty when the
	// engine did not answer (MergeTimeUnread says why) or merged nothing.
	MergeTimeByTable   []TableMergeTime `json:"merge_time_by_table,omitempty"`
	MergeSampleSeconds float64          `json:"merge_sample_seconds,omitempty"`
	MergeTimeUnread    string           `json:"merge_time_unread,omitempty"`
	// CommitPhases are the live pipeline's batches by commit phase
	// (pipeline.Phases, all sources together): a record is queryable after
	// its wait in its batch (up to the batch age) plus queued, claim and
	// insert. Empty when no batch was committed.
	CommitPhases []CommitPhase `json:"commit_phases,omitempty"`
	// Formats breaks the totals down.
	Formats []FormatLive `json:"formats"`
}

// CommitPhase is one phase of committing a batch (pipeline.Phase) over the
// live phase's Batches: its percentiles and maximum in milliseconds.
type CommitPhase struct {
	Phase   string  `json:"phase"`
	Batches int     `json:"batches"`
	P50Ms   float64 `json:"p50_ms"`
	P90Ms   float64 `json:"p90_ms"`
	P99Ms   float64 `json:"p99_ms"`
	MaxMs   float64 `json:"max_ms"`
}

// PhaseList formats phases as "queued 0.2/13ms, claim 2.9/86ms, insert
// 89ms/1.20s, ..." (p50 and p99 of each; the unit once when they share it).
func PhaseList(phases []CommitPhase) string {
	parts := make([]string, len(phases))
	for i, p := range phases {
		p50, p99 := Ms(p.P50Ms), Ms(p.P99Ms)
		if strings.HasSuffix(p50, "ms") && strings.HasSuffix(p99, "ms") {
			p50 = strings.TrimSuffix(p50, "ms")
		}
		parts[i] = fmt.Sprintf("%s %s/%s", p.Phase, p50, p99)
	}
	return strings.Join(parts, ", ")
}

// TableMergeTime is one table's sampled merge time (see
// Live.MergeTimeByTable): Seconds in all, the distinct Merges seen, and
// Percent of all tables' merge time.
type TableMergeTime struct {
	Table   string  `json:"table"`
	Seconds float64 `json:"seconds"`
	Merges  int     `json:"merges"`
	Percent float64 `json:"percent"`
}

// MergeTimeList formats the first n tables of a merge time list as
// "table 10.9s (30%), ...", with the rest summed up.
func MergeTimeList(ts []TableMergeTime, n int) string {
	var parts []string
	var rest float64
	for i, t := range ts {
		if i < n {
			parts = append(parts, fmt.Sprintf("%s %.1fs (%.0f%%)", t.Table, t.Seconds, t.Percent))
		} else {
			rest += t.Percent
		}
	}
	if len(ts) > n {
		parts = append(parts, fmt.Sprintf("%d more %.0f%%", len(ts)-n, rest))
	}
	return strings.Join(parts, ", ")
}

// PartCPU is one part's share of the CPU.
type PartCPU struct {
	// Part names it; Seconds is its CPU time over the live phase.
	Part    string  `json:"part"`
	Seconds float64 `json:"seconds"`
	// Percent of one core over the live phase.
	Percent float64 `json:"percent"`
}

// FormatLive is one format's part of the live phase: the fields mean what
// Live's do, plus Samples (the latency samples its valid records carry,
// the generators' truth) and Rows per table (in ClickHouse).
type FormatLive struct {
	Format      string            `json:"format"`
	Records     uint64            `json:"records"`
	Valid       uint64            `json:"valid"`
	Malformed   uint64            `json:"malformed"`
	Probes      uint64            `json:"probes"`
	Messages    uint64            `json:"messages"`
	Bytes       uint64            `json:"bytes"`
	Samples     uint64            `json:"samples"`
	Committed   uint64            `json:"committed"`
	DeadLetters uint64            `json:"dead_letters"`
	Rows        map[string]uint64 `json:"rows"`
	// CommitPhases are the format's batches by commit phase (see
	// Live.CommitPhases); empty when none was committed.
	CommitPhases []CommitPhase `json:"commit_phases,omitempty"`
	// Sealed counts the format's batches by why the reader closed them
	// (pipeline.Seal: age, rows, bytes, caught_up, stop).
	Sealed map[string]uint64 `json:"sealed,omitempty"`
	// Reader is where the format's pipeline reader spent the live phase's
	// time (the time before it included): building batches, waiting for
	// messages, blocked on a writer.
	Reader *ReaderTime `json:"reader,omitempty"`
}

// Freshness is what the probes measured: for each probe, ClickHouse's
// ingested_at of its row minus the time just before it was published.
type Freshness struct {
	Probes  int               `json:"probes"`
	Found   int               `json:"found"`
	P50Ms   float64           `json:"p50_ms"`
	P90Ms   float64           `json:"p90_ms"`
	P99Ms   float64           `json:"p99_ms"`
	MaxMs   float64           `json:"max_ms"`
	MinMs   float64           `json:"min_ms"`
	Formats []FormatFreshness `json:"formats"`
	// PublishAckP50Ms and P99 are the probes' publish-to-acknowledgement
	// times: the broker's part of a publish.
	PublishAckP50Ms float64 `json:"publish_ack_p50_ms"`
	PublishAckP99Ms float64 `json:"publish_ack_p99_ms"`
	// Samples are the probes over time, for the chart.
	Samples []ProbePoint `json:"samples"`
}

// FormatFreshness is one format's probes: how many were published and
// found, and their latency percentiles, in milliseconds.
type FormatFreshness struct {
	Format string  `json:"format"`
	Probes int     `json:"probes"`
	Found  int     `json:"found"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// ProbePoint is one probe: when it was published (seconds since the start
// of the live phase) and its latency.
type ProbePoint struct {
	T         float64 `json:"t"`
	Format    string  `json:"format"`
	LatencyMs float64 `json:"latency_ms"`
}

// Check is one comparison of what was published with what ClickHouse or
// the dead-letter stream holds.
type Check struct {
	// Name is what is checked ("sofarpc: records", "sofarpc_digest: rows").
	Name string `json:"name"`
	// What the check compares, in words.
	What string `json:"what"`
	// Want is the published side, Got what was found; OK when equal.
	Want uint64 `json:"want"`
	Got  uint64 `json:"got"`
	OK   bool   `json:"ok"`
	// Digest marks a check of digests rather than counts: Want and Got
	// are hash sums, so only equality means something.
	Digest bool `json:"digest,omitempty"`
}

// Verdict sums up the checks.
type Verdict struct {
	// ZeroLoss: no check found fewer than published; ZeroDuplicates: none
	// found more.
	ZeroLoss       bool `json:"zero_loss"`
	ZeroDuplicates bool `json:"zero_duplicates"`
	// Text says it in words, naming every failed check.
	Text string `json:"text"`
}

// Baselines are the same messages without tapline's processing.
type Baselines struct {
	// Broker, Engine and Drain are nil when not measured (see Skipped).
	Broker *BrokerBaseline `json:"broker,omitempty"`
	Engine *EngineBaseline `json:"engine,omitempty"`
	Drain  *DrainBaseline  `json:"drain,omitempty"`
	// BrokerRatio is Live.RecordsPerSec / Broker.RecordsPerSec.
	BrokerRatio float64 `json:"broker_ratio,omitempty"`
	// EngineRatio is Drain.RecordsPerSec / Engine.LinesPerSec: tapline and
	// the engine's own JSON ingestion on the same lines, from a backlog.
	EngineRatio float64 `json:"engine_ratio,omitempty"`
	// DrainRatio is Drain.RecordsPerSec / DrainBroker: tapline draining
	// the JSON-lines formats' backlog against the broker consuming and
	// acknowledging the same messages (issue 11's drain figure).
	DrainRatio float64 `json:"drain_ratio,omitempty"`
	// DrainBroker is the broker baseline's records/s on the JSON-lines
	// formats' messages: their records over the longest of their consumers'
	// times (the consumers run at once).
	DrainBroker float64 `json:"drain_broker_records_per_second,omitempty"`
	// Skipped says which baselines did not run and why.
	Skipped []string `json:"skipped,omitempty"`
}

// BrokerBaseline is the broker alone: consume and acknowledge every
// message, no processing. Durable is its consumer; Seconds the wall time
// of all streams at once; Messages and Bytes read; rates over Seconds.
type BrokerBaseline struct {
	Durable  string  `json:"durable"`
	Seconds  float64 `json:"seconds"`
	Messages uint64  `json:"messages"`
	Bytes    uint64  `json:"bytes"`
	// Records is the records those messages carry (what the live phase
	// published per message, since the broker baseline does not look inside).
	Records        uint64       `json:"records"`
	RecordsPerSec  float64      `json:"records_per_second"`
	MessagesPerSec float64      `json:"messages_per_second"`
	Formats        []FormatRate `json:"formats"`
}

// FormatRate is one format's part of a baseline: messages, records (for
// the engine: lines) and bytes, the Seconds timed and the records per
// second over them.
type FormatRate struct {
	Format   string  `json:"format"`
	Messages uint64  `json:"messages"`
	Records  uint64  `json:"records"`
	Bytes    uint64  `json:"bytes"`
	Seconds  float64 `json:"seconds"`
	PerSec   float64 `json:"records_per_second"`
	// Rows the engine wrote into the format's table (engine baseline).
	Rows uint64 `json:"rows,omitempty"`
	// Batches and whether Seconds includes the last batch's wait (drain).
	Batches uint64 `json:"batches,omitempty"`
	Tail    bool   `json:"tail,omitempty"`
	// Sealed counts the batches by why the reader closed them (drain;
	// pipeline.Seal): the last one is left out of Seconds and PerSec when a
	// batch waited for its age ("age").
	Sealed map[string]uint64 `json:"sealed,omitempty"`
	// Reader is where the drain's reader spent its time (drain).
	Reader *ReaderTime `json:"reader,omitempty"`
}

// ReaderTime is where a pipeline reader's time went over a drain or a run,
// in seconds: decoding messages into batches, waiting for messages (the final
// wait for more included), and blocked until a writer took a sealed batch.
// A reader building most of the time is what bounds the drain (decoding);
// one blocked most of the time waits on the inserts.
type ReaderTime struct {
	BuildingSec float64 `json:"building_seconds"`
	WaitingSec  float64 `json:"waiting_seconds"`
	BlockedSec  float64 `json:"blocked_seconds"`
}

// Add returns r plus o.
func (r ReaderTime) Add(o ReaderTime) ReaderTime {
	return ReaderTime{r.BuildingSec + o.BuildingSec, r.WaitingSec + o.WaitingSec, r.BlockedSec + o.BlockedSec}
}

// String gives each part as a share of their sum, e.g. "building batches
// 84%, waiting for messages 14%, blocked on a writer 2%".
func (r ReaderTime) String() string {
	total := r.BuildingSec + r.WaitingSec + r.BlockedSec
	if total <= 0 {
		return "no reader time"
	}
	return fmt.Sprintf("building batches %.0f%%, waiting for messages %.0f%%, blocked on a writer %.0f%%",
		100*r.BuildingSec/total, 100*r.WaitingSec/total, 100*r.BlockedSec/total)
}

// EngineBaseline is ClickHouse's own JSON ingestion of the JSON lines: the
// Database written, the Lines inserted, the Seconds the inserts took in
// all, and lines per second over them.
type EngineBaseline struct {
	Database string       `json:"database"`
	Lines    uint64       `json:"lines"`
	Seconds  float64      `json:"seconds"`
	PerSec   float64      `json:"lines_per_second"`
	Formats  []FormatRate `json:"formats"`
}

// DrainBaseline is tapline on the same JSON lines from a backlog: the
// Database written, the Records counted (all but each format's last
// batch, unless a format had one), the Seconds to their commit, summed
// over the formats, and records per second over them.
type DrainBaseline struct {
	Database string       `json:"database"`
	Records  uint64       `json:"records"`
	Seconds  float64      `json:"seconds"`
	PerSec   float64      `json:"records_per_second"`
	Formats  []FormatRate `json:"formats"`
	// Reader sums the formats' reader time.
	Reader ReaderTime `json:"reader"`
}

// Point is one sample of the live phase; counters are totals since its
// start.
type Point struct {
	// T is seconds since the live phase started.
	T float64 `json:"t"`
	// Published records (acknowledged by the stream), Committed records and
	// DeadLetters (the pipeline's counts), Rows in ClickHouse.
	Published   uint64 `json:"published"`
	Committed   uint64 `json:"committed"`
	DeadLetters uint64 `json:"dead_letters"`
	Rows        uint64 `json:"rows"`
	// Lag is the messages tapline's consumers have not acknowledged (not yet
	// delivered plus delivered and unacknowledged).
	Lag uint64 `json:"lag"`
	// InFlight is published records not yet committed or dead-lettered.
	InFlight int64 `json:"in_flight"`
	// CPUPercent of one core over the interval before, RSS now.
	CPUPercent float64 `json:"cpu_percent"`
	// MachineCPUPercent is the whole machine's busy CPU over the interval
	// before (this process and every other), percent of one core.
	MachineCPUPercent float64 `json:"machine_cpu_percent"`
	RSS               uint64  `json:"rss_bytes"`
	// EngineInsertedRows and EngineMergedRows are the engine's own counters
	// InsertedRows and MergedRows (system.events) since the live phase
	// started: rows written by inserts into every table (views' tables
	// included), and rows read by merges. Both 0 when the engine did not
	// answer.
	EngineInsertedRows uint64 `json:"engine_inserted_rows,omitempty"`
	EngineMergedRows   uint64 `json:"engine_merged_rows,omitempty"`
	// EngineInsertedParts is the parts the engine wrote for inserts since
	// the live phase started (InsertedCompactParts + InsertedWideParts:
	// every table's and every view's table's; merges not counted). 0 when
	// the engine did not answer.
	EngineInsertedParts uint64 `json:"engine_inserted_parts,omitempty"`
	// ActiveParts is the active parts of every table in tapline's database
	// now (system.parts), and PartitionParts the most of them in one
	// partition of one table: the count ClickHouse holds against
	// parts_to_delay_insert and parts_to_throw_insert. Both 0 when the
	// engine did not answer.
	ActiveParts    uint64 `json:"active_parts,omitempty"`
	PartitionParts uint64 `json:"partition_parts,omitempty"`
}

// Percentile returns the p-th percentile (0 < p <= 1, nearest rank) of
// sorted values, or 0 for none.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Sorted returns a sorted copy of values.
func Sorted(values []float64) []float64 {
	out := append([]float64(nil), values...)
	sort.Float64s(out)
	return out
}

// Write writes report.json, report.md and report.html into dir (created
// when missing) and returns their paths.
func Write(r *Report, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("report: encode JSON: %w", err)
	}
	files := []struct {
		name string
		data []byte
	}{
		{"report.json", append(js, '\n')},
		{"report.md", []byte(Markdown(r))},
		{"report.html", []byte(HTML(r))},
	}
	var paths []string
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// CountList formats counts comma-separated: all of them up to twelve, else
// the first six and the last six around "…".
func CountList(v []uint64) string {
	return list(v, func(x uint64) string { return strconv.FormatUint(x, 10) })
}

// RatioList formats ratios with two decimals, comma-separated: all of them
// up to twelve, else the first six and the last six around "…".
func RatioList(v []float64) string {
	return list(v, func(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) })
}

// list formats v with format, comma-separated: all of it up to twelve
// values, else the first six and the last six around "…".
func list[T any](v []T, format func(T) string) string {
	f := func(v []T) string {
		out := make([]string, len(v))
		for i, x := range v {
			out[i] = format(x)
		}
		return strings.Join(out, ", ")
	}
	if len(v) <= 12 {
		return f(v)
	}
	return f(v[:6]) + ", …, " + f(v[len(v)-6:])
}

// SealOrder is the order SealedList gives the reasons in: pipeline.Seals'.
var SealOrder = []string{"age", "rows", "bytes", "caught_up", "stop"}

// SealedList gives batches by why they were closed, in SealOrder, leaving
// out reasons that closed none: "age 52, bytes 3, caught_up 1".
func SealedList(sealed map[string]uint64) string {
	var parts []string
	for _, why := range SealOrder {
		if n := sealed[why]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", why, n))
		}
	}
	return strings.Join(parts, ", ")
}
