package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/gen"
	"github.com/tapline/tapline/pipeline"
)

// TestRunServesMetricsAndHealth runs `tapline run --metrics`, publishes
// generated SOFARPC lines and reads /metrics with Prometheus' own parser:
// rows per table equal what was published, inserts and every commit phase
// of every batch were timed, every batch was sealed for a reason, the
// reader's time is counted, the consumer has no lag left, process metrics
// are there; /healthz and
// /readyz answer 200.
func TestRunServesMetricsAndHealth(t *testing.T) {
	dir := t.TempDir()
	c := startChild(t, dir, true, "run", "--data-dir", dir, "--http", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--batch-age", "200ms")
	require.NotEmpty(t, c.ep.Metrics, "the endpoint file names the metrics address")
	p := &crashPublisher{g: gen.NewSofarpc(gen.Options{Seed: 5, Start: time.Now().Add(-time.Hour), Step: 10 * time.Millisecond})}
	p.publish(t, context.Background(), c.ep.NATS, 30_000)
	require.Eventually(t, func() bool { return c.count(t, "SELECT count() FROM sofarpc_digest") >= uint64(p.digests) }, 60*time.Second, 50*time.Millisecond)

	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + c.ep.Metrics + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, _ := get("/healthz")
	require.Equal(t, http.StatusOK, status)
	status, body := get("/readyz")
	require.Equal(t, http.StatusOK, status, body)

	var families map[string]*dto.MetricFamily
	require.Eventually(t, func() bool {
		_, body := get("/metrics")
		var err error
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err = parser.TextToMetricFamilies(strings.NewReader(body))
		require.NoError(t, err)
		return value(families, "tapline_consumer_ack_pending_messages", nil) == 0 && value(families, "tapline_consumer_pending_messages", nil) == 0 &&
			value(families, "tapline_rows_total", map[string]string{"table": "sofarpc_stat"}) == float64(p.stats)
	}, 30*time.Second, 200*time.Millisecond, "no lag, and every row counted, once everything is committed")
	require.Equal(t, float64(p.digests), value(families, "tapline_rows_total", map[string]string{"source": "sofarpc", "table": "sofarpc_digest"}))
	require.Equal(t, float64(p.stats), value(families, "tapline_rows_total", map[string]string{"source": "sofarpc", "table": "sofarpc_stat"}))
	timed := families["tapline_insert_duration_seconds"].GetMetric()
	require.NotEmpty(t, timed, "inserts are timed")
	require.Positive(t, timed[0].GetHistogram().GetSampleCount(), "inserts are timed")
	batches := value(families, "tapline_batches_total", map[string]string{"source": "sofarpc"})
	require.Positive(t, batches)
	phases := map[string]uint64{}
	for _, m := range families["tapline_commit_phase_duration_seconds"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["source"] == "sofarpc" {
			phases[labels["phase"]] = m.GetHistogram().GetSampleCount()
		}
	}
	for _, ph := range pipeline.Phases {
		require.Equal(t, uint64(batches), phases[string(ph)], "phase %s is timed once per committed batch", ph)
	}
	sealed := 0.0
	for _, why := range pipeline.Seals {
		n := value(families, "tapline_batches_sealed_total", map[string]string{"source": "sofarpc", "reason": string(why)})
		require.GreaterOrEqual(t, n, 0.0, "batches sealed by %s are served", why)
		sealed += n
	}
	require.GreaterOrEqual(t, sealed, batches, "every committed batch was sealed for a reason")
	require.Zero(t, value(families, "tapline_dead_letters_total", map[string]string{"source": "sofarpc"}))
	for _, state := range []string{"building", "waiting"} {
		require.Positive(t, value(families, "tapline_reader_seconds_total", map[string]string{"source": "sofarpc", "state": state}), "the reader's time %s is counted", state)
	}
	require.GreaterOrEqual(t, value(families, "tapline_reader_seconds_total", map[string]string{"source": "sofarpc", "state": "blocked"}), 0.0, "the reader's time blocked on a writer is served")
	require.Positive(t, value(families, "process_resident_memory_bytes", nil))
	require.Contains(t, families, "tapline_journal_entries")
	require.Contains(t, families, "go_goroutines")
}

// value returns the value of the first sample of family name whose labels
// include want (a counter, gauge or untyped), or -1 when there is none.
func value(families map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := families[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Untyped != nil:
			return m.GetUntyped().GetValue()
		}
	}
	return -1
}
