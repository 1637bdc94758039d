// Package demo is `tapline demo`: it opens the whole stack (package app)
// in a directory of its own, publishes generated records of every format
// (package gen) through the embedded NATS, waits until every record is
// committed or dead-lettered, prints the latency and error-rate views, and
// checks them against the raw rows.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/tapline/tapline/app"
	"github.com/tapline/tapline/gen"
	"github.com/tapline/tapline/sql"
)

// Config is what the demo publishes and where it reports.
type Config struct {
	// App is the stack to open; its HTTP endpoint should be off.
	App app.Config
	// Records is the number of SOFARPC records, PerFormat that of every
	// other format.
	Records, PerFormat int
	// Seed seeds the generators (the same seed publishes the same records).
	Seed uint64
	// Malformed is the share (0..1) of deliberately malformed records.
	Malformed float64
	// Out receives the results; Progress the progress lines (InPlace: one
	// line rewritten, for a terminal). Both are required.
	Out, Progress io.Writer
	InPlace       bool
}

// publishWindow bounds the demo's messages awaiting acknowledgement.
const publishWindow = 8192

// Run runs the demo on a fresh stack and closes it. It returns an error
// when the pipeline stops early, a publish fails, or the views disagree
// with the raw table.
func Run(ctx context.Context, c Config) error {
	began := time.Now()
	st, err := app.Open(ctx, c.App)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(c.Out, "tapline demo\n  %s\n", st.Describe())

	runCtx, stopRun := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- st.Pipeline.Run(runCtx) }()

	// Publish every format's generated records.
	pub, err := st.Broker.Publisher(publishWindow, nil)
	if err != nil {
		stopRun()
		return err
	}
	want := map[string]int{}
	var published atomic.Int64
	total := 0
	for _, f := range st.Sources {
		n := c.PerFormat
		if f == "sofarpc" {
			n = c.Records
		}
		if _, err := gen.New(f, gen.Options{}); err != nil {
			continue // a format without a generator is consumed but not demoed
		}
		want[f] = n
		total += n
	}
	pubDone := make(chan error, 1)
	go func() {
		pubDone <- publishGenerated(ctx, pub, want, c.Seed, c.Malformed, &published)
	}()

	// Progress until every record is committed or dead-lettered.
	tty := c.InPlace
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
			fmt.Fprintf(c.Progress, "\r\033[K%s", line)
		} else if time.Since(lastPrint) >= 2*time.Second {
			fmt.Fprintln(c.Progress, line)
			lastPrint = time.Now()
		}
		if pubFinished && done >= uint64(total) {
			if tty {
				fmt.Fprintln(c.Progress)
			}
			break
		}
	}
	stopRun()
	if err := <-runErr; err != nil {
		return err
	}
	elapsed := time.Since(began)

	fmt.Fprintf(c.Out, "\nAll %d records committed in %.1fs. Per source:\n", total, elapsed.Seconds())
	st.PrintStats(c.Out)

	fmt.Fprintln(c.Out, "\nSOFARPC per service and method, from the materialized view sofarpc_latency_1m:")
	out, err := st.Target.Query(ctx, sql.Query("sofarpc_by_method"), "PrettyCompactMonoBlock", nil)
	if err != nil {
		return err
	}
	c.Out.Write(out)
	if err := verify(ctx, st, c.Out); err != nil {
		return err
	}
	fmt.Fprintln(c.Out, "\nEvery source, from the cross-source view table latency_1m (top 5 services per source and kind):")
	out, err = st.Target.Query(ctx, sql.Query("latency_by_source"), "PrettyCompactMonoBlock", nil)
	if err != nil {
		return err
	}
	c.Out.Write(out)
	abs, _ := filepath.Abs(c.App.DataDir)
	fmt.Fprintf(c.Out, "\nThe data lives in %s (ClickHouse tables under clickhouse/, NATS streams under nats/).\n", abs)
	fmt.Fprintf(c.Out, "Query it, for example the same numbers from the raw table:\n")
	fmt.Fprintf(c.Out, "  go run ./cmd/tapline sql --data-dir %s \"%s\"\n", c.App.DataDir, rawCheckQuery)
	fmt.Fprintf(c.Out, "  go run ./cmd/tapline sql --data-dir %s \"SELECT source, kind, service, sum(requests) AS n, round(sum(errors)/n, 4) AS error_rate, round(quantilesTDigestMerge(0.5,0.9,0.95,0.99,0.999)(latency_quantiles)[4], 1) AS p99_ms FROM latency_1m GROUP BY ALL ORDER BY source, service\"\n", c.App.DataDir)
	return nil
}
