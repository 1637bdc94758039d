// Package metrics serves a running tapline's operational endpoints:
// Prometheus metrics at /metrics (per source: messages, records, dead
// letters, rows per table, batches, replayed batches, lost messages,
// retries, insert latency, each commit phase's latency, consumer lag and
// ack pending; the journal's size; process and Go runtime), /healthz (the
// process answers) and /readyz (connected to NATS and ClickHouse, schema
// applied, not draining). It uses
// the Prometheus Go client; counters are read from the pipeline's own
// statistics at scrape time, so the hot path pays nothing but the insert
// and commit-phase histograms.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/pipeline"
)

// Inputs are what the metrics read. Stats, Consumers and Journal may be
// set after New (the stack opens in steps) but before Serve's first scrape
// matters; nil parts are skipped.
type Inputs struct {
	// Stats returns each source's counters (pipeline.Pipeline.Stats).
	Stats func() []pipeline.Stats
	// Consumers are the sources' durable consumers, for lag and ack pending.
	Consumers []*ingest.Consumer
	// Journal is the batch journal, for its size.
	Journal *ingest.Journal
	// Ready returns nil when the process can do its work: NATS connected,
	// ClickHouse reachable, schema applied, not draining.
	Ready func(ctx context.Context) error
}

// Metrics holds the registry and the insert and commit-phase histograms.
type Metrics struct {
	reg     *prometheus.Registry
	in      Inputs
	inserts *prometheus.HistogramVec
	phases  *prometheus.HistogramVec
	drain   atomic.Bool
}

// New registers tapline's collectors and the process and Go runtime
// collectors on a registry of its own.
func New(in Inputs) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), in: in}
	m.inserts = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tapline_insert_duration_seconds",
		Help:    "Duration of one committed insert of one table of a batch, retries included.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
	}, []string{"source", "table"})
	m.phases = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tapline_commit_phase_duration_seconds",
		Help:    "Duration of one phase of committing one batch: queued (sealed until a writer takes it), claim (journal and clearance), insert (all its tables; its rows are queryable after it), health (its pipeline_batches row), journal (marked committed and acknowledged).",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
	}, []string{"source", "phase"})
	m.reg.MustRegister(m.inserts, m.phases, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), (*collector)(m))
	return m
}

// ObserveInsert records one insert's duration: hand it to
// pipeline.Config.ObserveInsert.
func (m *Metrics) ObserveInsert(source, table string, d time.Duration) {
	m.inserts.WithLabelValues(source, table).Observe(d.Seconds())
}

// ObservePhase records one commit phase's duration: hand it to
// pipeline.Config.ObservePhase.
func (m *Metrics) ObservePhase(source string, phase pipeline.Phase, d time.Duration) {
	m.phases.WithLabelValues(source, string(phase)).Observe(d.Seconds())
}

// SetInputs replaces what the metrics read (before serving scrapes).
func (m *Metrics) SetInputs(in Inputs) { m.in = in }

// Draining marks the process as stopping: /readyz answers 503 from now on.
func (m *Metrics) Draining() { m.drain.Store(true) }

// Handler serves /metrics, /healthz, /readyz and Go's profiles under
// /debug/pprof/ (net/http/pprof: CPU, heap, goroutines, execution trace),
// so a slow or growing process can be profiled where it runs.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		err := m.ready(r.Context())
		if err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = fmt.Fprintln(w, "ready")
	})
	return mux
}

func (m *Metrics) ready(ctx context.Context) error {
	if m.drain.Load() {
		return errors.New("draining (stopping)")
	}
	if m.in.Ready == nil {
		return errors.New("starting")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return m.in.Ready(ctx)
}

// Serve listens on addr and serves Handler until Close; it returns the
// address it listens on.
func (m *Metrics) Serve(addr string) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("--metrics %s: %w (pick another address, or \"\" to disable)", addr, err)
	}
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, ln.Addr().String(), nil
}

// collector reads the pipeline's statistics, the consumers and the journal
// at scrape time.
type collector Metrics

