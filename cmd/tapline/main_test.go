package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/internal/syncbuf"
)

func TestHelpAndExitCodes(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, exitUsage, realMain(nil, &out, &errb), "no command is a usage error")
	require.Contains(t, out.String(), "Usage: tapline <command>")
	require.Equal(t, exitOK, realMain([]string{"--help"}, &out, &errb))
	for _, c := range commands() {
		errb.Reset()
		args := []string{c.name, "--help"}
		require.Equal(t, exitOK, realMain(args, &out, &errb), c.name)
		require.Contains(t, errb.String(), "Usage: tapline "+c.name, c.name)
	}
	errb.Reset()
	require.Equal(t, exitUsage, realMain([]string{"frobnicate"}, &out, &errb))
	require.Contains(t, errb.String(), `unknown command "frobnicate"`)
	errb.Reset()
	require.Equal(t, exitUsage, realMain([]string{"run", "--no-such-flag"}, &out, &errb))
	require.Contains(t, errb.String(), "no-such-flag")
}

// TestRunReportsEveryConfigProblemAtOnce gives run several bad settings
// from flags, the environment and a YAML file, and expects all of them in
// one error, each naming its origin, with exit code 2.
func TestRunReportsEveryConfigProblemAtOnce(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "tapline.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("batch-age: -5s\nno-such-key: 1\n"), 0o644))
	t.Setenv("TAPLINE_TIME_ZONE", "Mars/Olympus_Mons")
	var out, errb bytes.Buffer
	code := realMain([]string{"run", "--config", cfg, "--batch-rows", "-1", "--inserters", "17", "--sources", "sofarpc,nope", "--nats-cert", "/nonexistent.pem", "--http", "0.0.0.0:8124"}, &out, &errb)
	require.Equal(t, exitUsage, code, errb.String())
	msg := errb.String()
	for _, want := range []string{
		`unknown key "no-such-key"`,
		`--sources: unknown format "nope"`,
		`--time-zone "Mars/Olympus_Mons"`,
		"--batch-rows -1",
		"--inserters 17 must be between 1 and 16",
		"--batch-age -5s",
		"--nats-cert",
		"--nats-cert and --nats-key go together",
		"reachable beyond this machine",
	} {
		require.Contains(t, msg, want)
	}
}

func TestSettingsPrecedence(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "tapline.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("batch-rows: 7\nbatch-bytes: 8\ntime-zone: Asia/Tokyo\n"), 0o644))
	t.Setenv("TAPLINE_BATCH_BYTES", "9")
	t.Setenv("TAPLINE_TIME_ZONE", "Europe/Paris")
	var s settings
	fs := s.newFlags("run", "run", groupData|groupPipeline, &bytes.Buffer{})
	require.NoError(t, s.parse(fs, []string{"--config", cfg, "--time-zone", "UTC"}, nil))
	require.Equal(t, 7, s.BatchRows, "YAML fills what nothing else set")
	require.Equal(t, 9, s.BatchBytes, "environment beats YAML")
	require.Equal(t, "UTC", s.TimeZone, "flags beat everything")
	require.Equal(t, defaultDataDir, s.DataDir, "defaults last")
}

// TestMemoryLimit: the commands that run a pipeline set the Go heap's soft
// limit from --memory-limit (896 MiB by default, 0 for none), a GOMEMLIMIT in
// the environment wins, and a negative limit is a usage error.
func TestMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(before)
	t.Setenv("GOMEMLIMIT", "")
	require.NoError(t, os.Unsetenv("GOMEMLIMIT"))
	limitAfter := func(args ...string) (int64, error) {
		var s settings
		fs := s.newFlags("run", "run", groupData|groupPipeline, &bytes.Buffer{})
		err := s.parse(fs, args, nil)
		return debug.SetMemoryLimit(-1), err
	}
	got, err := limitAfter()
	require.NoError(t, err)
	require.EqualValues(t, 896<<20, got, "the default")
	got, err = limitAfter("--memory-limit", "0")
	require.NoError(t, err)
	require.EqualValues(t, int64(math.MaxInt64), got, "0: no limit")
	_, err = limitAfter("--memory-limit", "-5")
	require.ErrorContains(t, err, "--memory-limit")

	debug.SetMemoryLimit(3 << 30)
	t.Setenv("GOMEMLIMIT", "3GiB")
	got, err = limitAfter("--memory-limit", "1000")
	require.NoError(t, err)
	require.EqualValues(t, 3<<30, got, "GOMEMLIMIT wins")
}

