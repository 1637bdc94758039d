package sql

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/tapline/tapline/sink"
	"github.com/tapline/tapline/sql/sqllex"
)

// MigrationsTable records which migrations a database has: one row per
// applied file with the checksum it had.
const MigrationsTable = "tapline_migrations"

// Migration is one versioned unit of the schema: one .sql file. Its
// version is the file's path ("tables/sofarpc_digest.sql"), so new files
// never renumber old ones; migrations apply in this order: tables/ by
// name, alters/ by name, views/ by name.
type Migration struct {
	// Version is the file path inside the sql directory.
	Version string
	// Checksum is the hex SHA-256 of the file's statement with comments
	// removed and whitespace collapsed: editing a comment does not change
	// it, changing the DDL does.
	Checksum string
	// Statements are the rendered DDL, run in order.
	Statements []string
	// Alters names the tables (of tables/) an alters/ file alters; empty
	// for other files. Once the file is applied, each of these tables'
	// files counts as applied as it is now.
	Alters []string
	// Replace, for a views/ file, brings a view created from an earlier
	// version of the file to this one in place: ALTER TABLE <view> MODIFY
	// QUERY <the file's SELECT>. A materialized view holds no rows, so
	// nothing is lost; the new query applies to inserts from then on (rows
	// already aggregated into its target table stay as they were).
	Replace []string
}

// Migrations renders tapline's embedded .sql files for opts.
func Migrations(opts RenderOptions) ([]Migration, error) {
	return MigrationsFrom(files, opts)
}

// MigrationsFrom renders the tables/*.sql and views/*.sql files of fsys
// (one CREATE ... IF NOT EXISTS statement each) and the alters/*.sql files
// (ALTER TABLE statements on those tables, see alterName) for opts.
func MigrationsFrom(fsys fs.FS, opts RenderOptions) ([]Migration, error) {
	var sts []Statement
	for _, d := range []string{"tables", "alters", "views"} {
		s, err := readDir(fsys, d)
		if err != nil {
			return nil, err
		}
		sts = append(sts, s...)
	}
	tables := map[string]bool{}
	for _, st := range sts {
		if strings.HasPrefix(st.Name, "tables/") {
			tables[strings.TrimSuffix(path.Base(st.Name), ".sql")] = true
		}
	}
	out := make([]Migration, 0, len(sts))
	var errs []error
	for _, st := range sts {
		if strings.HasPrefix(st.Name, "alters/") {
			as, err := parseAlters(st, tables)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			m := Migration{Version: st.Name, Checksum: checksum(st.SQL), Statements: renderAlters(as, opts)}
			for _, a := range as {
				if !slices.Contains(m.Alters, a.table) {
					m.Alters = append(m.Alters, a.table)
				}
			}
			out = append(out, m)
			continue
		}
		stmts, err := Render(st, opts, tables)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m := Migration{Version: st.Name, Checksum: checksum(st.SQL), Statements: stmts}
		if strings.HasPrefix(st.Name, "views/") {
			if m.Replace, err = replaceView(st.Name, stmts); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		out = append(out, m)
	}
	return out, errors.Join(errs...)
}

func readDir(fsys fs.FS, d string) ([]Statement, error) {
	entries, err := fs.ReadDir(fsys, d)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	out := make([]Statement, 0, len(names))
	for _, n := range names {
		b, err := fs.ReadFile(fsys, path.Join(d, n))
		if err != nil {
			return nil, err
		}
		out = append(out, Statement{Name: path.Join(d, n), SQL: trim(string(b))})
	}
	return out, nil
}

func checksum(stmt string) string {
	toks, err := sqllex.Lex(stmt)
	if err != nil {
		// Text the lexer refuses (an unclosed quote, a non-ASCII name
		// outside quotes) is hashed as written.
		toks = []sqllex.Token{{Kind: sqllex.Word, Text: stmt}}
	}
	var sb strings.Builder
	for _, t := range toks {
		switch t.Kind {
		case sqllex.Comment:
		case sqllex.Space:
			sb.WriteByte(' ')
		default:
			sb.WriteString(t.Text)
		}
	}
	sum := sha256.Sum256([]byte(strings.Join(strings.Fields(sb.String()), " ")))
	return hex.EncodeToString(sum[:])
}

// DB is what migrations need of a ClickHouse target; both sink targets
// implement it.
type DB interface {
	Exec(ctx context.Context, stmt string) error
	Query(ctx context.Context, query, format string, params map[string]string) ([]byte, error)
}

// State is a migration's state in one database.
type State string

// The states of a migration.
const (
	// Pending: not recorded; Migrate will apply it.
	Pending State = "pending"
	// Applied: recorded with the checksum the file has now.
	Applied State = "applied"
	// Changed: recorded with another checksum. The file's CREATE ... IF NOT
	// EXISTS does not alter the existing object, so Migrate leaves a table
	// alone and reports it. A table file changed together with an alters/
	// file that brings existing tables to its shape becomes Applied when
	// that alter is applied; otherwise alter the object by hand (ALTER
	// TABLE ... ON CLUSTER) or recreate it. A changed views/ file is
	// applied by Migrate with its Replace statements (the view's query is
	// replaced in place) and becomes Applied.
	Changed State = "changed"
)

// Status is one migration and its state.
type Status struct {
	Migration
	State State
	// AppliedAt is when it was recorded (server time, text), "" when pending.
	AppliedAt string
}

// migrationsDDL creates the migrations table: replicated to every server
// of a cluster (one ZooKeeper path for all shards), so any server answers
// `schema status` for the whole cluster.
func migrationsDDL(opts RenderOptions) string {
	if opts.Cluster == "" {
		return "CREATE TABLE IF NOT EXISTS " + MigrationsTable + " (version String, checksum String, applied_at DateTime) ENGINE = MergeTree ORDER BY version"
	}
	zk := fmt.Sprintf("/clickhouse/tapline/%s/%s", opts.database(), MigrationsTable)
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s ON CLUSTER %s (version String, checksum String, applied_at DateTime) ENGINE = ReplicatedMergeTree(%s, '{replica}') ORDER BY version",
		MigrationsTable, sink.QuoteIdent(opts.Cluster), sink.QuoteString(zk))
}

