package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/internal/syncbuf"
	"github.com/tapline/tapline/loadtest/report"
)

// TestLoadtestShortRunLosesNothing is the loadtest on the embedded defaults
// for two seconds: every published record lands exactly once (the verdict
// and every check), malformed records end as dead letters, the probes are
// found, both baselines run, and the report is written with its charts. It
// asserts no speed: this machine's speed is what the loadtest measures.
func TestLoadtestShortRunLosesNothing(t *testing.T) {
	data, reports := filepath.Join(t.TempDir(), "data"), t.TempDir()
	var out, errb bytes.Buffer
	code := realMain([]string{"loadtest", "--data-dir", data, "--report-dir", reports, "--duration", "2s",
		"--batch-age", "250ms", "--probe-interval", "50ms", "--sample-interval", "250ms", "--malformed", "0.01", "--quiet"}, &out, &errb)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	for _, want := range []string{"zero loss, zero duplicates", "tapline ÷ broker", "tapline ÷ engine", "freshness", "report.html"} {
		require.Contains(t, out.String(), want)
	}

	b, err := os.ReadFile(filepath.Join(reports, "report.json"))
	require.NoError(t, err)
	var r report.Report
	require.NoError(t, json.Unmarshal(b, &r))
	require.True(t, r.Verdict.ZeroLoss, r.Verdict.Text)
	require.True(t, r.Verdict.ZeroDuplicates, r.Verdict.Text)
	require.GreaterOrEqual(t, len(r.Checks), 20)
	for _, c := range r.Checks {
		require.True(t, c.OK, "%s: published %d, found %d", c.Name, c.Want, c.Got)
	}
	require.Len(t, r.Live.Formats, 5, "every format by default")
	for _, f := range r.Live.Formats {
		require.Positive(t, f.Valid, f.Format)
		require.Positive(t, f.Probes, f.Format)
		require.Equal(t, f.Valid, f.Committed, f.Format)
		require.Equal(t, f.Malformed, f.DeadLetters, f.Format)
	}
	require.Positive(t, r.Live.Malformed, "malformed records were published")
	require.Equal(t, r.Freshness.Probes, r.Freshness.Found, "every probe is found")
	require.Positive(t, r.Freshness.P50Ms)
	require.GreaterOrEqual(t, r.Freshness.P99Ms, r.Freshness.P50Ms)
	require.NotNil(t, r.Baselines.Broker)
	require.Equal(t, r.Live.Messages, r.Baselines.Broker.Messages, "the broker baseline reads the same messages")
	require.Positive(t, r.Baselines.BrokerRatio)
	require.NotNil(t, r.Baselines.Engine)
	require.NotNil(t, r.Baselines.Drain)
	require.Positive(t, r.Baselines.EngineRatio)
	require.NotEmpty(t, r.Series)
	require.Positive(t, r.Live.CPUSec)
	require.Positive(t, r.Live.RSSPeakBytes)
	// The engine's own counters: every row the run added to tapline's tables
	// was inserted, views' tables and pipeline_batches come on top.
	require.GreaterOrEqual(t, r.Live.EngineInsertedRows, r.Live.Rows, "the engine's InsertedRows over the live phase")
	require.NotEmpty(t, r.Live.MergedPerInsertedByMinute)
	// Parts written by inserts: over two seconds at a 250ms batch age each
	// of the five sources commits several batches, each a part in a table
	// and one in pipeline_batches, and the views add theirs.
	require.GreaterOrEqual(t, r.Live.EngineInsertedParts, uint64(2*5*2), "the engine's InsertedCompactParts and InsertedWideParts over the live phase")
	require.InDelta(t, float64(r.Live.EngineInsertedParts)/r.Series[len(r.Series)-1].T, r.Live.PartsPerSecond, 1e-9)
	require.Contains(t, out.String(), "parts written")
	// The engine's running merges were read every sample interval (the
	// query is the engine's to answer: a wrong column fails it here).
	require.Empty(t, r.Live.MergeTimeUnread)
	require.Positive(t, r.Live.MergeSampleSeconds)
	// Every source's reader counted its time, and so did the drain's.
	for _, f := range r.Live.Formats {
		require.NotNil(t, f.Reader, f.Format)
		require.Positive(t, f.Reader.BuildingSec, "%s: the live reader decoded", f.Format)
	}
	require.Positive(t, r.Baselines.Drain.Reader.BuildingSec, "the drain's reader decoded")
	require.Contains(t, out.String(), "rows merged per row inserted")
	parts := map[string]float64{}
	for _, p := range r.Live.CPUByPart {
		parts[p.Part] = p.Percent
	}
	require.Positive(t, parts["pipeline"], "%v", r.Live.CPUByPart)
	require.Positive(t, parts["ClickHouse engine threads"], "%v", r.Live.CPUByPart)
	require.Positive(t, parts["load generator"], "%v", r.Live.CPUByPart)
	// The embedded NATS server stores, delivers and takes the
	// acknowledgement of every message: its goroutines have their own part.
	require.Positive(t, parts["NATS server"], "%v", r.Live.CPUByPart)

	md, err := os.ReadFile(filepath.Join(reports, "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "## Loss and duplication checks")
	html, err := os.ReadFile(filepath.Join(reports, "report.html"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, strings.Count(string(html), "<svg"), 5, "charts")
	for _, load := range []string{"<script", "src=", "<link", "url(", "@import"} {
		require.False(t, strings.Contains(string(html), load), "self-contained: the page has %q", load)
	}

	// A second run empties the directory it made, not another one.
	other := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(other, "precious"), []byte("x"), 0o644))
	errb.Reset()
	require.Equal(t, exitUsage, realMain([]string{"loadtest", "--data-dir", other, "--duration", "1s", "--quiet"}, &out, &errb))
	require.Contains(t, errb.String(), "was not made by the loadtest")
	_, err = os.Stat(filepath.Join(other, "precious"))
	require.NoError(t, err)
}

func TestLoadtestReportsEveryConfigProblemAtOnce(t *testing.T) {
	var out, errb bytes.Buffer
	code := realMain([]string{"loadtest", "--mix", "sofarpc=2,nope=1,django=-1", "--rate", "-5", "--malformed", "1.5", "--publishers", "-1", "--batch-rows", "-1"}, &out, &errb)
	require.Equal(t, exitUsage, code, errb.String())
	for _, want := range []string{`unknown format "nope"`, `--mix "django=-1"`, "rate -5", "malformed share 1.5", "must not be negative", "--batch-rows -1"} {
		require.Contains(t, errb.String(), want)
	}
	errb.Reset()
	require.Equal(t, exitUsage, realMain([]string{"loadtest", "--publish-only"}, &out, &errb))
	require.Contains(t, errb.String(), "--publish-only needs --rate or --count")
	errb.Reset()
	require.Equal(t, exitUsage, realMain([]string{"loadtest", "--sources", "webdebug", "--mix", "sofarpc=1"}, &out, &errb))
	require.Contains(t, errb.String(), "share no format")
	errb.Reset()
	require.Equal(t, exitUsage, realMain([]string{"loadtest", "--rate", "150%", "--calibrate", "1s", "--mix", "nope=1"}, &out, &errb))
	for _, want := range []string{"--rate 150%: want a share", "--calibrate 1s: at least 5s", `unknown format "nope"`} {
		require.Contains(t, errb.String(), want, "every problem at once")
	}
}

// TestLoadtestPublishOnlyFeedsARunningTapline: with no producer yet, the
// loadtest publishes to the embedded NATS of a `tapline run` on the same
// data directory, and every record arrives.
func TestLoadtestPublishOnlyFeedsARunningTapline(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var runOut, runErr syncbuf.Buffer // written by the run goroutine while the test reads
	runDone := make(chan error, 1)
	go func() {
		runDone <- runRun(ctx, []string{"--data-dir", dir, "--http", "127.0.0.1:0", "--batch-age", "100ms"}, &runOut, &runErr)
	}()
	require.Eventually(t, func() bool {
		_, err := os.Stat(endpointPath(dir))
		return err == nil
	}, 30*time.Second, 50*time.Millisecond, "run announces its endpoint: %s", runErr.String())

	var out, errb bytes.Buffer
	require.NoError(t, runLoadtest(ctx, []string{"--publish-only", "--data-dir", dir, "--count", "3000", "--mix", "sofarpc=1,django=1", "--malformed", "0", "--quiet"}, &out, &errb), errb.String())
	require.Contains(t, out.String(), "published 3000 records (0 malformed)")
	require.Contains(t, out.String(), "; asynchronous publishes;", "publishes as the live loadtest does unless --sync-publish")
	require.Contains(t, out.String(), "CPU while publishing: this process ")
	require.Contains(t, out.String(), "the NATS server runs elsewhere: not counted", "its NATS is the running tapline's")

	require.Eventually(t, func() bool {
		out.Reset()
		err := runSQL(ctx, []string{"--data-dir", dir, "--format", "TabSeparated", "SELECT (SELECT count() FROM sofarpc_digest) + (SELECT count() FROM sofarpc_stat) + (SELECT count() FROM django_events)"}, &out, &errb)
		return err == nil && strings.TrimSpace(out.String()) == "3000"
	}, 30*time.Second, 100*time.Millisecond, "every record arrives: %s %s", out.String(), errb.String())
	cancel()
	require.NoError(t, <-runDone, runErr.String())
}

// TestLoadtestPublishOnlyStoresEveryRecordInItsOwnNATS: with no tapline
// running on the data directory, the loadtest publishes into a NATS server
// embedded in its own process, asynchronously unless --sync-publish, and
// counts that server's CPU as its own. Every record it reports is stored
// before it exits: a tapline run started afterwards on the directory
// commits them all.
func TestLoadtestPublishOnlyStoresEveryRecordInItsOwnNATS(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb bytes.Buffer
	cpu := filepath.Join(t.TempDir(), "publish.pprof")
	require.NoError(t, runLoadtest(ctx, []string{"--publish-only", "--data-dir", dir, "--count", "400", "--mix", "webdebug=1", "--malformed", "0", "--quiet", "--cpu-profile", cpu, "--stream-dupe-window", "45s"}, &out, &errb), errb.String())
	t.Log(out.String())
	f, err := os.Open(cpu)
	require.NoError(t, err)
	prof, err := profile.Parse(f)
	f.Close()
	require.NoError(t, err, "--cpu-profile receives the publishing's profile")
	require.NotEmpty(t, prof.SampleType)
	require.Contains(t, out.String(), "(a NATS server embedded in this process, no tapline running there")
	require.Contains(t, out.String(), "; asynchronous publishes;")
	require.Contains(t, out.String(), "published 400 records (0 malformed) in 400 messages")
	require.Regexp(t, `CPU while publishing: this process \d+% of one core \(the NATS server, embedded here, \d+%; the load generator \d+%`, out.String())
	out.Reset()
	require.NoError(t, runLoadtest(ctx, []string{"--publish-only", "--data-dir", dir, "--count", "100", "--mix", "webdebug=1", "--malformed", "0", "--sync-publish", "--quiet"}, &out, &errb), errb.String())
	require.Contains(t, out.String(), "; synchronous publishes (--sync-publish);")
	require.Contains(t, errb.String(), "has duplicate window 45s where tapline would create 2m0s: kept as it is", "the first run created the stream with its --stream-dupe-window")

	var runOut, runErr syncbuf.Buffer // written by the run goroutine while the test reads
	runDone := make(chan error, 1)
	go func() {
		runDone <- runRun(ctx, []string{"--data-dir", dir, "--http", "127.0.0.1:0", "--batch-age", "100ms", "--sources", "webdebug"}, &runOut, &runErr)
	}()
	require.Eventually(t, func() bool {
		_, err := os.Stat(endpointPath(dir))
		return err == nil
	}, 30*time.Second, 50*time.Millisecond, "run announces its endpoint: %s", runErr.String())
	var answer string
	if !assert.Eventually(t, func() bool {
		out.Reset()
		errb.Reset()
		err := runSQL(ctx, []string{"--data-dir", dir, "--format", "TabSeparated", "SELECT count() FROM webdebug_documents"}, &out, &errb)
		answer = strings.TrimSpace(out.String() + errb.String())
		return err == nil && answer == "500"
	}, 60*time.Second, 100*time.Millisecond, "every published record is stored and committed") {
		t.Fatalf("the last count: %s; the run's log:\n%s", answer, runErr.String())
	}
	cancel()
	require.NoError(t, <-runDone, runErr.String())
}

// TestLoadtestRateShareCalibratesFirst runs `loadtest --rate 50%`: a child
// loadtest first publishes as fast as tapline keeps up, and the run then
// targets half of what the child committed, says so in its report, and
// leaves no calibration directory behind.
func TestLoadtestRateShareCalibratesFirst(t *testing.T) {
	t.Setenv("TAPLINE_TEST_MAIN", "1") // the child is this test binary, running realMain
	data, reports := filepath.Join(t.TempDir(), "data"), t.TempDir()
	var out, errb bytes.Buffer
	code := realMain([]string{"loadtest", "--data-dir", data, "--report-dir", reports, "--rate", "50%", "--calibrate", "5s", "--duration", "2s",
		"--mix", "sofarpc=100", "--baselines=false", "--batch-age", "250ms", "--quiet"}, &out, &errb)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	require.Contains(t, errb.String(), "calibration: tapline committed")

	b, err := os.ReadFile(filepath.Join(reports, "report.json"))
	require.NoError(t, err)
	var r report.Report
	require.NoError(t, json.Unmarshal(b, &r))
	require.True(t, r.Verdict.ZeroLoss, r.Verdict.Text)
	c := r.Setup.Calibration
	require.NotNil(t, c, "the report says how the rate was found")
	require.Equal(t, 0.5, c.Share)
	require.Equal(t, 5.0, c.Seconds)
	require.Positive(t, c.MaxRecordsPerSec)
	require.InDelta(t, c.MaxRecordsPerSec/2, r.Setup.Rate, 1e-6, "the run targets half the calibrated maximum")
	md, err := os.ReadFile(filepath.Join(reports, "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "(50% of the maximum, ")
	_, err = os.Stat(data + ".calibrate")
	require.ErrorIs(t, err, os.ErrNotExist, "the calibration's directory is removed")
}

func TestRateFlagTakesRecordsPerSecondOrAShare(t *testing.T) {
	t.Parallel()
	var r rateFlag
	require.NoError(t, r.Set("17000"))
	require.Equal(t, rateFlag{perSec: 17000}, r)
	require.NoError(t, r.Set(" 50% "))
	require.Equal(t, rateFlag{share: 0.5, percent: true}, r)
	require.Equal(t, "50%", r.String())
	require.NoError(t, r.validate())
	require.NoError(t, r.Set("0"))
	require.Equal(t, rateFlag{}, r)
	for _, bad := range []string{"x%", "fast", ""} {
		require.Error(t, r.Set(bad), bad)
	}
	for _, out := range []string{"0%", "150%", "-5%"} {
		require.NoError(t, r.Set(out), out)
		require.ErrorContains(t, r.validate(), "--rate "+out+": want a share", out)
	}
}
