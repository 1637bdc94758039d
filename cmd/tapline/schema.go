package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/tapline/tapline/app"
	"github.com/tapline/tapline/sql"
)

func runSchema(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s settings
	fs := s.newFlags("schema", "schema apply|status|print [flags]", groupData|groupRetention, stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: tapline schema apply|status|print [flags]

  apply   create the database (on a server) and apply every pending migration in order
          (tables/, then alters/, then views/), recording each in tapline_migrations;
          then set each table's retention (TTL) to the --retention-* flags where it
          differs; idempotent
  status  show each migration (one per .sql file, versioned by path and checksum):
          applied, pending, or changed since applied, and each table whose TTL differs
          from the --retention-* flags; exit 1 unless all are applied
  print   print the DDL that apply runs (with --cluster: ON CLUSTER, Replicated and
          Distributed tables) without connecting; the TTL statements for every table

Flags (each also TAPLINE_<NAME> in the environment):
`)
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fs.Usage()
		return usagef("schema needs a subcommand: apply, status or print")
	}
	if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		fs.Usage()
		return errHelp
	}
	sub := args[0]
	if err := s.parse(fs, args[1:], nil); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %v", fs.Args())
	}
	if s.Cluster != "" && s.ClickHouse == "" && sub != "print" {
		return usagef("--cluster needs --clickhouse (the embedded engine is one server)")
	}
	switch sub {
	case "print":
		ms, err := sql.Migrations(sql.RenderOptions{Cluster: s.Cluster, Database: s.Database})
		if err != nil {
			return err
		}
		for _, m := range ms {
			fmt.Fprintf(stdout, "-- %s (checksum %s)\n", m.Version, m.Checksum[:12])
			for _, st := range m.Statements {
				fmt.Fprintf(stdout, "%s;\n\n", st)
			}
		}
		fmt.Fprintf(stdout, "-- retention: raw %v, aggregates %v, batches %v (apply alters only the tables whose TTL differs; 0 removes the TTL)\n", s.Retention.Raw, s.Retention.Aggregates, s.Retention.Batches)
		for _, st := range sql.RetentionStatements(s.Retention, sql.RenderOptions{Cluster: s.Cluster, Database: s.Database}) {
			fmt.Fprintf(stdout, "%s;\n\n", st)
		}
		return nil
	case "apply", "status":
	default:
		return usagef("unknown schema subcommand %q: apply, status or print", sub)
	}
	if sub == "status" && s.ClickHouse == "" {
		if err := app.CheckDataDir(s.DataDir); err != nil {
			return usageError{err}
		}
	}
	s.createDatabase = sub == "apply"
	t, err := openTarget(ctx, s.appConfig(stderr))
	if err != nil {
		return err
	}
	defer t.Close()
	opts := app.RenderOptions(t, s.Cluster)
	ms, err := sql.Migrations(opts)
	if err != nil {
		return err
	}
	var before []sql.Status
	if sub == "apply" {
		if before, err = sql.StatusOf(ctx, t, ms); err != nil {
			return err
		}
	}
	var sts []sql.Status
	var ttls []sql.TTLChange
	var spread []string
	if sub == "apply" {
		if sts, err = sql.Migrate(ctx, t, ms, opts); err == nil {
			if ttls, err = sql.ApplyRetention(ctx, t, s.Retention, opts); err == nil {
				spread, err = app.SpreadMerges(ctx, t)
			}
		}
	} else if sts, err = sql.StatusOf(ctx, t, ms); err == nil {
		ttls, err = retentionStatus(ctx, t, s.Retention, opts, sts)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n", t.Desc)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	notApplied := 0
	for i, st := range sts {
		state := string(st.State)
		if sub == "apply" && before[i].State == sql.Pending && st.State == sql.Applied {
			state = "applied now"
		}
		if st.State != sql.Applied {
			notApplied++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", state, st.Version, st.AppliedAt)
	}
	for _, c := range ttls {
		state := "ttl set now"
		if sub == "status" {
			state = "ttl differs"
			notApplied++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", state, c.Table, ttlText(c.Have)+" -> "+ttlText(c.Want))
	}
	for _, table := range spread {
		fmt.Fprintf(tw, "merge width set\t%s\n", table)
	}
	_ = tw.Flush()
	app.WarnChanged(sts, stderr)
	if sub == "status" && notApplied > 0 {
		return fmt.Errorf("%d migrations or table retentions are not applied as they are now: run `tapline schema apply` with the same flags (changed files without an alters/ file need an ALTER by hand)", notApplied)
	}
	return nil
}

// retentionStatus is the tables whose TTL differs from r; none while a
// migration is pending (the tables may not exist yet: apply sets both).
func retentionStatus(ctx context.Context, t sql.DB, r sql.Retention, opts sql.RenderOptions, sts []sql.Status) ([]sql.TTLChange, error) {
	for _, st := range sts {
		if st.State == sql.Pending {
			return nil, nil
		}
	}
	return sql.RetentionChanges(ctx, t, r, opts)
}

func ttlText(expr string) string {
	if expr == "" {
		return "no TTL"
	}
	return "TTL " + expr
}
