package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/gen"
	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/ingest/decode/sofarpc"
	"github.com/tapline/tapline/internal/embeddedtest"
	"github.com/tapline/tapline/schema"
	"github.com/tapline/tapline/sink/embedded"
	"github.com/tapline/tapline/sql"
)

func TestMain(m *testing.M) { embeddedtest.Main(m) }

// fixture is one embedded NATS server (file store in a temp dir) and one
// fresh ClickHouse database with tapline's schema.
type fixture struct {
	t       *testing.T
	broker  *ingest.Broker
	target  *embedded.Target
	journal *ingest.Journal
	dlq     *ingest.DeadLetters
	spec    ingest.SourceSpec
	store   string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{t: t, target: embeddedtest.Target(t, 2), spec: ingest.DefaultSource("sofarpc"), store: t.TempDir()}
	require.NoError(t, sql.Apply(ctx, f.target))
	f.startBroker()
	return f
}

func (f *fixture) startBroker() {
	ctx := context.Background()
	b, err := ingest.Start(ctx, ingest.Config{StoreDir: f.store})
	require.NoError(f.t, err)
	f.broker = b
	f.t.Cleanup(b.Close)
	_, serr := b.EnsureStream(ctx, ingest.StreamSpec{Name: f.spec.Stream, Subjects: f.spec.Subjects})
	require.NoError(f.t, serr)
	f.journal, err = b.Journal(ctx, ingest.DefaultJournalBucket)
	require.NoError(f.t, err)
	f.dlq, err = b.DeadLetters(ctx, ingest.DefaultDeadLetterStream)
	require.NoError(f.t, err)
}

// publish sends the generated records, linesPerMsg per message (grouped by
// subject), and returns the records.
func (f *fixture) publish(n, linesPerMsg int, malformed float64) []gen.Record {
	ctx := context.Background()
	g := gen.NewSofarpc(gen.Options{Seed: 42, Start: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), Step: 5 * time.Millisecond, Malformed: malformed})
	pub, err := f.broker.Publisher(0, nil)
	require.NoError(f.t, err)
	recs := make([]gen.Record, n)
	pending := map[string]*bytes.Buffer{}
	counts := map[string]int{}
	flush := func(subj string) {
		if counts[subj] == 0 {
			return
		}
		require.NoError(f.t, pub.Publish(ctx, subj, bytes.Clone(pending[subj].Bytes()), ""))
		pending[subj].Reset()
		counts[subj] = 0
	}
	for i := range recs {
		g.Next(&recs[i])
		recs[i].Data = bytes.Clone(recs[i].Data)
		s := recs[i].Subject
		if pending[s] == nil {
			pending[s] = &bytes.Buffer{}
		}
		pending[s].Write(recs[i].Data)
		pending[s].WriteByte('\n')
		counts[s]++
		if counts[s] == linesPerMsg {
			flush(s)
		}
	}
	for s := range pending {
		flush(s)
	}
	return recs
}

// sofarpcSource opens the fixture's durable consumer with ackWait (0 means
// the broker's default) and a SOFARPC decoder.
func (f *fixture) sofarpcSource(ackWait time.Duration) (*ingest.Consumer, decode.Decoder) {
	cons, err := f.broker.Consumer(context.Background(), ingest.ConsumerSpec{Stream: f.spec.Stream, Durable: f.spec.Durable, AckWait: ackWait})
	require.NoError(f.t, err)
	dec, err := sofarpc.New(decode.Options{})
	require.NoError(f.t, err)
	return cons, dec
}

func (f *fixture) pipeline(cfg Config) (*Pipeline, *ingest.Consumer) {
	cons, dec := f.sofarpcSource(2 * time.Second)
	if cfg.MaxAge == 0 {
		cfg.MaxAge = 200 * time.Millisecond
	}
	p, err := New(cfg, f.target, f.journal, f.dlq, []Source{{Name: "sofarpc", Decoder: dec, Consumer: cons}})
	require.NoError(f.t, err)
	return p, cons
}

// runUntil runs p until cond holds (checked every 100ms), then stops it and
// returns Run's error. If Run ends first, its error is returned; if cond does
// not hold within 60s, the pipeline is stopped and runUntil returns an error
// saying so, so a caller's require.NoError fails instead of passing on a
// condition that never held.
func (f *fixture) runUntil(p *Pipeline, cond func() bool) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-errc:
			return err
		case <-time.After(100 * time.Millisecond):
		}
		if cond() {
			cancel()
			return <-errc
		}
		if time.Now().After(deadline) {
			cancel()
			return fmt.Errorf("the condition did not hold within 60s (Run returned %v once stopped)", <-errc)
		}
	}
}

