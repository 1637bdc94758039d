// Command tapline turns logs and traces published to NATS into ClickHouse
// tables with latency and error-rate views.
//
// Exit codes: 0 success; 1 the work failed (details on stderr); 2 the
// command line or configuration is invalid; 3 stopped before every batch in
// hand was committed (within --shutdown-timeout; nothing is lost: the next
// run takes them); 130 interrupted before the work could finish.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/tapline/tapline/app"
	"github.com/tapline/tapline/pipeline"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitUncommitted = 3
	exitInterrupted = 130
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// usageError marks errors in the command line or configuration (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func commands() []command {
	return []command{
		{"demo", "publish generated logs of every format through an embedded NATS and ClickHouse, then print latency and error rates", runDemo},
		{"loadtest", "publish realistic logs of every format at a chosen rate; measure throughput, freshness, loss, CPU and memory against the broker's and the engine's own limits", runLoadtest},
		{"run", "run the pipeline: consume NATS, decode, write ClickHouse, acknowledge (until SIGINT/SIGTERM)", runRun},
		{"serve", "serve the embedded ClickHouse's HTTP interface (Grafana, tapline sql; --http-writable: INSERTs of other tapline processes) without consuming anything", runServe},
		{"publish", "publish log lines or documents from files or stdin to a NATS subject", runPublish},
		{"schema", "apply, show or print the versioned ClickHouse schema (tables, views) for the configured target", runSchema},
		{"sql", "run SQL against the configured ClickHouse (or the running tapline) and print the result", runSQL},
		{"dlq", "list dead letters, or replay them to their original subjects", runDLQ},
		{"engine", "fetch the embedded ClickHouse engine (libchdb.so) into the cache", runEngine},
	}
}

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	var cmd *command
	for _, c := range commands() {
		if c.name == args[0] {
			cmd = &c
			break
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "tapline: unknown command %q\n\n", args[0])
		printUsage(stderr)
		return exitUsage
	}

	// First SIGINT/SIGTERM: stop gracefully (drain, commit, ack). Second:
	// leave at once; unacknowledged work is redelivered or replayed later.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		n := 0
		for range sigs {
			n++
			if n == 1 {
				fmt.Fprintln(stderr, "tapline: stopping: committing the batches in hand (press Ctrl-C again to leave now; nothing is lost either way)")
				cancel()
				continue
			}
			fmt.Fprintln(stderr, "tapline: leaving now; unacknowledged messages will be redelivered and journaled batches replayed")
			os.Exit(exitInterrupted)
		}
	}()

	err := cmd.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "tapline %s: %v\n", cmd.name, err)
		fmt.Fprintf(stderr, "run `tapline %s --help` for the flags\n", cmd.name)
		return exitUsage
	case errors.Is(err, pipeline.ErrDrainIncomplete):
		fmt.Fprintf(stderr, "tapline %s: %v\n", cmd.name, err)
		return exitUncommitted
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		fmt.Fprintf(stderr, "tapline %s: interrupted\n", cmd.name)
		return exitInterrupted
	default:
		fmt.Fprintf(stderr, "tapline %s: %v\n", cmd.name, err)
		return exitFailure
	}
}

// endpoint is what a running tapline announces (tests read it).
type endpoint = app.Endpoint

// endpointPath is the endpoint file of dataDir (tests wait for it).
func endpointPath(dataDir string) string { return app.EndpointPath(dataDir) }

// freshDir empties dir when who made it (marker file), creates it
// otherwise; a non-empty directory it did not make is a usage error.
func freshDir(dir, marker, who string) error {
	err := app.FreshDir(dir, marker, who)
	if errors.As(err, new(*app.NotOursError)) {
		return usageError{err}
	}
	return err
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "tapline turns operational logs and traces published to NATS into ClickHouse tables")
	fmt.Fprintln(w, "with latency-percentile and error-rate views.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: tapline <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	cmds := commands()
	sort.SliceStable(cmds, func(i, j int) bool { return false })
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Every command has --help. Configuration comes from flags, then TAPLINE_* environment")
	fmt.Fprintln(w, "variables, then an optional YAML file (--config), then defaults.")
	fmt.Fprintln(w, "Formats: "+strings.Join(app.Formats(), ", "))
}
