package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tapline/tapline/app"
	"github.com/tapline/tapline/loadtest"
	"github.com/tapline/tapline/loadtest/report"
)

// loadtestMarker marks a directory the loadtest created, so that it may
// wipe it.
const loadtestMarker = ".tapline-loadtest"

// defaultMix is the share of records per format: SOFARPC lines dominate
// (the busiest services log the most), documents are fewer and larger.
const defaultMix = "sofarpc=40,g3proxy=20,django=20,webdebug=10,envoytap=10"

// loadtestFlags are the loadtest's own flags.
type loadtestFlags struct {
	duration, probe, sample, drainTimeout time.Duration
	calibrate                             time.Duration
	count, maxInFlight                    int64
	rate                                  rateFlag
	malformed                             float64
	publishers, perMessage, maxMsgBytes   int
	seed                                  uint64
	mix, reportDir, cpuProfile            string
	quiet, baselines, publishOnly, sync   bool
}

func runLoadtest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s settings
	var lf loadtestFlags
	fs := s.newFlags("loadtest", "loadtest [flags]", groupData|groupNATS|groupPipeline, stderr)
	fs.DurationVar(&lf.duration, "duration", 0, "publish for this long (default 60s, unless --count is set)")
	fs.Int64Var(&lf.count, "count", 0, "publish this many records in all, then stop (with --duration: whichever comes first)")
	fs.Var(&lf.rate, "rate", "target rate over all publishers, `N` records per second; 0 publishes as fast as tapline keeps up (see --max-in-flight); N% is that share of the maximum rate, measured first by a calibration run (--calibrate) in a fresh embedded stack")
	fs.DurationVar(&lf.calibrate, "calibrate", 60*time.Second, "with --rate N%: publish this long as fast as tapline keeps up to find the maximum rate, as a plain loadtest does by default (a child loadtest with the same flags, in a directory beside --data-dir, removed afterwards)")
	fs.Int64Var(&lf.maxInFlight, "max-in-flight", 200_000, "publishers wait while this many records are published and not yet committed or dead-lettered; 0 means no bound (open loop: with --rate 0 the stream fills as fast as NATS takes it)")
	fs.IntVar(&lf.publishers, "publishers", 4, "concurrent publishers, each with its own NATS connection and generators")
	fs.IntVar(&lf.perMessage, "records-per-message", 100, "records (newline-separated lines) per message for the line formats sofarpc, g3proxy, django; documents (webdebug, envoytap) are one per message")
	fs.IntVar(&lf.maxMsgBytes, "max-message-bytes", 16<<10, "close a line-format message before it passes this many bytes (0: no bound); the NATS server refuses a message over its max_payload (1 MiB by default, 8 MiB in the embedded one), and tapline's consumers pull at most 8 MiB of messages at a time (see docs/performance.md, \"Limits this tool found, and fixed\")")
	fs.BoolVar(&lf.sync, "sync-publish", false, "wait for each publish's acknowledgement and retry a failed one with the same message id (slower); default: publish asynchronously, acknowledgements awaited at the end, any failure fails the run")
	fs.StringVar(&lf.mix, "mix", defaultMix, "share of records per format, format=weight,...; formats not in --sources are dropped")
	fs.Uint64Var(&lf.seed, "seed", 1, "generator seed (printed; the same seed publishes the same records)")
	fs.Float64Var(&lf.malformed, "malformed", 0.001, "share of deliberately malformed records (they must end in the dead-letter stream)")
	fs.DurationVar(&lf.probe, "probe-interval", 100*time.Millisecond, "publish one freshness probe per format this often")
	fs.DurationVar(&lf.sample, "sample-interval", time.Second, "sample throughput, lag, CPU and memory (and print progress) this often")
	fs.DurationVar(&lf.drainTimeout, "drain-timeout", 5*time.Minute, "after publishing, wait at most this long for tapline to finish every published record")
	fs.StringVar(&lf.reportDir, "report-dir", "reports/loadtest", "directory for report.md, report.html (charts) and report.json")
	fs.BoolVar(&lf.baselines, "baselines", true, "after the live phase, run the baselines on the same messages: the broker alone, the engine's own JSON ingestion, tapline draining the same lines")
	fs.StringVar(&lf.cpuProfile, "cpu-profile", "", "write the Go CPU profile of the live phase (with --publish-only: of the publishing) to this file (go tool pprof; goroutines carry the label tapline-loadtest=pipeline, load generator or measurement; the embedded engine's work shows as [libchdb.so])")
	fs.BoolVar(&lf.quiet, "quiet", false, "print only the summary (no live progress)")
	fs.BoolVar(&lf.publishOnly, "publish-only", false, "only publish (to --nats-url, or to the tapline running on --data-dir, or else to a NATS server embedded in this process on --data-dir) and report the publish rate and the CPU it took: another tapline consumes")
	// The loadtest's own default directory, so it never wipes a real one.
	s.DataDir = app.LoadtestDataDir
	fs.Lookup("data-dir").DefValue = s.DataDir
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: tapline loadtest [flags]

Publishes generated records of every format to NATS while tapline consumes them, then reports
published/s, committed rows/s, publish-to-queryable latency (p50/p99), CPU and memory, checks that
every record landed exactly once (exit 1 if not), and compares tapline with the broker alone and
with ClickHouse's own JSON ingestion on the same messages. With no flags: embedded NATS and
ClickHouse in a fresh --data-dir, 60 seconds as fast as tapline keeps up.

