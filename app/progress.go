package app

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/pipeline"
)

// ReportProgress writes a progress line every interval until done closes:
// records committed and their rate, dead letters, lag. inPlace rewrites
// one line (a terminal); otherwise it appends lines.
func (st *Stack) ReportProgress(done <-chan struct{}, w io.Writer, every time.Duration, inPlace bool) {
	t := time.NewTicker(every)
	defer t.Stop()
	var lastRecords uint64
	last := time.Now()
	for {
		select {
		case <-done:
			if inPlace {
				fmt.Fprintln(w)
			}
			return
		case now := <-t.C:
			var rej, committed uint64
			for _, s := range st.Pipeline.Stats() {
				rej += s.Rejected
				committed += s.RecordsCommitted
			}
			rate := float64(committed-lastRecords) / now.Sub(last).Seconds()
			lastRecords, last = committed, now
			line := fmt.Sprintf("committed %d records (%.0f/s), dead letters %d, lag %d messages", committed, rate, rej, st.Lag(context.Background()))
			if inPlace {
				fmt.Fprintf(w, "\r\033[K%s", line)
			} else {
				fmt.Fprintln(w, line)
			}
		}
	}
}

// PrintStats writes one line per source: records, dead letters, batches,
// replays and rows per table, then where its reader's time went and, once
// it committed a batch, where a batch's commit time went.
func (st *Stack) PrintStats(w io.Writer) {
	for _, s := range st.Pipeline.Stats() {
		var tables []string
		for t, n := range s.Rows {
			tables = append(tables, fmt.Sprintf("%s=%d", t, n))
		}
		sort.Strings(tables)
		fmt.Fprintf(w, "  %-9s records %d, dead letters %d, batches %d, replayed %d, rows %s\n", s.Source, s.Records, s.Rejected, s.Batches, s.Replayed, strings.Join(tables, " "))
		fmt.Fprintf(w, "  %-9s %s\n", "", ReaderTime(s))
		if line := SealedBy(s); line != "" {
			fmt.Fprintf(w, "  %-9s %s\n", "", line)
		}
		if s.Batches > 0 {
			fmt.Fprintf(w, "  %-9s %s\n", "", CommitTime(s))
		}
	}
}

// CommitTime says where a source's batches spent their commit time, as the
// mean per batch of each pipeline.Phase: "commit per batch: queued 0.2ms,
// claim 3.1ms, insert 85ms, health 10ms, journal 4.2ms".
func CommitTime(s pipeline.Stats) string {
	parts := make([]string, len(pipeline.Phases))
	for i, ph := range pipeline.Phases {
		mean := time.Duration(0)
		if s.Batches > 0 {
			mean = s.PhaseTime[ph] / time.Duration(s.Batches)
		}
		parts[i] = fmt.Sprintf("%s %s", ph, roundDuration(mean))
	}
	return "commit per batch: " + strings.Join(parts, ", ")
}

// SealedBy says why a source's batches were closed, in pipeline.Seals'
// order, leaving out reasons that closed none: "batches closed by age 52,
// bytes 3, caught up 1". It is "" when no batch was closed.
func SealedBy(s pipeline.Stats) string {
	var parts []string
	for _, why := range pipeline.Seals {
		if n := s.Sealed[why]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", strings.ReplaceAll(string(why), "_", " "), n))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "batches closed by " + strings.Join(parts, ", ")
}

// roundDuration keeps two or three significant digits: 85ms, 3.1ms, 1.25s.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(10 * time.Microsecond)
}

// ReaderTime says where a source's reader spent its time: building
// batches (decoding), waiting for messages, and blocked until a writer took
// a sealed batch, each in seconds and as a share of their sum.
func ReaderTime(s pipeline.Stats) string {
	total := (s.ReadBuilding + s.ReadWaiting + s.ReadBlocked).Seconds()
	share := func(d time.Duration) string {
		if total == 0 {
			return fmt.Sprintf("%.1fs", d.Seconds())
		}
		return fmt.Sprintf("%.1fs (%.0f%%)", d.Seconds(), 100*d.Seconds()/total)
	}
	return fmt.Sprintf("reader: building batches %s, waiting for messages %s, for a writer %s",
		share(s.ReadBuilding), share(s.ReadWaiting), share(s.ReadBlocked))
}

// ShowPublishProgress writes a progress line for a long publish every
// interval until the returned stop is called: records (as counted by
// records), megabytes sent and acknowledged, and rates since the start.
// inPlace rewrites one line (a terminal); stop ends that line. The first
// line comes after one interval, so a short publish prints nothing.
func ShowPublishProgress(w io.Writer, every time.Duration, inPlace bool, records func() uint64, p *ingest.Publisher) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	began := time.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		printed := false
		for {
			select {
			case <-done:
				if printed && inPlace {
					fmt.Fprintln(w)
				}
				return
			case <-t.C:
			}
			n, s := records(), p.Stats()
			sec := time.Since(began).Seconds()
			line := fmt.Sprintf("published %d records, %.1f MB (%.1f MB acknowledged), %.0f records/s, %.1f MB/s", n, mb(s.SentBytes), mb(s.AckedBytes), float64(n)/sec, mb(s.SentBytes)/sec)
			if s.Retries > 0 {
				line += fmt.Sprintf(", %d sent again", s.Retries)
			}
			if inPlace {
				fmt.Fprintf(w, "\r\033[K%s", line)
			} else {
				fmt.Fprintln(w, line)
			}
			printed = true
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

func mb(b uint64) float64 { return float64(b) / 1e6 }
