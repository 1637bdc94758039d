package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tapline/tapline/app"
	"github.com/tapline/tapline/gen"
	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/sql"
)

// demoMarker marks a directory the demo created, so that it may wipe it.
const demoMarker = ".tapline-demo"

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s settings
	var records, others int
	var seed uint64
	var malformed float64
	fs := s.newFlags("demo", "demo [flags]", groupData|groupPipeline, stderr)
	fs.IntVar(&records, "records", 200_000, "SOFARPC digest and stat lines to publish")
	fs.IntVar(&others, "records-per-format", 20_000, "records to publish for every other format")
	fs.Uint64Var(&seed, "seed", 1, "generator seed (the same seed publishes the same records)")
	fs.Float64Var(&malformed, "malformed", 0.001, "share of deliberately malformed records (they end in the dead-letter stream)")
	// The demo's own default directory, so it never wipes a real one.
	s.DataDir = app.DemoDataDir
	fs.Lookup("data-dir").DefValue = s.DataDir
	var formats []string
	if err := s.parse(fs, args, func() error {
		s.HTTP = ""
		var errs []error
		var err error
		formats, err = s.validateRun(stderr)
		errs = append(errs, err)
		if records < 1 {
			errs = append(errs, fmt.Errorf("--records %d must be positive", records))
		}
		if others < 0 {
			errs = append(errs, fmt.Errorf("--records-per-format %d must not be negative", others))
		}
		if malformed < 0 || malformed >= 1 {
			errs = append(errs, fmt.Errorf("--malformed %v must be in [0, 1)", malformed))
		}
		return errors.Join(errs...)
	}); err != nil {
		return err
	}
	cfg, err := app.EnsureEngine(ctx, s.appConfig(stderr), stderr)
	if err != nil {
		return err
	}
	if err := freshDir(s.DataDir, demoMarker, "the demo"); err != nil {
		return err
	}
	began := time.Now()
	st, err := openStack(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(stdout, "tapline demo\n  %s\n", st.Describe())

	runCtx, stopRun := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- st.Pipeline.Run(runCtx) }()

	// Publish every format's generated records.
	pub, err := st.Broker.Publisher(8192, nil)
	if err != nil {
		stopRun()
		return err
	}
	want := map[string]int{}
	var published atomic.Int64
	total := 0
	for _, f := range formats {
		n := others
		if f == "sofarpc" {
			n = records
		}
		if _, err := gen.New(f, gen.Options{}); err != nil {
			continue // a format without a generator is consumed but not demoed
		}
		want[f] = n
		total += n
	}
	pubDone := make(chan error, 1)
	go func() {
		pubDone <- publishGenerated(ctx, pub, want, seed, malformed, &published)
	}()

	// Progress until every record is committed or dead-lettered.
	tty := isTerminal(stderr)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	pubErr := error(nil)
	pubFinished := false
	lastPrint := time.Time{}
	for {
		select {
		case <-ctx.Done():
			stopRun()
			<-runErr
			return ctx.Err()
		case err := <-runErr:
			stopRun()
			if err == nil {
				err = errors.New("pipeline stopped early")
			}
			return err
		case pubErr = <-pubDone:
			pubFinished = true
			if pubErr != nil {
				stopRun()
				<-runErr
				return pubErr
			}
		case <-tick.C:
		}
		var done uint64
		for _, x := range st.Pipeline.Stats() {
			done += x.RecordsCommitted + x.Rejected
		}
		line := fmt.Sprintf("published %d/%d records, committed or dead-lettered %d (%.1fs)", published.Load(), total, done, time.Since(began).Seconds())
		if tty {
			fmt.Fprintf(stderr, "\r\033[K%s", line)
		} else if time.Since(lastPrint) >= 2*time.Second {
			fmt.Fprintln(stderr, line)
			lastPrint = time.Now()
		}
		if pubFinished && done >= uint64(total) {
			if tty {
				fmt.Fprintln(stderr)
			}
			break
		}
	}
	stopRun()
	if err := <-runErr; err != nil {
		return err
	}
	elapsed := time.Since(began)

	fmt.Fprintf(stdout, "\nAll %d records committed in %.1fs. Per source:\n", total, elapsed.Seconds())
	st.PrintStats(stdout)

	fmt.Fprintln(stdout, "\nSOFARPC per service and method, from the materialized view sofarpc_latency_1m:")
	out, err := st.Target.Query(ctx, sql.Query("sofarpc_by_method"), "PrettyCompactMonoBlock", nil)
	if err != nil {
		return err
	}
	stdout.Write(out)
	if err := verifyDemo(ctx, st, stdout); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nEvery source, from the cross-source view table latency_1m (top 5 services per source and kind):")
	out, err = st.Target.Query(ctx, sql.Query("latency_by_source"), "PrettyCompactMonoBlock", nil)
	if err != nil {
		return err
	}
	stdout.Write(out)
	abs, _ := filepath.Abs(s.DataDir)
	fmt.Fprintf(stdout, "\nThe data lives in %s (ClickHouse tables under clickhouse/, NATS streams under nats/).\n", abs)
	fmt.Fprintf(stdout, "Query it, for example the same numbers from the raw table:\n")
	fmt.Fprintf(stdout, "  go run ./cmd/tapline sql --data-dir %s \"%s\"\n", s.DataDir, rawCheckQuery)
	fmt.Fprintf(stdout, "  go run ./cmd/tapline sql --data-dir %s \"SELECT source, kind, service, sum(requests) AS n, round(sum(errors)/n, 4) AS error_rate, round(quantilesTDigestMerge(0.5,0.9,0.95,0.99,0.999)(latency_quantiles)[4], 1) AS p99_ms FROM latency_1m GROUP BY ALL ORDER BY source, service\"\n", s.DataDir)
	return nil
}

