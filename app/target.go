package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tapline/tapline/schema"
	"github.com/tapline/tapline/sink"
	"github.com/tapline/tapline/sink/clickhouse"
	"github.com/tapline/tapline/sink/embedded"
	"github.com/tapline/tapline/sql"
)

// Target is an open ClickHouse target: the embedded engine or a server.
type Target struct {
	sink.Target
	// Engine is the embedded engine, nil for a server.
	Engine *embedded.Engine
	// Desc says what the target is, without secrets.
	Desc string
	// Database is the database tapline's tables are in.
	Database string
}

// Close closes the target and, for the embedded engine, the engine.
func (t *Target) Close() error {
	err := t.Target.Close()
	if t.Engine != nil {
		err = errors.Join(err, t.Engine.Close())
	}
	return err
}

// ErrBadDSN wraps a ClickHouse DSN that cannot be parsed (a usage error).
var ErrBadDSN = errors.New("bad --clickhouse DSN")

// OpenTarget opens the configured ClickHouse: the embedded engine in
// DataDir, or the server named by ClickHouse (native protocol,
// clickhouse-go/v2). With WaitForServer it waits for a server that is
// down, logging each attempt; otherwise it gives up after three attempts.
// The DSN's database wins over Database. Neither the DSN's password nor
// anything derived from it is printed.
func OpenTarget(ctx context.Context, c Config) (*Target, error) {
	if c.ClickHouse != "" {
		return openServer(ctx, c)
	}
	e, err := embedded.Open(ctx, c.EngineConfig())
	if errors.Is(err, embedded.ErrDataDirLocked) {
		return nil, fmt.Errorf("%w: a `tapline run` (or demo) holds %s; use `tapline sql` against it, or stop it first", err, c.DataDir)
	}
	if err != nil {
		return nil, err
	}
	return &Target{Target: embedded.NewTarget(e.Pool), Engine: e, Database: c.Database, Desc: fmt.Sprintf("embedded ClickHouse %s in %s (database %s)", e.Version(), filepath.Join(e.DataDir(), "clickhouse"), c.Database)}, nil
}

func openServer(ctx context.Context, c Config) (*Target, error) {
	cfg, err := clickhouse.ParseDSN(c.ClickHouse)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadDSN, err)
	}
	if cfg.Database == "" {
		cfg.Database = c.Database
	}
	cfg.Cluster = c.Cluster
	cfg.CreateDatabase = c.CreateDatabase
	cfg.ConnectAttempts = 3
	if c.WaitForServer {
		cfg.ConnectAttempts = 0
	}
	cfg.Logger = c.logger()
	t, err := clickhouse.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Target{Target: t, Desc: t.Describe(), Database: cfg.Database}, nil
}

// RenderOptions is how the schema is rendered for t: for cluster (may be
// empty), with t's database.
func RenderOptions(t *Target, cluster string) sql.RenderOptions {
	return sql.RenderOptions{Cluster: cluster, Database: t.Database}
}

// ApplySchema applies the pending migrations (idempotent) and warns on w
// about files changed since they were applied.
func ApplySchema(ctx context.Context, t *Target, cluster string, w io.Writer) error {
	opts := RenderOptions(t, cluster)
	ms, err := sql.Migrations(opts)
	if err != nil {
		return err
	}
	sts, err := sql.Migrate(ctx, t, ms, opts)
	if err != nil {
		return err
	}
	if _, err := SpreadMerges(ctx, t); err != nil {
		return err
	}
	WarnChanged(sts, w)
	return nil
}

// SpreadMerges gives the embedded engine's busiest tables merge widths of
// their own (embedded.Target.SpreadMerges) and returns the tables it set;
// it does nothing on a ClickHouse server, whose merges are its own
// configuration's. ApplySchema calls it; so does `tapline schema apply`.
func SpreadMerges(ctx context.Context, t *Target) ([]string, error) {
	et, ok := t.Target.(*embedded.Target)
	if !ok {
		return nil, nil
	}
	return et.SpreadMerges(ctx)
}

