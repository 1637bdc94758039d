package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/schema"
)

// runner runs one source: a reader goroutine that decodes into batches and
// a writer goroutine that journals, inserts and acknowledges them in order.
type runner struct {
	p      *Pipeline
	src    Source
	tables []*schema.Table
	mem    memory.Allocator
	stats  stats

	// building batch (reader goroutine only)
	out     decode.Output
	rejects int // records of the batch in hand sent to the dead-letter stream
	msgs    []*ingest.Msg
	seqs    []uint64
	bytes   int
	opened  time.Time
	// openPending is the stream's messages still waiting when the batch's
	// first message was delivered (see backlogDone).
	openPending uint64

	// shared between reader and writer
	mu       sync.Mutex
	inflight map[uint64]*ingest.Msg // messages in hand (filling, sealed or being written), not yet acknowledged
	// held are the journal records this process works on (journaled or
	// adopted, not yet committed): the keep-alive renews their leases.
	held map[string]ingest.JournalEntry
	// lastAlive is when the keep-alive last started a round that
	// completed: every message in hand was marked in progress since.
	lastAlive time.Time
	// index holds every process's journal records of the consumer.
	index *ingest.JournalIndex
	// committed holds every sequence committed by this process (and those
	// journaled as committed when it started). A redelivery can be buffered
	// in the client before the ack of its first delivery reached the server,
	// and be handed over long after the journal record was collected: this
	// set, not the journal, decides that it needs no work.
	committed seqSet

	// decodeMu serialises the source's decoder (not safe for concurrent
	// use) between the reader and a writer replaying an adopted batch.
	decodeMu  sync.Mutex
	slowReads int          // reads of journaled messages left to time out (tests)
	commits   atomic.Int64 // batches taken by the writers (tests' crash point)

	// The reader's time building, waiting and blocked, in nanoseconds
	// (Stats.ReadBuilding, ReadWaiting, ReadBlocked).
	readBuilding, readWaiting, readBlocked atomic.Int64
}

// batch is a sealed batch on its way to ClickHouse.
type batch struct {
	msgs    []*ingest.Msg
	recs    []arrow.Record // per table; nil when the table got no rows
	journal ingest.BatchRecord
	records int
	rejects int
	sealed  time.Time // handed to the writers (PhaseQueued starts)
}

// rows counts the batch's rows over all tables.
func (b *batch) rows() int {
	n := 0
	for _, rec := range b.recs {
		if rec != nil {
			n += int(rec.NumRows())
		}
	}
	return n
}

func newRunner(p *Pipeline, s Source) *runner {
	r := &runner{p: p, src: s, tables: s.Decoder.Tables(), mem: p.mem, inflight: map[uint64]*ingest.Msg{}, held: map[string]ingest.JournalEntry{}, committed: seqSet{maxRanges: 1 << 16}, slowReads: p.cfg.slowReads}
	r.out.Builders = make([]*schema.Builder, len(r.tables))
	for i, t := range r.tables {
		r.out.Builders[i] = t.NewBuilder(r.mem)
	}
	return r
}

func (r *runner) run(ctx context.Context) error {
	defer func() {
		for _, b := range r.out.Builders {
			b.Release()
		}
	}()
	// A NATS cluster electing a leader does not answer for a while: wait.
	if err := r.retry(ctx, "journal watch", nil, func() (bool, error) {
		err := r.watchJournal(ctx)
		return ingest.Temporary(err), err
	}); err != nil {
		return err
	}
	defer r.index.Stop()
	stopKeepAlive := make(chan struct{})
	keepAliveDone := make(chan struct{})
	defer func() {
		close(stopKeepAlive)
		<-keepAliveDone
	}()
	go func() {
		defer close(keepAliveDone)
		r.keepAlive(stopKeepAlive)
	}()
	// Finish what earlier starts of this instance left in the journal, and
	// what dead processes left, before any new message is read.
	if err := r.sweep(ctx, true); err != nil {
		return err
	}
	// Unbuffered: while a writer inserts one batch, the reader fills the
	// next and holds it until a writer takes it. A buffered batch more
	// would not insert sooner (the writers are the slower side, or the
	// reader is and the channel is empty anyway) but would hold a third
	// batch of payloads and Arrow buffers per source in memory.
	batches := make(chan *batch)
	// The writers keep going when ctx ends: they commit the batches in hand.
	// Several insert at once (Config.Inserters); the first also adopts
	// lapsed journal records and cleans the journal up.
	wctx, wcancel := drainContext(ctx, r.p.cfg.shutdownTimeout())
	defer wcancel()
	n := r.p.cfg.inserters()
	if r.src.InOrder || decode.InOrder(r.src.Decoder) {
		n = 1
	}
	werrs := make([]error, n)
	writerFailed := make(chan struct{})
	var failOnce sync.Once
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if werrs[i] = r.writer(wctx, batches, i == 0); werrs[i] != nil {
				failOnce.Do(func() { close(writerFailed) })
			}
		}()
	}

	readErr := r.read(ctx, batches, writerFailed)
	close(batches)
	wg.Wait()
	r.src.Consumer.Stop()
	werr := errors.Join(werrs...)
	if werr != nil && ctx.Err() != nil && wctx.Err() != nil {
		r.p.log.Error("drain timed out; uncommitted batches are left for the next run", "source", r.src.Name, "err", werr)
		return ErrDrainIncomplete
	}
	if werr != nil {
		return werr
	}
	return readErr
}

