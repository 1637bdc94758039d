// Package app opens and closes tapline as a whole: the ClickHouse target
// (the embedded engine in a data directory, or a server), its schema, NATS
// (embedded, storing in the data directory, or external), one stream and
// durable consumer per source, the pipeline, the ClickHouse HTTP endpoint
// and the endpoint file that lets other tapline commands on the same data
// directory reach a running process. cmd/tapline parses flags into a
// Config and calls Open; the loadtest opens its stack the same way.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/tapline/tapline/chhttp"
	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/metrics"
	"github.com/tapline/tapline/pipeline"
	"github.com/tapline/tapline/schema"
	"github.com/tapline/tapline/sink/embedded"
	"github.com/tapline/tapline/sql"
)

// Config is everything Open needs. The zero value of each field is a
// usable default except DataDir and Database, which a stack with the
// embedded engine or embedded NATS needs.
type Config struct {
	// DataDir holds the embedded engine (clickhouse/), the embedded NATS
	// store (nats/) and the endpoint file.
	DataDir string
	// ClickHouse is a server DSN (clickhouse-go's); empty uses the embedded
	// engine in DataDir.
	ClickHouse string
	// Database is tapline's database; a DSN's database wins over it.
	Database string
	// Cluster is the remote_servers cluster for ON CLUSTER DDL (servers).
	Cluster string
	// Library is the path to libchdb.so; empty looks in $TAPLINE_LIBCHDB
	// and the engine cache.
	Library string
	// NATS is the NATS connection; an empty URL runs the embedded server,
	// storing in DataDir/nats unless StoreDir is set.
	NATS ingest.Config
	// Streams are the limits of the streams and the journal bucket tapline
	// creates when missing (existing ones are the operator's).
	Streams StreamLimits
	// Sources are the formats to consume; empty means every format.
	Sources []string
	// Subjects replaces the default subjects of the formats it names (see
	// ParseSubjects).
	Subjects map[string][]string
	// TimeZone is the zone of timestamps written without one; nil is UTC.
	TimeZone *time.Location
	// Pipeline is the batching configuration.
	Pipeline pipeline.Config
	// AckWait is how long JetStream waits for an acknowledgement; 0 means
	// 30s. It must be at least twice Pipeline.MaxAge.
	AckWait time.Duration
	// HTTP is the ClickHouse HTTP endpoint over the embedded engine; an
	// empty Addr disables it (it is never served for a server target).
	HTTP chhttp.Config
	// Metrics is the address of /metrics (Prometheus), /healthz and
	// /readyz; empty disables them.
	Metrics string
	// WaitForServer makes Open wait for a ClickHouse server that is down
	// (backoff 100 ms to 5 s, a warning per attempt); otherwise three
	// attempts. Open sets it for a stack: commands use it through
	// OpenTarget.
	WaitForServer bool
	// CreateDatabase creates the database on a server (schema apply).
	CreateDatabase bool
	// Retention, when set, is how long the tables keep rows (ClickHouse
	// TTL). Open and Serve set it on the embedded engine, altering only
	// the tables whose TTL differs; on a server Open only warns about the
	// differences (the operator's `tapline schema apply` sets them). nil
	// leaves every TTL as it is.
	Retention *sql.Retention
	// Log receives warnings (changed migrations, pipeline and server
	// warnings); nil discards them.
	Log io.Writer
}

func (c Config) ackWait() time.Duration {
	if c.AckWait <= 0 {
		return 30 * time.Second
	}
	return c.AckWait
}

func (c Config) log() io.Writer {
	if c.Log == nil {
		return io.Discard
	}
	return c.Log
}

