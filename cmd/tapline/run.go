package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/tapline/tapline/chhttp"
	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/pipeline"
	"github.com/tapline/tapline/schema"
)

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s settings
	fs := s.newFlags("run", "run [flags]", groupData|groupNATS|groupPipeline|groupHTTP|groupHTTPAuth, stderr)
	var formats []string
	if err := s.parse(fs, args, func() (err error) {
		formats, err = s.validateRun()
		return err
	}); err != nil {
		return err
	}
	st, err := openStack(ctx, &s, formats, stderr)
	if err != nil {
		return err
	}
	defer st.close()
	fmt.Fprintf(stdout, "tapline run: %s\n", st.describe())
	fmt.Fprintf(stdout, "publish with: tapline publish --data-dir %s --subject logs.<format>.<...> FILE   (stop with Ctrl-C)\n", s.DataDir)

	done := make(chan struct{})
	go st.reportProgress(done, stderr, 5*time.Second, false)
	err = st.pipeline.Run(ctx)
	close(done)
	st.printStats(stdout)
	return err
}

// validateRun checks everything run and demo need, reporting every problem
// at once, and returns the selected formats.
func (s *settings) validateRun() ([]string, error) {
	var errs []error
	formats, err := s.selectedSources()
	if err != nil {
		errs = append(errs, err)
	}
	if _, err := s.location(); err != nil {
		errs = append(errs, err)
	}
	if err := s.natsConfig().Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := s.pipelineConfig().Validate(); err != nil {
		errs = append(errs, err)
	}
	if _, err := parseSubjects(s.Subjects); err != nil {
		errs = append(errs, err)
	}
	if s.AckWait < time.Second {
		errs = append(errs, fmt.Errorf("--ack-wait %v: must be at least 1s", s.AckWait))
	} else if s.AckWait < 2*s.BatchAge {
		errs = append(errs, fmt.Errorf("--ack-wait %v must be at least twice --batch-age %v, or messages are redelivered while their batch fills", s.AckWait, s.BatchAge))
	}
	if s.ClickHouse == "" {
		if err := s.engineConfig().Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.HTTP != "" {
		if err := s.httpConfig().Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.Database == "" {
		errs = append(errs, errors.New("--database must not be empty"))
	}
	return formats, errors.Join(errs...)
}

// stack is everything a running pipeline holds.
type stack struct {
	s        *settings
	target   *target
	broker   *ingest.Broker
	dlq      *ingest.DeadLetters
	cons     []*ingest.Consumer
	pipeline *pipeline.Pipeline
	http     *http.Server
	httpAddr string
	started  time.Time
}

func openStack(ctx context.Context, s *settings, formats []string, stderr io.Writer) (_ *stack, err error) {
	st := &stack{s: s, started: time.Now()}
	defer func() {
		if err != nil {
			st.close()
		}
	}()
	if s.ClickHouse == "" {
		if err := os.MkdirAll(s.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("--data-dir: %w", err)
		}
	}
	s.waitForServer = true
	if st.target, err = openTarget(ctx, s); err != nil {
		return nil, err
	}
	// The embedded engine is tapline's own: apply the schema. A server's
	// schema is the operator's (`tapline schema apply`): only check it.
	if s.ClickHouse == "" {
		if err := applySchema(ctx, st.target, s, stderr); err != nil {
			return nil, err
		}
	}
	if st.broker, err = ingest.Start(ctx, s.natsConfig()); err != nil {
		return nil, err
	}
	specs, err := s.sourceSpecs(formats)
	if err != nil {
		return nil, err
	}
	if err := ensureSpecs(ctx, st.broker, specs); err != nil {
		return nil, err
	}
	journal, err := st.broker.Journal(ctx, ingest.DefaultJournalBucket)
	if err != nil {
		return nil, err
	}
	if st.dlq, err = st.broker.DeadLetters(ctx, ingest.DefaultDeadLetterStream); err != nil {
		return nil, err
	}
	loc, _ := s.location()
	reg := registry()
	var sources []pipeline.Source
	for _, spec := range specs {
		f := spec.Name
		dec, err := reg.New(f, decode.Options{TimeZone: loc})
		if err != nil {
			return nil, err
		}
		// Up to three batches are in flight (one filling, one queued, one
		// writing); a message holds at least one record, so three batches'
		// rows bound their messages.
		c, err := st.broker.Consumer(ctx, ingest.ConsumerSpec{Stream: spec.Stream, Durable: spec.Durable, AckWait: s.AckWait, MaxAckPending: 3*s.BatchRows + 1000})
		if err != nil {
			return nil, err
		}
		st.cons = append(st.cons, c)
		sources = append(sources, pipeline.Source{Name: f, Decoder: dec, Consumer: c})
	}
	var tables []*schema.Table
	for _, src := range sources {
		tables = append(tables, src.Decoder.Tables()...)
	}
	if err := checkSchema(ctx, st.target, s, tables, stderr); err != nil {
		return nil, err
	}
	cfg := s.pipelineConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if st.pipeline, err = pipeline.New(cfg, st.target, journal, st.dlq, sources); err != nil {
		return nil, err
	}
	if s.HTTP != "" && s.ClickHouse == "" {
		if err := st.serveHTTP(); err != nil {
			return nil, err
		}
	}
	if s.ClickHouse == "" || st.broker.Embedded() {
		ep := endpoint{PID: os.Getpid(), HTTP: st.httpAddr, Started: st.started}
		if st.broker.Embedded() {
			ep.NATS = st.broker.URL()
		}
		if err := writeEndpoint(s.DataDir, ep); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func (st *stack) serveHTTP() error {
	ln, err := net.Listen("tcp", st.s.HTTP)
	if err != nil {
		return fmt.Errorf("--http %s: %w (another process uses the port? pick another with --http, or --http \"\" to disable)", st.s.HTTP, err)
	}
	h, err := chhttp.NewHandler(st.s.httpConfig(), st.target.engine, st.target.engine.Database())
	if err != nil {
		_ = ln.Close()
		return err
	}
	st.httpAddr = ln.Addr().String()
	st.http = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = st.http.Serve(ln) }()
	return nil
}

// httpConfig is the HTTP endpoint's configuration.
func (s *settings) httpConfig() chhttp.Config {
	var hosts []string
	for _, h := range strings.Split(s.HTTPHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	return chhttp.Config{Addr: s.HTTP, Hosts: hosts, User: s.HTTPUser, Password: chhttp.Secret(s.HTTPPassword), Writable: s.HTTPWritable,
		Connections: s.HTTPQueryConns, MaxExecutionTime: s.HTTPTimeout, MaxResultBytes: s.HTTPMaxResult, MaxMemoryUsage: s.HTTPMaxMemory}
}

func (st *stack) describe() string {
	var parts []string
	parts = append(parts, "ClickHouse: "+st.target.desc)
	if st.broker != nil {
		mode := "external"
		if st.broker.Embedded() {
			mode = "embedded, storing in " + st.s.DataDir + "/nats"
		}
		parts = append(parts, fmt.Sprintf("NATS: %s (%s)", st.broker.URL(), mode))
	}
	if st.httpAddr != "" {
		access := "read-only"
		if st.s.HTTPWritable {
			access = "writable"
		}
		if st.s.HTTPUser != "" {
			access += ", user " + st.s.HTTPUser
		}
		parts = append(parts, "HTTP (ClickHouse protocol, "+access+"; Grafana datasource host:port): http://"+st.httpAddr)
	}
	return strings.Join(parts, "\n  ")
}

func (st *stack) close() {
	if st.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = st.http.Shutdown(ctx)
		cancel()
	}
	if st.broker != nil {
		st.broker.Close()
	}
	if st.target != nil {
		st.target.close()
	}
	if st.s.ClickHouse == "" {
		removeEndpoint(st.s.DataDir)
	}
}

// lag returns the messages not yet delivered, summed over sources.
func (st *stack) lag(ctx context.Context) uint64 {
	var n uint64
	for _, c := range st.cons {
		if s, err := c.State(ctx); err == nil {
			n += s.Pending + uint64(s.AckPending)
		}
	}
	return n
}

// reportProgress prints a progress line every interval until done closes:
// in place on a terminal, one line each otherwise.
func (st *stack) reportProgress(done <-chan struct{}, w io.Writer, every time.Duration, inPlace bool) {
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
			var rec, rej, committed uint64
			for _, s := range st.pipeline.Stats() {
				rec += s.Records
				rej += s.Rejected
				committed += s.RecordsCommitted
			}
			rate := float64(committed-lastRecords) / now.Sub(last).Seconds()
			lastRecords, last = committed, now
			line := fmt.Sprintf("committed %d records (%.0f/s), dead letters %d, lag %d messages", committed, rate, rej, st.lag(context.Background()))
			if inPlace {
				fmt.Fprintf(w, "\r\033[K%s", line)
			} else {
				fmt.Fprintln(w, line)
			}
		}
	}
}

func (st *stack) printStats(w io.Writer) {
	for _, s := range st.pipeline.Stats() {
		var tables []string
		for t, n := range s.Rows {
			tables = append(tables, fmt.Sprintf("%s=%d", t, n))
		}
		sort.Strings(tables)
		fmt.Fprintf(w, "  %-9s records %d, dead letters %d, batches %d, replayed %d, rows %s\n", s.Source, s.Records, s.Rejected, s.Batches, s.Replayed, strings.Join(tables, " "))
	}
}
