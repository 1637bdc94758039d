package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tapline runs the command in a child process (the embedded engine is one
// per process) and returns its exit code, stdout and stderr.
func tapline(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "TAPLINE_TEST_MAIN=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), out.String(), errb.String()
	}
	require.NoError(t, err)
	return 0, out.String(), errb.String()
}

// TestSchemaRetentionFlags drives retention through `tapline schema`: apply
// sets the flags' TTLs, status agrees with the same flags (exit 0) and
// names the tables that differ from other flags (exit 1), a second apply
// with other flags alters only what changed, and bad values are usage
// errors.
func TestSchemaRetentionFlags(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	code, out, errs := tapline(t, "schema", "apply", "--data-dir", dir, "--retention-raw", "2d")
	require.Equal(t, exitOK, code, errs)
	require.Regexp(t, `ttl set now\s+sofarpc_digest\s+no TTL -> TTL ingested_at \+ toIntervalDay\(2\)`, out)
	require.Regexp(t, `ttl set now\s+latency_1m\s+no TTL -> TTL minute \+ toIntervalDay\(400\)`, out)
	require.Regexp(t, `applied now\s+alters/0001_pipeline_batches_instance.sql`, out)

	code, out, errs = tapline(t, "schema", "status", "--data-dir", dir, "--retention-raw", "48h")
	require.Equal(t, exitOK, code, "48h is 2d: %s%s", out, errs)
	require.NotContains(t, out, "ttl ")

	code, out, errs = tapline(t, "schema", "status", "--data-dir", dir, "--retention-batches", "0")
	require.Equal(t, exitFailure, code, out)
	require.Regexp(t, `ttl differs\s+sofarpc_digest\s+TTL ingested_at \+ toIntervalDay\(2\) -> TTL ingested_at \+ toIntervalDay\(30\)`, out)
	require.Regexp(t, `ttl differs\s+pipeline_batches\s+TTL committed_at \+ toIntervalDay\(30\) -> no TTL`, out)
	require.Contains(t, errs, "migrations or table retentions are not applied")

	code, out, errs = tapline(t, "schema", "apply", "--data-dir", dir, "--retention-raw", "2d", "--retention-aggregates", "90m")
	require.Equal(t, exitOK, code, errs)
	require.Regexp(t, `ttl set now\s+latency_1m\s+TTL minute \+ toIntervalDay\(400\) -> TTL minute \+ toIntervalMinute\(90\)`, out)
	require.NotRegexp(t, `ttl set now\s+sofarpc_digest`, out, "unchanged retention is not altered")

	for _, bad := range []string{"-1h", "1.5s", "30days", "xd"} {
		code, _, errs = tapline(t, "schema", "print", "--retention-raw", bad)
		require.Equal(t, exitUsage, code, bad)
		require.Contains(t, errs, "flag -retention-raw: ", bad)
	}
}

// TestSchemaApplySpreadsMerges: `tapline schema apply` on the embedded
// engine gives the busiest tables their merge widths, as `run` does, and
// lists them; a table without a width of its own keeps the engine's.
func TestSchemaApplySpreadsMerges(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	code, out, errs := tapline(t, "schema", "apply", "--data-dir", dir)
	require.Equal(t, exitOK, code, errs)
	require.Regexp(t, `merge width set\s+sofarpc_digest`, out)
	require.NotRegexp(t, `merge width set\s+webdebug_events`, out)

	code, out, errs = tapline(t, "sql", "--data-dir", dir, "--format", "TabSeparated",
		`SELECT name, extract(create_table_query, 'merge_selector_base = ([0-9]+)') FROM system.tables WHERE database = currentDatabase() AND name IN ('sofarpc_digest', 'webdebug_events') ORDER BY name`)
	require.Equal(t, exitOK, code, errs)
	require.Equal(t, "sofarpc_digest\t26\nwebdebug_events\t\n", out)
}

func TestRetentionValue(t *testing.T) {
	t.Parallel()
	var d time.Duration
	v := retentionValue{&d}
	for in, want := range map[string]time.Duration{"30d": 720 * time.Hour, "720h": 720 * time.Hour, "0": 0, "0d": 0, "90m": 90 * time.Minute} {
		require.NoError(t, v.Set(in), in)
		require.Equal(t, want, d, in)
	}
	require.NoError(t, v.Set("720h"))
	require.Equal(t, "30d", v.String())
	require.NoError(t, v.Set("36h"))
	require.Equal(t, "36h0m0s", v.String())
	require.ErrorContains(t, v.Set("-1d"), "not a whole number of days")
	require.ErrorContains(t, v.Set("-5m"), "must not be negative")
	require.ErrorContains(t, v.Set("1500ms"), "not whole seconds")
}
