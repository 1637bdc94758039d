package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Broker is a connection to NATS JetStream, and the embedded server when
// this process runs one. Safe for concurrent use.
type Broker struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	srv  *server.Server
	lock *os.File
	url  string
	// tmpStore is a temporary store directory to remove on Close.
	tmpStore string
}

// Start connects to cfg.URL, or starts an embedded JetStream server (on
// cfg.StoreDir, listening on cfg.Listen) and connects to it in-process.
func Start(ctx context.Context, cfg Config) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	timeout := cfg.ConnectTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	name := cfg.Name
	if name == "" {
		name = "tapline"
	}
	b := &Broker{}
	opts := []nats.Option{nats.Name(name), nats.Timeout(timeout), nats.MaxReconnects(-1), nats.ReconnectWait(500 * time.Millisecond)}
	opts = append(opts, connLog(cfg.Log)...)
	if cfg.Embedded() {
		if err := b.startServer(ctx, cfg); err != nil {
			return nil, err
		}
		opts = append(opts, nats.InProcessServer(b.srv))
		b.url = b.srv.ClientURL()
	} else {
		b.url = cfg.URL
		auth, err := clientAuth(cfg)
		if err != nil {
			return nil, err
		}
		opts = append(opts, auth...)
	}
	nc, err := nats.Connect(b.url, opts...)
	if err != nil {
		b.stopServer()
		return nil, fmt.Errorf("nats: connect to %s: %w (is the server running and reachable? check --nats-url)", redactURL(b.url), err)
	}
	b.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("nats: jetstream: %w", err)
	}
	b.js = js
	if _, err := js.AccountInfo(ctx); err != nil {
		b.Close()
		if Temporary(err) {
			return nil, fmt.Errorf("nats: JetStream at %s did not answer: %w (a cluster electing its leader answers in a few seconds)", redactURL(b.url), err)
		}
		return nil, fmt.Errorf("nats: %s has no JetStream for this account: %w (enable JetStream on the server)", redactURL(b.url), err)
	}
	return b, nil
}

// Temporary reports whether err is one a NATS server or cluster gives while
// it is busy, restarting or electing a leader (a timeout, no responders, a
// 503 from the JetStream API): trying again later may succeed.
func Temporary(err error) bool {
	if err == nil {
		return false
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.Code == 503 {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, jetstream.ErrJetStreamNotEnabled) ||
		errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, nats.ErrNoServers) || errors.Is(err, ErrStaleState)
}

// connLog sends what a connection reports on its own while it runs to log
// (nil: slog.Default()) instead of the NATS client's bare lines on
// standard error.
func connLog(log *slog.Logger) []nats.Option {
	if log == nil {
		log = slog.Default()
	}
	return []nats.Option{
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			args := []any{"server", nc.ConnectedUrlRedacted(), "err", err}
			if sub != nil {
				args = append(args, "subject", sub.Subject)
			}
			log.Warn("nats: connection error; the client reconnects on its own, and messages not acknowledged are delivered again", args...)
		}),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil { // nil: closed on purpose
				log.Warn("nats: disconnected; reconnecting", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Warn("nats: reconnected", "server", nc.ConnectedUrlRedacted())
		}),
	}
}