func (c Config) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(c.log(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// natsConfig is c.NATS with the embedded server's store in DataDir/nats,
// reporting a slow start of that server, and the connection's own errors,
// disconnects and reconnects, to c.Log.
func (c Config) natsConfig() ingest.Config {
	n := c.NATS
	if n.URL == "" && n.StoreDir == "" {
		n.StoreDir = c.DataDir + "/nats"
	}
	if n.Progress == nil {
		n.Progress = c.Log
	}
	if n.Log == nil {
		n.Log = c.logger()
	}
	return n
}

// EngineConfig is the embedded engine's configuration.
func (c Config) EngineConfig() embedded.Config {
	return embedded.Config{DataDir: c.DataDir, Library: c.Library, Database: c.Database, Log: c.Log}
}

// sources returns the formats to consume.
func (c Config) sources() []string {
	if len(c.Sources) == 0 {
		return Formats()
	}
	return c.Sources
}

// Validate reports every problem of a stack's configuration at once; it
// does not modify c.
func (c Config) Validate() error {
	var errs []error
	reg := Registry()
	for _, f := range c.Sources {
		if reg.Framing(f) == 0 {
			errs = append(errs, fmt.Errorf("--sources: unknown format %q (known: %s)", f, strings.Join(reg.Names(), ", ")))
		}
	}
	if err := c.natsConfig().Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Pipeline.Validate(); err != nil {
		errs = append(errs, err)
	}
	if r := c.Streams.Replicas; r < 0 || r > 5 {
		errs = append(errs, fmt.Errorf("--stream-replicas %d: JetStream takes 1 to 5 replicas", r))
	}
	if c.Streams.MaxAge < 0 || c.Streams.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("--stream-max-age %v and --stream-max-bytes %d must not be negative", c.Streams.MaxAge, c.Streams.MaxBytes))
	}
	if err := c.Streams.validateDuplicates(); err != nil {
		errs = append(errs, err)
	}
	if c.AckWait != 0 {
		maxAge := c.Pipeline.MaxAge
		if maxAge == 0 {
			maxAge = time.Second
		}
		if c.AckWait < time.Second {
			errs = append(errs, fmt.Errorf("--ack-wait %v: must be at least 1s", c.AckWait))
		} else if c.AckWait < 2*maxAge {
			errs = append(errs, fmt.Errorf("--ack-wait %v must be at least twice --batch-age %v, or messages are redelivered while their batch fills", c.AckWait, maxAge))
		}
	}
	if c.ClickHouse == "" {
		if err := c.EngineConfig().Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.HTTP.Addr != "" {
		if err := c.HTTP.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Database == "" {
		errs = append(errs, errors.New("--database must not be empty"))
	}
	return errors.Join(errs...)
}

// Stack is a running tapline: everything Open opened, closed by Close.
// Its fields are valid until Close; the pipeline is not running until the
// caller runs it.
type Stack struct {
	cfg Config
	// Target is the ClickHouse target the pipeline writes.
	Target *Target
	// Broker is the NATS connection (and the embedded server, if any).
	Broker *ingest.Broker
	// DLQ is the dead-letter stream.
	DLQ *ingest.DeadLetters
	// Consumers are the sources' durable consumers, in Sources order.
	Consumers []*ingest.Consumer
	// Pipeline consumes every source; run it with Pipeline.Run.
	Pipeline *pipeline.Pipeline
	// Sources are the formats the pipeline consumes.
	Sources []string

	http        *http.Server
	httpAddr    string
	metrics     *metrics.Metrics
	metricsSrv  *http.Server
	metricsAddr string
	started     time.Time
}

// Open opens the whole stack: the target (waiting for a server that is
// down), the schema (applied on the embedded engine; checked, never
// changed, on a server), NATS, one stream and consumer per source, the
// journal and dead-letter stream, the pipeline, the HTTP endpoint, and the
// endpoint file. On error, whatever was opened is closed again.
func Open(ctx context.Context, cfg Config) (_ *Stack, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st := &Stack{cfg: cfg, started: time.Now(), Sources: cfg.sources()}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	if cfg.ClickHouse == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("--data-dir: %w", err)
		}
	}
	cfg.WaitForServer = true
	if st.Target, err = OpenTarget(ctx, cfg); err != nil {
		return nil, err
	}
	// The embedded engine is tapline's own: apply the schema. A server's
	// schema is the operator's (`tapline schema apply`): only check it.
	if cfg.ClickHouse == "" {
		if err := ApplySchema(ctx, st.Target, cfg.Cluster, cfg.log()); err != nil {
			return nil, err
		}
		if cfg.Retention != nil {
			if err := ApplyRetention(ctx, st.Target, cfg.Cluster, *cfg.Retention, cfg.log()); err != nil {
				return nil, err
			}
		}
	}
	specs := SourceSpecs(st.Sources, cfg.Subjects)
	var journal *ingest.Journal
	var sources []pipeline.Source
	// A NATS cluster that is restarting or electing a leader answers in a
	// few seconds: a service waits for it instead of exiting.
	err = untilNATS(ctx, cfg.log(), func() error {
		var err error
		journal, sources, err = st.openNATS(ctx, specs)
		return err
	})
	if err != nil {
		return nil, err
	}
	var tables []*schema.Table
	for _, src := range sources {
		tables = append(tables, src.Decoder.Tables()...)
	}
	if err := CheckSchema(ctx, st.Target, cfg.Cluster, tables, cfg.log()); err != nil {
		return nil, err
	}
	if cfg.Retention != nil && cfg.ClickHouse != "" {
		WarnRetention(ctx, st.Target, cfg.Cluster, *cfg.Retention, cfg.log())
	}
	pcfg := cfg.Pipeline
	pcfg.Logger = cfg.logger()
	if cfg.Metrics != "" {
		st.metrics = metrics.New(metrics.Inputs{})
		pcfg.ObserveInsert = st.metrics.ObserveInsert
		pcfg.ObservePhase = pipeline.ObservePhases(st.metrics.ObservePhase, pcfg.ObservePhase)
	}
	if st.Pipeline, err = pipeline.New(pcfg, st.Target, journal, st.DLQ, sources); err != nil {
		return nil, err
	}
	if st.metrics != nil {
		st.metrics.SetInputs(metrics.Inputs{Stats: st.Pipeline.Stats, Consumers: st.Consumers, Journal: journal, Ready: st.ready})
		if st.metricsSrv, st.metricsAddr, err = st.metrics.Serve(cfg.Metrics); err != nil {
			return nil, err
		}
	}
	if cfg.HTTP.Addr != "" && cfg.ClickHouse == "" {
		if err := st.startHTTP(cfg.HTTP); err != nil {
			return nil, err
		}
	}
	if cfg.ClickHouse == "" || st.Broker.Embedded() {
		ep := Endpoint{PID: os.Getpid(), HTTP: st.httpAddr, Metrics: st.metricsAddr, Started: st.started}
		if st.Broker.Embedded() {
			ep.NATS = st.Broker.URL()
		}
		if err := WriteEndpoint(cfg.DataDir, ep); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// openNATS connects to NATS and opens the streams, the journal, the
// dead-letter stream and a consumer per source; on failure it closes what
// it opened.
func (st *Stack) openNATS(ctx context.Context, specs []ingest.SourceSpec) (_ *ingest.Journal, _ []pipeline.Source, err error) {
	cfg := st.cfg
	if st.Broker, err = ingest.Start(ctx, cfg.natsConfig()); err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			st.Broker.Close()
			st.Broker, st.Consumers = nil, nil
		}
	}()
	if err := EnsureStreams(ctx, st.Broker, specs, cfg.Streams, cfg.log()); err != nil {
		return nil, nil, err
	}
	journal, err := st.Broker.OpenJournal(ctx, ingest.JournalSpec{Bucket: ingest.DefaultJournalBucket, Replicas: cfg.Streams.Replicas})
	if err != nil {
		return nil, nil, err
	}
	if st.DLQ, err = st.Broker.OpenDeadLetters(ctx, ingest.DefaultDeadLetterStream, cfg.Streams.Replicas); err != nil {
		return nil, nil, err
	}
	var sources []pipeline.Source
	for _, spec := range specs {
		dec, err := st.NewDecoder(spec.Name)
		if err != nil {
			return nil, nil, err
		}
		// Up to Pipeline.InFlight() batches are in hand (one filling, one
		// queued, one per inserter); a message holds at least one record,
		// so their rows bound their messages.
		c, err := st.Broker.Consumer(ctx, ingest.ConsumerSpec{Stream: spec.Stream, Durable: spec.Durable, AckWait: cfg.ackWait(), MaxAckPending: cfg.Pipeline.InFlight()*batchRows(cfg.Pipeline) + 1000})
		if err != nil {
			return nil, nil, err
		}
		st.Consumers = append(st.Consumers, c)
		sources = append(sources, pipeline.Source{Name: spec.Name, Decoder: dec, Consumer: c})
	}
	return journal, sources, nil
}

