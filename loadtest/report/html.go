package report

import (
	"fmt"
	"html"
	"sort"
	"strings"
)

// HTML renders the report as one self-contained page: summary figures,
// charts as inline SVG, and the checks. It loads nothing from anywhere.
func HTML(r *Report) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	esc := html.EscapeString
	w(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>tapline loadtest: %s</title><style>%s</style></head><body>`, esc(r.Verdict.Text), css)
	verdictClass := "bad"
	if r.Verdict.ZeroLoss && r.Verdict.ZeroDuplicates {
		verdictClass = "good"
	}
	w(`<h1>tapline loadtest <span class="%s">%s</span></h1>`, verdictClass, esc(r.Verdict.Text))
	w(`<p class="sub"><code>%s</code><br>%s · %d CPUs%s · %s memory · NATS %s · ClickHouse %s</p>`,
		esc(r.Command), r.Started.UTC().Format("2006-01-02 15:04 UTC"), r.Machine.CPUs, esc(paren(r.Machine.CPUModel)), IBytes(r.Machine.MemoryBytes), esc(r.Setup.NATS), esc(r.Setup.ClickHouse))

	l, f, bl := r.Live, r.Freshness, r.Baselines
	w(`<div class="cards">`)
	card := func(label, value, detail string) {
		w(`<div class="card"><div class="label">%s</div><div class="value">%s</div><div class="detail">%s</div></div>`, esc(label), esc(value), esc(detail))
	}
	card("published", SI(l.PublishedPerSec)+" rec/s", fmt.Sprintf("%s records, %s messages, %s in %.1fs", SI(float64(l.Records)), SI(float64(l.Messages)), IBytes(l.Bytes), l.PublishSec))
	card("committed, end to end", SI(l.RowsPerSec)+" rows/s", fmt.Sprintf("%s records/s over %.1fs; best interval %s rows/s", SI(l.RecordsPerSec), l.EndToEndSec, SI(l.PeakRowsPerSec)))
	card("freshness p50 / p99", Ms(f.P50Ms)+" / "+Ms(f.P99Ms), fmt.Sprintf("publish → ingested_at, %d probes, max %s", f.Found, Ms(f.MaxMs)))
	if bl.Broker != nil {
		card("tapline ÷ broker", fmt.Sprintf("%.2f", bl.BrokerRatio), fmt.Sprintf("%s vs %s records/s (consume + ack only)", SI(l.RecordsPerSec), SI(bl.Broker.RecordsPerSec)))
	}
	if bl.Engine != nil && bl.Drain != nil {
		card("tapline ÷ engine JSON", fmt.Sprintf("%.2f", bl.EngineRatio), fmt.Sprintf("%s vs %s lines/s (JSONEachRow, same lines)", SI(bl.Drain.PerSec), SI(bl.Engine.PerSec)))
	}
	if bl.Drain != nil && bl.DrainBroker > 0 {
		card("drain ÷ broker", fmt.Sprintf("%.2f", bl.DrainRatio), fmt.Sprintf("%s vs %s records/s (the JSON lines' backlog)", SI(bl.Drain.PerSec), SI(bl.DrainBroker)))
	}
	card("CPU, whole process", fmt.Sprintf("%.0f%%", l.CPUAvgPercent), fmt.Sprintf("of one core on average, peak %.0f%%", l.CPUPeakPercent))
	if len(l.CPUByPart) > 0 {
		card("CPU, tapline itself", fmt.Sprintf("%.0f%%", l.TaplineCPUPercent), "of one core: all but the load generator and the measurement")
	}
	card("resident memory", IBytes(l.RSSAvgBytes), "average; peak "+IBytes(l.RSSPeakBytes))
	if l.EngineInsertedRows > 0 {
		card("rows merged per row inserted", fmt.Sprintf("%.2f", l.MergedPerInserted), "the engine's system.events; by minute "+RatioList(l.MergedPerInsertedByMinute))
	}
	if len(l.MergeTimeByTable) > 0 {
		top := l.MergeTimeByTable[0]
		card("most merge time", top.Table, fmt.Sprintf("%.0f%% of the engine's merge time (%.1fs, %d merges seen); then %s", top.Percent, top.Seconds, top.Merges, MergeTimeList(l.MergeTimeByTable[1:], 3)))
	}
	if l.ActivePartsMax > 0 {
		card("active parts", fmt.Sprintf("%d", l.ActivePartsEnd), fmt.Sprintf("at the end; at most %d, by minute %s; at most %d in one partition", l.ActivePartsMax, CountList(l.ActivePartsByMinute), l.PartitionPartsMax))
	}
	for _, p := range l.CommitPhases {
		if p.Phase == "insert" { // pipeline.PhaseInsert
			card("insert per batch", Ms(p.P50Ms), fmt.Sprintf("p50; p99 %s. Commit phases p50/p99: %s", Ms(p.P99Ms), PhaseList(l.CommitPhases)))
		}
	}
	if l.EngineInsertedParts > 0 {
		card("parts written per second", fmt.Sprintf("%.1f", l.PartsPerSecond), fmt.Sprintf("by inserts, views' tables included; %d in all", l.EngineInsertedParts))
	}
	w(`</div>`)

	// Throughput and lag over time.
	var tRate, pub, com, rowsRate, tAll, lag, inflight, cpu, mcpu, rss []float64
	for i, p := range r.Series {
		tAll = append(tAll, p.T)
		lag = append(lag, float64(p.Lag))
		inflight = append(inflight, float64(p.InFlight))
		cpu = append(cpu, p.CPUPercent)
		mcpu = append(mcpu, p.MachineCPUPercent)
		rss = append(rss, float64(p.RSS)/(1<<20))
		if i == 0 {
			continue
		}
		q := r.Series[i-1]
		dt := p.T - q.T
		if dt < r.Setup.SampleEveryMs/2000 {
			continue // the last sample comes early: a rate over a sliver is noise
		}
		tRate = append(tRate, p.T)
		pub = append(pub, float64(p.Published-q.Published)/dt)
		com = append(com, float64(p.Committed+p.DeadLetters-q.Committed-q.DeadLetters)/dt)
		rowsRate = append(rowsRate, float64(p.Rows-q.Rows)/dt)
	}
	w(`<h2>Throughput and lag</h2>`)
	w(`%s`, LineChart{Title: "Throughput per sample interval", XLabel: "seconds since start", YLabel: "per second", Series: []Series{
		{Name: "published records/s", X: tRate, Y: pub},
		{Name: "committed records/s", X: tRate, Y: com},
		{Name: "rows/s in ClickHouse", X: tRate, Y: rowsRate},
	}}.SVG())
	w(`%s`, LineChart{Title: "Lag: not yet acknowledged by tapline", XLabel: "seconds since start", YLabel: "count", Series: []Series{
		{Name: "consumer lag (messages)", X: tAll, Y: lag},
		{Name: "in flight (records)", X: tAll, Y: inflight},
	}}.SVG())

	// Freshness.
	w(`<h2>Freshness: publish to queryable</h2>`)
	byFormat := map[string]*Series{}
	var names []string
	for _, s := range f.Samples {
		sr := byFormat[s.Format]
		if sr == nil {
			sr = &Series{Name: s.Format, Dots: true}
			byFormat[s.Format] = sr
			names = append(names, s.Format)
		}
		sr.X = append(sr.X, s.T)
		sr.Y = append(sr.Y, s.LatencyMs)
	}
	sort.Strings(names)
	var scatter []Series
	for _, n := range names {
		scatter = append(scatter, *byFormat[n])
	}
	w(`%s`, LineChart{Title: "Probe latency by publish time", XLabel: "seconds since start (probe published)", YLabel: "latency", Series: scatter, YFormat: Ms}.SVG())
	var bars []Bar
	for i, x := range f.Formats {
		bars = append(bars, Bar{Label: x.Format + " p50", Value: x.P50Ms, Color: Palette[i%len(Palette)]})
		bars = append(bars, Bar{Label: x.Format + " p99", Value: x.P99Ms, Color: Palette[i%len(Palette)], Note: "(max " + Ms(x.MaxMs) + ")"})
	}
	bars = append(bars, Bar{Label: "all formats p50", Value: f.P50Ms, Color: "#111"}, Bar{Label: "all formats p99", Value: f.P99Ms, Color: "#111", Note: "(max " + Ms(f.MaxMs) + ")"})
	w(`%s`, BarChart{Title: "Latency percentiles per format", Bars: bars, Format: Ms}.SVG())

	// Baselines.
	if bl.Broker != nil || bl.Engine != nil {
		w(`<h2>Baselines: the same messages without tapline</h2>`)
		var bb []Bar
		if bl.Broker != nil {
			bb = append(bb, Bar{Label: "broker: consume + ack (records/s)", Value: bl.Broker.RecordsPerSec, Color: "#9ca3af"},
				Bar{Label: "tapline live, end to end (records/s)", Value: l.RecordsPerSec, Color: "#2563eb", Note: fmt.Sprintf("= %.2f × broker", bl.BrokerRatio)})
		}
		if bl.Engine != nil && bl.Drain != nil {
			bb = append(bb, Bar{Label: "engine JSONEachRow (lines/s)", Value: bl.Engine.PerSec, Color: "#9ca3af"},
				Bar{Label: "tapline drain, same lines (lines/s)", Value: bl.Drain.PerSec, Color: "#16a34a", Note: fmt.Sprintf("= %.2f × engine", bl.EngineRatio)})
		}
		w(`%s`, BarChart{Title: "Rates", Bars: bb}.SVG())
	}
	for _, s := range bl.Skipped {
		w(`<p class="note">Not measured: %s</p>`, esc(s))
	}

	// Resources.
	w(`<h2>CPU and memory of the tapline process</h2>`)
	if len(l.CPUByPart) > 0 {
		var parts []Bar
		for i, p := range l.CPUByPart {
			parts = append(parts, Bar{Label: p.Part, Value: p.Percent, Color: Palette[i%len(Palette)]})
		}
		w(`%s`, BarChart{Title: "CPU by part over the live phase (percent of one core)", Bars: parts, Format: func(v float64) string { return fmt.Sprintf("%.0f%%", v) }}.SVG())
	}
	w(`%s`, LineChart{Title: "CPU (percent of one core)", XLabel: "seconds since start", YLabel: "%", Series: []Series{{Name: "this process", X: tAll, Y: cpu}, {Name: "whole machine", X: tAll, Y: mcpu, Color: "#9ca3af"}}, Height: 220}.SVG())
	w(`%s`, LineChart{Title: "Resident memory (MiB)", XLabel: "seconds since start", YLabel: "MiB", Series: []Series{{Name: "RSS", X: tAll, Y: rss, Color: Palette[4]}}, Height: 220}.SVG())

	// Checks.
	w(`<h2>Loss and duplication checks</h2><table><tr><th>check</th><th>compares</th><th>published</th><th>found</th><th></th></tr>`)
	for _, c := range r.Checks {
		mark, class := "ok", "good"
		if !c.OK {
			mark, class = "FAILED", "bad"
		}
		w(`<tr><td>%s</td><td>%s</td><td class="num">%d</td><td class="num">%d</td><td class="%s">%s</td></tr>`, esc(c.Name), esc(c.What), c.Want, c.Got, class, mark)
	}
	w(`</table>`)
	if len(r.Notes) > 0 {
		w(`<h2>Notes</h2><ul>`)
		for _, n := range r.Notes {
			w(`<li>%s</li>`, esc(n))
		}
		w(`</ul>`)
	}
	w(`<p class="note">All figures, the time series and the probes: report.json. Summary: report.md.</p></body></html>`)
	return b.String()
}

const css = `body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:920px;color:#111;background:#f8fafc}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.sub{color:#555;margin:0 0 16px}code{font-size:12px}
.good{color:#15803d}.bad{color:#b91c1c}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:10px}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:10px 12px}
.label{color:#555;font-size:12px;text-transform:uppercase;letter-spacing:.03em}.value{font-size:22px;font-weight:600;margin:2px 0}
.detail{color:#555;font-size:12px}
svg{display:block;margin:8px 0;border:1px solid #e5e7eb;border-radius:8px;background:#fff}
svg .title{font-weight:600;font-size:13px}svg .tick,svg .legend{font-size:11px;fill:#333}svg .label{font-size:11px;fill:#555}
svg .grid{stroke:#eee}svg .axis{stroke:#999}
table{border-collapse:collapse;background:#fff;width:100%}td,th{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;font-size:13px}.num{text-align:right}
.note{color:#555}`
