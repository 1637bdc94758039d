package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tapline/tapline/app"
	"github.com/tapline/tapline/loadtest/procstat"
	"github.com/tapline/tapline/loadtest/publish"
	"github.com/tapline/tapline/loadtest/report"
)

// PublishOnly publishes cfg's mix to the NATS of stack (its URL, or the
// tapline running on its data directory, or else a NATS server embedded in
// this process on that directory) for another tapline to consume, with
// progress on cfg.Progress, and writes what it published to stdout, with
// the CPU it took: this process's, split by part (the embedded NATS
// server's included when it runs here), and the machine's. It publishes
// asynchronously unless cfg.SyncPublish, as the live loadtest does; an
// asynchronous publish the stream refused or never acknowledged fails it.
// cfg.CPUProfile, when set, receives the CPU profile of the publishing.
// The streams it creates when missing take stack.Streams' limits; how
// existing ones differ goes to stderr. Nothing waits for the records to be
// committed.
func PublishOnly(ctx context.Context, cfg Config, stack app.Config, stdout, stderr io.Writer) error {
	formats := cfg.Formats()
	b, err := app.OpenBroker(ctx, stack)
	if err != nil {
		return err
	}
	defer b.Close()
	if err := app.EnsureStreams(ctx, b, app.SourceSpecs(formats, nil), stack.Streams, stderr); err != nil {
		return err
	}
	var failed publishFailures
	var senders []publish.Sender
	for i := 0; i < max(cfg.Publishers, 1); i++ {
		p, err := b.Publisher(0, failed.add)
		if err != nil {
			return err
		}
		senders = append(senders, p)
	}
	async := !cfg.SyncPublish
	where, mode := "", "synchronous publishes (--sync-publish)"
	if async {
		mode = "asynchronous publishes"
	}
	if b.Embedded() {
		where = " (a NATS server embedded in this process, no tapline running there: `tapline run --data-dir " + stack.DataDir + "` consumes what it stores)"
	}
	fmt.Fprintf(stdout, "tapline loadtest --publish-only: %s to %s%s; %s; seed %d\n", strings.Join(formats, ", "), b.URL(), where, mode, cfg.Seed)
	var live publish.Counters
	done := make(chan struct{})
	if cfg.Progress != nil {
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			var last uint64
			for {
				select {
				case <-done:
					return
				case <-t.C:
					n := live.Records.Load()
					fmt.Fprintf(cfg.Progress, "published %s records (%s/s)\n", report.SI(float64(n)), report.SI(float64(n-last)))
					last = n
				}
			}
		}()
	}
	// The CPU of publishing: the process's and the machine's, and a CPU
	// profile to split the process's by part.
	var prof bytes.Buffer
	profiling := pprof.StartCPUProfile(&prof) == nil
	defer func() {
		if profiling {
			pprof.StopCPUProfile()
		}
	}()
	proc0, perr := procstat.Read()
	mach0, merr := procstat.ReadMachine()
	var res *publish.Result
	pprof.Do(ctx, pprof.Labels(labelKey, partLoad), func(ctx context.Context) {
		res, err = publish.Run(ctx, publish.Config{
			Formats: cfg.Mix, Seed: cfg.Seed, Malformed: cfg.Malformed, Rate: cfg.Rate, Duration: cfg.Duration, Count: cfg.Count,
			Senders: senders, Async: async, PerMessage: cfg.PerMessage, MaxMessageBytes: cfg.MaxMessageBytes,
			RunID: strconv.FormatInt(time.Now().UnixNano(), 36),
		}, &live)
	})
	proc1, perr1 := procstat.Read()
	mach1, merr1 := procstat.ReadMachine()
	close(done)
	if err == nil {
		err = failed.err("so how many were stored is not known")
	}
	if err != nil {
		return err
	}
	t := res.Total()
	sec := res.Stopped.Sub(res.Started).Seconds()
	fmt.Fprintf(stdout, "published %d records (%d malformed) in %d messages, %s, in %.1fs: %s records/s\n", t.Records, t.Malformed, t.Messages, report.IBytes(t.Bytes), sec, report.SI(float64(t.Records)/sec))
	names := res.FormatNames()
	sort.Strings(names)
	for _, f := range names {
		x := res.Formats[f]
		fmt.Fprintf(stdout, "  %-9s %d records (%d malformed) in %d messages\n", f, x.Records, x.Malformed, x.Messages)
	}
	var split map[string]time.Duration
	if profiling {
		pprof.StopCPUProfile()
		profiling = false
		split, _ = procstat.CPUByLabel(prof.Bytes(), labelKey, natsFrames...)
		if cfg.CPUProfile != nil {
			if _, err := cfg.CPUProfile.Write(prof.Bytes()); err != nil {
				return fmt.Errorf("loadtest: write the CPU profile: %w", err)
			}
		}
	}
	if perr != nil || perr1 != nil {
		return nil
	}
	machine := ""
	if merr == nil && merr1 == nil {
		machine = fmt.Sprintf("; the machine %.0f%% busy", procstat.MachinePercent(mach0, mach1))
	}
	fmt.Fprintf(stdout, "CPU while publishing: this process %.0f%% of one core%s%s\n", procstat.CPUPercent(proc0, proc1), cpuParts(split, proc1.At.Sub(proc0.At), b.Embedded()), machine)
	return nil
}

// cpuParts says how a publish-only run's CPU profile splits by part, in
// percent of one core over wall, or nothing without a profile.
func cpuParts(split map[string]time.Duration, wall time.Duration, embedded bool) string {
	if split == nil || wall <= 0 {
		return ""
	}
	pct := func(label string) float64 { return 100 * split[label].Seconds() / wall.Seconds() }
	server := "the NATS server runs elsewhere: not counted"
	if embedded {
		server = fmt.Sprintf("the NATS server, embedded here, %.0f%%", pct(partNATSServer))
	}
	return fmt.Sprintf(" (%s; the load generator %.0f%%, the NATS client %.0f%%, the Go runtime and GC %.0f%%)", server, pct(partLoad), pct(partNATSClient), pct(""))
}
