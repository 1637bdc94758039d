package publish

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/tapline/tapline/loadtest/probe"
)

// Probes configures freshness probes: every Interval, one probe record of
// each format, each its own message, published synchronously with its own
// Sender (so probes never wait behind a publisher's partly filled messages;
// the Sender must be safe for concurrent use, as *ingest.Publisher is) and
// stamped with the time just before its publish call.
type Probes struct {
	// Maker writes the run's probes; Formats are the formats to probe.
	Maker   *probe.Maker
	Formats []string
	// Interval between rounds of probes; 0 means 100ms.
	Interval time.Duration
	// Sender publishes every probe (from one goroutine per format).
	Sender Sender
}

func (p *Probes) interval() time.Duration {
	if p.Interval <= 0 {
		return 100 * time.Millisecond
	}
	return p.Interval
}

func (p *Probes) validate() error {
	var errs []error
	if p.Maker == nil || p.Sender == nil {
		errs = append(errs, errors.New("publish: probes need a maker and a sender"))
	}
	for _, f := range p.Formats {
		if probe.Table(f) == "" {
			errs = append(errs, errors.New("publish: no probe for format "+f))
		}
	}
	return errors.Join(errs...)
}

// ProbeSent is one probe as published.
type ProbeSent struct {
	// Format and N (from 1, per format) name the probe, as probe.Landed does.
	Format string
	N      uint64
	// Published is the time just before the publish call (the time the
	// probe record carries), Acked when the stream acknowledged it.
	Published, Acked time.Time
}

type probeRun struct {
	cfg      *Probes
	runID    string
	attempts int
	live     *Counters
	tally    map[string]*Tally
	sent     []ProbeSent
}

func newProbeRun(cfg *Probes, run string, attempts int, live *Counters) *probeRun {
	p := &probeRun{cfg: cfg, runID: run, attempts: attempts, live: live, tally: map[string]*Tally{}}
	for _, f := range cfg.Formats {
		p.tally[f] = &Tally{Subjects: map[string]uint64{}}
	}
	return p
}

// run publishes probes until runCtx ends: one goroutine per format, so a
// format whose stream is backlogged (its publishes wait) does not hold back
// the others' probes. A probe being sent when runCtx ends is still sent
// under ctx.
func (p *probeRun) run(runCtx, ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(p.cfg.Formats))
	sent := make([][]ProbeSent, len(p.cfg.Formats))
	for i, f := range p.cfg.Formats {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent[i], errs[i] = p.format(runCtx, ctx, f, p.tally[f])
		}()
	}
	wg.Wait()
	for _, s := range sent {
		p.sent = append(p.sent, s...)
	}
	return errors.Join(errs...)
}

// format publishes one format's probes, one per interval (a probe whose
// publish takes longer than the interval delays the next; none is sent
// twice to catch up).
func (p *probeRun) format(runCtx, ctx context.Context, f string, t *Tally) ([]ProbeSent, error) {
	tick := time.NewTicker(p.cfg.interval())
	defer tick.Stop()
	var out []ProbeSent
	var buf []byte
	subject := p.cfg.Maker.Subject(f)
	for n := uint64(1); ; n++ {
		if runCtx.Err() != nil {
			return out, nil
		}
		at := time.Now()
		buf = p.cfg.Maker.Append(buf[:0], f, n, at)
		id := p.runID + "-probe-" + f + "-" + strconv.FormatUint(n, 10)
		if err := send(ctx, p.cfg.Sender, subject, buf, id, p.attempts, p.live); err != nil {
			return out, err
		}
		out = append(out, ProbeSent{Format: f, N: n, Published: at, Acked: time.Now()})
		t.Records++
		t.Valid++
		t.Probes++
		t.Messages++
		t.Bytes += uint64(len(buf))
		t.Subjects[subject]++
		p.live.add(f, 1)
		p.live.Messages.Add(1)
		p.live.Bytes.Add(uint64(len(buf)))
		select {
		case <-runCtx.Done():
			return out, nil
		case <-tick.C:
		}
	}
}
