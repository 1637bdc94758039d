package publish

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/tapline/tapline/app"
	"github.com/tapline/tapline/gen"
	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/ingest/decode"
)

// worker is one publisher: its generators, its sender and its partly
// filled messages. Only its own goroutine touches it until Run collects it.
type worker struct {
	cfg     *Config
	id      int
	quota   int64 // records to publish; 0 means until the context ends
	live    *Counters
	sender  Sender
	async   AsyncSender // set when publishing asynchronously
	gens    []*source
	total   float64 // sum of weights
	bufs    map[string]*message
	doc     message // scratch for documents
	tally   map[string]*Tally
	genTime time.Duration
	rec     gen.Record
	msgSeq  uint64
	msgID   []byte
	pace    pacer
}

// source is one format's generator and its smooth weighted round-robin
// state.
type source struct {
	format          string
	g               gen.Generator
	line            bool
	weight, current float64
}

// message is a message being filled with records of one subject, and the
// truth about them.
type message struct {
	format, subject string
	data            []byte
	n               int
	since           time.Time
	t               Tally
	// id is the message id, fixed at the first attempt so that every
	// retry of the message carries it.
	id string
}

// lineFormat reports whether a format carries one record per line (several
// records per message); the others are documents, one per message. The
// format registry says which.
func lineFormat(format string) bool { return app.Framing(format) == decode.Lines }

func newWorker(cfg *Config, id int, quota int64, live *Counters, start time.Time) (*worker, error) {
	w := &worker{cfg: cfg, id: id, quota: quota, live: live, sender: cfg.Senders[id], bufs: map[string]*message{}, tally: map[string]*Tally{}}
	if cfg.Async {
		w.async = cfg.Senders[id].(AsyncSender)
	}
	names := make([]string, 0, len(cfg.Formats))
	for f := range cfg.Formats {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		g, err := gen.New(f, gen.Options{Seed: cfg.Seed + uint64(id)*0x9E3779B97F4A7C15, Start: cfg.Start, Step: cfg.Step, Malformed: cfg.Malformed})
		if err != nil {
			return nil, err
		}
		w.gens = append(w.gens, &source{format: f, g: g, line: lineFormat(f), weight: cfg.Formats[f]})
		w.total += cfg.Formats[f]
		w.tally[f] = &Tally{}
	}
	if cfg.Rate > 0 {
		w.pace = pacer{start: start, perSec: cfg.Rate / float64(len(cfg.Senders))}
	}
	return w, nil
}

// run publishes the worker's share. runCtx ends the generating (duration
// reached, another worker failed, or the caller cancelled); sends run under
// ctx (the caller's), so that a message being sent when the duration ends
// is still acknowledged, and what is buffered then is sent too.
func (w *worker) run(runCtx, ctx context.Context) error {
	for n := int64(0); w.quota == 0 || n < w.quota; n++ {
		if runCtx.Err() != nil {
			break
		}
		if err := w.pace.wait(runCtx, n, w.cfg.maxWait()/2, func() error { return w.flushOld(ctx) }); err != nil {
			if runCtx.Err() != nil {
				break
			}
			return err
		}
		s := w.pick()
		if err := w.hold(runCtx, ctx, s.format); err != nil {
			if runCtx.Err() != nil {
				break
			}
			return err
		}
		t0 := time.Now()
		s.g.Next(&w.rec)
		w.genTime += time.Since(t0)
		if err := w.add(ctx, s); err != nil {
			return err
		}
		if err := w.flushOld(ctx); err != nil {
			return err
		}
	}
	if runCtx.Err() != nil && !stopped(runCtx) {
		// Cancelled by the caller, or another publisher failed (it says why).
		return ctx.Err()
	}
	// Complete: send what is buffered, in a stable order.
	subjects := make([]string, 0, len(w.bufs))
	for s := range w.bufs {
		subjects = append(subjects, s)
	}
	sort.Strings(subjects)
	for _, s := range subjects {
		if err := w.flush(ctx, w.bufs[s]); err != nil {
			return err
		}
	}
	if w.async != nil {
		err := w.async.Flush(ctx)
		// The sender tries stalled and unacknowledged publishes again itself.
		if st, ok := w.async.(interface{ Stats() ingest.PublishStats }); ok {
			w.live.Retries.Add(st.Stats().Retries)
		}
		return err
	}
	return nil
}

// pick chooses the next format by smooth weighted round robin: over any
// stretch each format gets its share of records, interleaved, and the
// sequence is the same on every run.
func (w *worker) pick() *source {
	var best *source
	for _, s := range w.gens {
		s.current += s.weight
		if best == nil || s.current > best.current {
			best = s
		}
	}
	best.current -= w.total
	return best
}