// clientAuth returns the connection options of cfg's credentials and TLS
// files, or an error that names the flag of a file it cannot use.
func clientAuth(cfg Config) ([]nats.Option, error) {
	var o []nats.Option
	if cfg.CredsFile != "" {
		o = append(o, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.NKeyFile != "" {
		opt, err := nats.NkeyOptionFromSeed(cfg.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("nats: --nats-nkey %s: %w (the file must hold an NKey user seed, a line starting with SU, as nk -gen user writes)", cfg.NKeyFile, err)
		}
		o = append(o, opt)
	}
	if cfg.User != "" {
		o = append(o, nats.UserInfo(cfg.User, string(cfg.Password)))
	}
	if cfg.Token != "" {
		o = append(o, nats.Token(string(cfg.Token)))
	}
	if cfg.CAFile != "" {
		o = append(o, nats.RootCAs(cfg.CAFile))
	}
	if cfg.CertFile != "" {
		o = append(o, nats.ClientCert(cfg.CertFile, cfg.KeyFile))
	}
	return o, nil
}

// startServer starts the embedded server and waits until it accepts
// clients, for as long as that takes: JetStream recovers the store before
// the server listens, and after a SIGKILL that rebuilds the indexes (6.5 s
// for a 250 MiB stream on a busy machine; a fixed 10 s bound failed
// restarts after a crash under CI's load). Only ctx, or a fatal error the
// server reports (a port in use, a store it cannot open), ends the wait.
func (b *Broker) startServer(ctx context.Context, cfg Config) error {
	host, port := "127.0.0.1", -1
	if cfg.Listen != "" {
		h, p, _ := net.SplitHostPort(cfg.Listen) // validated
		host = h
		port, _ = strconv.Atoi(p)
	}
	opts := &server.Options{
		ServerName: "tapline-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: 8 << 20,
	}
	if cfg.StoreDir != "" {
		if err := os.MkdirAll(cfg.StoreDir, 0o755); err != nil {
			return fmt.Errorf("nats: create store directory: %w", err)
		}
		// One process per store: the server itself does not lock it.
		f, err := os.OpenFile(filepath.Join(cfg.StoreDir, "nats.lock"), os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return fmt.Errorf("nats: lock store directory: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			_ = f.Close()
			return fmt.Errorf("nats: store %s is used by another tapline process: talk to that process (its URL is in the data directory's endpoint file) or stop it", cfg.StoreDir)
		}
		b.lock = f
		opts.StoreDir = cfg.StoreDir
	} else {
		// No store given: a private temporary one, removed on Close.
		dir, err := os.MkdirTemp("", "tapline-nats-")
		if err != nil {
			return fmt.Errorf("nats: temporary store: %w", err)
		}
		b.tmpStore = dir
		opts.StoreDir = dir
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		b.unlock()
		return fmt.Errorf("nats: embedded server: %w", err)
	}
	fatal := &startLog{}
	srv.SetLoggerV2(fatal, false, false, false)
	go srv.Start()
	if err := waitReady(ctx, srv, fatal, cfg.Progress, opts.StoreDir); err != nil {
		srv.Shutdown()
		b.unlock()
		return fmt.Errorf("nats: embedded server on %s:%d: %w", host, port, err)
	}
	b.srv = srv
	return nil
}

// startProgressEvery is how often a slow start of the embedded server is
// reported. A variable only so that a test can see the report without a
// start of several seconds.
var startProgressEvery = 5 * time.Second

// waitReady waits until srv accepts clients, the server reports a fatal
// error (fatal), or ctx ends; every startProgressEvery it writes a line to
// progress (when not nil).
func waitReady(ctx context.Context, srv *server.Server, fatal *startLog, progress io.Writer, store string) error {
	began := time.Now()
	next := began.Add(startProgressEvery)
	// Each wait for readiness is at most a progress interval, so that a
	// start a little longer than one interval is reported too.
	for !srv.ReadyForConnections(min(100*time.Millisecond, startProgressEvery)) {
		if msg := fatal.get(); msg != "" {
			fix := "check that the store directory " + store + " is writable and its disk not full"
			if strings.Contains(msg, "listen") {
				fix = "set --nats-listen to a free port"
			}
			return fmt.Errorf("it failed to start: %s (%s)", msg, fix)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("stopped waiting for it to start after %v: %w", time.Since(began).Round(time.Millisecond), err)
		}
		if now := time.Now(); progress != nil && now.After(next) {
			fmt.Fprintf(progress, "tapline: embedded NATS still starting after %v: JetStream is recovering its store %s (after a crash it rebuilds the indexes; a large stream takes a while)\n", now.Sub(began).Round(time.Second), store)
			next = now.Add(startProgressEvery)
		}
	}
	return nil
}

// startLog is the embedded server's logger: it keeps the first fatal
// error and drops everything else. After a fatal error the server stops
// starting without exiting the process (only its default logger would
// exit), so waitReady reads it here to fail at once.
type startLog struct {
	mu    sync.Mutex
	fatal string
}

func (l *startLog) get() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatal
}

// Fatalf keeps the first fatal error.
func (l *startLog) Fatalf(format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fatal == "" {
		l.fatal = fmt.Sprintf(format, v...)
	}
}

// Noticef drops the message.
func (l *startLog) Noticef(string, ...any) {}

// Warnf drops the message.
func (l *startLog) Warnf(string, ...any) {}

// Errorf drops the message.
func (l *startLog) Errorf(string, ...any) {}

// Debugf drops the message.
func (l *startLog) Debugf(string, ...any) {}

// Tracef drops the message.
func (l *startLog) Tracef(string, ...any) {}

func (b *Broker) unlock() {
	if b.lock != nil {
		_ = b.lock.Close()
		b.lock = nil
	}
	if b.tmpStore != "" {
		_ = os.RemoveAll(b.tmpStore)
		b.tmpStore = ""
	}
}

func (b *Broker) stopServer() {
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
		b.srv = nil
	}
	b.unlock()
}

// URL returns the client URL: the embedded server's loopback address, or
// the configured URL with any password removed.
func (b *Broker) URL() string { return redactURL(b.url) }

// Connected reports whether the NATS connection is up right now (it
// reconnects by itself after a server or network outage).
func (b *Broker) Connected() bool { return b.nc != nil && b.nc.IsConnected() }

// Embedded reports whether this broker runs the server in-process.
func (b *Broker) Embedded() bool { return b.srv != nil }

// Close drains the connection (pending publishes and acks are flushed) and
// stops the embedded server.
func (b *Broker) Close() {
	if b.nc != nil {
		_ = b.nc.Drain()
		for i := 0; i < 100 && !b.nc.IsClosed(); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		b.nc.Close()
	}
	b.stopServer()
}

// StreamSpec describes a stream tapline creates.
type StreamSpec struct {
	// Name of the stream, e.g. "TAPLINE_SOFARPC".
	Name string
	// Subjects it captures, e.g. "logs.sofarpc.>".
	Subjects []string
	// MaxAge drops messages older than this; 0 means DefaultStreamMaxAge.
	MaxAge time.Duration
	// MaxBytes bounds the stream; 0 means no limit beyond the server's.
	MaxBytes int64
	// Replicas for a clustered server; 0 means 1.
	Replicas int
	// Memory selects memory storage instead of file storage.
	Memory bool
	// Duplicates is the duplicate window: a message published again with
	// the same message id within it is dropped. 0 means
	// DefaultDuplicateWindow. Every id in the window is held by the NATS
	// server; with the server embedded, that is tapline's own heap, which
	// Go's collector marks on every cycle (docs/performance.md, "The
	// duplicate window and Go's collector").
	Duplicates time.Duration
}

// DefaultStreamMaxAge is how long the streams tapline creates keep their
// messages unless told otherwise.
const DefaultStreamMaxAge = 7 * 24 * time.Hour

// DefaultDuplicateWindow is the duplicate window of the streams tapline
// creates unless told otherwise: NATS's own default, within which a
// follower restarted after a crash may publish its last messages again
// and have them dropped (README, "Shipping log files").
const DefaultDuplicateWindow = 2 * time.Minute

// EnsureStream creates the stream when it is missing, with s's subjects and
// limits. An existing stream is never changed: its configuration is the
// operator's (replicas, retention, limits may have been set on purpose);
// the returned differences from what tapline would create say what to look
// at, one line each, for a warning. It can run on every start.
func (b *Broker) EnsureStream(ctx context.Context, s StreamSpec) (diff []string, err error) {
	cfg := s.config()
	st, err := b.js.Stream(ctx, s.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if _, err := b.js.CreateStream(ctx, cfg); err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return nil, fmt.Errorf("nats: create stream %s (%s): %w", s.Name, strings.Join(s.Subjects, ", "), err)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("nats: stream %s: %w", s.Name, err)
	}
	have := st.CachedInfo().Config
	if !sameSet(have.Subjects, cfg.Subjects) {
		diff = append(diff, fmt.Sprintf("stream %s captures %s, tapline is configured for %s: tapline leaves the stream as it is (change it with `nats stream edit`, or --subjects)", s.Name, strings.Join(have.Subjects, ", "), strings.Join(cfg.Subjects, ", ")))
	}
	for _, d := range []struct {
		what       string
		have, want any
	}{
		{"max age", have.MaxAge, cfg.MaxAge}, {"max bytes", have.MaxBytes, cfg.MaxBytes}, {"replicas", have.Replicas, cfg.Replicas},
		{"storage", have.Storage, cfg.Storage}, {"retention", have.Retention, cfg.Retention}, {"duplicate window", have.Duplicates, cfg.Duplicates},
	} {
		if d.have != d.want {
			diff = append(diff, fmt.Sprintf("stream %s has %s %v where tapline would create %v: kept as it is", s.Name, d.what, d.have, d.want))
		}
	}
	return diff, nil
}

// config is the stream configuration tapline creates for s.
func (s StreamSpec) config() jetstream.StreamConfig {
	cfg := jetstream.StreamConfig{
		Name:        s.Name,
		Subjects:    s.Subjects,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      s.MaxAge,
		MaxBytes:    s.MaxBytes,
		Replicas:    s.Replicas,
		Storage:     jetstream.FileStorage,
		Duplicates:  s.Duplicates,
		AllowDirect: true,
	}
	if cfg.Duplicates == 0 {
		cfg.Duplicates = DefaultDuplicateWindow
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = DefaultStreamMaxAge
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = -1
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if s.Memory {
		cfg.Storage = jetstream.MemoryStorage
	}
	return cfg
}

// sameSet reports whether a and b hold the same strings.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		if seen[x] == 0 {
			return false
		}
		seen[x]--
	}
	return true
}

// redactURL removes user:password@ from NATS URLs.
func redactURL(u string) string {
	parts := strings.Split(u, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			if s := strings.Index(p, "://"); s >= 0 && s < at {
				parts[i] = p[:s+3] + "[redacted]@" + p[at+1:]
			}
		}
	}
	return strings.Join(parts, ",")
}

// ErrNoMessage is returned by Consumer.Next when no message arrived in time.
var ErrNoMessage = errors.New("no message")
