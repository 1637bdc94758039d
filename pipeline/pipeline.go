// Package pipeline is tapline's run loop: for each source, a JetStream
// consumer feeds a decoder, decoded rows collect in a batch, the batch is
// journaled, inserted into ClickHouse with its deduplication token, and only
// then are its messages acknowledged. It owns no format: decoders, the
// ClickHouse target and the JetStream handles are handed in.
//
// Guarantees, each covered by a test against the embedded NATS server and
// the embedded ClickHouse engine:
//   - No message is acknowledged before every row it carries is committed.
//   - A record that cannot be decoded is published to the dead-letter stream
//     with its reason before its message is acknowledged; for every message,
//     records written plus records dead-lettered equals records in.
//   - A batch is journaled (its exact sequences and token) before it is
//     inserted. After a crash the journaled batches are replayed with the
//     same records and token before new work, so ClickHouse counts each
//     batch once in the tables and in the materialized views.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/schema"
	"github.com/tapline/tapline/sink"
)

// Config bounds batches and retries. The zero value gives the defaults.
type Config struct {
	// MaxRows closes a batch when its tables hold this many rows; 0 means 100000.
	MaxRows int
	// MaxBytes closes a batch when its messages carry this many payload
	// bytes; 0 means 32 MiB.
	MaxBytes int
	// MaxAge closes a batch this long after its first message; 0 means 1s.
	// A batch also closes before its age when it was read from a backlog
	// (all its messages were waiting in the stream when its first one was
	// delivered), the consumer has caught up (the message just read was the
	// last one waiting) and it holds at least an eighth of MaxRows or
	// MaxBytes: the end of a backlog is queryable at once, while a live
	// stream's batches (read as they come) still close by age, so that
	// inserts stay few.
	MaxAge time.Duration
	// Inserters is how many batches of one source are inserted at once
	// (each journaled, committed and acknowledged on its own, so their
	// order does not matter); 0 means 2. A source that must commit in order
	// (Source.InOrder) has one. A second inserter lets one batch insert
	// while the other waits for the engine: draining 1M SOFARPC lines went
	// from 248-255k to 283-304k rows/s (three alternating rounds) at 187%
	// instead of 160% CPU; live runs did not change beyond the spread and
	// peaked 0.1 GiB higher (more batches in hand, see InFlight). With 2,
	// the SIGKILL crash test passed 34 runs and the scale-out test 9 (one
	// run in three of the crash test once counted a batch twice, before
	// the exactly-once fixes of the scale-out work).
	Inserters int
	// RetryMin and RetryMax bound the backoff between attempts of an insert
	// that failed for a temporary reason; 0 means 200ms and 30s. Temporary
	// failures are retried until they succeed or the pipeline stops.
	RetryMin, RetryMax time.Duration
	// ShutdownTimeout bounds the drain once Run's context ends: batches in
	// hand not committed by then (ClickHouse away, say) are left
	// unacknowledged, for redelivery or journal replay, and Run returns
	// ErrDrainIncomplete. 0 means 30s.
	ShutdownTimeout time.Duration
	// Instance names this process among the processes sharing a durable
	// consumer (a host or pod name); its journal records carry it. Batches
	// an earlier start of the same instance left are replayed at start-up
	// at once; those of other instances once their lease ran out (two ack
	// waits). Empty means the host name: processes on one host need
	// distinct names.
	Instance string
	// Logger receives progress and problems; nil discards them.
	Logger *slog.Logger
	// ObserveInsert, when set, is called after each committed insert of one
	// table with its duration (retries included); it must be cheap and
	// safe for concurrent use (the metrics' histogram).
	ObserveInsert func(source, table string, d time.Duration)
	// ObserveCommit, when set, is called once per committed batch, after
	// its messages were acknowledged, with the input records it committed
	// and dead-lettered. With several inserters the calls come in commit
	// order, possibly at once from different goroutines: it must be safe
	// for concurrent use.
	ObserveCommit func(source string, records, deadLettered int)
	// ObservePhase, when set, is called once per Phase of each batch this
	// process reads and commits (not for batches replayed from the
	// journal, nor for batches abandoned to another process), after its
	// messages were acknowledged and before Stats counts it, with the
	// phase's duration. Like
	// ObserveCommit it must be cheap and safe for concurrent use.
	ObservePhase func(source string, phase Phase, d time.Duration)

	// crashAfterInsert, set by tests, makes the writer stop dead after the
	// n-th batch's inserts (n counted from 1), before it is marked committed
	// and acknowledged: a crash between insert and ack.
	crashAfterInsert int
	// noInProgress, set by tests, stops the keep-alive from marking
	// messages in progress (leases are still renewed): a process whose
	// messages go to another process while it works on their batch.
	noInProgress bool
	// slowReads, set by tests, makes the first n reads of journaled
	// messages time out (a real read with an expired deadline).
	slowReads int
	// keepJournal, set by tests, keeps journal records after their batches
	// are fully acknowledged.
	keepJournal bool
	// missCommits, set by tests, keeps other processes' committed records
	// seen by the journal watch out of the committed set: a watch that fell
	// behind and skipped their committed writes.
	missCommits bool
	// compact, set by tests, stands in for the journal's compaction.
	compact func(context.Context) error
	// holdRedelivered, set by tests, makes the reader hold the first
	// redelivered message it gets until the journal record that holds it
	// is gone from the index: a redelivery that sat in the client's buffer.
	holdRedelivered bool
	// afterClear, set by tests, is called with a batch's record right
	// after this process cleared it; the clear's answer then counts as
	// lost: the record is read again as it is after the call.
	afterClear func(ingest.JournalEntry)
}

