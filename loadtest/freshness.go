package loadtest

import (
	"context"
	"time"

	"github.com/tapline/tapline/loadtest/report"
)

// freshness finds the run's probes in ClickHouse and turns each into a
// latency: its row's ingested_at minus the time just before it was
// published. ingested_at is ClickHouse's clock and the publish time the
// loadtest's: the same clock with the embedded engine, a server's own clock
// otherwise (a skew between the machines shifts every latency by it).
func (r *run) freshness(ctx context.Context) (report.Freshness, error) {
	var f report.Freshness
	type key struct {
		format string
		n      uint64
	}
	landed := map[key]time.Time{}
	for _, format := range r.formats {
		found, err := r.maker.Find(ctx, r.env.Target, format)
		if err != nil {
			return f, err
		}
		for _, l := range found {
			landed[key{format, l.N}] = l.IngestedAt
		}
	}
	var all, acks []float64
	per := map[string][]float64{}
	perProbes := map[string]int{}
	for _, p := range r.pub.Probes {
		f.Probes++
		perProbes[p.Format]++
		acks = append(acks, ms(p.Acked.Sub(p.Published)))
		at, ok := landed[key{p.Format, p.N}]
		if !ok {
			continue
		}
		lat := ms(at.Sub(p.Published))
		all = append(all, lat)
		per[p.Format] = append(per[p.Format], lat)
		f.Samples = append(f.Samples, report.ProbePoint{T: p.Published.Sub(r.began).Seconds(), Format: p.Format, LatencyMs: lat})
	}
	f.Found = len(all)
	s := report.Sorted(all)
	f.P50Ms, f.P90Ms, f.P99Ms = report.Percentile(s, 0.5), report.Percentile(s, 0.9), report.Percentile(s, 0.99)
	if len(s) > 0 {
		f.MinMs, f.MaxMs = s[0], s[len(s)-1]
	}
	a := report.Sorted(acks)
	f.PublishAckP50Ms, f.PublishAckP99Ms = report.Percentile(a, 0.5), report.Percentile(a, 0.99)
	for _, format := range r.formats {
		s := report.Sorted(per[format])
		x := report.FormatFreshness{Format: format, Probes: perProbes[format], Found: len(s), P50Ms: report.Percentile(s, 0.5), P99Ms: report.Percentile(s, 0.99)}
		if len(s) > 0 {
			x.MaxMs = s[len(s)-1]
		}
		f.Formats = append(f.Formats, x)
	}
	return f, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