func (f *fixture) count(query string) uint64 {
	out, err := f.target.Query(context.Background(), query, "TabSeparated", nil)
	require.NoError(f.t, err, query)
	v, err := strconv.ParseUint(strings.TrimSpace(string(out)), 10, 64)
	require.NoError(f.t, err, "%s: %q", query, out)
	return v
}

func countValid(recs []gen.Record, digestOnly bool) (valid, invalid int) {
	for _, r := range recs {
		if !r.Valid {
			invalid++
			continue
		}
		if !digestOnly || r.Sample {
			valid++
		}
	}
	return
}

// exactQuantile returns the q-quantile of sorted values (nearest rank).
func exactQuantile(sorted []float64, q float64) float64 {
	if q <= 0 {
		return sorted[0]
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

// TestEndToEnd publishes generated SOFARPC lines through embedded NATS,
// runs the pipeline into the embedded engine and checks: every valid line is
// one row, every malformed one a dead letter; per service and method the
// view's p50/p90/p99 lie within the t-digest's rank tolerance of the exact
// quantiles of the generated latencies; error rates are exact.
func TestEndToEnd(t *testing.T) {
	f := newFixture(t)
	recs := f.publish(30_000, 250, 0.01)
	digests, _ := countValid(recs, true)
	valid, invalid := countValid(recs, false)
	p, _ := f.pipeline(Config{MaxRows: 8_000})
	err := f.runUntil(p, func() bool {
		s := p.Stats()[0]
		return s.RecordsCommitted+s.Rejected >= uint64(valid+invalid)
	})
	require.NoError(t, err)

	require.Equal(t, uint64(digests), f.count("SELECT count() FROM sofarpc_digest"))
	require.Equal(t, uint64(valid-digests), f.count("SELECT count() FROM sofarpc_stat"))
	require.Equal(t, uint64(digests), f.count("SELECT sum(calls) FROM sofarpc_latency_1m"))
	require.Equal(t, uint64(digests), f.count("SELECT sum(requests) FROM latency_1m WHERE source = 'sofarpc'"))
	st := p.Stats()[0]
	require.Equal(t, uint64(valid), st.Records)
	require.Equal(t, uint64(invalid), st.Rejected)
	dl, err := f.dlq.Count(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(invalid), dl["dlq.sofarpc"], "every malformed line is a dead letter")
	require.Equal(t, uint64(valid), f.count("SELECT sum(records) FROM pipeline_batches"), "pipeline_batches counts every record")
	require.Equal(t, uint64(invalid), f.count("SELECT sum(dead_letters) FROM pipeline_batches"), "and every dead letter")
	require.Equal(t, st.Batches, f.count("SELECT count() FROM pipeline_batches"))

	// Exact truth per (service, method, side).
	type key struct{ service, method, side string }
	lat := map[key][]float64{}
	errs := map[key]int{}
	for _, r := range recs {
		if !r.Valid || !r.Sample {
			continue
		}
		k := key{r.Service, r.Operation, r.Kind}
		lat[k] = append(lat[k], r.LatencyMs)
		if r.Error {
			errs[k]++
		}
	}
	out, err := f.target.Query(context.Background(), `SELECT service, method, side, sum(calls), sum(errors),
		arrayStringConcat(arrayMap(x -> toString(x), quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)), ',')
		FROM sofarpc_latency_1m GROUP BY service, method, side`, "TabSeparated", nil)
	require.NoError(t, err)
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		k := key{f[0], f[1], f[2]}
		vals := lat[k]
		require.NotEmpty(t, vals, "view has a group the generator never produced: %v", k)
		calls, _ := strconv.Atoi(f[3])
		errCount, _ := strconv.Atoi(f[4])
		require.Equal(t, len(vals), calls, "%v calls", k)
		require.Equal(t, errs[k], errCount, "%v errors (error rate exact)", k)
		sort.Float64s(vals)
		qs := strings.Split(f[5], ",")
		for i, q := range []float64{0.5, 0.9, 0.95, 0.99, 0.999} {
			got, err := strconv.ParseFloat(qs[i], 64)
			require.NoError(t, err)
			// t-digest is approximate in rank: the estimate must lie between
			// the exact quantiles 2 percentage points (and one sample) away.
			tol := 0.02 + 1/float64(len(vals))
			lo, hi := exactQuantile(vals, q-tol), exactQuantile(vals, q+tol)
			if q == 0.5 || q == 0.9 || q == 0.99 {
				require.Truef(t, got >= lo-1e-9 && got <= hi+1e-9, "%v p%v = %v, exact range [%v, %v] (n=%d)", k, q*100, got, lo, hi, len(vals))
			}
		}
		seen++
	}
	require.Equal(t, len(lat), seen, "every generated group is in the view")
}

// TestRedeliveredBatchCountsOnce journals an already committed batch as
// pending again, as a crash between insert and the commit mark leaves it,
// and restarts: the batch is read again and inserted with the same token,
// and neither the table nor the views change.
func TestRedeliveredBatchCountsOnce(t *testing.T) {
	f := newFixture(t)
	recs := f.publish(5_000, 100, 0)
	digests, _ := countValid(recs, true)
	valid, _ := countValid(recs, false)
	p, _ := f.pipeline(Config{MaxRows: 1_000, keepJournal: true})
	require.NoError(t, f.runUntil(p, func() bool { return p.Stats()[0].RecordsCommitted >= uint64(valid) }))
	require.Equal(t, uint64(digests), f.count("SELECT count() FROM sofarpc_digest"))
	batches := p.Stats()[0].Batches
	require.Greater(t, batches, uint64(1))

	// Forge the journal: every batch still known becomes pending again, and
	// one batch covering the first messages is added as pending.
	ctx := context.Background()
	known, err := f.journal.List(ctx, f.spec.Stream, f.spec.Durable)
	require.NoError(t, err)
	require.Len(t, known, int(batches), "every batch is journaled")
	first := ingest.BatchRecord{Stream: f.spec.Stream, Durable: f.spec.Durable, Ranges: []ingest.SeqRange{{First: 1, Last: 3}}}
	first.Token = Token(first)
	// Insert that range's rows the normal way first: replay must then add nothing.
	p1, _ := f.pipeline(Config{})
	require.NoError(t, p1.runners[0].replayOne(ctx, first, false), "first insert of the forged batch")
	afterFirst := f.count("SELECT count() FROM sofarpc_digest")
	viewAfterFirst := f.count("SELECT sum(calls) FROM sofarpc_latency_1m")
	require.Greater(t, afterFirst, uint64(digests), "a batch with a token never seen is inserted")
	require.NoError(t, f.journal.Put(ctx, first))
	for _, k := range known {
		k.Committed = false
		require.NoError(t, f.journal.Put(ctx, k))
	}
	p2, _ := f.pipeline(Config{})
	require.NoError(t, f.runUntil(p2, func() bool { return p2.Stats()[0].Replayed == uint64(len(known)+1) }))
	require.Equal(t, uint64(len(known)+1), p2.Stats()[0].Replayed)
	require.Equal(t, afterFirst, f.count("SELECT count() FROM sofarpc_digest"), "replayed batches add no rows")
	require.Equal(t, viewAfterFirst, f.count("SELECT sum(calls) FROM sofarpc_latency_1m"), "replayed batches add nothing to the view")
	require.Equal(t, afterFirst, f.count("SELECT sum(requests) FROM latency_1m"), "replayed batches add nothing to the cross-source view")
}

// TestCrashBetweenInsertAndAck stops the writer dead after the second
// batch's inserts, before its commit mark and acks, then restarts the
// pipeline on the same NATS store: nothing is lost, nothing counted twice.
func TestCrashBetweenInsertAndAck(t *testing.T) {
	f := newFixture(t)
	recs := f.publish(6_000, 50, 0.005)
	digests, _ := countValid(recs, true)
	valid, invalid := countValid(recs, false)
	p, _ := f.pipeline(Config{MaxRows: 1_000, crashAfterInsert: 2, Inserters: 1})
	err := f.runUntil(p, func() bool { return false })
	require.ErrorIs(t, err, errCrashed)
	partial := f.count("SELECT count() FROM sofarpc_digest")
	require.Positive(t, partial, "the crashed batch's rows were inserted before the crash")

	// A real crash also loses the NATS connection: restart the broker.
	f.broker.Close()
	f.startBroker()
	p2, _ := f.pipeline(Config{MaxRows: 1_000})
	require.NoError(t, f.runUntil(p2, func() bool {
		return f.count("SELECT count() FROM sofarpc_digest") >= uint64(digests) && p2.Stats()[0].Skipped > 0
	}))
	require.EqualValues(t, 1, p2.Stats()[0].Replayed, "the crashed batch is replayed")
	require.Positive(t, p2.Stats()[0].Skipped, "redeliveries of the replayed batch are acked without work")
	require.Equal(t, uint64(digests), f.count("SELECT count() FROM sofarpc_digest"), "every row once")
	require.Equal(t, uint64(digests), f.count("SELECT sum(calls) FROM sofarpc_latency_1m"), "every call counted once in the view")
	require.Equal(t, uint64(valid-digests), f.count("SELECT count() FROM sofarpc_stat"))
	dl, err := f.dlq.Count(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(invalid), dl["dlq.sofarpc"], "dead letters once each (message ids dedupe republishes)")
	require.Equal(t, uint64(valid), f.count("SELECT sum(records) FROM pipeline_batches"), "the replayed batch's health row counts once")
	require.Equal(t, uint64(0), f.count("SELECT count() FROM pipeline_batches WHERE replayed"), "the crashed batch's health row was written before the crash: its replay is deduplicated like its data")
}

func TestConfigValidateReportsEverything(t *testing.T) {
	t.Parallel()
	err := Config{MaxRows: -1, MaxBytes: -2, MaxAge: -time.Second, RetryMin: time.Minute, RetryMax: time.Second}.Validate()
	require.Error(t, err)
	for _, want := range []string{"--batch-rows", "--batch-bytes", "--batch-age", "retry minimum"} {
		require.Contains(t, err.Error(), want)
	}
	require.NoError(t, Config{}.Validate())
	_ = fmt.Sprint
}

// slowTarget delays every insert, so that messages outlive their ack wait
// while their batch is being written.
type slowTarget struct {
	*embedded.Target
	delay time.Duration
}

func (s slowTarget) Insert(ctx context.Context, table *schema.Table, rec arrow.Record, token string) error {
	time.Sleep(s.delay)
	return s.Target.Insert(ctx, table, rec, token)
}

// TestRedeliveriesDuringSlowInsertsCountOnce makes every insert outlast the
// consumer's ack wait, so JetStream redelivers messages while their batch is
// still being written, and some redeliveries sit in the client's buffer
// until after the batch was committed and acknowledged. None of them may be
// written again.
func TestRedeliveriesDuringSlowInsertsCountOnce(t *testing.T) {
	f := newFixture(t)
	recs := f.publish(4_000, 40, 0)
	digests, _ := countValid(recs, true)
	valid, _ := countValid(recs, false)
	ctx := context.Background()
	cons, dec := f.sofarpcSource(time.Second)
	p, err := New(Config{MaxRows: 600, MaxAge: 100 * time.Millisecond, Inserters: 1}, slowTarget{f.target, 1500 * time.Millisecond}, f.journal, f.dlq, []Source{{Name: "sofarpc", Decoder: dec, Consumer: cons}})
	require.NoError(t, err)
	require.NoError(t, f.runUntil(p, func() bool {
		st, err := cons.State(ctx)
		return p.Stats()[0].RecordsCommitted >= uint64(valid) && err == nil && st.AckPending == 0 && st.Pending == 0
	}))
	require.Equal(t, uint64(digests), f.count("SELECT count() FROM sofarpc_digest"), "every line once")
	require.Equal(t, uint64(digests), f.count("SELECT sum(calls) FROM sofarpc_latency_1m"))
	require.Positive(t, p.Stats()[0].Skipped, "the test must provoke redeliveries of committed messages")
}

// TestTemporaryInsertFailureIsRetriedUntilItLands: while the digest table
// refuses inserts with a retryable code (TOO_MANY_PARTS, forced by
// parts_to_throw_insert = 1 once it holds a part), the pipeline commits
// nothing and retries with backoff; once the table takes inserts again,
// every row lands exactly once and nothing is dead-lettered.
func TestTemporaryInsertFailureIsRetriedUntilItLands(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	recs := f.publish(2_000, 100, 0)
	digests, _ := countValid(recs, true)
	valid, _ := countValid(recs, false)
	p, _ := f.pipeline(Config{RetryMin: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond})
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- p.Run(runCtx) }()
	committed := func() uint64 { return p.Stats()[0].RecordsCommitted }
	require.Eventually(t, func() bool { return committed() >= uint64(valid) }, time.Minute, 50*time.Millisecond)

	require.NoError(t, f.target.Exec(ctx, "ALTER TABLE sofarpc_digest MODIFY SETTING parts_to_throw_insert = 1"))
	f.publish(2_000, 100, 0)
	require.Eventually(t, func() bool { return p.Stats()[0].Retries >= 3 }, time.Minute, 20*time.Millisecond, "the refused insert is retried")
	require.Equal(t, uint64(valid), committed(), "nothing is committed while the table refuses inserts")
	require.Contains(t, p.Stats()[0].LastError, "TOO_MANY_PARTS")

	require.NoError(t, f.target.Exec(ctx, "ALTER TABLE sofarpc_digest RESET SETTING parts_to_throw_insert"))
	require.Eventually(t, func() bool { return committed() >= uint64(2*valid) }, time.Minute, 50*time.Millisecond, "the batch lands once the table takes inserts")
	cancel()
	require.NoError(t, <-errc)
	require.Equal(t, uint64(2*digests), f.count("SELECT count() FROM sofarpc_digest"))
	require.Zero(t, p.Stats()[0].Rejected)
}