// TestGCPercent: the commands that run a pipeline set the Go collector's
// target from --gc-percent (50 by default, -1 for off), a GOGC in the
// environment wins, and anything below -1 is a usage error.
func TestGCPercent(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	t.Setenv("GOGC", "")
	require.NoError(t, os.Unsetenv("GOGC"))
	percentAfter := func(args ...string) (int, error) {
		debug.SetGCPercent(100)
		var s settings
		fs := s.newFlags("run", "run", groupData|groupPipeline, &bytes.Buffer{})
		err := s.parse(fs, args, nil)
		return debug.SetGCPercent(100), err
	}
	got, err := percentAfter()
	require.NoError(t, err)
	require.Equal(t, 50, got, "the default")
	got, err = percentAfter("--gc-percent", "-1")
	require.NoError(t, err)
	require.Equal(t, -1, got, "-1: off")
	_, err = percentAfter("--gc-percent", "-5")
	require.ErrorContains(t, err, "--gc-percent")

	t.Setenv("GOGC", "200")
	got, err = percentAfter("--gc-percent", "30")
	require.NoError(t, err)
	require.Equal(t, 100, got, "GOGC wins: the setting is left as it was")
}

// TestRunPublishSQL is the user's path on one machine: `tapline run` holds
// the data directory; `tapline publish` reaches its embedded NATS and
// `tapline sql` its engine through the endpoint it announces; SIGINT
// (context cancel) drains and exits 0.
func TestRunPublishSQL(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var runOut, runErr syncbuf.Buffer // written by the run goroutine while the test reads
	runDone := make(chan error, 1)
	go func() {
		runDone <- runRun(ctx, []string{"--data-dir", dir, "--http", "127.0.0.1:0", "--batch-age", "100ms"}, &runOut, &runErr)
	}()
	require.Eventually(t, func() bool {
		_, err := os.Stat(endpointPath(dir))
		return err == nil
	}, 30*time.Second, 50*time.Millisecond, "run announces its endpoint: %s", runErr.String())

	seed, err := os.ReadFile("../../ingest/decode/sofarpc/testdata/grpc-issue884.log")
	require.NoError(t, err)
	logs := filepath.Join(t.TempDir(), "rpc.log")
	require.NoError(t, os.WriteFile(logs, append(bytes.Repeat(seed, 50), []byte("this line is not JSON\n")...), 0o644))
	var out, errb bytes.Buffer
	require.NoError(t, runPublish(ctx, []string{"--data-dir", dir, "--subject", "logs.sofarpc.server.digest", "--lines-per-message", "7", logs}, &out, &errb), errb.String())
	require.Contains(t, out.String(), "published 101 records in 15 messages")

	require.Eventually(t, func() bool {
		out.Reset()
		err := runSQL(ctx, []string{"--data-dir", dir, "--format", "TabSeparated", "SELECT count() FROM sofarpc_digest"}, &out, &errb)
		return err == nil && strings.TrimSpace(out.String()) == "100"
	}, 30*time.Second, 100*time.Millisecond, "rows arrive: %s %s", out.String(), errb.String())

	out.Reset()
	require.NoError(t, runSQL(ctx, []string{"--data-dir", dir, "SELECT side, count() AS n FROM sofarpc_digest GROUP BY side ORDER BY side"}, &out, &errb))
	require.Contains(t, out.String(), "┌─side───┬──n─┐", "aligned table by default:\n%s", out.String())

	out.Reset()
	err = runSQL(ctx, []string{"--data-dir", dir, "DROP TABLE sofarpc_digest"}, &out, &errb)
	require.ErrorContains(t, err, "read-only", "the endpoint refuses writes")

	out.Reset()
	require.NoError(t, runDLQ(ctx, []string{"list", "--data-dir", dir}, &out, &errb))
	require.Contains(t, out.String(), "this line is not JSON")
	require.Contains(t, out.String(), "1 dead letters shown")

	cancel()
	require.NoError(t, <-runDone, runErr.String())
	require.Contains(t, runOut.String(), "records 100, dead letters 1")
	_, err = os.Stat(endpointPath(dir))
	require.True(t, os.IsNotExist(err), "the endpoint file is removed on exit")
}

// TestReadCommandsRefuseUnknownDataDir: sql, dlq list and schema status
// only read; on a directory tapline never wrote (a typo) they refuse with
// exit 2, name the directories tapline knows, and create nothing.
func TestReadCommandsRefuseUnknownDataDir(t *testing.T) {
	typo := filepath.Join(t.TempDir(), "typo")
	empty := t.TempDir()
	for _, dir := range []string{typo, empty} {
		for _, args := range [][]string{
			{"sql", "--data-dir", dir, "SELECT 1"},
			{"dlq", "list", "--data-dir", dir},
			{"schema", "status", "--data-dir", dir},
		} {
			var out, errb bytes.Buffer
			require.Equal(t, exitUsage, realMain(args, &out, &errb), "%v: %s", args, errb.String())
			msg := errb.String()
			require.Contains(t, msg, "not a tapline data directory", args)
			require.Contains(t, msg, "tapline-data (the default", args)
			require.Contains(t, msg, "tapline-demo (the demo's", args)
			require.Empty(t, out.String(), args)
		}
		entries, _ := os.ReadDir(dir)
		require.Empty(t, entries, "nothing was written in %s", dir)
	}
	_, err := os.Stat(typo)
	require.True(t, os.IsNotExist(err), "the mistyped directory is not created")
}
