package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/gen"
	"github.com/tapline/tapline/internal/syncbuf"
)

// startChild starts `tapline <args>` in a child process on dir and waits
// until its endpoint file names it (and, with wantHTTP, its HTTP endpoint).
func startChild(t *testing.T, dir string, wantHTTP bool, args ...string) *child {
	t.Helper()
	c := &child{stderr: &syncbuf.Buffer{}}
	c.cmd = exec.Command(os.Args[0], args...)
	c.cmd.Env = append(os.Environ(), "TAPLINE_TEST_MAIN=1")
	c.cmd.Stdout = io.Discard
	c.cmd.Stderr = c.stderr
	require.NoError(t, c.cmd.Start())
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	})
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(endpointPath(dir))
		if err != nil || json.Unmarshal(b, &c.ep) != nil {
			return false
		}
		return c.ep.PID == c.cmd.Process.Pid && (c.ep.HTTP != "" || !wantHTTP)
	}, 60*time.Second, 50*time.Millisecond, "child starts: %s", c.stderr)
	return c
}

// TestRunWritesIntoAServedEngine runs `tapline serve --http-writable` as
// the shared ClickHouse (the embedded 26.7 engine behind tapline's HTTP
// interface) and a `tapline run` that writes into it with clickhouse-go's
// HTTP protocol (--clickhouse http://...), SIGKILLs the run mid-stream and
// restarts it: every line lands once in the served tables and views,
// through the endpoint's INSERT path. (That a replayed token is dropped
// there is chhttp's TestWritable.)
func TestRunWritesIntoAServedEngine(t *testing.T) {
	served := t.TempDir()
	sv := startChild(t, served, true, "serve", "--data-dir", served, "--http", "127.0.0.1:0", "--http-writable")
	dsn := "http://" + sv.ep.HTTP + "/tapline"
	runDir := t.TempDir()
	runArgs := []string{"run", "--data-dir", runDir, "--http", "", "--clickhouse", dsn, "--sources", "sofarpc",
		"--batch-rows", "20000", "--batch-age", "200ms", "--ack-wait", "3s"}
	rn := startChild(t, runDir, false, runArgs...)
	p := &crashPublisher{g: gen.NewSofarpc(gen.Options{Seed: 3, Start: time.Now().Add(-time.Hour), Step: 10 * time.Millisecond})}
	ctx := context.Background()
	p.publish(t, ctx, rn.ep.NATS, 120_000)
	digests := func() uint64 { return sv.count(t, "SELECT count() FROM sofarpc_digest") }
	require.Eventually(t, func() bool { return digests() > 20_000 }, 60*time.Second, 20*time.Millisecond, "the run writes into the served engine: %s", rn.stderr)
	require.NoError(t, rn.cmd.Process.Signal(syscall.SIGKILL))
	_ = rn.cmd.Wait()
	rn = startChild(t, runDir, false, runArgs...)
	require.Eventually(t, func() bool {
		return digests() >= uint64(p.digests) && sv.count(t, "SELECT count() FROM sofarpc_stat") >= uint64(p.stats) &&
			sv.count(t, "SELECT sum(requests) FROM latency_1m WHERE source = 'sofarpc'") >= uint64(p.digests)
	}, 120*time.Second, 100*time.Millisecond, "the restarted run catches up: %s", rn.stderr)
	// Give redeliveries time to arrive and be acked, then check exact counts.
	time.Sleep(2 * time.Second)
	require.Equal(t, uint64(p.digests), digests(), "every digest line once")
	require.Equal(t, uint64(p.stats), sv.count(t, "SELECT count() FROM sofarpc_stat"), "every stat line once")
	require.Equal(t, uint64(p.digests), sv.count(t, "SELECT sum(requests) FROM latency_1m WHERE source = 'sofarpc'"), "every call once in the view")

	require.NoError(t, rn.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, rn.cmd.Wait(), "the run drains and exits 0: %s", rn.stderr)
	require.NoError(t, sv.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, sv.cmd.Wait(), "serve stops on SIGTERM and exits 0: %s", sv.stderr)
}