func (c Config) maxRows() int {
	if c.MaxRows <= 0 {
		return 100_000
	}
	return c.MaxRows
}

func (c Config) maxBytes() int {
	if c.MaxBytes <= 0 {
		return 32 << 20
	}
	return c.MaxBytes
}

func (c Config) maxAge() time.Duration {
	if c.MaxAge <= 0 {
		return time.Second
	}
	return c.MaxAge
}

func (c Config) inserters() int {
	if c.Inserters <= 0 {
		return 2
	}
	return c.Inserters
}

// InFlight is how many batches of one source a pipeline with c may hold at
// once: one filling, one queued, and one per inserter. A consumer's
// MaxAckPending must exceed the messages of that many batches.
func (c Config) InFlight() int { return c.inserters() + 2 }

func (c Config) shutdownTimeout() time.Duration {
	if c.ShutdownTimeout <= 0 {
		return 30 * time.Second
	}
	return c.ShutdownTimeout
}

// ErrDrainIncomplete is returned by Run when it stopped with batches not
// committed within Config.ShutdownTimeout: their messages are left
// unacknowledged and nothing is lost (they are redelivered, or replayed from
// the journal, by the next run).
var ErrDrainIncomplete = errors.New("stopped before every batch in hand was committed: its messages are left unacknowledged for the next run (nothing is lost)")

// drainContext returns a context that keeps going when ctx ends, for at
// most timeout more: the time the drain of a stopping run may take.
func drainContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(timeout, cancel)
		context.AfterFunc(dctx, func() { t.Stop() })
	})
	return dctx, func() {
		stop()
		cancel()
	}
}

func (c Config) retryMin() time.Duration {
	if c.RetryMin <= 0 {
		return 200 * time.Millisecond
	}
	return c.RetryMin
}

func (c Config) retryMax() time.Duration {
	if c.RetryMax <= 0 {
		return 30 * time.Second
	}
	return c.RetryMax
}