// Migrate applies every pending migration in order and records it in
// MigrationsTable; it is idempotent (CREATE statements are IF NOT EXISTS
// and alters/ statements must be no-ops on a table that has their shape,
// so two processes migrating at once do no harm). When it applies an
// alters/ file, it first records the current checksum of each Changed
// table file the alter names (the alter brings the table to that file's
// shape), then the alter itself: a failure in between leaves the alter
// pending, to run again. It returns the statuses after the run;
// migrations still Changed are left as they are and reported. It stops
// at the first failure, naming the file.
func Migrate(ctx context.Context, db DB, ms []Migration, opts RenderOptions) ([]Status, error) {
	if err := db.Exec(ctx, migrationsDDL(opts)); err != nil {
		return nil, fmt.Errorf("create %s: %w", MigrationsTable, err)
	}
	sts, err := StatusOf(ctx, db, ms)
	if err != nil {
		return nil, err
	}
	for i := range sts {
		stmts := sts[i].Statements
		switch {
		case sts[i].State == Changed && len(sts[i].Replace) > 0:
			stmts = sts[i].Replace
		case sts[i].State != Pending:
			continue
		}
		for _, stmt := range stmts {
			if err := db.Exec(ctx, stmt); err != nil {
				return sts, fmt.Errorf("apply %s: %w", sts[i].Version, err)
			}
		}
		for j := range sts {
			if sts[j].State == Changed && slices.Contains(sts[i].Alters, tableOf(sts[j].Version)) {
				if err := record(ctx, db, sts[j].Migration); err != nil {
					return sts, err
				}
				sts[j].State = Applied
			}
		}
		if err := record(ctx, db, sts[i].Migration); err != nil {
			return sts, err
		}
		sts[i].State = Applied
	}
	return StatusOf(ctx, db, ms)
}

