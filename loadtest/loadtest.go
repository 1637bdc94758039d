// Package loadtest measures how far tapline goes on the machine it runs
// on: it publishes realistic records of every format to NATS (generators
// in gen, publishers in loadtest/publish) while tapline's pipeline
// consumes them, samples throughput, lag, CPU and memory, measures
// publish-to-queryable latency with probes (loadtest/probe), checks that
// every record landed exactly once, then runs baselines on the same
// messages (loadtest/baseline) and writes a report (loadtest/report).
//
// Run opens the stack it measures through package app, from the same
// configuration `tapline run` uses (embedded or external NATS, the
// embedded engine or a ClickHouse server).
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync/atomic"
	"time"

	"github.com/tapline/tapline/app"
	"github.com/tapline/tapline/gen"
	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/loadtest/baseline"
	"github.com/tapline/tapline/loadtest/probe"
	"github.com/tapline/tapline/loadtest/publish"
	"github.com/tapline/tapline/loadtest/report"
	"github.com/tapline/tapline/pipeline"
	"github.com/tapline/tapline/sink"
)

// Config is what to publish and measure. Mix and one of Duration or Count
// are required; the zero value of every other field is a usable default.
type Config struct {
	// Mix maps each format to its weight: its share of the records.
	Mix map[string]float64
	// Seed seeds the generators (see publish.Config.Seed).
	Seed uint64
	// Malformed is the share (0..1) of deliberately malformed records.
	Malformed float64
	// Rate is the target in records per second; 0 publishes as fast as
	// tapline keeps up (bounded by MaxInFlight).
	Rate float64
	// Calibration says how Rate was found when the caller measured the
	// maximum rate first and took a share of it (the report shows it); nil
	// otherwise.
	Calibration *report.Calibration
	// Duration or Count ends publishing; the first reached wins.
	Duration time.Duration
	Count    int64
	// Publishers is the number of concurrent publishers, each with its own
	// NATS connection; 0 means 4.
	Publishers int
	// PerMessage is the number of records per message for line formats; 0
	// means 100.
	PerMessage int
	// MaxMessageBytes bounds a line-format message's size (see
	// publish.Config); 0 means no bound.
	MaxMessageBytes int
	// SyncPublish waits for each publish's acknowledgement (retrying a
	// failed one with the same message id) instead of publishing
	// asynchronously (acknowledgements awaited at the end, a failure fails
	// the run).
	SyncPublish bool
	// MaxInFlight bounds the records published and not yet committed or
	// dead-lettered, shared among the formats by the mix (see
	// publish.Config); 0 means no bound (open loop: with Rate 0 the stream
	// then fills as fast as NATS takes it).
	MaxInFlight int64
	// ProbeInterval is the time between rounds of freshness probes; 0 means
	// 100ms.
	ProbeInterval time.Duration
	// SampleInterval is the time between samples of the live phase; 0
	// means 1s.
	SampleInterval time.Duration
	// DrainTimeout bounds the wait, after publishing, for the pipeline to
	// finish every published record; 0 means 5 minutes.
	DrainTimeout time.Duration
	// Baselines runs the baselines after the live phase.
	Baselines bool
	// Pipeline is tapline's configuration, for the report and the
	// baselines (the engine's inserts are as large as tapline's batches).
	Pipeline pipeline.Config
	// Progress receives a live progress line per sample; nil is quiet.
	// InPlace rewrites one line (a terminal) instead of appending lines.
	Progress io.Writer
	InPlace  bool
	// Command is the command line, for the report.
	Command string
	// CPUProfile, when set, receives the Go CPU profile of the live phase
	// (Run profiles it anyway, to split the CPU by part), or with
	// PublishOnly of the publishing.
	CPUProfile io.Writer
	// Banner, when set, receives the stack's description once it is open.
	Banner io.Writer
}

func (c Config) publishers() int {
	if c.Publishers <= 0 {
		return 4
	}
	return c.Publishers
}

func (c Config) perMessage() int {
	if c.PerMessage <= 0 {
		return 100
	}
	return c.PerMessage
}

func (c Config) probeInterval() time.Duration {
	if c.ProbeInterval <= 0 {
		return 100 * time.Millisecond
	}
	return c.ProbeInterval
}

func (c Config) sampleInterval() time.Duration {
	if c.SampleInterval <= 0 {
		return time.Second
	}
	return c.SampleInterval
}

func (c Config) drainTimeout() time.Duration {
	if c.DrainTimeout <= 0 {
		return 5 * time.Minute
	}
	return c.DrainTimeout
}

