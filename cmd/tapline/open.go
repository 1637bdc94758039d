package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/schema"
	"github.com/tapline/tapline/sink"
	"github.com/tapline/tapline/sink/embedded"
	"github.com/tapline/tapline/sql"
)

// target is an open ClickHouse target and how to close it.
type target struct {
	sink.Target
	engine   *embedded.Engine // nil for a server
	desc     string
	database string
}

func (t *target) close() {
	_ = t.Target.Close()
	if t.engine != nil {
		_ = t.engine.Close()
	}
}

// openTarget opens the configured ClickHouse: the embedded engine in
// --data-dir, or the server named by --clickhouse.
func openTarget(ctx context.Context, s *settings) (*target, error) {
	if s.ClickHouse != "" {
		return openServer(ctx, s)
	}
	e, err := embedded.Open(ctx, s.engineConfig())
	if errors.Is(err, embedded.ErrDataDirLocked) {
		return nil, fmt.Errorf("%w: a `tapline run` (or demo) holds %s; use `tapline sql` against it, or stop it first", err, s.DataDir)
	}
	if err != nil {
		return nil, err
	}
	return &target{Target: embedded.NewTarget(e.Pool), engine: e, database: s.Database, desc: fmt.Sprintf("embedded ClickHouse %s in %s (database %s)", e.Version(), filepath.Join(e.DataDir(), "clickhouse"), s.Database)}, nil
}

// renderOptions is how the schema is rendered for t: for --cluster, with
// the target's database.
func (s *settings) renderOptions(t *target) sql.RenderOptions {
	return sql.RenderOptions{Cluster: s.Cluster, Database: t.database}
}

// applySchema applies the pending migrations (idempotent) and warns on w
// about files changed since they were applied.
func applySchema(ctx context.Context, t *target, s *settings, w io.Writer) error {
	ms, err := sql.Migrations(s.renderOptions(t))
	if err != nil {
		return err
	}
	sts, err := sql.Migrate(ctx, t, ms, s.renderOptions(t))
	if err != nil {
		return err
	}
	warnChanged(sts, w)
	return nil
}

// checkSchema refuses a target whose migrations are not all applied or
// whose tables lack the columns the pipeline writes.
func checkSchema(ctx context.Context, t *target, s *settings, tables []*schema.Table, w io.Writer) error {
	ms, err := sql.Migrations(s.renderOptions(t))
	if err != nil {
		return err
	}
	sts, err := sql.StatusOf(ctx, t, ms)
	if err != nil {
		return err
	}
	var pending []string
	for _, st := range sts {
		if st.State == sql.Pending {
			pending = append(pending, st.Version)
		}
	}
	if len(pending) > 0 {
		return fmt.Errorf("%d schema migrations are not applied on %s (%s): run `tapline schema apply` with the same --clickhouse, --database and --cluster first", len(pending), t.desc, strings.Join(pending, ", "))
	}
	warnChanged(sts, w)
	return sql.CheckColumns(ctx, t, tables)
}

func warnChanged(sts []sql.Status, w io.Writer) {
	for _, st := range sts {
		if st.State == sql.Changed {
			fmt.Fprintf(w, "tapline: warning: %s changed since it was applied (%s); CREATE ... IF NOT EXISTS does not alter the existing object: alter it by hand if the change matters\n", st.Version, st.AppliedAt)
		}
	}
}

// endpoint is what a running tapline announces in <data-dir>/endpoint.json
// so that other tapline commands on the same data directory can reach it.
type endpoint struct {
	PID     int       `json:"pid"`
	HTTP    string    `json:"http,omitempty"`
	NATS    string    `json:"nats,omitempty"`
	Started time.Time `json:"started"`
}

func endpointPath(dataDir string) string { return filepath.Join(dataDir, "endpoint.json") }

func writeEndpoint(dataDir string, ep endpoint) error {
	b, err := json.MarshalIndent(ep, "", "  ")
	if err != nil {
		return err
	}
	tmp := endpointPath(dataDir) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("announce endpoint: %w", err)
	}
	return os.Rename(tmp, endpointPath(dataDir))
}

func removeEndpoint(dataDir string) { _ = os.Remove(endpointPath(dataDir)) }

// runningEndpoint returns the endpoint of a live tapline on dataDir, or nil.
func runningEndpoint(ctx context.Context, dataDir string) *endpoint {
	b, err := os.ReadFile(endpointPath(dataDir))
	if err != nil {
		return nil
	}
	var ep endpoint
	if json.Unmarshal(b, &ep) != nil || ep.PID <= 0 {
		return nil
	}
	if p, err := os.FindProcess(ep.PID); err != nil || p.Signal(syscallZero) != nil {
		return nil
	}
	if ep.HTTP != "" {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(cctx, http.MethodGet, "http://"+ep.HTTP+"/ping", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			ep.HTTP = ""
		} else {
			resp.Body.Close()
		}
	}
	return &ep
}

// openBroker connects to the configured NATS, or to the embedded server of a
// tapline already running on the data directory, or starts one.
func openBroker(ctx context.Context, s *settings) (*ingest.Broker, error) {
	cfg := s.natsConfig()
	if cfg.URL == "" {
		if ep := runningEndpoint(ctx, s.DataDir); ep != nil && ep.NATS != "" {
			cfg = ingest.Config{URL: ep.NATS}
		}
	}
	b, err := ingest.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// ensureSpecs creates the streams of specs (idempotent).
func ensureSpecs(ctx context.Context, b *ingest.Broker, specs []ingest.SourceSpec) error {
	for _, spec := range specs {
		if err := b.EnsureStream(ctx, ingest.StreamSpec{Name: spec.Stream, Subjects: spec.Subjects}); err != nil {
			return err
		}
	}
	return nil
}

// ensureSources creates each format's stream on its default subjects
// (idempotent).
func ensureSources(ctx context.Context, b *ingest.Broker, formats []string) error {
	for _, f := range formats {
		spec := ingest.DefaultSource(f)
		if err := b.EnsureStream(ctx, ingest.StreamSpec{Name: spec.Stream, Subjects: spec.Subjects}); err != nil {
			return err
		}
	}
	return nil
}
