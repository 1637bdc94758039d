package baseline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/pipeline"
	"github.com/tapline/tapline/sink"
)

// DrainConfig says what the tapline drain runs with: the same pieces as
// `tapline run`, on another consumer and another database.
type DrainConfig struct {
	// Broker is the connection the drain consumes on.
	Broker *ingest.Broker
	// Durable is the consumer each stream is drained with.
	Durable string
	// Target is a database with tapline's schema (not tapline's own: the
	// drain writes every record again).
	Target sink.Target
	// DLQ receives the malformed records again. Dead letters carry a
	// message id (stream, sequence, index), so the dead-letter stream drops
	// the copies that come within its duplicate window of the originals.
	DLQ *ingest.DeadLetters
	// Pipeline is tapline's configuration (batch bounds).
	Pipeline pipeline.Config
	// NewDecoder returns a format's decoder.
	NewDecoder func(format string) (decode.Decoder, error)
}

// Drained is what draining one format's stream measured.
type Drained struct {
	// Format is the drained stream's format.
	Format string
	// Records committed and Rejected (dead-lettered), Batches committed.
	Records, Rejected, Batches uint64
	// Counted records (committed and rejected) were done Elapsed after the
	// start. When no batch waited for its age (Sealed), they are all of
	// them, to the last commit: the last batch closed as the consumer caught
	// up (pipeline.SealCaughtUp). Otherwise the last batch, too small to
	// close that way, closed when it was MaxAge old (the stream ran dry), a
	// wait that is not ingestion: Counted and Elapsed are those of every
	// batch but the last, unless there was only one batch, whose wait
	// Elapsed then includes (Tail).
	Counted uint64
	Elapsed time.Duration
	Tail    bool
	// Sealed counts the drain's batches by why the reader closed them.
	Sealed map[pipeline.Seal]uint64
	// Reader is the drain's reader time over the whole run (the final wait
	// for more messages included): building, waiting and blocked, as in
	// pipeline.Stats.
	Reader ReaderTime
}

// ReaderTime is where a pipeline reader's time went (pipeline.Stats'
// ReadBuilding, ReadWaiting and ReadBlocked).
type ReaderTime struct {
	Building, Waiting, Blocked time.Duration
}

// Drain runs tapline's pipeline on each stream, one format after the
// other, until everything cfg.Durable had not acknowledged is committed and
// acknowledged.
func Drain(ctx context.Context, cfg DrainConfig, streams []Stream) ([]Drained, error) {
	journal, err := cfg.Broker.Journal(ctx, ingest.DefaultJournalBucket)
	if err != nil {
		return nil, err
	}
	var out []Drained
	for _, s := range streams {
		d, err := drainOne(ctx, cfg, journal, s)
		out = append(out, d)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

type commit struct {
	at      time.Time
	records uint64
}

func drainOne(ctx context.Context, cfg DrainConfig, journal *ingest.Journal, s Stream) (Drained, error) {
	d := Drained{Format: s.Format}
	dec, err := cfg.NewDecoder(s.Format)
	if err != nil {
		return d, err
	}
	start := time.Now()
	c, err := cfg.Broker.Consumer(ctx, ingest.ConsumerSpec{Stream: s.Stream, Durable: cfg.Durable})
	if err != nil {
		return d, err
	}
	total, err := backlog(ctx, c)
	if err != nil || total == 0 {
		c.Stop()
		return d, err
	}
	// Every commit, in the order the inserters finish them (two batches
	// may commit within a poll's interval).
	var (
		mu      sync.Mutex
		commits []commit
		sum     uint64
	)
	pcfg := cfg.Pipeline
	pcfg.ObserveCommit = func(_ string, records, deadLettered int) {
		mu.Lock()
		sum += uint64(records + deadLettered)
		commits = append(commits, commit{at: time.Now(), records: sum})
		mu.Unlock()
	}
	p, err := pipeline.New(pcfg, cfg.Target, journal, cfg.DLQ, []pipeline.Source{{Name: s.Format, Decoder: dec, Consumer: c}})
	if err != nil {
		c.Stop()
		return d, err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(runCtx) }()

	var last pipeline.Stats
	tick := time.NewTicker(100 * time.Millisecond) // the consumer's state, asked of the server
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			stop()
			<-runErr
			return d, ctx.Err()
		case err := <-runErr:
			if err == nil {
				err = errors.New("the pipeline stopped early")
			}
			return d, fmt.Errorf("baseline: drain %s: %w", s.Format, err)
		case <-tick.C:
		}
		st, err := c.State(ctx)
		if err != nil {
			continue // asked again next tick
		}
		done = st.Pending == 0 && st.AckPending == 0
	}
	stop()
	if err := <-runErr; err != nil {
		return d, fmt.Errorf("baseline: drain %s: %w", s.Format, err)
	}
	last = p.Stats()[0]
	d.Records, d.Rejected, d.Batches = last.RecordsCommitted, last.Rejected, last.Batches
	d.Reader = ReaderTime{Building: last.ReadBuilding, Waiting: last.ReadWaiting, Blocked: last.ReadBlocked}
	d.Sealed = last.Sealed
	mu.Lock()
	defer mu.Unlock()
	switch n := len(commits); {
	case n == 0:
	case d.Sealed[pipeline.SealAge] == 0:
		d.Counted, d.Elapsed = commits[n-1].records, commits[n-1].at.Sub(start)
	case n >= 2:
		d.Counted, d.Elapsed = commits[n-2].records, commits[n-2].at.Sub(start)
	case n == 1:
		d.Counted, d.Elapsed, d.Tail = commits[0].records, commits[0].at.Sub(start), true
	}
	return d, nil
}