// Formats returns the mix's formats, sorted.
func (c Config) Formats() []string {
	out := make([]string, 0, len(c.Mix))
	for f := range c.Mix {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// Validate reports every problem at once; it does not modify c.
func (c Config) Validate() error {
	var errs []error
	if len(c.Mix) == 0 {
		errs = append(errs, errors.New("loadtest: no format in the mix"))
	}
	for f, w := range c.Mix {
		if _, err := gen.New(f, gen.Options{}); err != nil {
			errs = append(errs, fmt.Errorf("loadtest: mix: %w", err))
		}
		if w <= 0 {
			errs = append(errs, fmt.Errorf("loadtest: mix: weight of %s is %v: must be positive", f, w))
		}
	}
	if c.Malformed < 0 || c.Malformed >= 1 {
		errs = append(errs, fmt.Errorf("loadtest: malformed share %v must be in [0, 1)", c.Malformed))
	}
	if c.Rate < 0 {
		errs = append(errs, fmt.Errorf("loadtest: rate %v must not be negative", c.Rate))
	}
	if c.Duration <= 0 && c.Count <= 0 {
		errs = append(errs, errors.New("loadtest: set a duration or a count of records"))
	}
	if c.Duration < 0 || c.Count < 0 || c.Publishers < 0 || c.PerMessage < 0 || c.MaxInFlight < 0 || c.MaxMessageBytes < 0 {
		errs = append(errs, errors.New("loadtest: duration, count, publishers, records per message, max message bytes and max in flight must not be negative"))
	}
	if c.ProbeInterval < 0 || c.SampleInterval < 0 || c.DrainTimeout < 0 {
		errs = append(errs, errors.New("loadtest: intervals and timeouts must not be negative"))
	}
	if err := c.Pipeline.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Env is what a loadtest runs against: the pieces of the stack Run opened
// (see envOf).
type Env struct {
	// NATS and ClickHouse describe the setup for the report.
	NATS, ClickHouse string
	// Connect opens a new NATS connection for one publisher and returns a
	// publisher on it (a publish.AsyncSender) and a function that closes
	// it. onErr receives every asynchronous publish the stream refused or
	// never acknowledged.
	Connect func(ctx context.Context, onErr func(subject string, err error)) (publish.Sender, func(), error)
	// Dial opens a NATS connection of its own, for the baselines (each
	// reads on its own connections, never on the stack's: see
	// baseline.Broker).
	Dial baseline.Dial
	// Target is tapline's ClickHouse database.
	Target sink.Target
	// DLQ is the dead-letter stream.
	DLQ *ingest.DeadLetters
	// Pipeline consumes every format of the mix through Consumers; Run runs
	// it and stops it.
	Pipeline  *pipeline.Pipeline
	Consumers []*ingest.Consumer
	// Tables lists, per format, the tables its decoder writes.
	Tables map[string][]string
	// NewDecoder returns a format's decoder (for the drain baseline).
	NewDecoder func(format string) (decode.Decoder, error)
	// OpenDatabase opens a fresh database with tapline's schema on the same
	// ClickHouse and an inserter of raw formats into it, for the engine
	// baseline and the drain. Nil when the target cannot (NoEngine says
	// why); those baselines are then skipped.
	OpenDatabase func(ctx context.Context, name string) (sink.Target, baseline.Inserter, error)
	NoEngine     string
}

// Consumer and database names the baselines use. They are fixed, not per
// run: on streams that outlive a run (an external NATS), each baseline
// reads what it has not read before, which is this run's messages.
const (
	BrokerDurable  = "tapline-loadtest-broker"
	EngineDurable  = "tapline-loadtest-json"
	DrainDurable   = "tapline-loadtest-drain"
	EngineDatabase = "tapline_loadtest_json"
	DrainDatabase  = "tapline_loadtest_drain"
)

// Run opens the stack stack describes (app.Open: the pipeline consumes
// the mix's formats), publishes, measures and checks, runs the baselines
// when asked, closes the stack, and returns the report (not yet written).
// The stack's Sources are set to the mix's formats.
func Run(ctx context.Context, cfg Config, stack app.Config) (*report.Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	stack.Sources = cfg.Formats()
	phases := &phaseClock{}
	stack.Pipeline.ObservePhase = pipeline.ObservePhases(stack.Pipeline.ObservePhase, phases.observe)
	st, err := app.Open(ctx, stack)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if cfg.Banner != nil {
		fmt.Fprintf(cfg.Banner, "  %s\n", st.Describe())
	}
	env, err := envOf(st, cfg.Formats())
	if err != nil {
		return nil, err
	}
	for _, f := range cfg.Formats() {
		if probe.Table(f) == "" {
			return nil, fmt.Errorf("loadtest: no probe for format %s", f)
		}
		if len(env.Tables[f]) == 0 {
			return nil, fmt.Errorf("BUG: loadtest: env lists no tables for %s", f)
		}
	}
	r := &run{cfg: cfg, env: env, formats: cfg.Formats(), began: time.Now(), doneFormat: map[string]*atomic.Uint64{}, phases: phases}
	for _, f := range r.formats {
		r.doneFormat[f] = &atomic.Uint64{}
	}
	return r.run(ctx)
}
