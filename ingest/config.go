// Package ingest is tapline's JetStream boundary, and the only importer of
// nats.go: it starts the embedded NATS server or connects to an external
// one, creates streams and durable pull consumers, journals batches so that
// replays reproduce their deduplication tokens, publishes dead letters, and
// makes every acknowledgement decision.
//
// Subjects: every source (format) has one stream that captures
// logs.<source>.> (see DefaultSources); dead letters go to the stream
// TAPLINE_DLQ on dlq.<source>.
package ingest

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"
)

// Secret is a credential that never prints: fmt and log output show
// "[redacted]".
type Secret string

// String returns "[redacted]" (or "" when empty).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString returns the same as String, so %#v does not leak it either.
func (s Secret) GoString() string { return s.String() }

// Config says where NATS is. The zero value is valid and means: run an
// embedded NATS server with JetStream on an in-memory store... except that
// StoreDir is normally set (the pipeline puts it under the data directory).
type Config struct {
	// URL of an external NATS server or cluster ("nats://h1:4222,nats://h2:4222").
	// Empty runs an embedded server in this process.
	URL string
	// StoreDir is the embedded server's JetStream file store. Empty means
	// a memory store (tests and one-off runs).
	StoreDir string
	// Listen is the embedded server's client address; empty means
	// "127.0.0.1:-1" (loopback, a free port). Other tapline processes find
	// it through the data directory's endpoint file.
	Listen string
	// CredsFile is a NATS credentials file (JWT + NKey) for URL.
	CredsFile string
	// NKeyFile is an NKey seed file for URL.
	NKeyFile string
	// User and Password authenticate with URL.
	User     string
	Password Secret
	// Token authenticates with URL.
	Token Secret
	// TLS files for URL: CA to verify the server, client cert and key for
	// mutual TLS.
	CAFile, CertFile, KeyFile string
	// Name is the client connection name shown by the server; empty means "tapline".
	Name string
	// ConnectTimeout bounds connecting to a server that is up; 0 means
	// 10s. It does not bound the embedded server's start: JetStream first
	// recovers the store, which after a crash can take much longer (see
	// Progress), and only ctx ends that wait.
	ConnectTimeout time.Duration
	// Progress receives a line every few seconds while the embedded server
	// is still starting; nil reports nothing.
	Progress io.Writer
	// Log receives, as warnings, what the connection reports on its own
	// while it runs: an error the server or the client's reader hit (a
	// slow consumer, a write to a closed connection), a disconnect and a
	// reconnect. nil means slog.Default(). Without it the NATS client
	// would write such errors bare to standard error.
	Log *slog.Logger
}

// Validate reports every problem at once. It does not modify c.
func (c Config) Validate() error {
	var errs []error
	if c.URL == "" {
		if c.CredsFile != "" || c.NKeyFile != "" || c.User != "" || c.Token != "" || c.CAFile != "" || c.CertFile != "" {
			errs = append(errs, errors.New("nats: credentials or TLS files are set but no --nats-url: they only apply to an external server"))
		}
		if c.Listen != "" {
			host, port, err := net.SplitHostPort(c.Listen)
			if err != nil {
				errs = append(errs, fmt.Errorf("nats: --nats-listen %q: want host:port (port -1 picks a free one): %w", c.Listen, err))
			} else if _, err := strconv.Atoi(port); err != nil || host == "" {
				errs = append(errs, fmt.Errorf("nats: --nats-listen %q: want host:port with a numeric port", c.Listen))
			}
		}
	}
	for flag, f := range map[string]string{"--nats-creds": c.CredsFile, "--nats-nkey": c.NKeyFile, "--nats-ca": c.CAFile, "--nats-cert": c.CertFile, "--nats-key": c.KeyFile} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			errs = append(errs, fmt.Errorf("nats: %s %s: %w", flag, f, err))
		}
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, errors.New("nats: --nats-cert and --nats-key go together"))
	}
	if c.Token != "" && c.User != "" {
		errs = append(errs, errors.New("nats: use either a token or a user/password, not both"))
	}
	if c.ConnectTimeout < 0 {
		errs = append(errs, errors.New("nats: connect timeout must not be negative"))
	}
	return errors.Join(errs...)
}

// Embedded reports whether this configuration runs the embedded server.
func (c Config) Embedded() bool { return c.URL == "" }
