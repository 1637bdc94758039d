package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/tapline/tapline/ingest"
)

// Endpoint is what a running tapline announces in <data-dir>/endpoint.json
// so that other tapline commands on the same data directory can reach it.
type Endpoint struct {
	PID     int       `json:"pid"`
	HTTP    string    `json:"http,omitempty"`
	NATS    string    `json:"nats,omitempty"`
	Metrics string    `json:"metrics,omitempty"`
	Started time.Time `json:"started"`
}

// EndpointFile is the endpoint file's name inside a data directory.
const EndpointFile = "endpoint.json"

// EndpointPath is the endpoint file of dataDir.
func EndpointPath(dataDir string) string { return filepath.Join(dataDir, EndpointFile) }

// WriteEndpoint announces ep in dataDir, replacing the file atomically.
func WriteEndpoint(dataDir string, ep Endpoint) error {
	b, err := json.MarshalIndent(ep, "", "  ")
	if err != nil {
		return err
	}
	tmp := EndpointPath(dataDir) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("announce endpoint: %w", err)
	}
	return os.Rename(tmp, EndpointPath(dataDir))
}

// RemoveEndpoint removes dataDir's endpoint file, if any.
func RemoveEndpoint(dataDir string) { _ = os.Remove(EndpointPath(dataDir)) }

// RunningEndpoint returns the endpoint of a live tapline on dataDir, or
// nil: the file must name a live process. Its HTTP address is cleared when
// the endpoint does not answer /ping within two seconds.
func RunningEndpoint(ctx context.Context, dataDir string) *Endpoint {
	b, err := os.ReadFile(EndpointPath(dataDir))
	if err != nil {
		return nil
	}
	var ep Endpoint
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

// OpenBroker connects to the configured NATS, or to the embedded server of
// a tapline already running on the data directory, or starts the embedded
// server on the data directory. Close it with Broker.Close.
func OpenBroker(ctx context.Context, c Config) (*ingest.Broker, error) {
	cfg := c.natsConfig()
	if cfg.URL == "" {
		if ep := RunningEndpoint(ctx, c.DataDir); ep != nil && ep.NATS != "" {
			cfg = ingest.Config{URL: ep.NATS, Name: cfg.Name, Log: cfg.Log}
		}
	}
	return ingest.Start(ctx, cfg)
}

// StreamLimits are the settings of the streams (and the journal bucket)
// tapline creates when they are missing. The zero value gives the
// defaults: one replica, seven days, no byte limit, a two-minute
// duplicate window.
type StreamLimits struct {
	// Replicas on a clustered NATS (3 survives a node's loss).
	Replicas int
	// MaxAge drops messages older than this.
	MaxAge time.Duration
	// MaxBytes bounds each stream; 0 means no limit.
	MaxBytes int64
	// Duplicates is each stream's duplicate window; 0 means
	// ingest.DefaultDuplicateWindow.
	Duplicates time.Duration
}

// validateDuplicates checks the duplicate window against what NATS takes:
// not negative, and not longer than the streams' max age.
func (l StreamLimits) validateDuplicates() error {
	if l.Duplicates < 0 {
		return fmt.Errorf("--stream-dupe-window %v must not be negative (0 means the default, %v)", l.Duplicates, ingest.DefaultDuplicateWindow)
	}
	age := l.MaxAge
	if age == 0 {
		age = ingest.DefaultStreamMaxAge
	}
	if l.Duplicates > age {
		return fmt.Errorf("--stream-dupe-window %v is longer than the streams' max age %v (--stream-max-age): NATS refuses a duplicate window longer than a stream keeps its messages; shorten the window or lengthen the age", l.Duplicates, age)
	}
	return nil
}

// EnsureStreams creates the streams of specs that are missing, with
// limits; existing streams are left as they are, and how they differ from
// what tapline would create is written to warn, a line each.
func EnsureStreams(ctx context.Context, b *ingest.Broker, specs []ingest.SourceSpec, limits StreamLimits, warn io.Writer) error {
	for _, spec := range specs {
		diff, err := b.EnsureStream(ctx, ingest.StreamSpec{Name: spec.Stream, Subjects: spec.Subjects, Replicas: limits.Replicas, MaxAge: limits.MaxAge, MaxBytes: limits.MaxBytes, Duplicates: limits.Duplicates})
		if err != nil {
			return err
		}
		for _, d := range diff {
			fmt.Fprintf(warn, "tapline: warning: %s\n", d)
		}
	}
	return nil
}
