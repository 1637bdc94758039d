package loadtest

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/ingest/decode/django"
	"github.com/tapline/tapline/ingest/decode/envoytap"
	"github.com/tapline/tapline/ingest/decode/g3proxy"
	"github.com/tapline/tapline/ingest/decode/sofarpc"
	"github.com/tapline/tapline/ingest/decode/webdebug"
	"github.com/tapline/tapline/internal/embeddedtest"
	"github.com/tapline/tapline/loadtest/probe"
	"github.com/tapline/tapline/loadtest/publish"
	"github.com/tapline/tapline/loadtest/report"
	"github.com/tapline/tapline/pipeline"
	tsql "github.com/tapline/tapline/sql"
)

func TestMain(m *testing.M) { embeddedtest.Main(m) }

// TestVerdictSeesALostAndADuplicatedRow runs a short loadtest of all five
// formats from two publishers on embedded NATS and the embedded engine:
// every check passes, including the natural-key digests against what the
// generators published and the unique keys. Then one row of sofarpc_stat
// is deleted and a copy of another inserted: every count still matches,
// and the verdict fails on the table's key digest. The same in
// webdebug_events, which has no generator truth: the verdict fails on its
// unique key.
func TestVerdictSeesALostAndADuplicatedRow(t *testing.T) {
	ctx := context.Background()
	env := testEnv(ctx, t)
	cfg := Config{
		Mix:           map[string]float64{"sofarpc": 3, "g3proxy": 2, "django": 2, "webdebug": 1, "envoytap": 1},
		Count:         6_000,
		Publishers:    2,
		Malformed:     0.01,
		ProbeInterval: 20 * time.Millisecond,
		Pipeline:      pipeline.Config{MaxRows: 1_000, MaxAge: 100 * time.Millisecond},
	}
	require.NoError(t, cfg.Validate())
	r := &run{cfg: cfg, env: env, formats: cfg.Formats(), began: time.Now(), doneFormat: map[string]*atomic.Uint64{}}
	for _, f := range r.formats {
		r.doneFormat[f] = &atomic.Uint64{}
	}
	rep, err := r.run(ctx)
	require.NoError(t, err)
	names := map[string]bool{}
	for _, c := range rep.Checks {
		require.True(t, c.OK, "%s: %s: published %d, found %d", c.Name, c.What, c.Want, c.Got)
		names[c.Name] = true
	}
	require.True(t, rep.Verdict.ZeroLoss && rep.Verdict.ZeroDuplicates, rep.Verdict.Text)
	for table := range uniqueKeys {
		require.True(t, names[table+": duplicate keys"], "a uniqueness check for %s", table)
	}
	for _, table := range publish.KeyTables() {
		require.True(t, names[table+": keys"], "a key digest check for %s", table)
		require.Positive(t, r.pub.Formats[formatOf(table)].Keys[table].N, "generated rows published for %s", table)
	}

	// One lost row and one duplicated row in the same table: sofarpc_stat
	// (its keys are compared with what was published), then
	// webdebug_events (no generator truth: its keys must be unique).
	// Neither table feeds a view with these rows.
	tamper := func(q string) {
		t.Helper()
		require.NoError(t, env.Target.Exec(ctx, q), q)
	}
	recheck := func() ([]report.Check, report.Verdict) {
		t.Helper()
		r.after, err = measure(ctx, env, r.formats)
		require.NoError(t, err)
		r.dups, err = duplicates(ctx, env, r.formats, r.before["clock"])
		require.NoError(t, err)
		checks := r.checks()
		return checks, verdict(checks)
	}
	requireSeen := func(checks []report.Check, v report.Verdict, seen string, blind ...string) {
		t.Helper()
		require.False(t, v.ZeroDuplicates, v.Text)
		require.Contains(t, v.Text, seen)
		for _, c := range checks {
			switch {
			case c.Name == seen:
				require.False(t, c.OK, "%s sees the swap", seen)
			case has(blind, c.Name):
				require.True(t, c.OK, "%s: a count alone sees nothing (%d of %d)", c.Name, c.Got, c.Want)
			}
		}
	}

	// keyOf returns the row key a query selects as a SQL tuple literal. A
	// DELETE is a mutation that runs its WHERE once per part: a subquery in
	// it that picks "the first key" picks again in each part, after the
	// earlier parts' rows were deleted, so the key is chosen first.
	keyOf := func(q string) string {
		t.Helper()
		b, err := env.Target.Query(ctx, q, "Values", nil)
		require.NoError(t, err, q)
		require.NotEmpty(t, b, q)
		return string(b)
	}
	notProbe := probe.NotProbe("sofarpc_stat")
	// The deleted key must name one row: generated stat lines can share
	// time, service, method and side (their timestamps follow the clock).
	key := keyOf("SELECT time, service, method, side FROM sofarpc_stat WHERE " + notProbe + " GROUP BY time, service, method, side HAVING count() = 1 ORDER BY time LIMIT 1")
	tamper("DELETE FROM sofarpc_stat WHERE (time, service, method, side) IN (" + key + ")")
	tamper("INSERT INTO sofarpc_stat SELECT * FROM sofarpc_stat WHERE " + notProbe + " ORDER BY time DESC LIMIT 1")
	checks, v := recheck()
	require.False(t, v.ZeroLoss, v.Text)
	requireSeen(checks, v, "sofarpc_stat: keys", "sofarpc_stat: rows", "sofarpc_stat: generated rows")

	key = keyOf("SELECT doc_id, doc_order FROM webdebug_events WHERE sample_kind = '' ORDER BY doc_id, doc_order LIMIT 1")
	tamper("DELETE FROM webdebug_events WHERE (doc_id, doc_order) IN (" + key + ")")
	tamper("INSERT INTO webdebug_events SELECT * FROM webdebug_events WHERE sample_kind = '' ORDER BY doc_id DESC, doc_order LIMIT 1")
	checks, v = recheck()
	requireSeen(checks, v, "webdebug_events: duplicate keys", "webdebug_events: rows", "latency_1m webdebug: samples")
}