// keepAlive tells the server every sixth of the ack wait that each message
// in hand is in progress, from its fetch to its ack: while a batch fills,
// waits, is journaled, inserted (however slowly) or retried, none of its
// messages is redelivered to another process, which would insert it under
// a token of its own. It renews the leases of the journal records in hand
// as well.
func (r *runner) keepAlive(stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-stop
		cancel()
	}()
	t := time.NewTicker(max(r.src.Consumer.AckWait()/6, 100*time.Millisecond))
	defer t.Stop()
	var held []*ingest.Msg
	for {
		began := time.Now()
		r.mu.Lock()
		held = held[:0]
		for _, m := range r.inflight {
			held = append(held, m)
		}
		r.mu.Unlock()
		for _, m := range held {
			if !r.p.cfg.noInProgress {
				_ = m.InProgress() // an error means it was acked meanwhile
			}
		}
		r.mu.Lock()
		r.lastAlive = began
		r.mu.Unlock()
		r.renewLeases(ctx)
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// read pulls, decodes and seals batches until ctx ends or the writer fails.
// The batch in hand is sealed and handed over when ctx ends (drain).
func (r *runner) read(ctx context.Context, batches chan<- *batch, writerFailed <-chan struct{}) error {
	cfg := r.p.cfg
	for {
		select {
		case <-writerFailed:
			return nil // a writer failed; run reports its error
		default:
		}
		if ctx.Err() != nil {
			return r.sealAndSend(batches, writerFailed, SealStop)
		}
		wait := cfg.maxAge()
		if len(r.msgs) > 0 {
			wait = time.Until(r.opened.Add(cfg.maxAge()))
			if wait <= 0 {
				r.sealAndSend(batches, writerFailed, SealAge)
				continue
			}
		}
		t := time.Now()
		m, err := r.src.Consumer.Next(ctx, wait)
		r.readWaiting.Add(int64(time.Since(t)))
		if errors.Is(err, ingest.ErrNoMessage) || errors.Is(err, context.Canceled) {
			continue
		}
		if err != nil {
			r.p.log.Warn("fetch failed, retrying", "source", r.src.Name, "err", err)
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
			}
			continue
		}
		if cfg.holdRedelivered && m.Delivered > 1 {
			cfg.holdRedelivered = false
			r.holdUntilCollected(ctx, m.Seq)
		}
		if r.alreadyHandled(m) {
			continue
		}
		t = time.Now()
		err = r.add(ctx, m)
		r.readBuilding.Add(int64(time.Since(t)))
		if err != nil {
			return err
		}
		switch rows := r.rows(); {
		case rows >= cfg.maxRows():
			r.sealAndSend(batches, writerFailed, SealRows)
		case r.bytes >= cfg.maxBytes():
			r.sealAndSend(batches, writerFailed, SealBytes)
		case r.backlogDone(m, rows):
			r.sealAndSend(batches, writerFailed, SealCaughtUp)
		}
	}
}

// holdUntilCollected waits until the journal record holding seq has been
// in the index and gone from it again (Config.holdRedelivered), for at most
// a minute.
func (r *runner) holdUntilCollected(ctx context.Context, seq uint64) {
	seen := false
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(10 * time.Millisecond) {
		_, ok := r.index.Find(seq)
		if seen && !ok {
			return
		}
		seen = seen || ok
	}
}

// backlogDone reports whether the batch in hand should close because the
// consumer caught up with a backlog (Config.MaxAge): m, just added, was the
// last message waiting; every message of the batch was already waiting in
// the stream when its first one came (a backlog, not a live trickle, whose
// batches keep closing by age so that inserts stay few); and the batch
// holds at least an eighth of the bounds.
func (r *runner) backlogDone(m *ingest.Msg, rows int) bool {
	cfg := r.p.cfg
	return m.Pending == 0 && r.openPending+1 >= uint64(len(r.msgs)) && (rows >= cfg.maxRows()/8 || r.bytes >= cfg.maxBytes()/8)
}

