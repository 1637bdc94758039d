// Package clickhouse is the ClickHouse server as a sink.Target, through
// clickhouse-go/v2 over the native protocol (LZ4-compressed blocks).
//
// Inserts append Arrow columns to the batch's columns one whole column at a
// time (see encode.go), carry the same insert_deduplication_token as the
// embedded path, and retry retryable server errors (decided by ClickHouse
// error code, never by message text) a bounded number of times with
// exponential backoff. Queries run over the native protocol too; their
// results are rendered in a small set of ClickHouse text formats on the
// client (see format.go), because the native protocol carries blocks, not
// formatted output.
//
// Credentials never leave Config: they do not print, and every error this
// package returns is scrubbed of the password.
package clickhouse

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
)

// Secret is a password. It prints as "[redacted]" in every fmt verb and in
// slog, so a Config can be logged whole.
type Secret string

// String returns "[redacted]" (or "" for an empty secret).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString returns the same as String, for %#v.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// LogValue keeps the secret out of structured logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Config says which server to use and how to behave when it is away. The
// zero value is not usable: DSN is required. Build it with ParseDSN or by
// hand; Validate reports every problem at once.
type Config struct {
	// Addr lists host:port pairs of the native protocol (default port 9000);
	// clickhouse-go tries them in order.
	Addr []string
	// Database is where tapline's tables live. Empty means "default".
	Database string
	// User and Password authenticate. Password never prints.
	User     string
	Password Secret
	// Options carries the remaining clickhouse-go settings parsed from the
	// DSN (TLS, timeouts, compression, extra query settings). nil means
	// defaults: LZ4 compression, 5s dial timeout.
	Options *chgo.Options
	// Cluster, when set, makes every insert synchronous across the cluster's
	// shards (insert_distributed_sync = 1), so that an insert returns only
	// after every shard committed it: the ack-after-commit rule holds for
	// Distributed tables too. The DDL side of a cluster is sql.Render.
	Cluster string
	// CreateDatabase makes Open create Database when the server does not
	// have it (ON CLUSTER when Cluster is set): for `tapline schema apply`.
	// Otherwise a missing database fails Open with a hint to apply.
	CreateDatabase bool
	// InsertAttempts bounds the attempts of one Insert for retryable errors;
	// 0 means 3. The caller (the pipeline) decides what happens after that.
	InsertAttempts int
	// RetryMin and RetryMax bound the backoff between attempts, for inserts
	// and for the connection at Open; 0 means 100ms and 5s.
	RetryMin, RetryMax time.Duration
	// ConnectAttempts bounds the attempts Open makes to reach the server;
	// 0 means: keep trying until the context ends (what `tapline run`
	// wants: a server that is down at start is waited for, with backoff).
	ConnectAttempts int
	// Logger receives the connection status while Open waits and each
	// retried insert; nil discards. Credentials never reach it.
	Logger *slog.Logger
}

// ParseDSN reads a clickhouse://user:password@host:9000/database?param=...
// DSN (the native protocol), or http:// and https:// for ClickHouse's HTTP
// interface (a server's port 8123, or `tapline serve --http-writable`,
// which takes the INSERTs tapline sends). The parameters are clickhouse-go's (secure, skip_verify,
// dial_timeout, read_timeout, compress, ...; unknown ones become query
// settings). The error never contains the DSN's password.
func ParseDSN(dsn string) (Config, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return Config{}, errors.New("clickhouse DSN: not a URL (expected clickhouse://user:password@host:9000/database; URL-encode special characters in the password)")
	}
	if u.Scheme != "clickhouse" && u.Scheme != "tcp" && u.Scheme != "http" && u.Scheme != "https" {
		return Config{}, fmt.Errorf("clickhouse DSN: scheme %q: use clickhouse://host:9000/database (native protocol) or http://host:8123/database (HTTP)", u.Scheme)
	}
	pw, _ := u.User.Password()
	opts, err := chgo.ParseDSN(dsn)
	if err != nil {
		return Config{}, fmt.Errorf("clickhouse DSN: %s", scrub(err.Error(), pw))
	}
	c := Config{
		Addr:     opts.Addr,
		Database: opts.Auth.Database,
		User:     opts.Auth.Username,
		Password: Secret(opts.Auth.Password),
		Options:  opts,
	}
	return c, nil
}

// Validate reports every problem at once. It does not modify c.
func (c Config) Validate() error {
	var errs []error
	if len(c.Addr) == 0 {
		errs = append(errs, errors.New("clickhouse: no server address: set --clickhouse clickhouse://user:password@host:9000/database"))
	}
	for _, a := range c.Addr {
		if strings.TrimSpace(a) == "" {
			errs = append(errs, errors.New("clickhouse: empty server address in the DSN"))
		}
	}
	if c.InsertAttempts < 0 {
		errs = append(errs, fmt.Errorf("clickhouse: insert attempts %d must be 0 (default 3) or more", c.InsertAttempts))
	}
	if c.ConnectAttempts < 0 {
		errs = append(errs, fmt.Errorf("clickhouse: connect attempts %d must be 0 (until cancelled) or more", c.ConnectAttempts))
	}
	if c.RetryMin < 0 || c.RetryMax < 0 || (c.RetryMin > 0 && c.RetryMax > 0 && c.RetryMin > c.RetryMax) {
		errs = append(errs, fmt.Errorf("clickhouse: retry backoff %v..%v must be non-negative and increasing", c.RetryMin, c.RetryMax))
	}
	return errors.Join(errs...)
}

// Redacted returns the DSN without the password, for messages:
// clickhouse://user@host:9000/database.
func (c Config) Redacted() string {
	scheme := "clickhouse"
	if c.Options != nil && c.Options.Protocol == chgo.HTTP {
		scheme = "http"
		if c.Options.TLS != nil {
			scheme = "https"
		}
	}
	u := url.URL{Scheme: scheme, Host: strings.Join(c.Addr, ","), Path: "/" + c.database()}
	if c.User != "" {
		u.User = url.User(c.User)
	}
	return u.String()
}

func (c Config) database() string {
	if c.Database == "" {
		return "default"
	}
	return c.Database
}

func (c Config) insertAttempts() int {
	if c.InsertAttempts == 0 {
		return 3
	}
	return c.InsertAttempts
}

func (c Config) retryMin() time.Duration {
	if c.RetryMin == 0 {
		return 100 * time.Millisecond
	}
	return c.RetryMin
}

func (c Config) retryMax() time.Duration {
	if c.RetryMax == 0 {
		return 5 * time.Second
	}
	return c.RetryMax
}

func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// options builds clickhouse-go's options: the parsed DSN's, with tapline's
// defaults (LZ4, 5s dial timeout, a pool sized for the pipeline).
func (c Config) options() *chgo.Options {
	var o chgo.Options
	if c.Options != nil {
		o = *c.Options
	}
	if c.Options == nil || c.Options.Protocol != chgo.HTTP {
		o.Protocol = chgo.Native
	}
	o.Addr = c.Addr
	o.Auth = chgo.Auth{Database: c.database(), Username: c.User, Password: string(c.Password)}
	if o.Compression == nil {
		o.Compression = &chgo.Compression{Method: chgo.CompressionLZ4}
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.MaxOpenConns == 0 {
		o.MaxOpenConns = 8
	}
	if o.ConnMaxLifetime == 0 {
		o.ConnMaxLifetime = time.Hour
	}
	return &o
}

// scrub removes every occurrence of secret (and its URL-escaped forms) from s.
func scrub(s, secret string) string {
	if secret == "" {
		return s
	}
	for _, v := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
		if v != "" {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}