// Validate reports every problem at once; it does not modify c.
func (c Config) Validate() error {
	var errs []error
	if c.MaxRows < 0 {
		errs = append(errs, fmt.Errorf("pipeline: --batch-rows %d must not be negative", c.MaxRows))
	}
	if c.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("pipeline: --batch-bytes %d must not be negative", c.MaxBytes))
	}
	if c.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("pipeline: --batch-age %v must not be negative", c.MaxAge))
	}
	if c.Inserters < 0 || c.Inserters > 16 {
		errs = append(errs, fmt.Errorf("pipeline: --inserters %d must be between 1 and 16 (0 means 2)", c.Inserters))
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("pipeline: --shutdown-timeout %v must not be negative", c.ShutdownTimeout))
	}
	if c.RetryMin > 0 && c.RetryMax > 0 && c.RetryMin > c.RetryMax {
		errs = append(errs, fmt.Errorf("pipeline: retry minimum %v exceeds maximum %v", c.RetryMin, c.RetryMax))
	}
	return errors.Join(errs...)
}

// Source is one stream of one format: its consumer and decoder.
type Source struct {
	// Name is the source (format) name, used in dead-letter subjects and stats.
	Name     string
	Decoder  decode.Decoder
	Consumer *ingest.Consumer
	// InOrder makes the source insert one batch at a time, in stream
	// order, whatever Config.Inserters says: for formats whose views join
	// a batch's rows to rows of earlier batches. A decoder that says so
	// itself (decode.Ordered, as django's does) gets the same without it.
	InOrder bool
}

// Pipeline runs sources. Create it with New; Run it once.
type Pipeline struct {
	cfg     Config
	target  sink.Target
	journal *ingest.Journal
	dlq     *ingest.DeadLetters
	log     *slog.Logger
	owner   string // this process's journal owner name
	runners []*runner
	// mem is every runner's Arrow allocator: one Recycler, so that the
	// buffers kept for reuse are bounded for the process, not per source.
	mem *schema.Recycler
	// compaction removes the journal's delete markers for all runners.
	compaction compaction
}

// New checks the configuration and prepares one runner per source.
func New(cfg Config, target sink.Target, journal *ingest.Journal, dlq *ingest.DeadLetters, sources []Source) (*Pipeline, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if target == nil || journal == nil || dlq == nil || len(sources) == 0 {
		return nil, errors.New("BUG: pipeline.New needs a target, a journal, a dead-letter stream and at least one source")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	instance := cfg.Instance
	if instance == "" {
		if instance, _ = os.Hostname(); instance == "" {
			instance = "tapline"
		}
	}
	p := &Pipeline{cfg: cfg, target: target, journal: journal, dlq: dlq, log: log, owner: ingest.Owner(instance), mem: schema.NewRecycler(0)}
	for _, s := range sources {
		p.runners = append(p.runners, newRunner(p, s))
	}
	return p, nil
}

// Run replays journaled batches, then consumes until ctx is cancelled. On
// cancellation it stops fetching, commits and acknowledges the batch in
// hand within Config.ShutdownTimeout, and returns nil (or
// ErrDrainIncomplete when the time ran out first). It returns an error when a source cannot go on (a
// non-retryable insert failure such as a schema mismatch); the other sources
// are then stopped too, and unacknowledged messages wait for the next run.
func (p *Pipeline) Run(ctx context.Context) error {
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	p.compaction.mu.Lock()
	p.compaction.ctx = runCtx
	p.compaction.mu.Unlock()
	defer func() {
		cancel(nil)
		p.compaction.wg.Wait()
	}()
	var wg sync.WaitGroup
	errs := make([]error, len(p.runners))
	for i, r := range p.runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.run(runCtx); err != nil {
				errs[i] = fmt.Errorf("source %s: %w", r.src.Name, err)
				cancel(errs[i])
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Owner returns the name this process's journal records carry.
func (p *Pipeline) Owner() string { return p.owner }

// Stats returns a snapshot of every source's counters.
func (p *Pipeline) Stats() []Stats {
	out := make([]Stats, len(p.runners))
	for i, r := range p.runners {
		out[i] = r.stats.snapshot(r.src.Name)
		out[i].ReadBuilding = time.Duration(r.readBuilding.Load())
		out[i].ReadWaiting = time.Duration(r.readWaiting.Load())
		out[i].ReadBlocked = time.Duration(r.readBlocked.Load())
	}
	return out
}
