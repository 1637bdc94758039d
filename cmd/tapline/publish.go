package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tapline/tapline/app"
	"github.com/tapline/tapline/follow"
	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/pipeline"
)

func runPublish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s settings
	var subject string
	var perMsg int
	var whole bool
	var fo followFlags
	fs := s.newFlags("publish", "publish --subject logs.<format>.<...> [flags] [FILE ...] (stdin when no file)\n       tapline publish --follow --subject logs.<format>.<...> [flags] PATH|GLOB ...", groupData|groupNATS, stderr)
	fs.StringVar(&subject, "subject", "", "subject to publish to, e.g. logs.sofarpc.client.digest (required, unless --follow-map gives every file one)")
	fs.IntVar(&perMsg, "lines-per-message", 500, "records (lines) per message for line formats")
	fs.BoolVar(&whole, "whole", false, "publish each file as one message (documents: webdebug, envoytap JSON or protobuf); default for those formats")
	fo.register(fs, &s)
	var formats []string
	if err := s.parse(fs, args, func() error {
		var errs []error
		subjects, err := app.ParseSubjects(s.Subjects)
		if err != nil {
			errs = append(errs, err)
		}
		specs := app.SourceSpecs(app.Formats(), subjects)
		want := []string{subject}
		switch {
		case fo.follow:
			routes, rerr := parseFollowMap(fo.mapping)
			fo.routes = routes
			errs = append(errs, rerr, fo.config(&s, fs.Args(), subject, perMsg, stderr).Validate())
			want = want[:0]
			if subject != "" {
				want = append(want, subject)
			}
			for _, r := range routes {
				want = append(want, r.Subject)
			}
		case subject == "":
			errs = append(errs, errors.New("--subject is required (e.g. logs.sofarpc.client.digest)"))
		}
		for _, sub := range want {
			format := app.FormatForSubject(specs, sub)
			switch {
			case sub == "" || err != nil:
			case format == "":
				errs = append(errs, fmt.Errorf("subject %q is captured by no format's subjects (defaults: logs.<format>.>, formats %v; see --subjects)", sub, app.Formats()))
			case fo.follow && app.Framing(format) == decode.Documents:
				errs = append(errs, fmt.Errorf("subject %q is for %s documents, not lines: --follow ships lines (publish documents without --follow)", sub, format))
			default:
				formats = append(formats, format)
				if fo.follow && app.SpansLines(format) {
					fo.records = append(fo.records, sub)
				}
			}
		}
		if perMsg < 1 {
			errs = append(errs, fmt.Errorf("--lines-per-message %d must be at least 1", perMsg))
		}
		errs = append(errs, s.natsConfig().Validate())
		return errors.Join(errs...)
	}); err != nil {
		return err
	}
	slices.Sort(formats)
	formats = slices.Compact(formats)
	if app.Framing(formats[0]) == decode.Documents {
		whole = true
	}
	cfg := s.appConfig(stderr)
	b, err := app.OpenBroker(ctx, cfg)
	if err != nil {
		return err
	}
	defer b.Close()
	if err := app.EnsureStreams(ctx, b, app.SourceSpecs(formats, cfg.Subjects), cfg.Streams, stderr); err != nil {
		return err
	}
	pub, err := b.Publisher(publishWindow, nil)
	if err != nil {
		return err
	}
	if fo.follow {
		return fo.run(ctx, pub, fo.config(&s, fs.Args(), subject, perMsg, stderr), s.Metrics, stdout, stderr)
	}
	var records atomic.Uint64
	stop := app.ShowPublishProgress(stderr, 2*time.Second, isTerminal(stderr), records.Load, pub)
	msgs, err := publishFiles(ctx, pub, subject, fs.Args(), whole, perMsg, &records)
	if err == nil {
		err = pub.Flush(ctx)
	}
	stop()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "published %d records in %d messages to %s (%s)\n", records.Load(), msgs, subject, b.URL())
	if b.Embedded() {
		fmt.Fprintf(stdout, "stored in the embedded NATS in %s; `tapline run --data-dir %s` will consume them\n", s.DataDir, s.DataDir)
	}
	return nil
}