func (r *runner) rows() int {
	n := 0
	for _, b := range r.out.Builders {
		n += b.Rows()
	}
	return n
}

// add decodes one message into the batch in hand and dead-letters its bad
// records (before the message can be acknowledged).
func (r *runner) add(ctx context.Context, m *ingest.Msg) error {
	data := m.Data()
	before, rejBefore := r.out.Records, len(r.out.Rejects)
	r.decode(data, m.Subject(), &r.out)
	if err := r.deadLetter(ctx, m.Subject(), m.Seq, data, r.out.Rejects[rejBefore:]); err != nil {
		return err
	}
	accepted, rejected := r.out.Records-before, len(r.out.Rejects)-rejBefore
	r.out.Rejects = r.out.Rejects[:rejBefore] // the batch keeps no reject bytes
	r.rejects += rejected
	m.DropData() // the batch holds rows; the payload is in the stream for a replay
	if len(r.msgs) == 0 {
		r.opened, r.openPending = time.Now(), m.Pending
	}
	r.msgs = append(r.msgs, m)
	r.seqs = append(r.seqs, m.Seq)
	r.bytes += len(data)
	r.mu.Lock()
	r.inflight[m.Seq] = m
	r.mu.Unlock()
	r.stats.update(func(s *Stats) {
		s.Messages++
		s.Records += uint64(accepted)
		s.Rejected += uint64(rejected)
	})
	return nil
}

// decode runs the source's decoder on one payload.
func (r *runner) decode(data []byte, subject string, out *decode.Output) {
	r.decodeMu.Lock()
	r.src.Decoder.Decode(data, decode.Meta{Subject: subject}, out)
	r.decodeMu.Unlock()
}

// deadLetter publishes rejects, retrying while the stream is unavailable:
// a record may not be acknowledged before its dead letter is stored.
func (r *runner) deadLetter(ctx context.Context, subject string, seq uint64, data []byte, rejects []decode.Reject) error {
	for i, rj := range rejects {
		dl := ingest.DeadLetter{Source: r.src.Name, Subject: subject, Stream: r.src.Consumer.Stream(), Seq: seq, Index: i, Line: rj.Line, Reason: rj.Reason, Data: data[rj.Start:rj.End]}
		if err := r.retry(ctx, "dead-letter publish", nil, func() (bool, error) {
			err := r.p.dlq.Publish(ctx, dl)
			return err != nil, err
		}); err != nil {
			return err
		}
	}
	return nil
}

// sealAndSend closes the batch in hand (if any) for the reason why,
// counted in Stats.Sealed, and hands it to the writer; when the writer is
// gone the batch is dropped unacknowledged (its messages are redelivered to
// the next run).
func (r *runner) sealAndSend(batches chan<- *batch, writerFailed <-chan struct{}, why Seal) error {
	if len(r.msgs) == 0 {
		return nil
	}
	r.stats.update(func(s *Stats) { s.Sealed[why]++ })
	sealing := time.Now()
	b := &batch{msgs: r.msgs, records: r.out.Records, rejects: r.rejects, recs: make([]arrow.Record, len(r.tables))}
	for i, bl := range r.out.Builders {
		rec := bl.NewRecord()
		schema.ReserveLike(bl, rec)
		if rec.NumRows() == 0 {
			rec.Release()
			continue
		}
		b.recs[i] = rec
	}
	ranges := ingest.Ranges(r.seqs)
	b.journal = ingest.BatchRecord{
		Stream:  r.src.Consumer.Stream(),
		Durable: r.src.Consumer.Durable(),
		Ranges:  ranges,
	}
	b.journal.Token = Token(b.journal)
	r.msgs, r.seqs, r.bytes, r.out.Records, r.rejects = nil, nil, 0, 0, 0
	sealed := time.Now()
	b.sealed = sealed
	r.readBuilding.Add(int64(sealed.Sub(sealing)))
	select {
	case batches <- b:
	case <-writerFailed:
		b.release()
	}
	r.readBlocked.Add(int64(time.Since(sealed)))
	return nil
}

// Token is the deduplication token of a journaled batch: stream, consumer
// and the first and last stream sequence. Batches never share a sequence
// (a sequence in a journaled batch is never decoded into another), so the
// token names one set of records; replaying the batch reproduces it.
// Each table's insert appends ":" and the table name, so that views fed by
// two tables of one batch never see one token twice.
func Token(j ingest.BatchRecord) string {
	return fmt.Sprintf("tapline:%s:%s:%d-%d", j.Stream, j.Durable, j.First(), j.Last())
}

func (b *batch) release() {
	for _, rec := range b.recs {
		if rec != nil {
			rec.Release()
		}
	}
}
