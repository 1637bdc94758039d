// Package sql holds tapline's ClickHouse schema as .sql files, embedded in
// the binary: tables/*.sql (one table each), alters/*.sql (ALTER TABLE
// statements that bring existing tables to their files' current shape),
// views/*.sql (materialized views, always TO a table in tables/) and
// queries/*.sql (the queries the CLI and the demo print). Statements use
// unqualified names and run in the configured database; every statement is
// idempotent (IF NOT EXISTS, or a no-op on a table that has its shape).
// Retention (retention.go) sets each table's TTL from flags.
package sql

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed tables/*.sql alters/*.sql views/*.sql queries/*.sql
var files embed.FS

// Statement is one named SQL statement from a file.
type Statement struct {
	// Name is the file path inside the package, e.g. "tables/sofarpc_digest.sql".
	Name string
	// SQL is the statement text without its trailing semicolon.
	SQL string
}

// Schema returns the statements that create tapline's tables and views, in
// the order they must run: every table (by file name), then every view.
func Schema() []Statement {
	return append(dir("tables"), dir("views")...)
}

// Query returns the named query from queries/ (name without ".sql"). It
// panics when the file does not exist: query names are compile-time
// constants of the callers.
func Query(name string) string {
	b, err := files.ReadFile(path.Join("queries", name+".sql"))
	if err != nil {
		panic("BUG: no query queries/" + name + ".sql")
	}
	return trim(string(b))
}

func dir(d string) []Statement {
	entries, err := fs.ReadDir(files, d)
	if err != nil {
		panic("BUG: embedded sql dir " + d + ": " + err.Error())
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	out := make([]Statement, 0, len(names))
	for _, n := range names {
		b, err := files.ReadFile(path.Join(d, n))
		if err != nil {
			panic("BUG: embedded sql file: " + err.Error())
		}
		out = append(out, Statement{Name: path.Join(d, n), SQL: trim(string(b))})
	}
	return out
}

func trim(s string) string {
	return strings.TrimRight(strings.TrimSpace(s), ";")
}

// Execer runs one statement. Both ClickHouse targets implement it.
type Execer interface {
	Exec(ctx context.Context, stmt string) error
}

// Apply runs every migration's statements (tables, alters, views; see
// Migrations) for one server, in order, without recording them: the
// schema of a fresh install, for tests and benchmarks. Statements are
// idempotent, so Apply may run again. It stops at the first failure and
// names the file.
func Apply(ctx context.Context, db Execer) error {
	ms, err := Migrations(RenderOptions{})
	if err != nil {
		return err
	}
	for _, m := range ms {
		for _, st := range m.Statements {
			if err := db.Exec(ctx, st); err != nil {
				return fmt.Errorf("apply %s: %w", m.Version, err)
			}
		}
	}
	return nil
}