// publishWindow bounds the messages `tapline publish` has sent and the
// stream has not yet acknowledged.
const publishWindow = 1024

// publishFiles publishes the files (stdin for none or "-") to subject: each
// file as one message when whole, else perMsg lines a message. records
// counts the records sent. It returns the messages sent.
func publishFiles(ctx context.Context, pub *ingest.Publisher, subject string, files []string, whole bool, perMsg int, records *atomic.Uint64) (int, error) {
	if len(files) == 0 {
		files = []string{"-"}
	}
	msgs := 0
	for _, name := range files {
		var r io.Reader = os.Stdin
		if name != "-" {
			f, err := os.Open(name)
			if err != nil {
				return msgs, err
			}
			defer f.Close()
			r = f
		}
		if whole {
			data, err := io.ReadAll(r)
			if err != nil {
				return msgs, err
			}
			if err := pub.PublishAsync(ctx, subject, data, ""); err != nil {
				return msgs, err
			}
			msgs++
			records.Add(1)
			continue
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		var buf bytes.Buffer
		n := 0
		flush := func() error {
			if n == 0 {
				return nil
			}
			// The publisher keeps data until it is acknowledged.
			if err := pub.PublishAsync(ctx, subject, bytes.Clone(buf.Bytes()), ""); err != nil {
				return err
			}
			msgs++
			records.Add(uint64(n))
			buf.Reset()
			n = 0
			return nil
		}
		for sc.Scan() {
			line := sc.Bytes()
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			buf.Write(line)
			buf.WriteByte('\n')
			n++
			if n == perMsg {
				if err := flush(); err != nil {
					return msgs, err
				}
			}
		}
		if err := sc.Err(); err != nil {
			return msgs, fmt.Errorf("read %s: %w", name, err)
		}
		if err := flush(); err != nil {
			return msgs, err
		}
	}
	return msgs, nil
}

// followFlags are the flags of `tapline publish --follow`.
type followFlags struct {
	follow     bool
	mapping    string
	stateDir   string
	maxBytes   int
	maxLine    int
	age        time.Duration
	poll       time.Duration
	rotateWait time.Duration
	recordWait time.Duration
	shutdown   time.Duration
	metrics    string
	routes     []follow.Route
	records    []string // subjects whose format's records may span lines
}

func (fo *followFlags) register(fs *flag.FlagSet, s *settings) {
	fs.BoolVar(&fo.follow, "follow", false, "follow the files (paths or globs, quoted) as they grow, through rotation and restarts, until SIGINT/SIGTERM: each line reaches the stream once (see README, Shipping log files)")
	fs.StringVar(&fo.mapping, "follow-map", "", "with --follow: subjects by path, glob=subject,... (first match wins; --subject for the rest; a glob without '/' matches the base name), e.g. 'rpc-*-digest.log=logs.sofarpc.client.digest'")
	fs.StringVar(&fo.stateDir, "state-dir", "", "with --follow: directory of the per-file checkpoints; empty means <data-dir>/follow")
	fs.IntVar(&fo.maxBytes, "message-bytes", 256<<10, "with --follow: bytes of lines per message at most (a longer line goes alone)")
	fs.IntVar(&fo.maxLine, "max-line-bytes", 1_000_000, "with --follow: longer lines are skipped and reported (keep it under the NATS server's max_payload, 1 MiB by default)")
	fs.DurationVar(&fo.age, "message-age", time.Second, "with --follow: publish a message this long after its first line at the latest")
	fs.DurationVar(&fo.poll, "poll", 250*time.Millisecond, "with --follow: how often the files are looked at")
	fs.DurationVar(&fo.recordWait, "record-wait", 5*time.Second, "with --follow: how long a record over several lines (sofarpc, django, g3proxy JSON) whose end is not written yet is waited for before it is published as far as it is written")
	fs.DurationVar(&fo.rotateWait, "rotate-wait", 5*time.Second, "with --follow: how long a file rotated away (renamed, deleted) is still read after it last grew")
	fs.DurationVar(&fo.shutdown, "shutdown-timeout", 30*time.Second, "with --follow: on SIGINT/SIGTERM, wait this long for the stream's acknowledgements (what is not acknowledged is published again by the next run; exit code 3)")
	fs.StringVar(&s.Metrics, "metrics", "", "with --follow: address of /metrics (Prometheus: lines, bytes, messages, files, lag bytes) and /healthz, e.g. 127.0.0.1:9465; empty disables them")
}

// config is the follower's configuration from the flags.
func (fo *followFlags) config(s *settings, paths []string, subject string, perMsg int, log io.Writer) follow.Config {
	dir := fo.stateDir
	if dir == "" {
		dir = filepath.Join(s.DataDir, "follow")
	}
	return follow.Config{Paths: paths, Subject: subject, Routes: fo.routes, RecordSubjects: fo.records, StateDir: dir, MaxLines: perMsg, MaxBytes: fo.maxBytes,
		MaxLineBytes: fo.maxLine, MaxAge: fo.age, RecordWait: fo.recordWait, Poll: fo.poll, RotateWait: fo.rotateWait, ShutdownTimeout: fo.shutdown, Log: log}
}

// parseFollowMap reads --follow-map: glob=subject,...
func parseFollowMap(v string) ([]follow.Route, error) {
	var routes []follow.Route
	var errs []error
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		glob, subject, ok := strings.Cut(item, "=")
		if !ok || strings.TrimSpace(glob) == "" || strings.TrimSpace(subject) == "" {
			errs = append(errs, fmt.Errorf("--follow-map %q: want glob=subject", item))
			continue
		}
		routes = append(routes, follow.Route{Glob: strings.TrimSpace(glob), Subject: strings.TrimSpace(subject)})
	}
	return routes, errors.Join(errs...)
}

