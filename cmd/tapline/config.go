package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tapline/tapline/app"
	"github.com/tapline/tapline/chhttp"
	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/pipeline"
	"github.com/tapline/tapline/sql"
)

// errHelp is returned after --help printed the usage (exit 0).
var errHelp = errors.New("help printed")

// settings is every configurable value. Each command registers the groups
// it needs; values come from flags, then TAPLINE_<FLAG> environment
// variables, then the YAML file given by --config (keys are flag names),
// then defaults.
type settings struct {
	ConfigFile string

	DataDir    string
	ClickHouse string
	Database   string
	Library    string
	Cluster    string

	// Set by commands, not flags: `run` waits for a server that is down;
	// `schema apply` creates the database.
	waitForServer  bool
	createDatabase bool

	NATSURL      string
	Subjects     string
	NATSListen   string
	NATSCreds    string
	NATSNKey     string
	NATSUser     string
	NATSPassword string
	NATSToken    string
	NATSCA       string
	NATSCert     string
	NATSKey      string

	Sources    string
	TimeZone   string
	BatchRows  int
	BatchBytes int
	BatchAge   time.Duration
	// Inserters is how many batches of one source insert at once.
	Inserters int
	// MemoryLimit is the Go heap's soft limit in bytes (applyMemoryLimit).
	MemoryLimit int64
	// GCPercent is the Go collector's target percentage (applyGCPercent).
	GCPercent int
	// ShutdownTimeout bounds the drain after SIGINT/SIGTERM.
	ShutdownTimeout time.Duration
	// Metrics is the address of /metrics, /healthz and /readyz.
	Metrics string
	AckWait time.Duration
	// Instance names this process among those sharing a consumer.
	Instance string
	// StreamReplicas, StreamMaxAge, StreamMaxBytes and StreamDupeWindow
	// are the limits of streams tapline creates.
	StreamReplicas   int
	StreamMaxAge     time.Duration
	StreamMaxBytes   int64
	StreamDupeWindow time.Duration

	HTTP           string
	HTTPUser       string
	HTTPPassword   string
	HTTPWritable   bool
	HTTPHosts      string
	HTTPTimeout    time.Duration
	HTTPMaxResult  int64
	HTTPMaxMemory  int64
	HTTPQueryConns int

	// Retention is the tables' TTL (groupRetention); retentionSet says the
	// command has the flags, so appConfig passes it on.
	Retention    sql.Retention
	retentionSet bool
}

type group int

const (
	groupData group = 1 << iota
	groupNATS
	groupPipeline
	groupHTTP
	groupHTTPAuth  // --http-user, --http-password: for run, and sql as its client
	groupRetention // --retention-*: TTL of the tables, for run, serve and schema
)

const defaultDataDir = app.DefaultDataDir

// defaultMemoryLimit is --memory-limit's default, the Go heap's soft limit:
// 896 MiB. At the loadtest's maximum rate the heap sits at this limit (the
// embedded NATS server's block caches, about ten seconds of what is
// published, and the batches in flight); with the embedded engine's working
// set during two merges, the process peaked at or under 1.5 GiB resident in
// 45-s runs, and stayed flat over ten minutes at 5-10% less rate than with
// 1 GiB. Below the maximum the heap stays under the limit, and the limit does
// nothing (docs/performance.md, "The Go heap's soft limit: 896 MiB").
const defaultMemoryLimit = 896 << 20