// natsWait bounds how long Open waits for a NATS server that is busy,
// restarting or electing a leader.
const natsWait = 2 * time.Minute

// untilNATS runs f until it succeeds, fails for another reason than a
// temporarily unavailable NATS (ingest.Temporary), or natsWait passed,
// with a warning per failed attempt.
func untilNATS(ctx context.Context, warn io.Writer, f func() error) error {
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		err := f()
		if err != nil && !ingest.Temporary(err) {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(&backoff.ExponentialBackOff{InitialInterval: 250 * time.Millisecond, Multiplier: 2, MaxInterval: 5 * time.Second, RandomizationFactor: 0.1}),
		backoff.WithMaxElapsedTime(natsWait),
		backoff.WithNotify(func(err error, d time.Duration) {
			fmt.Fprintf(warn, "tapline: warning: NATS not ready, trying again in %v: %v\n", d.Round(time.Millisecond), err)
		}))
	return err
}

// batchRows is the pipeline's effective MaxRows.
func batchRows(c pipeline.Config) int {
	if c.MaxRows <= 0 {
		return 100_000
	}
	return c.MaxRows
}

// NewDecoder returns a new decoder of format, with the stack's time zone.
func (st *Stack) NewDecoder(format string) (decode.Decoder, error) {
	return Registry().New(format, decode.Options{TimeZone: st.cfg.TimeZone})
}

