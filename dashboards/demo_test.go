package dashboards

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/gen"
	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/ingest/decode/django"
	"github.com/tapline/tapline/ingest/decode/envoytap"
	"github.com/tapline/tapline/ingest/decode/g3proxy"
	"github.com/tapline/tapline/ingest/decode/sofarpc"
	"github.com/tapline/tapline/ingest/decode/webdebug"
	"github.com/tapline/tapline/pipeline"
	"github.com/tapline/tapline/sink"
)

// demoRecords is how many generated records of each format the tests load:
// the demo's generators, seed and malformed share (demo/publish.go), at
// a tenth of its default volume, which every panel fills with.
var demoRecords = map[string]int{
	sofarpc.Format: 20_000, g3proxy.Format: 8_000, webdebug.Format: 3_000, django.Format: 12_000, envoytap.Format: 4_000,
}

// demoBatch is how many records go into one insert, so that views that pair
// rows across inserts (Django requests, Envoy tap segments) see several, as
// they do behind the pipeline.
const demoBatch = 2_000

// loadDemo publishes the demo's generated records of all five formats to
// an embedded NATS server and runs the real pipeline into target until every
// record is committed or dead-lettered: the same rows, views and
// pipeline_batches as the demo, at a tenth of its volume. Event times spread
// over the ten minutes before now, as in the demo.
func loadDemo(ctx context.Context, t *testing.T, target sink.Target, now time.Time) {
	t.Helper()
	decoders := map[string]func(decode.Options) (decode.Decoder, error){
		sofarpc.Format: sofarpc.New, g3proxy.Format: g3proxy.New, webdebug.Format: webdebug.New,
		django.Format: django.New, envoytap.Format: envoytap.New,
	}
	broker, err := ingest.Start(ctx, ingest.Config{StoreDir: t.TempDir()})
	require.NoError(t, err)
	defer broker.Close()
	journal, err := broker.Journal(ctx, ingest.DefaultJournalBucket)
	require.NoError(t, err)
	dlq, err := broker.DeadLetters(ctx, ingest.DefaultDeadLetterStream)
	require.NoError(t, err)
	pub, err := broker.Publisher(0, nil)
	require.NoError(t, err)

	start := now.Add(-10 * time.Minute)
	var sources []pipeline.Source
	total := 0
	for format, n := range demoRecords {
		spec := ingest.DefaultSource(format)
		_, serr := broker.EnsureStream(ctx, ingest.StreamSpec{Name: spec.Stream, Subjects: spec.Subjects})
		require.NoError(t, serr)
		g, err := gen.New(format, gen.Options{Seed: 1, Start: start, Step: 10 * time.Minute / time.Duration(n), Malformed: 0.001})
		require.NoError(t, err)
		lines := format != webdebug.Format && format != envoytap.Format
		pending := map[string][]byte{}
		counts := map[string]int{}
		var rec gen.Record
		for i := 0; i < n; i++ {
			g.Next(&rec)
			pending[rec.Subject] = append(pending[rec.Subject], rec.Data...)
			if lines {
				pending[rec.Subject] = append(pending[rec.Subject], '\n')
			}
			counts[rec.Subject]++
			if !lines || counts[rec.Subject] == 200 {
				require.NoError(t, pub.Publish(ctx, rec.Subject, pending[rec.Subject], ""))
				pending[rec.Subject], counts[rec.Subject] = nil, 0
			}
		}
		for subj, data := range pending {
			if len(data) > 0 {
				require.NoError(t, pub.Publish(ctx, subj, data, ""))
			}
		}
		total += n
		dec, err := decoders[format](decode.Options{})
		require.NoError(t, err)
		cons, err := broker.Consumer(ctx, ingest.ConsumerSpec{Stream: spec.Stream, Durable: spec.Durable})
		require.NoError(t, err)
		sources = append(sources, pipeline.Source{Name: format, Decoder: dec, Consumer: cons})
	}
	// Batches of about demoBatch rows, so that views pairing rows across
	// inserts (Django requests, Envoy tap segments) see several.
	p, err := pipeline.New(pipeline.Config{MaxRows: demoBatch, MaxAge: 200 * time.Millisecond}, target, journal, dlq, sources)
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	require.Eventually(t, func() bool {
		n := uint64(0)
		for _, s := range p.Stats() {
			n += s.RecordsCommitted + s.Rejected
		}
		return n >= uint64(total)
	}, 120*time.Second, 50*time.Millisecond, "the pipeline commits the demo's records")
	cancel()
	require.NoError(t, <-done)
}