// newFlags returns a FlagSet for a command with the groups' flags.
func (s *settings) newFlags(name, synopsis string, groups group, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("tapline "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&s.ConfigFile, "config", "", "YAML file with settings; keys are flag names (e.g. data-dir: /var/lib/tapline)")
	if groups&groupData != 0 {
		fs.StringVar(&s.DataDir, "data-dir", defaultDataDir, "directory for the embedded ClickHouse engine, the embedded NATS store and the endpoint file")
		fs.StringVar(&s.ClickHouse, "clickhouse", "", "ClickHouse server DSN (clickhouse://user:pass@host:9000/db); empty uses the embedded engine in --data-dir")
		fs.StringVar(&s.Database, "database", "tapline", "ClickHouse database for tapline's tables")
		fs.StringVar(&s.Cluster, "cluster", "", "ClickHouse cluster name (remote_servers) for ON CLUSTER DDL with Replicated and Distributed tables; with --clickhouse")
		fs.StringVar(&s.Library, "libchdb", "", "path to libchdb.so; empty looks in $TAPLINE_LIBCHDB and the engine cache (tapline engine fetch)")
	}
	if groups&groupNATS != 0 {
		fs.StringVar(&s.Subjects, "subjects", "", "subjects per format, replacing the default logs.<format>.>: format=subject,... (NATS wildcards allowed, e.g. sofarpc=rpc.*.digest,sofarpc=rpc.*.stat)")
		fs.StringVar(&s.NATSURL, "nats-url", "", "external NATS server or cluster URL(s); empty runs an embedded server storing in --data-dir")
		fs.StringVar(&s.NATSListen, "nats-listen", "127.0.0.1:-1", "client address of the embedded NATS server (port -1: any free port, announced in the endpoint file)")
		fs.StringVar(&s.NATSCreds, "nats-creds", "", "NATS credentials file (with --nats-url)")
		fs.StringVar(&s.NATSNKey, "nats-nkey", "", "NATS NKey seed file (with --nats-url)")
		fs.StringVar(&s.NATSUser, "nats-user", "", "NATS user (with --nats-url)")
		fs.StringVar(&s.NATSPassword, "nats-password", "", "NATS password (with --nats-user); prefer TAPLINE_NATS_PASSWORD")
		fs.StringVar(&s.NATSToken, "nats-token", "", "NATS token (with --nats-url); prefer TAPLINE_NATS_TOKEN")
		fs.IntVar(&s.StreamReplicas, "stream-replicas", 1, "replicas of the streams and the journal bucket tapline creates when missing (3 on a NATS cluster survives a node's loss); existing ones are never changed, only compared")
		fs.DurationVar(&s.StreamMaxAge, "stream-max-age", ingest.DefaultStreamMaxAge, "streams tapline creates drop messages older than this")
		fs.Int64Var(&s.StreamMaxBytes, "stream-max-bytes", 0, "streams tapline creates keep at most this many bytes each, dropping the oldest; 0 means no limit")
		fs.DurationVar(&s.StreamDupeWindow, "stream-dupe-window", ingest.DefaultDuplicateWindow, "streams tapline creates drop a message published again with the same message id within this window (a follower restarted after a crash republishes its last messages); the embedded NATS server holds every id of the window in tapline's heap, which costs Go's collector CPU at high message rates (README, Shipping log files)")
		fs.StringVar(&s.NATSCA, "nats-ca", "", "CA file to verify the NATS server's TLS certificate")
		fs.StringVar(&s.NATSCert, "nats-cert", "", "client certificate for NATS mutual TLS")
		fs.StringVar(&s.NATSKey, "nats-key", "", "client key for NATS mutual TLS")
	}
	if groups&groupPipeline != 0 {
		fs.StringVar(&s.Sources, "sources", "", "comma-separated formats to consume; empty means all: "+strings.Join(app.Formats(), ","))
		fs.StringVar(&s.TimeZone, "time-zone", "UTC", "IANA zone of timestamps written without one (SOFATracer writes JVM-local time)")
		fs.IntVar(&s.BatchRows, "batch-rows", 100_000, "close a batch at this many rows")
		fs.IntVar(&s.BatchBytes, "batch-bytes", 32<<20, "close a batch at this many payload bytes")
		fs.DurationVar(&s.BatchAge, "batch-age", time.Second, "close a batch this long after its first message")
		fs.IntVar(&s.Inserters, "inserters", 2, "batches of one source inserted at once, each committed on its own (1 holds the fewest batches in memory; more help a drain only while the engine has idle CPU)")
		fs.Int64Var(&s.MemoryLimit, "memory-limit", defaultMemoryLimit, "soft limit of the Go heap in bytes (Go's GOMEMLIMIT, which wins when set): the collector works harder near it, so a run that falls behind stays near it instead of growing with the lag; the embedded ClickHouse engine's memory (90-600 MB) is not in it; 0 means no limit")
		fs.IntVar(&s.GCPercent, "gc-percent", 50, "Go collector's target (Go's GOGC, which wins when set): the heap grows to this percentage above what is live before a collection; lower holds less memory for more collector work (Go's default is 100; docs/performance.md measures 50 against it); -1 turns the collector off below --memory-limit")
		fs.StringVar(&s.Instance, "instance", "", "name of this process among the tapline processes sharing a durable consumer (a pod or host name; unique per process); empty means the host name. Batches an earlier start of the same instance left are replayed at start; those of others once their lease (2 × --ack-wait) ran out")
		fs.StringVar(&s.Metrics, "metrics", "", "address of /metrics (Prometheus), /healthz and /readyz, e.g. 127.0.0.1:9464; empty disables them")
		fs.DurationVar(&s.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGINT/SIGTERM, commit the batches in hand for at most this long; what is not committed by then is left unacknowledged for the next run (exit code 3)")
		fs.DurationVar(&s.AckWait, "ack-wait", 30*time.Second, "JetStream redelivers a message not acknowledged this long after delivery (after a crash, or to another instance); batches in flight extend it")
	}
	if groups&groupHTTP != 0 {
		fs.StringVar(&s.HTTP, "http", "127.0.0.1:8124", "address of the ClickHouse-compatible HTTP endpoint (tapline sql, Grafana); empty disables it; beyond loopback it needs --http-user and --http-password")
		fs.BoolVar(&s.HTTPWritable, "http-writable", false, "let the HTTP endpoint accept INSERT ... FORMAT <format> with the data in the body into tapline's tables (POST only; what clickhouse-go sends); nothing else becomes writable")
		fs.StringVar(&s.HTTPHosts, "http-host", "", "comma-separated host names the HTTP endpoint answers besides loopback names (the Host header; refuses DNS-rebinding pages)")
		fs.DurationVar(&s.HTTPTimeout, "http-timeout", time.Minute, "longest a query of the HTTP endpoint runs (the engine's max_execution_time on its read-only connections)")
		fs.Int64Var(&s.HTTPMaxResult, "http-max-result-bytes", 1<<30, "largest answer of the HTTP endpoint, in bytes (streamed; a longer one ends with an error)")
		fs.Int64Var(&s.HTTPMaxMemory, "http-max-memory", 1<<30, "memory one HTTP endpoint query may use on the engine, in bytes (max_memory_usage)")
		fs.IntVar(&s.HTTPQueryConns, "http-queries", 2, "queries the HTTP endpoint runs at once, on its own read-only engine connections (ingestion's connections are never used)")
	}
	if groups&groupHTTPAuth != 0 {
		fs.StringVar(&s.HTTPUser, "http-user", "", "user the HTTP endpoint requires (basic auth); required with --http beyond loopback")
		fs.StringVar(&s.HTTPPassword, "http-password", "", "password for --http-user; prefer TAPLINE_HTTP_PASSWORD")
	}
	if groups&groupRetention != 0 {
		retentionFlags(fs, &s.Retention)
		s.retentionSet = true
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: tapline %s\n\n", synopsis)
		fmt.Fprintln(stderr, "Flags (each also TAPLINE_<NAME> in the environment, e.g. --data-dir is TAPLINE_DATA_DIR):")
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, then fills unset flags from the environment and the
// YAML file, then runs validate (when not nil) on the result. Every problem
// (bad environment values, unknown YAML keys, and everything validate
// finds) is reported at once as one usage error, naming its flag, variable
// or key. Only a malformed command line stops it early.
func (s *settings) parse(fs *flag.FlagSet, args []string, validate func() error) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return usageError{err}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		env := "TAPLINE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("$%s: %w", env, err))
			}
			set[f.Name] = true
		}
	})
	if s.ConfigFile != "" {
		errs = append(errs, s.applyYAML(fs, set)...)
	}
	if validate != nil {
		if err := validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if fs.Lookup("memory-limit") != nil {
		if s.MemoryLimit < 0 {
			errs = append(errs, errors.New("--memory-limit: must be 0 (no limit) or a number of bytes"))
		} else {
			applyMemoryLimit(s.MemoryLimit)
		}
	}
	if fs.Lookup("gc-percent") != nil {
		if s.GCPercent < -1 {
			errs = append(errs, errors.New("--gc-percent: must be -1 (off) or a percentage of at least 0"))
		} else {
			applyGCPercent(s.GCPercent)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return usageError{err}
	}
	return nil
}

func (s *settings) applyYAML(fs *flag.FlagSet, set map[string]bool) []error {
	b, err := os.ReadFile(s.ConfigFile)
	if err != nil {
		return []error{fmt.Errorf("--config: %w", err)}
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return []error{fmt.Errorf("--config %s: %w", s.ConfigFile, err)}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		f := fs.Lookup(k)
		if f == nil || k == "config" {
			errs = append(errs, fmt.Errorf("--config %s: unknown key %q (keys are this command's flag names)", s.ConfigFile, k))
			continue
		}
		if set[k] {
			continue
		}
		if err := fs.Set(k, fmt.Sprint(m[k])); err != nil {
			errs = append(errs, fmt.Errorf("--config %s: key %s: %w", s.ConfigFile, k, err))
		}
	}
	return errs
}

// natsConfig builds the NATS configuration; the embedded server stores in
// <data-dir>/nats.
func (s *settings) natsConfig() ingest.Config {
	c := ingest.Config{
		URL: s.NATSURL, CredsFile: s.NATSCreds, NKeyFile: s.NATSNKey, User: s.NATSUser,
		Password: ingest.Secret(s.NATSPassword), Token: ingest.Secret(s.NATSToken),
		CAFile: s.NATSCA, CertFile: s.NATSCert, KeyFile: s.NATSKey,
	}
	if c.URL == "" {
		c.StoreDir = s.DataDir + "/nats"
		c.Listen = s.NATSListen
	}
	return c
}

// appConfig is the application's configuration from the settings;
// warnings go to log. Call it after validation: values that failed to
// parse are left at their zero value.
func (s *settings) appConfig(log io.Writer) app.Config {
	loc, _ := s.location()
	subjects, _ := app.ParseSubjects(s.Subjects)
	var sources []string
	if strings.TrimSpace(s.Sources) != "" {
		sources, _ = s.selectedSources()
	}
	c := app.Config{
		DataDir: s.DataDir, ClickHouse: s.ClickHouse, Database: s.Database, Cluster: s.Cluster, Library: s.Library,
		NATS: s.natsConfig(), Streams: app.StreamLimits{Replicas: s.StreamReplicas, MaxAge: s.StreamMaxAge, MaxBytes: s.StreamMaxBytes, Duplicates: s.StreamDupeWindow}, Sources: sources, Subjects: subjects, TimeZone: loc,
		Pipeline: s.pipelineConfig(), AckWait: s.AckWait, HTTP: s.httpConfig(), Metrics: s.Metrics,
		WaitForServer: s.waitForServer, CreateDatabase: s.createDatabase, Log: log,
	}
	if s.retentionSet {
		r := s.Retention
		c.Retention = &r
	}
	return c
}

// httpConfig is the HTTP endpoint's configuration.
func (s *settings) httpConfig() chhttp.Config {
	var hosts []string
	for _, h := range strings.Split(s.HTTPHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	return chhttp.Config{Addr: s.HTTP, Hosts: hosts, User: s.HTTPUser, Password: chhttp.Secret(s.HTTPPassword), Writable: s.HTTPWritable,
		Connections: s.HTTPQueryConns, MaxExecutionTime: s.HTTPTimeout, MaxResultBytes: s.HTTPMaxResult, MaxMemoryUsage: s.HTTPMaxMemory}
}

func (s *settings) pipelineConfig() pipeline.Config {
	return pipeline.Config{MaxRows: s.BatchRows, MaxBytes: s.BatchBytes, MaxAge: s.BatchAge, Inserters: s.Inserters, ShutdownTimeout: s.ShutdownTimeout, Instance: s.Instance}
}

// selectedSources returns the formats to run, validating the names.
func (s *settings) selectedSources() ([]string, error) {
	if strings.TrimSpace(s.Sources) == "" {
		return app.Formats(), nil
	}
	known := map[string]bool{}
	for _, n := range app.Formats() {
		known[n] = true
	}
	var out []string
	var errs []error
	for _, n := range strings.Split(s.Sources, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !known[n] {
			errs = append(errs, fmt.Errorf("--sources: unknown format %q (known: %s)", n, strings.Join(app.Formats(), ", ")))
			continue
		}
		out = append(out, n)
	}
	return out, errors.Join(errs...)
}

func (s *settings) location() (*time.Location, error) {
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("--time-zone %q: %w", s.TimeZone, err)
	}
	return loc, nil
}

// applyGCPercent sets the Go collector's target percentage to percent (-1:
// off), unless GOGC is in the environment: the runtime applied that one at
// start, and it wins.
func applyGCPercent(percent int) {
	if _, ok := os.LookupEnv("GOGC"); ok {
		return
	}
	debug.SetGCPercent(percent)
}

// applyMemoryLimit sets the Go runtime's soft memory limit to limit bytes
// (0: none), unless GOMEMLIMIT is in the environment: the runtime applied
// that one at start, and it wins.
func applyMemoryLimit(limit int64) {
	if _, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		return
	}
	if limit == 0 {
		limit = math.MaxInt64
	}
	debug.SetMemoryLimit(limit)
}