// formatOf returns the format writing a table with a natural key.
func formatOf(table string) string {
	f, _, _ := strings.Cut(table, "_")
	return f
}

// testEnv is the stack `tapline loadtest` runs on, with the five formats:
// embedded NATS, the embedded engine with tapline's schema, a pipeline.
func testEnv(ctx context.Context, t *testing.T) Env {
	t.Helper()
	target := embeddedtest.Target(t, 4)
	require.NoError(t, tsql.Apply(ctx, target))
	broker, err := ingest.Start(ctx, ingest.Config{StoreDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(broker.Close)
	journal, err := broker.Journal(ctx, ingest.DefaultJournalBucket)
	require.NoError(t, err)
	dlq, err := broker.DeadLetters(ctx, ingest.DefaultDeadLetterStream)
	require.NoError(t, err)
	decoders := map[string]func(decode.Options) (decode.Decoder, error){
		sofarpc.Format: sofarpc.New, g3proxy.Format: g3proxy.New, webdebug.Format: webdebug.New,
		django.Format: django.New, envoytap.Format: envoytap.New,
	}
	env := Env{NATS: broker.URL(), ClickHouse: "embedded (test)", Target: target, DLQ: dlq, Tables: map[string][]string{}, NoEngine: "not in this test"}
	var sources []pipeline.Source
	for format, newDec := range decoders {
		spec := ingest.DefaultSource(format)
		_, serr := broker.EnsureStream(ctx, ingest.StreamSpec{Name: spec.Stream, Subjects: spec.Subjects})
		require.NoError(t, serr)
		cons, err := broker.Consumer(ctx, ingest.ConsumerSpec{Stream: spec.Stream, Durable: spec.Durable})
		require.NoError(t, err)
		dec, err := newDec(decode.Options{})
		require.NoError(t, err)
		for _, tb := range dec.Tables() {
			env.Tables[format] = append(env.Tables[format], tb.Name())
		}
		sources = append(sources, pipeline.Source{Name: format, Decoder: dec, Consumer: cons})
		env.Consumers = append(env.Consumers, cons)
	}
	env.Pipeline, err = pipeline.New(pipeline.Config{MaxRows: 1_000, MaxAge: 100 * time.Millisecond}, target, journal, dlq, sources)
	require.NoError(t, err)
	env.Dial = func(ctx context.Context) (*ingest.Broker, error) {
		return ingest.Start(ctx, ingest.Config{URL: broker.URL()})
	}
	env.Connect = func(ctx context.Context, onErr func(string, error)) (publish.Sender, func(), error) {
		b, err := env.Dial(ctx)
		if err != nil {
			return nil, nil, err
		}
		pub, err := b.Publisher(256, onErr)
		if err != nil {
			b.Close()
			return nil, nil, err
		}
		return pub, b.Close, nil
	}
	return env
}

// TestCountWithNothingToMeasure is a --mix whose formats have no table of
// a kind (one format alone): nothing to count is no error.
func TestCountWithNothingToMeasure(t *testing.T) {
	m, err := count(context.Background(), nil, nil)
	require.NoError(t, err)
	require.Empty(t, m)
}