// Config returns the configuration the stack was opened with.
func (st *Stack) Config() Config { return st.cfg }

// Dial opens a NATS connection of its own to the stack's NATS (over
// loopback to the embedded server, as a producer elsewhere would), named
// name. Close it with Broker.Close.
func (st *Stack) Dial(ctx context.Context, name string) (*ingest.Broker, error) {
	cfg := st.cfg.natsConfig()
	if st.Broker.Embedded() {
		cfg = ingest.Config{URL: st.Broker.URL(), Log: cfg.Log}
	}
	cfg.Name = name
	return ingest.Start(ctx, cfg)
}

// ready reports whether the stack can do its work: NATS connected and
// ClickHouse answering (the schema was applied or checked by Open).
func (st *Stack) ready(ctx context.Context) error {
	if st.Broker == nil || !st.Broker.Connected() {
		return errors.New("NATS is not connected")
	}
	if _, err := st.Target.Query(ctx, "SELECT 1", "TabSeparated", nil); err != nil {
		return fmt.Errorf("ClickHouse does not answer: %w", err)
	}
	return nil
}

// Draining marks the stack as stopping: /readyz answers 503 from then on.
func (st *Stack) Draining() {
	if st.metrics != nil {
		st.metrics.Draining()
	}
}

// MetricsAddr is the address /metrics listens on, or "".
func (st *Stack) MetricsAddr() string { return st.metricsAddr }

// HTTPAddr is the address the HTTP endpoint listens on, or "".
func (st *Stack) HTTPAddr() string { return st.httpAddr }

// Describe says, on a few lines, what the stack runs on: the target, NATS
// (embedded or external) and the HTTP endpoint with its access.
func (st *Stack) Describe() string {
	var parts []string
	parts = append(parts, "ClickHouse: "+st.Target.Desc)
	if st.Broker != nil {
		mode := "external"
		if st.Broker.Embedded() {
			mode = "embedded, storing in " + st.cfg.DataDir + "/nats"
		}
		parts = append(parts, fmt.Sprintf("NATS: %s (%s)", st.Broker.URL(), mode))
	}
	if st.httpAddr != "" {
		access := "read-only"
		if st.cfg.HTTP.Writable {
			access = "writable"
		}
		if st.cfg.HTTP.User != "" {
			access += ", user " + st.cfg.HTTP.User
		}
		parts = append(parts, "HTTP (ClickHouse protocol, "+access+"; Grafana datasource host:port): http://"+st.httpAddr)
	}
	if st.metricsAddr != "" {
		parts = append(parts, "metrics: http://"+st.metricsAddr+"/metrics (Prometheus), /healthz, /readyz")
	}
	return strings.Join(parts, "\n  ")
}

// Close stops the HTTP endpoint, closes NATS (and the embedded server) and
// the target, and removes the endpoint file. The pipeline must have
// stopped. Close may be called on a partly opened stack.
func (st *Stack) Close() {
	st.stopHTTP()
	if st.metricsSrv != nil {
		_ = st.metricsSrv.Close()
	}
	if st.Broker != nil {
		st.Broker.Close()
	}
	if st.Target != nil {
		_ = st.Target.Close()
	}
	if st.cfg.ClickHouse == "" {
		RemoveEndpoint(st.cfg.DataDir)
	}
}

// Lag returns the messages not yet delivered or not yet acknowledged,
// summed over the sources; a consumer whose state cannot be read counts 0.
func (st *Stack) Lag(ctx context.Context) uint64 {
	var n uint64
	for _, c := range st.Consumers {
		if s, err := c.State(ctx); err == nil {
			n += s.Pending + uint64(s.AckPending)
		}
	}
	return n
}