// replaceView returns the statement that gives the view a views/ file
// creates (rendered as stmts) the file's query: ALTER TABLE <view> [ON
// CLUSTER c] MODIFY QUERY <select>, which ClickHouse applies atomically
// (inserts never see the view missing, as they would between a DROP and a
// CREATE).
func replaceView(name string, stmts []string) ([]string, error) {
	if len(stmts) != 1 {
		return nil, fmt.Errorf("%s: expected one CREATE MATERIALIZED VIEW statement", name)
	}
	toks, err := sqllex.Lex(stmts[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	_, at := createdName(toks, "VIEW")
	to, as := -1, -1
	for i := at + 1; at >= 0 && i < len(toks); i++ {
		if to < 0 && toks[i].Is("TO") {
			to = i
		}
		if to >= 0 && toks[i].Is("AS") {
			as = i
			break
		}
	}
	if at < 0 || to < 0 || as < 0 {
		return nil, fmt.Errorf("%s: expected CREATE MATERIALIZED VIEW IF NOT EXISTS <name> TO <table> AS <select>", name)
	}
	return []string{"ALTER TABLE " + strings.TrimSpace(join(toks[at:to])) + " MODIFY QUERY " + strings.TrimSpace(join(toks[as+1:]))}, nil
}

// tableOf returns the table a tables/ file creates, "" for other files.
func tableOf(version string) string {
	if !strings.HasPrefix(version, "tables/") {
		return ""
	}
	return strings.TrimSuffix(path.Base(version), ".sql")
}

// record inserts m's version and checksum into MigrationsTable.
func record(ctx context.Context, db DB, m Migration) error {
	// Versions are file paths and checksums hex digits, never user
	// input; literals because servers before 22.x have no query
	// parameters. INSERT ... SELECT, not VALUES: over the native
	// protocol an old server waits for VALUES data from the client.
	rec := fmt.Sprintf("INSERT INTO %s (version, checksum, applied_at) SELECT %s, %s, now()",
		MigrationsTable, sink.QuoteString(m.Version), sink.QuoteString(m.Checksum))
	if err := db.Exec(ctx, rec); err != nil {
		return fmt.Errorf("record %s in %s: %w", m.Version, MigrationsTable, err)
	}
	return nil
}

// StatusOf reads MigrationsTable and returns each migration's state. A
// database without the table has every migration pending. A version
// recorded several times (a table file brought up to date by an alter)
// is in the state of its latest record; records of the same second count
// as Applied when one of them has the current checksum.
func StatusOf(ctx context.Context, db DB, ms []Migration) ([]Status, error) {
	type rec struct {
		sums []string
		at   string
	}
	recorded := map[string]rec{} // version -> checksums recorded at the latest applied_at
	// EXISTS, not system.tables: tapline's own HTTP endpoint (a target of
	// other tapline processes) does not show system.tables.
	out, err := db.Query(ctx, "EXISTS TABLE "+MigrationsTable, "TabSeparatedRaw", nil)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", MigrationsTable, err)
	}
	if strings.TrimSpace(string(out)) == "1" {
		out, err = db.Query(ctx, "SELECT version, checksum, toString(applied_at) FROM "+MigrationsTable+" ORDER BY applied_at", "TabSeparatedRaw", nil)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", MigrationsTable, err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Split(line, "\t")
			if len(f) != 3 {
				continue
			}
			// Rows come in applied_at order (text of a DateTime sorts
			// as time): a later second replaces, the same second adds.
			r := recorded[f[0]]
			if r.at != f[2] {
				r = rec{at: f[2]}
			}
			r.sums = append(r.sums, f[1])
			recorded[f[0]] = r
		}
	}
	sts := make([]Status, len(ms))
	for i, m := range ms {
		sts[i] = Status{Migration: m, State: Pending}
		if r, ok := recorded[m.Version]; ok {
			sts[i].AppliedAt = r.at
			sts[i].State = Applied
			if !slices.Contains(r.sums, m.Checksum) {
				sts[i].State = Changed
			}
		}
	}
	return sts, nil
}