Flags (each also TAPLINE_<NAME> in the environment):
`)
		fs.PrintDefaults()
	}
	var formats []string
	var cfg loadtest.Config
	if err := s.parse(fs, args, func() error {
		var errs []error
		var err error
		if lf.publishOnly {
			formats, err = s.selectedSources()
			errs = append(errs, err, s.natsConfig().Validate())
		} else {
			formats, err = s.validateRun(stderr)
			errs = append(errs, err)
		}
		mix, err := parseMix(lf.mix, formats)
		errs = append(errs, err)
		cfg = loadtestConfig(lf, s, mix, args)
		if err := cfg.Validate(); err != nil {
			errs = append(errs, err)
		}
		if lf.publishOnly && lf.rate.perSec <= 0 && lf.rate.share <= 0 && lf.count <= 0 {
			errs = append(errs, errors.New("--publish-only needs --rate or --count: nothing would bound it (no tapline to wait for)"))
		}
		errs = append(errs, lf.rate.validate())
		if lf.rate.share > 0 && (lf.publishOnly || s.ClickHouse != "" || s.NATSURL != "") {
			errs = append(errs, errors.New("--rate N% calibrates in a fresh embedded stack, so it needs the embedded NATS and ClickHouse and no --publish-only: give --rate in records per second"))
		}
		if lf.rate.share > 0 && lf.calibrate < 5*time.Second {
			errs = append(errs, fmt.Errorf("--calibrate %v: at least 5s, or the first seconds (the engine's first inserts, the first merges) make the maximum", lf.calibrate))
		}
		return errors.Join(errs...)
	}); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %v", fs.Args())
	}
	formats = cfg.Formats()
	if !lf.quiet {
		cfg.Progress, cfg.InPlace = stderr, isTerminal(stderr)
	}
	if lf.cpuProfile != "" {
		f, err := os.Create(lf.cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpu-profile: %w", err)
		}
		defer f.Close()
		cfg.CPUProfile = f
	}
	if lf.publishOnly {
		return loadtest.PublishOnly(ctx, cfg, s.appConfig(stderr), stdout, stderr)
	}

	stack, err := app.EnsureEngine(ctx, s.appConfig(stderr), stderr)
	if err != nil {
		return err
	}
	if lf.rate.share > 0 {
		max, err := calibration(ctx, args, filepath.Clean(s.DataDir)+".calibrate", lf.calibrate, stderr)
		if err != nil {
			return err
		}
		cfg.Rate = lf.rate.share * max
		cfg.Calibration = &report.Calibration{Share: lf.rate.share, MaxRecordsPerSec: max, Seconds: lf.calibrate.Seconds()}
		fmt.Fprintf(stderr, "calibration: tapline committed %s records/s; this run publishes %s of it: %s records/s\n", report.SI(max), lf.rate.String(), report.SI(cfg.Rate))
	}
	if s.ClickHouse == "" || s.NATSURL == "" {
		if err := freshDir(s.DataDir, loadtestMarker, "the loadtest"); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "tapline loadtest: %s; seed %d\n", strings.Join(formats, ", "), lf.seed)
	cfg.Banner = stdout
	rep, err := loadtest.Run(ctx, cfg, stack)
	if errors.Is(err, app.ErrBadDSN) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	paths, err := report.Write(rep, lf.reportDir)
	if err != nil {
		return err
	}
	loadtest.PrintSummary(stdout, rep, paths)
	if !rep.Verdict.ZeroLoss || !rep.Verdict.ZeroDuplicates {
		return fmt.Errorf("%s (details: %s)", rep.Verdict.Text, paths[1])
	}
	return nil
}

func loadtestConfig(lf loadtestFlags, s settings, mix map[string]float64, args []string) loadtest.Config {
	c := loadtest.Config{
		Mix: mix, Seed: lf.seed, Malformed: lf.malformed, Rate: lf.rate.perSec, Duration: lf.duration, Count: lf.count,
		Publishers: lf.publishers, PerMessage: lf.perMessage, MaxInFlight: lf.maxInFlight, SyncPublish: lf.sync, MaxMessageBytes: lf.maxMsgBytes,
		ProbeInterval: lf.probe, SampleInterval: lf.sample, DrainTimeout: lf.drainTimeout,
		Baselines: lf.baselines, Pipeline: s.pipelineConfig(),
		Command: strings.TrimSpace("tapline loadtest " + strings.Join(args, " ")),
	}
	if c.Duration == 0 && c.Count == 0 {
		c.Duration = 60 * time.Second
	}
	if lf.publishOnly {
		c.MaxInFlight = 0 // nothing reports what is done
	}
	return c
}

// parseMix reads "format=weight,..." and keeps the formats in selected.
func parseMix(spec string, selected []string) (map[string]float64, error) {
	mix := map[string]float64{}
	var errs []error
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, ok := strings.Cut(part, "=")
		weight, err := strconv.ParseFloat(strings.TrimSpace(w), 64)
		if !ok || err != nil || weight <= 0 {
			errs = append(errs, fmt.Errorf("--mix %q: want format=weight with a positive weight, e.g. %s", part, defaultMix))
			continue
		}
		name = strings.TrimSpace(name)
		known := false
		for _, f := range app.Formats() {
			known = known || f == name
		}
		if !known {
			errs = append(errs, fmt.Errorf("--mix: unknown format %q (known: %s)", name, strings.Join(app.Formats(), ", ")))
			continue
		}
		for _, f := range selected {
			if f == name {
				mix[name] = weight
			}
		}
	}
	if len(errs) == 0 && len(mix) == 0 {
		errs = append(errs, fmt.Errorf("--mix %q and --sources share no format", spec))
	}
	return mix, errors.Join(errs...)
}