// run follows the files until ctx ends. A clean stop is no error; a stop
// before every message was acknowledged is pipeline.ErrDrainIncomplete
// (exit 3).
func (fo *followFlags) run(ctx context.Context, pub *ingest.Publisher, cfg follow.Config, metricsAddr string, stdout, stderr io.Writer) error {
	fl, err := follow.New(cfg, pub)
	if err != nil {
		return usageError{err}
	}
	if metricsAddr != "" {
		srv, addr, err := serveFollowMetrics(fl, metricsAddr)
		if err != nil {
			return usageError{err}
		}
		defer srv.Close()
		fmt.Fprintf(stdout, "metrics: http://%s/metrics (Prometheus), /healthz\n", addr)
	}
	fmt.Fprintf(stdout, "following %s; checkpoints in %s (stop with Ctrl-C)\n", strings.Join(cfg.Paths, " "), cfg.StateDir)
	every := 30 * time.Second
	if isTerminal(stderr) {
		every = 2 * time.Second
	}
	stop := app.ShowPublishProgress(stderr, every, isTerminal(stderr), func() uint64 { return fl.Stats().Lines }, pub)
	err = fl.Run(ctx)
	stop()
	st := fl.Stats()
	fmt.Fprintf(stdout, "published %d lines (%d bytes) in %d messages; %d lines too long skipped, %d records split, %d truncations seen\n", st.Lines, st.Bytes, st.Messages, st.TooLong, st.SplitRecords, st.Truncations)
	switch {
	case errors.Is(err, follow.ErrStopIncomplete):
		return fmt.Errorf("%w: %w", pipeline.ErrDrainIncomplete, err)
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return nil
	}
	return err
}

// serveFollowMetrics serves the follower's counters and the process's at
// /metrics, and /healthz.
func serveFollowMetrics(fl *follow.Follower, addr string) (*http.Server, string, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(fl.Collector(), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprintln(w, "ok") })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("--metrics %s: %w (pick another address, or \"\" to disable)", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, ln.Addr().String(), nil
}
