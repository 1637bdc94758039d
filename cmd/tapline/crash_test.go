package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/gen"
	"github.com/tapline/tapline/ingest"
)

// TestMain lets this test binary act as the tapline command in a child
// process (TAPLINE_TEST_MAIN=1), so crash tests can SIGKILL a real run.
func TestMain(m *testing.M) {
	if os.Getenv("TAPLINE_TEST_MAIN") == "1" {
		os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// child is a `tapline run` in another process.
type child struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	ep     endpoint
}

func startRun(t *testing.T, dir string) *child {
	t.Helper()
	c := &child{stderr: &bytes.Buffer{}}
	c.cmd = exec.Command(os.Args[0], "run", "--data-dir", dir, "--http", "127.0.0.1:0", "--batch-rows", "20000", "--batch-age", "200ms", "--ack-wait", "3s")
	c.cmd.Env = append(os.Environ(), "TAPLINE_TEST_MAIN=1")
	c.cmd.Stdout = io.Discard
	c.cmd.Stderr = c.stderr
	require.NoError(t, c.cmd.Start())
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(endpointPath(dir))
		if err != nil || json.Unmarshal(b, &c.ep) != nil {
			return false
		}
		return c.ep.PID == c.cmd.Process.Pid && c.ep.HTTP != ""
	}, 60*time.Second, 50*time.Millisecond, "child run starts: %s", c.stderr)
	return c
}

func (c *child) count(t *testing.T, query string) uint64 {
	t.Helper()
	resp, err := http.Get("http://" + c.ep.HTTP + "/?query=" + url.QueryEscape(query))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// TestKilledRunLosesNothingAndCountsOnce publishes generated SOFARPC lines
// to a `tapline run` in a child process and SIGKILLs it (engine, NATS server
// and all) twice while it is writing, then lets a third run finish: every
// line is one row, and the views count every call once. Kills land at
// random points of the batch cycle (decode, journal, insert, commit mark,
// ack), which is what the journal replay and the deduplication tokens are
// for.
func TestKilledRunLosesNothingAndCountsOnce(t *testing.T) {
	dir := t.TempDir()
	c := startRun(t, dir)

	// Publish through the child's embedded NATS.
	ctx := context.Background()
	b, err := ingest.Start(ctx, ingest.Config{URL: c.ep.NATS})
	require.NoError(t, err)
	pub, err := b.Publisher(0, nil)
	require.NoError(t, err)
	g := gen.NewSofarpc(gen.Options{Seed: 9, Start: time.Now().Add(-time.Hour), Step: 10 * time.Millisecond})
	const total = 150_000
	var r gen.Record
	digests, stats := 0, 0
	var buf bytes.Buffer
	subjectOf := map[string]*bytes.Buffer{}
	for i := 0; i < total; i++ {
		g.Next(&r)
		if r.Sample {
			digests++
		} else {
			stats++
		}
		w := subjectOf[r.Subject]
		if w == nil {
			w = &bytes.Buffer{}
			subjectOf[r.Subject] = w
		}
		w.Write(r.Data)
		w.WriteByte('\n')
		if w.Len() > 64<<10 {
			require.NoError(t, pub.Publish(ctx, r.Subject, bytes.Clone(w.Bytes()), ""))
			w.Reset()
		}
	}
	for subj, w := range subjectOf {
		if w.Len() > 0 {
			require.NoError(t, pub.Publish(ctx, subj, bytes.Clone(w.Bytes()), ""))
		}
	}
	b.Close()
	_ = buf

	for kill := 1; kill <= 2; kill++ {
		// Let it commit some, then kill it mid-stream.
		require.Eventually(t, func() bool { return c.count(t, "SELECT count() FROM sofarpc_digest") > uint64(kill*digests/4) },
			60*time.Second, 20*time.Millisecond, "run %d makes progress: %s", kill, c.stderr)
		require.NoError(t, c.cmd.Process.Signal(syscall.SIGKILL))
		_ = c.cmd.Wait()
		c = startRun(t, dir)
	}
	require.Eventually(t, func() bool {
		return c.count(t, "SELECT count() FROM sofarpc_digest") >= uint64(digests) && c.count(t, "SELECT count() FROM sofarpc_stat") >= uint64(stats)
	}, 120*time.Second, 100*time.Millisecond, "the last run catches up: %s", c.stderr)
	// Give redeliveries time to arrive and be acked, then check exact counts.
	time.Sleep(2 * time.Second)
	require.Equal(t, uint64(digests), c.count(t, "SELECT count() FROM sofarpc_digest"), "every digest line once")
	require.Equal(t, uint64(stats), c.count(t, "SELECT count() FROM sofarpc_stat"), "every stat line once")
	require.Equal(t, uint64(digests), c.count(t, "SELECT sum(calls) FROM sofarpc_latency_1m"), "every call counted once in the view")
	require.Equal(t, uint64(digests), c.count(t, "SELECT sum(requests) FROM latency_1m WHERE source = 'sofarpc'"), "and once in the cross-source view")

	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, c.cmd.Wait(), "SIGTERM drains and exits 0: %s", c.stderr)
	fmt.Fprint(io.Discard, c.stderr.String())
}
