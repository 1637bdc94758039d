package follow

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// counters are the follower's statistics, written by Run and read by
// Stats from any goroutine.
type counters struct {
	lines, bytes, messages, bytesRead, tooLong, truncations, split atomic.Uint64
	files, lag                                                     atomic.Int64
}

// Stats are a follower's counters since it started.
type Stats struct {
	// Lines, Bytes and Messages count what was published (first sends;
	// the stream's acknowledgements are counted by the publisher).
	Lines, Bytes, Messages uint64
	// BytesRead counts bytes read from the files.
	BytesRead uint64
	// TooLong counts lines skipped as longer than MaxLineBytes.
	TooLong uint64
	// Truncations counts files found truncated (copytruncate).
	Truncations uint64
	// SplitRecords counts records over several lines (files of
	// Config.RecordSubjects) published in pieces: longer than
	// MaxLineBytes, or not ended within RecordWait.
	SplitRecords uint64
	// Files is the number of files open now.
	Files int64
	// LagBytes is, at the last poll, the bytes of the open files past
	// their checkpoints: not yet acknowledged by the stream.
	LagBytes int64
}

// Stats returns the follower's counters. Safe for concurrent use.
func (fl *Follower) Stats() Stats {
	c := &fl.stats
	return Stats{Lines: c.lines.Load(), Bytes: c.bytes.Load(), Messages: c.messages.Load(), BytesRead: c.bytesRead.Load(),
		TooLong: c.tooLong.Load(), Truncations: c.truncations.Load(), SplitRecords: c.split.Load(), Files: c.files.Load(), LagBytes: c.lag.Load()}
}

var (
	descLines       = prometheus.NewDesc("tapline_follow_lines_total", "Lines published from followed files.", nil, nil)
	descBytes       = prometheus.NewDesc("tapline_follow_bytes_total", "Bytes of lines published from followed files.", nil, nil)
	descMessages    = prometheus.NewDesc("tapline_follow_messages_total", "Messages published from followed files.", nil, nil)
	descRead        = prometheus.NewDesc("tapline_follow_read_bytes_total", "Bytes read from followed files.", nil, nil)
	descTooLong     = prometheus.NewDesc("tapline_follow_lines_too_long_total", "Lines skipped as longer than --max-line-bytes.", nil, nil)
	descTruncations = prometheus.NewDesc("tapline_follow_truncations_total", "Followed files found truncated (copytruncate).", nil, nil)
	descSplit       = prometheus.NewDesc("tapline_follow_records_split_total", "Records over several lines published in pieces: longer than --max-line-bytes, or not ended within --record-wait.", nil, nil)
	descFiles       = prometheus.NewDesc("tapline_follow_files", "Files open now.", nil, nil)
	descLag         = prometheus.NewDesc("tapline_follow_lag_bytes", "Bytes of the open files not yet acknowledged by the stream.", nil, nil)
)

// Collector returns a Prometheus collector of the follower's counters,
// read at scrape time.
func (fl *Follower) Collector() prometheus.Collector { return (*collector)(fl) }

type collector Follower

// Describe sends every descriptor.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLines, descBytes, descMessages, descRead, descTooLong, descTruncations, descSplit, descFiles, descLag} {
		ch <- d
	}
}

// Collect reads the current values.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := (*Follower)(c).Stats()
	for _, v := range []struct {
		d *prometheus.Desc
		t prometheus.ValueType
		v float64
	}{
		{descLines, prometheus.CounterValue, float64(s.Lines)}, {descBytes, prometheus.CounterValue, float64(s.Bytes)},
		{descMessages, prometheus.CounterValue, float64(s.Messages)}, {descRead, prometheus.CounterValue, float64(s.BytesRead)},
		{descTooLong, prometheus.CounterValue, float64(s.TooLong)}, {descTruncations, prometheus.CounterValue, float64(s.Truncations)},
		{descSplit, prometheus.CounterValue, float64(s.SplitRecords)},
		{descFiles, prometheus.GaugeValue, float64(s.Files)}, {descLag, prometheus.GaugeValue, float64(s.LagBytes)},
	} {
		ch <- prometheus.MustNewConstMetric(v.d, v.t, v.v)
	}
}
