// Package publish publishes generated log records of several formats to
// NATS at a chosen rate, the way a fleet of producers would: several
// concurrent publishers, each with its own connection and its own seeded
// generators, many newline-separated records per message for line formats
// and one document per message otherwise, every message with a JetStream
// publish acknowledgement and a message id (so a retried publish is a
// duplicate the stream drops). It keeps the truth about what it published
// (records, valid and malformed, per subject, and the latency samples they
// carry) for the loss check, and publishes freshness probes beside the load.
package publish

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapline/tapline/gen"
)

// Sender publishes one message and returns once the stream acknowledged
// it. A non-empty msgID makes a second publish of the same message within
// the stream's duplicate window a no-op. *ingest.Publisher implements it.
// Each publisher goroutine uses its own Sender; a Sender need not be safe
// for concurrent use.
type Sender interface {
	Publish(ctx context.Context, subject string, data []byte, msgID string) error
}

// AsyncSender publishes without waiting for each acknowledgement: the
// stream acknowledges later, PublishAsync waits (and tries again with the
// same message id) while too many are outstanding, Flush waits for every
// acknowledgement, sending refused or unacknowledged publishes again, and
// a publish given up on is reported to the error handler the sender was
// made with and by Flush. data must not change until Flush returns.
// *ingest.Publisher implements it.
type AsyncSender interface {
	Sender
	PublishAsync(ctx context.Context, subject string, data []byte, msgID string) error
	Flush(ctx context.Context) error
}

// Config says what to publish and how fast. Formats, Senders and RunID are
// required; the zero value of every other field is a usable default.
type Config struct {
	// Formats maps each format to publish to its weight: the share of
	// records it gets is its weight over the sum of weights.
	Formats map[string]float64
	// Seed seeds the generators: publisher i's generator of every format
	// uses Seed + i*0x9E3779B97F4A7C15, so publisher 0 publishes exactly
	// what gen.New(format, gen.Options{Seed: Seed, ...}) generates.
	Seed uint64
	// Malformed is the share (0..1) of deliberately malformed records.
	Malformed float64
	// Start is the event time of the first generated record of every
	// generator, and Step the average distance between records of one
	// generator (see gen.Options). Zero values: now and 1ms.
	Start time.Time
	Step  time.Duration
	// Rate is the target in records per second over all publishers; 0
	// publishes as fast as the senders (and MaxInFlight) allow.
	Rate float64
	// Duration stops publishing after this long; Count after this many
	// records (over all publishers). At least one must be set; the first
	// reached wins.
	Duration time.Duration
	Count    int64
	// Senders are the publishers, one goroutine each.
	Senders []Sender
	// Async publishes without waiting for each acknowledgement (every
	// Sender must be an AsyncSender); each publisher waits for all of its
	// acknowledgements at the end. Records count as published when sent.
	// Failures go to the senders' error handlers and are not retried. Sync
	// publishing (the default) waits for each acknowledgement and retries
	// a failed publish with the same message id.
	Async bool
	// PerMessage is how many records of a line format (one record per line)
	// one message carries at most; 0 means 100. Documents are always one
	// per message.
	PerMessage int
	// MaxMessageBytes closes a line-format message before a record would
	// take it past this many bytes (a single larger record goes alone); 0
	// means no bound.
	MaxMessageBytes int
	// MaxWait bounds how long a partly filled message waits for more
	// records of its subject before it is sent anyway; 0 means 50ms.
	MaxWait time.Duration
	// MaxInFlight bounds the records published but not yet done (as Done
	// reports), shared among the formats by their weights: a publisher
	// waits before a record of a format that has its share in flight. A
	// share is never below one message. 0 means no bound (open loop).
	MaxInFlight int64
	// Done returns how many published records of a format the consumer
	// finished (committed or dead-lettered). Required when MaxInFlight > 0;
	// it is called often and must be cheap.
	Done func(format string) uint64
	// RunID prefixes every message id; it must be unique per run (message
	// ids are remembered by the stream for its duplicate window).
	RunID string
	// Attempts is how often a message is tried before the run fails; 0
	// means 5. Retries reuse the message id.
	Attempts int
	// Probes, when set, publishes freshness probes beside the load.
	Probes *Probes
}

func (c Config) perMessage() int {
	if c.PerMessage <= 0 {
		return 100
	}
	return c.PerMessage
}

func (c Config) maxWait() time.Duration {
	if c.MaxWait <= 0 {
		return 50 * time.Millisecond
	}
	return c.MaxWait
}

func (c Config) attempts() int {
	if c.Attempts <= 0 {
		return 5
	}
	return c.Attempts
}