var (
	descMessages  = prometheus.NewDesc("tapline_messages_total", "Messages read per source (first deliveries and redeliveries that needed work).", []string{"source"}, nil)
	descRecords   = prometheus.NewDesc("tapline_records_total", "Records decoded into rows per source.", []string{"source"}, nil)
	descDead      = prometheus.NewDesc("tapline_dead_letters_total", "Records sent to the dead-letter stream per source.", []string{"source"}, nil)
	descCommitted = prometheus.NewDesc("tapline_records_committed_total", "Decoded records whose batch is committed, per source.", []string{"source"}, nil)
	descRows      = prometheus.NewDesc("tapline_rows_total", "Rows committed per source and table.", []string{"source", "table"}, nil)
	descBatches   = prometheus.NewDesc("tapline_batches_total", "Batches committed per source.", []string{"source"}, nil)
	descReplayed  = prometheus.NewDesc("tapline_replayed_batches_total", "Batches replayed from the journal per source.", []string{"source"}, nil)
	descAdopted   = prometheus.NewDesc("tapline_adopted_batches_total", "Replayed batches another instance had journaled (its lease ran out), per source.", []string{"source"}, nil)
	descParked    = prometheus.NewDesc("tapline_redeliveries_parked_total", "Redeliveries left to the process whose batch in flight holds them, per source.", []string{"source"}, nil)
	descAbandoned = prometheus.NewDesc("tapline_batches_abandoned_total", "Batches given up unjournaled because another process may hold their messages (redelivered), per source.", []string{"source"}, nil)
	descLost      = prometheus.NewDesc("tapline_replay_lost_messages_total", "Journaled messages the stream no longer held at replay (retention).", []string{"source"}, nil)
	descSkipped   = prometheus.NewDesc("tapline_redeliveries_skipped_total", "Redeliveries of committed messages acknowledged without work.", []string{"source"}, nil)
	descRetries   = prometheus.NewDesc("tapline_retries_total", "Temporary failures retried per source.", []string{"source"}, nil)
	descReader    = prometheus.NewDesc("tapline_reader_seconds_total", "Time each source's reader spent building batches (decoding), waiting for messages, and blocked until a writer took a sealed batch: a reader building nearly all the time bounds the source, one blocked waits on the inserts.", []string{"source", "state"}, nil)
	descSealed    = prometheus.NewDesc("tapline_batches_sealed_total", "Batches the reader closed per source, by why: age (--batch-age), rows, bytes, caught_up (a backlog's end), stop. A live source's batches close by age; many closed by age while its reader builds nearly all the time mean it falls behind with small batches.", []string{"source", "reason"}, nil)
	descLag       = prometheus.NewDesc("tapline_consumer_pending_messages", "Messages of the stream not yet delivered to the durable consumer (lag).", []string{"stream", "durable"}, nil)
	descAckPend   = prometheus.NewDesc("tapline_consumer_ack_pending_messages", "Messages delivered and not yet acknowledged.", []string{"stream", "durable"}, nil)
	descJournal   = prometheus.NewDesc("tapline_journal_entries", "Entries in the batch journal (the writes kept of records in flight, and markers of deleted ones).", nil, nil)
)

// Describe sends every descriptor.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descMessages, descRecords, descDead, descCommitted, descRows, descBatches, descReplayed, descAdopted, descParked, descAbandoned, descLost, descSkipped, descRetries, descReader, descSealed, descLag, descAckPend, descJournal} {
		ch <- d
	}
}

// Collect reads the current values.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	in := c.in
	if in.Stats != nil {
		for _, s := range in.Stats() {
			counter := func(d *prometheus.Desc, v uint64) {
				ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), s.Source)
			}
			counter(descMessages, s.Messages)
			counter(descRecords, s.Records)
			counter(descDead, s.Rejected)
			counter(descCommitted, s.RecordsCommitted)
			counter(descBatches, s.Batches)
			counter(descReplayed, s.Replayed)
			counter(descAdopted, s.Adopted)
			counter(descParked, s.Parked)
			counter(descAbandoned, s.Abandoned)
			counter(descLost, s.Lost)
			counter(descSkipped, s.Skipped)
			counter(descRetries, s.Retries)
			for state, d := range map[string]time.Duration{"building": s.ReadBuilding, "waiting": s.ReadWaiting, "blocked": s.ReadBlocked} {
				ch <- prometheus.MustNewConstMetric(descReader, prometheus.CounterValue, d.Seconds(), s.Source, state)
			}
			for _, why := range pipeline.Seals {
				ch <- prometheus.MustNewConstMetric(descSealed, prometheus.CounterValue, float64(s.Sealed[why]), s.Source, string(why))
			}
			for table, n := range s.Rows {
				ch <- prometheus.MustNewConstMetric(descRows, prometheus.CounterValue, float64(n), s.Source, table)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, cons := range in.Consumers {
		st, err := cons.State(ctx)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(st.Pending), cons.Stream(), cons.Durable())
		ch <- prometheus.MustNewConstMetric(descAckPend, prometheus.GaugeValue, float64(st.AckPending), cons.Stream(), cons.Durable())
	}
	if in.Journal != nil {
		if n, err := in.Journal.Size(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(descJournal, prometheus.GaugeValue, float64(n))
		}
	}
}
