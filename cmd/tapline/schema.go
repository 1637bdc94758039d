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
	fs := s.newFlags("schema", "schema apply|status|print [flags]", groupData, stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: tapline schema apply|status|print [flags]

  apply   create the database (on a server) and apply every pending migration in order,
          recording each in tapline_migrations; idempotent
  status  show each migration (one per .sql file, versioned by path and checksum):
          applied, pending, or changed since applied; exit 1 unless all are applied
  print   print the DDL that apply runs (with --cluster: ON CLUSTER, Replicated and
          Distributed tables) without connecting

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
	if sub == "apply" {
		sts, err = sql.Migrate(ctx, t, ms, opts)
	} else {
		sts, err = sql.StatusOf(ctx, t, ms)
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
	_ = tw.Flush()
	app.WarnChanged(sts, stderr)
	if sub == "status" && notApplied > 0 {
		return fmt.Errorf("%d of %d migrations are not applied as they are now: run `tapline schema apply` (changed ones need an ALTER by hand)", notApplied, len(sts))
	}
	return nil
}