// add appends the generated record to its subject's message (line formats)
// or sends it as its own message (documents).
func (w *worker) add(ctx context.Context, s *source) error {
	r := &w.rec
	if !s.line {
		m := &w.doc
		m.format, m.subject, m.n = s.format, r.Subject, 1
		m.data = append(m.data[:0], r.Data...)
		m.t.count(r)
		return w.flush(ctx, m)
	}
	m := w.bufs[r.Subject]
	if m == nil {
		m = &message{format: s.format, subject: r.Subject}
		w.bufs[r.Subject] = m
	}
	if max := w.cfg.MaxMessageBytes; max > 0 && m.n > 0 && len(m.data)+len(r.Data)+1 > max {
		if err := w.flush(ctx, m); err != nil {
			return err
		}
	}
	if m.n == 0 {
		m.since = time.Now()
	}
	m.data = append(m.data, r.Data...)
	m.data = append(m.data, '\n')
	m.n++
	m.t.count(r)
	if m.n >= w.cfg.perMessage() {
		return w.flush(ctx, m)
	}
	return nil
}

// flushOld sends messages that waited MaxWait for more records.
func (w *worker) flushOld(ctx context.Context) error {
	if len(w.bufs) == 0 {
		return nil
	}
	now := time.Now()
	for _, m := range w.bufs {
		if m.n > 0 && now.Sub(m.since) >= w.cfg.maxWait() {
			if err := w.flush(ctx, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush sends m (when it holds records) and, once acknowledged, counts its
// records.
func (w *worker) flush(ctx context.Context, m *message) error {
	if m.n == 0 {
		return nil
	}
	if m.id == "" {
		w.msgSeq++
		w.msgID = append(w.msgID[:0], w.cfg.RunID...)
		w.msgID = append(w.msgID, '-')
		w.msgID = strconv.AppendInt(w.msgID, int64(w.id), 10)
		w.msgID = append(w.msgID, '-')
		w.msgID = strconv.AppendUint(w.msgID, w.msgSeq, 10)
		m.id = string(w.msgID)
	}
	if w.async != nil {
		// The stream may keep data until it acknowledges: a copy of its own.
		if err := w.async.PublishAsync(ctx, m.subject, bytes.Clone(m.data), m.id); err != nil {
			return err
		}
	} else if err := send(ctx, w.sender, m.subject, m.data, m.id, w.cfg.attempts(), w.live); err != nil {
		return err
	}
	m.t.Messages, m.t.Bytes = 1, uint64(len(m.data))
	w.tally[m.format].add(&m.t)
	w.live.add(m.format, m.t.Records)
	w.live.Malformed.Add(m.t.Malformed)
	w.live.Messages.Add(1)
	w.live.Bytes.Add(uint64(len(m.data)))
	m.data, m.n, m.t, m.id = m.data[:0], 0, Tally{Subjects: clearMap(m.t.Subjects), Keys: clearKeys(m.t.Keys)}, ""
	return nil
}

func clearMap(m map[string]uint64) map[string]uint64 {
	clear(m)
	return m
}

func clearKeys(m map[string]KeySum) map[string]KeySum {
	clear(m)
	return m
}

// hold waits while format's share of MaxInFlight records are published
// and not yet done, until runCtx ends; messages that waited too long are
// sent under ctx.
func (w *worker) hold(runCtx, ctx context.Context, format string) error {
	if w.cfg.MaxInFlight <= 0 {
		return nil
	}
	bound := max(int64(float64(w.cfg.MaxInFlight)*w.cfg.Formats[format]/w.total), int64(w.cfg.perMessage()))
	var began time.Time
	for {
		inFlight := int64(w.live.Format(format)) - int64(w.cfg.Done(format))
		if inFlight < bound {
			if !began.IsZero() {
				w.live.HeldNanos.Add(int64(time.Since(began)))
			}
			return nil
		}
		if began.IsZero() {
			began = time.Now()
		}
		if err := w.flushOld(ctx); err != nil {
			return err
		}
		if err := sleep(runCtx, time.Millisecond); err != nil {
			w.live.HeldNanos.Add(int64(time.Since(began)))
			return err
		}
	}
}

// send publishes one message, trying again with the same message id (the
// stream drops a second copy), 100 ms doubling to 5 s apart, until it is
// acknowledged or attempts run out.
func send(ctx context.Context, s Sender, subject string, data []byte, msgID string, attempts int, live *Counters) error {
	attempt := 0
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		attempt++
		return struct{}{}, s.Publish(ctx, subject, data, msgID)
	}, backoff.WithBackOff(&backoff.ExponentialBackOff{InitialInterval: 100 * time.Millisecond, Multiplier: 2, MaxInterval: 5 * time.Second}),
		backoff.WithMaxTries(uint(attempts)), backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(func(error, time.Duration) { live.Retries.Add(1) }))
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return fmt.Errorf("publish to %s failed %d times (message id %s), giving up: %w", subject, attempt, msgID, err)
}

// pacer spaces records to perSec, measured from start: record n is due at
// start + n/perSec. A publisher that fell behind (the stream or the bound
// on records in flight held it) catches up at full speed.
type pacer struct {
	start  time.Time
	perSec float64
}

// wait sleeps until record n is due, in slices of at most slice, calling
// between slices (to send messages that waited too long). A zero pacer
// never waits.
func (p *pacer) wait(ctx context.Context, n int64, slice time.Duration, between func() error) error {
	if p.perSec <= 0 {
		return nil
	}
	due := p.start.Add(time.Duration(float64(n) / p.perSec * float64(time.Second)))
	for {
		d := time.Until(due)
		if d <= 0 {
			return nil
		}
		if d > slice {
			d = slice
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
		if err := between(); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