// rawCheckQuery recomputes the demo's table from the raw rows.
const rawCheckQuery = "SELECT service, method, side, count() AS requests, round(quantileExact(0.5)(latency_ms), 1) AS p50_ms, round(quantileExact(0.9)(latency_ms), 1) AS p90_ms, round(quantileExact(0.99)(latency_ms), 1) AS p99_ms, round(countIf(is_error) / count(), 4) AS error_rate FROM sofarpc_digest GROUP BY service, method, side ORDER BY service, method, side"

// verifyDemo compares the view with the raw table: request counts and error
// rates must be equal. The view's percentiles are t-digest estimates, whose
// error is in rank, not in value (between a 250 ms bulk and 3 s timeouts a
// tiny rank error is a large value error), so each estimate is checked by
// the share of raw rows at or below it: its rank error is how far p lies
// outside [share below, share at or below].
func verifyDemo(ctx context.Context, st *app.Stack, w io.Writer) error {
	view, err := st.Target.Query(ctx, sql.Query("sofarpc_by_method"), "TabSeparated", nil)
	if err != nil {
		return err
	}
	raw, err := st.Target.Query(ctx, rawCheckQuery, "TabSeparated", nil)
	if err != nil {
		return err
	}
	vl := strings.Split(strings.TrimSpace(string(view)), "\n")
	rl := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(vl) != len(rl) {
		return fmt.Errorf("view has %d groups, raw table %d", len(vl), len(rl))
	}
	for i := range vl {
		v, r := strings.Split(vl[i], "\t"), strings.Split(rl[i], "\t")
		if v[0] != r[0] || v[1] != r[1] || v[2] != r[2] || v[3] != r[3] || v[7] != r[7] {
			return fmt.Errorf("view and raw table disagree:\n  view %v\n  raw  %v", v, r)
		}
	}
	ranks, err := st.Target.Query(ctx, rankCheckQuery, "TabSeparated", nil)
	if err != nil {
		return err
	}
	worst := 0.0
	for _, line := range strings.Split(strings.TrimSpace(string(ranks)), "\n") {
		f := strings.Split(line, "\t")
		n, _ := strconv.ParseFloat(f[0], 64)
		for k, p := range []float64{0.5, 0.9, 0.99} {
			lo, _ := strconv.ParseFloat(f[1+2*k], 64)
			hi, _ := strconv.ParseFloat(f[2+2*k], 64)
			lo, hi = lo/n, hi/n
			d := 0.0
			if p < lo {
				d = lo - p
			} else if p > hi {
				d = p - hi
			}
			worst = max(worst, d)
		}
	}
	fmt.Fprintf(w, "Checked against the raw table: request counts and error rates equal in all %d groups; every p50/p90/p99 estimate within %.2f percentage points of its exact rank.\n", len(vl), worst*100)
	return nil
}

// rankCheckQuery counts, per group, the raw rows below and at or below the
// view's p50, p90 and p99 estimates.
const rankCheckQuery = `WITH v AS (
    SELECT service, method, side, quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles) AS q
    FROM sofarpc_latency_1m GROUP BY service, method, side)
SELECT count(),
    countIf(d.latency_ms < v.q[1]), countIf(d.latency_ms <= v.q[1]),
    countIf(d.latency_ms < v.q[2]), countIf(d.latency_ms <= v.q[2]),
    countIf(d.latency_ms < v.q[4]), countIf(d.latency_ms <= v.q[4])
FROM sofarpc_digest AS d INNER JOIN v ON d.service = v.service AND d.method = v.method AND d.side = v.side
GROUP BY d.service, d.method, d.side`

// publishGenerated publishes n records of each format, several records per
// message for line formats.
func publishGenerated(ctx context.Context, pub *ingest.Publisher, want map[string]int, seed uint64, malformed float64, published *atomic.Int64) error {
	formats := make([]string, 0, len(want))
	for f := range want {
		formats = append(formats, f)
	}
	sort.Strings(formats)
	start := time.Now().UTC().Add(-10 * time.Minute)
	for _, f := range formats {
		g, err := gen.New(f, gen.Options{Seed: seed, Start: start, Step: 10 * time.Minute / time.Duration(max(want[f], 1)), Malformed: malformed})
		if err != nil {
			return err
		}
		lineFormat := app.Framing(f) == decode.Lines
		bufs := map[string]*bytes.Buffer{}
		counts := map[string]int{}
		flush := func(subj string) error {
			if counts[subj] == 0 {
				return nil
			}
			data := bytes.Clone(bufs[subj].Bytes())
			bufs[subj].Reset()
			counts[subj] = 0
			return pub.PublishAsync(ctx, subj, data, "")
		}
		var r gen.Record
		for i := 0; i < want[f]; i++ {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			g.Next(&r)
			b := bufs[r.Subject]
			if b == nil {
				b = &bytes.Buffer{}
				bufs[r.Subject] = b
			}
			b.Write(r.Data)
			if lineFormat {
				b.WriteByte('\n')
			}
			counts[r.Subject]++
			published.Add(1)
			if !lineFormat || counts[r.Subject] >= 500 {
				if err := flush(r.Subject); err != nil {
					return err
				}
			}
		}
		for subj := range bufs {
			if err := flush(subj); err != nil {
				return err
			}
		}
	}
	return pub.Flush(ctx)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
