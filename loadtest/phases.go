package loadtest

import (
	"sync"
	"time"

	"github.com/tapline/tapline/loadtest/report"
	"github.com/tapline/tapline/pipeline"
)

// phaseClock collects the live pipeline's commit phases
// (pipeline.Config.ObservePhase), all sources together.
type phaseClock struct {
	mu sync.Mutex
	ms map[pipeline.Phase][]float64
}

// observe records one phase of one batch; safe for concurrent use.
func (c *phaseClock) observe(_ string, ph pipeline.Phase, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ms == nil {
		c.ms = map[pipeline.Phase][]float64{}
	}
	c.ms[ph] = append(c.ms[ph], ms(d))
}

// phases returns each phase's batches and percentiles, in the order a
// batch passes them; nil when no batch was committed.
func (c *phaseClock) phases() []report.CommitPhase {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []report.CommitPhase
	for _, ph := range pipeline.Phases {
		s := report.Sorted(c.ms[ph])
		if len(s) == 0 {
			continue
		}
		out = append(out, report.CommitPhase{Phase: string(ph), Batches: len(s),
			P50Ms: report.Percentile(s, 0.5), P90Ms: report.Percentile(s, 0.9), P99Ms: report.Percentile(s, 0.99), MaxMs: s[len(s)-1]})
	}
	return out
}