// CheckSchema refuses a target whose migrations are not all applied or
// whose tables lack the columns of tables, and warns on w about files
// changed since they were applied.
func CheckSchema(ctx context.Context, t *Target, cluster string, tables []*schema.Table, w io.Writer) error {
	ms, err := sql.Migrations(RenderOptions(t, cluster))
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
		return fmt.Errorf("%d schema migrations are not applied on %s (%s): run `tapline schema apply` with the same --clickhouse, --database and --cluster first", len(pending), t.Desc, strings.Join(pending, ", "))
	}
	WarnChanged(sts, w)
	return sql.CheckColumns(ctx, t, tables)
}

// WarnChanged writes a warning line to w for each migration changed since
// it was applied, saying what brings the object to the file: `tapline
// schema apply` for a view (its query is replaced in place) and for a
// table that a pending alters/ file names; for a table that no alters/ file
// of this tapline names, a newer tapline (its alters/) or an ALTER by hand.
func WarnChanged(sts []sql.Status, w io.Writer) {
	for _, st := range sts {
		if st.State != sql.Changed {
			continue
		}
		var fix string
		switch table := strings.TrimSuffix(path.Base(st.Version), ".sql"); {
		case strings.HasPrefix(st.Version, "views/"):
			fix = "run `tapline schema apply` to replace the view's query in place (ALTER TABLE ... MODIFY QUERY)"
		case pendingAlter(sts, table) != "":
			fix = "run `tapline schema apply`: " + pendingAlter(sts, table) + " brings the table to it"
		default:
			fix = "no alters/ file of this tapline brings table " + table + " to it: if a newer tapline applied it, keep using that one (its alters/ bring the table up to date); otherwise ALTER TABLE " + table + " by hand to match `tapline schema print`"
		}
		fmt.Fprintf(w, "tapline: warning: %s changed since it was applied (%s): %s\n", st.Version, st.AppliedAt, fix)
	}
}

// pendingAlter returns the first pending alters/ migration of sts that
// alters table, or "".
func pendingAlter(sts []sql.Status, table string) string {
	for _, st := range sts {
		if st.State == sql.Pending && slices.Contains(st.Alters, table) {
			return st.Version
		}
	}
	return ""
}

// ApplyRetention brings the TTL of t's tables to r where it differs (see
// sql.ApplyRetention) and, when it changed any, writes one line to w
// naming them.
func ApplyRetention(ctx context.Context, t *Target, cluster string, r sql.Retention, w io.Writer) error {
	changes, err := sql.ApplyRetention(ctx, t, r, RenderOptions(t, cluster))
	if len(changes) > 0 {
		names := make([]string, len(changes))
		for i, c := range changes {
			names[i] = c.Table
		}
		fmt.Fprintf(w, "tapline: retention (raw %v, aggregates %v, batches %v; 0 is forever) set on %s\n", r.Raw, r.Aggregates, r.Batches, strings.Join(names, ", "))
	}
	return err
}

// WarnRetention writes a warning to w for each of t's tables whose TTL
// differs from r; it changes nothing (a server's schema is the
// operator's). When it cannot read the tables' TTL it says nothing: that
// is `tapline serve`'s endpoint (no system.tables there), whose own
// --retention-* flags set the TTL.
func WarnRetention(ctx context.Context, t *Target, cluster string, r sql.Retention, w io.Writer) {
	changes, err := sql.RetentionChanges(ctx, t, r, RenderOptions(t, cluster))
	if err != nil {
		return
	}
	for _, c := range changes {
		fmt.Fprintf(w, "tapline: warning: retention of %s differs from the --retention-* flags (%s): run `tapline schema apply` with the same flags to set it\n", c.Table, describeTTL(c))
	}
}

func describeTTL(c sql.TTLChange) string {
	ttl := func(s string) string {
		if s == "" {
			return "none (kept forever)"
		}
		return "TTL " + s
	}
	return ttl(c.Have) + " -> " + ttl(c.Want)
}