// Validate reports every problem at once; it does not modify c.
func (c Config) Validate() error {
	var errs []error
	if len(c.Formats) == 0 {
		errs = append(errs, errors.New("publish: no format to publish"))
	}
	for f, w := range c.Formats {
		if _, err := gen.New(f, gen.Options{}); err != nil {
			errs = append(errs, fmt.Errorf("publish: %w", err))
		}
		if w <= 0 {
			errs = append(errs, fmt.Errorf("publish: weight of %s is %v: must be positive", f, w))
		}
	}
	if c.Malformed < 0 || c.Malformed >= 1 {
		errs = append(errs, fmt.Errorf("publish: malformed share %v must be in [0, 1)", c.Malformed))
	}
	if c.Rate < 0 {
		errs = append(errs, fmt.Errorf("publish: rate %v must not be negative", c.Rate))
	}
	if c.Duration <= 0 && c.Count <= 0 {
		errs = append(errs, errors.New("publish: set a duration or a count of records"))
	}
	if c.Duration < 0 || c.Count < 0 {
		errs = append(errs, errors.New("publish: duration and count must not be negative"))
	}
	if len(c.Senders) == 0 {
		errs = append(errs, errors.New("publish: no sender"))
	}
	for i, s := range c.Senders {
		if _, ok := s.(AsyncSender); c.Async && !ok {
			errs = append(errs, fmt.Errorf("publish: sender %d cannot publish asynchronously", i))
		}
	}
	if c.MaxMessageBytes < 0 {
		errs = append(errs, fmt.Errorf("publish: max message bytes %d must not be negative", c.MaxMessageBytes))
	}
	if c.MaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("publish: max in flight %d must not be negative", c.MaxInFlight))
	}
	if c.MaxInFlight > 0 && c.Done == nil {
		errs = append(errs, errors.New("publish: a bound on records in flight needs a Done function"))
	}
	if c.RunID == "" {
		errs = append(errs, errors.New("publish: empty run id"))
	}
	if c.Probes != nil {
		if err := c.Probes.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Counters are the live totals of a run, safe to read while it goes on.
type Counters struct {
	// Records and Messages acknowledged by the stream (sent, when
	// publishing asynchronously), probes included; Bytes of their payloads.
	Records, Messages, Bytes atomic.Uint64
	// Malformed records among Records.
	Malformed atomic.Uint64
	// Retries of publishes that failed and were tried again.
	Retries atomic.Uint64
	// HeldNanos sums the time publishers waited for MaxInFlight.
	HeldNanos atomic.Int64

	// formats counts Records per format; Run creates it before publishing.
	formats map[string]*atomic.Uint64
}

// Format returns the records of one format acknowledged so far.
func (c *Counters) Format(format string) uint64 {
	if n := c.formats[format]; n != nil {
		return n.Load()
	}
	return 0
}

func (c *Counters) add(format string, records uint64) {
	c.Records.Add(records)
	c.formats[format].Add(records)
}

// Result is what a run published: the truth a loss check compares
// ClickHouse with.
type Result struct {
	// Started is when publishing began, Stopped when the last
	// acknowledgement arrived.
	Started, Stopped time.Time
	// Formats holds each format's tally (probes included).
	Formats map[string]*Tally
	// GenTime sums the time spent inside the generators (wall time of Next
	// calls: an upper bound of the load generator's own CPU time).
	GenTime time.Duration
	// Held sums the time publishers waited for MaxInFlight.
	Held time.Duration
	// Retries counts publishes tried again.
	Retries uint64
	// Probes lists every probe published.
	Probes []ProbeSent
}

// Total returns the sum of every format's tally.
func (r *Result) Total() Tally {
	var t Tally
	for _, f := range r.FormatNames() {
		t.add(r.Formats[f])
	}
	return t
}

// FormatNames returns the formats of the result, sorted.
func (r *Result) FormatNames() []string {
	out := make([]string, 0, len(r.Formats))
	for f := range r.Formats {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// Run publishes until the duration or count is reached or ctx ends, then
// waits for every acknowledgement. live, when not nil, is updated as
// messages are acknowledged. On error (a message failed every attempt, or
// ctx ended) the result covers what was acknowledged so far.
func Run(ctx context.Context, cfg Config, live *Counters) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if live == nil {
		live = &Counters{}
	}
	live.formats = map[string]*atomic.Uint64{}
	for f := range cfg.Formats {
		live.formats[f] = &atomic.Uint64{}
	}
	if cfg.Probes != nil {
		for _, f := range cfg.Probes.Formats {
			if live.formats[f] == nil {
				live.formats[f] = &atomic.Uint64{}
			}
		}
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if cfg.Duration > 0 {
		var stop context.CancelFunc
		runCtx, stop = context.WithTimeoutCause(runCtx, cfg.Duration, errComplete)
		defer stop()
	}
	res := &Result{Started: time.Now(), Formats: map[string]*Tally{}}
	workers := make([]*worker, len(cfg.Senders))
	var wg sync.WaitGroup
	errs := make([]error, len(workers)+1)
	for i := range workers {
		quota := int64(0)
		if cfg.Count > 0 {
			n := int64(len(workers))
			quota = cfg.Count / n
			if int64(i) < cfg.Count%n {
				quota++
			}
		}
		w, err := newWorker(&cfg, i, quota, live, res.Started)
		if err != nil {
			return nil, err
		}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.run(runCtx, ctx); err != nil {
				errs[i] = err
				cancel(err)
			}
		}()
	}
	var probes *probeRun
	probesDone := make(chan struct{})
	if cfg.Probes != nil {
		probes = newProbeRun(cfg.Probes, cfg.RunID, cfg.attempts(), live)
		go func() {
			defer close(probesDone)
			if err := probes.run(runCtx, ctx); err != nil {
				errs[len(workers)] = err
				cancel(err)
			}
		}()
	} else {
		close(probesDone)
	}
	wg.Wait()
	// The publishers are done (their count, the duration, or a failure):
	// the probes stop too.
	cancel(errComplete)
	<-probesDone
	res.Stopped = time.Now()
	for _, w := range workers {
		for f, t := range w.tally {
			if res.Formats[f] == nil {
				res.Formats[f] = &Tally{}
			}
			res.Formats[f].add(t)
		}
		res.GenTime += w.genTime
	}
	if probes != nil {
		for f, t := range probes.tally {
			if res.Formats[f] == nil {
				res.Formats[f] = &Tally{}
			}
			res.Formats[f].add(t)
		}
		res.Probes = probes.sent
	}
	res.Held = time.Duration(live.HeldNanos.Load())
	res.Retries = live.Retries.Load()
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, nil
}

// errComplete ends a run that reached its duration or count; it is not a
// failure.
var errComplete = errors.New("publishing complete")

// stopped reports whether ctx ended because the run is complete rather than
// failed or cancelled from outside.
func stopped(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errComplete)
}
