package loadtest

import (
	"sync"
	"time"

	"github.com/tapline/tapline/loadtest/report"
	"github.com/tapline/tapline/pipeline"
)

// phaseClock collects the live pipeline's commit phases
// (pipeline.Config.ObservePhase) by source.
type phaseClock struct {
	mu sync.Mutex
	ms map[string]map[pipeline.Phase][]float64
}

// observe records one phase of one batch of source; safe for concurrent
// use.
func (c *phaseClock) observe(source string, ph pipeline.Phase, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ms == nil {
		c.ms = map[string]map[pipeline.Phase][]float64{}
	}
	if c.ms[source] == nil {
		c.ms[source] = map[pipeline.Phase][]float64{}
	}
	c.ms[source][ph] = append(c.ms[source][ph], ms(d))
}

// phases returns each phase's batches and percentiles, in the order a
// batch passes them, for source ("" for all sources together); nil when
// no batch of it was committed.
func (c *phaseClock) phases(source string) []report.CommitPhase {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []report.CommitPhase
	for _, ph := range pipeline.Phases {
		var v []float64
		for src, by := range c.ms {
			if source == "" || src == source {
				v = append(v, by[ph]...)
			}
		}
		s := report.Sorted(v)
		if len(s) == 0 {
			continue
		}
		out = append(out, report.CommitPhase{Phase: string(ph), Batches: len(s),
			P50Ms: report.Percentile(s, 0.5), P90Ms: report.Percentile(s, 0.9), P99Ms: report.Percentile(s, 0.99), MaxMs: s[len(s)-1]})
	}
	return out
}
