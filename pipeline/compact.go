package pipeline

import (
	"context"
	"sync"
	"time"
)

// compaction removes the markers that collected journal records leave
// behind (ingest.Journal.Compact), in the background and for the whole
// pipeline, one compaction at a time.
//
// Compact watches the whole shared bucket until it has seen every key, and
// that lasts as long as the other sources (and processes) keep writing to
// it. Run inline in a source's writer, it held that source's commits, and
// with them its consumption, for up to 20 s: in `tapline loadtest --rate
// 20000` goroutine dumps showed two writers waiting in the watch while their
// consumers' deliveries stopped, the CPU idle, and freshness p99 went from
// about 1 s to 9-20 s. So no writer waits for it.
type compaction struct {
	mu      sync.Mutex
	ctx     context.Context // Run's: cancelled when the runners are done
	deleted int             // records collected since the last compaction that succeeded
	last    time.Time       // when that compaction finished
	running bool
	wg      sync.WaitGroup
}

// collected counts n journal records deleted by a writer and starts a
// compaction when none runs and compactEvery records, or any record for
// longer than a minute, are waiting for one. It never blocks on the
// compaction itself.
func (p *Pipeline) collected(n int) {
	c := &p.compaction
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deleted += n
	if c.running || c.ctx == nil || c.ctx.Err() != nil || c.deleted == 0 ||
		c.deleted < compactEvery && time.Since(c.last) <= time.Minute {
		return
	}
	c.running = true
	ctx, done := c.ctx, c.deleted
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		err := p.compact(ctx)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.running = false
		if err != nil {
			if ctx.Err() == nil {
				p.log.Warn("journal compaction failed; it is tried again after the next collection", "err", err)
			}
			return
		}
		c.deleted -= done
		c.last = time.Now()
	}()
}

// compact runs one compaction: Journal.Compact, or the tests' stand-in.
func (p *Pipeline) compact(ctx context.Context) error {
	if p.cfg.compact != nil {
		return p.cfg.compact(ctx)
	}
	return p.journal.Compact(ctx)
}
