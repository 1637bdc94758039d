//go:build linux && amd64

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/gen"
	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/internal/killat"
)

// TestRunKilledInAViewsCommitReplaysIntoThatView cuts a `tapline run` where
// a random SIGKILL lands about once in hundreds of kills: the engine has
// recorded the deduplication token of the first part of sofarpc_latency_1m
// (the SOFARPC view's target) and is about to rename that part into place.
// The child is traced with ptrace and killed on entering that rename. The
// next run must release that token before the engine starts (and say so),
// replay the journaled batch with its token, and end with every digest
// once in the table and in both views. Before the release, the replay was
// dropped in that view and it stayed short by the batch: the gap the crash
// test hit once in 25-30 runs.
func TestRunKilledInAViewsCommitReplaysIntoThatView(t *testing.T) {
	const lines = 20_000
	dir := t.TempDir()
	ctx := context.Background()
	p := &crashPublisher{g: gen.NewSofarpc(gen.Options{Seed: 11, Start: time.Now().Add(-time.Hour), Step: 10 * time.Millisecond})}
	// NATS runs in this process, so that only tapline's own work is traced
	// (an embedded NATS server under ptrace stopped acknowledging publishes).
	nats, err := ingest.Start(ctx, ingest.Config{StoreDir: t.TempDir(), Listen: fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])})
	require.NoError(t, err)
	defer nats.Close()

	// A first run creates the streams and the schema and commits a first
	// backlog.
	c := startRun(t, dir, "--nats-url", nats.URL())
	p.publish(t, ctx, nats.URL(), lines)
	require.Eventually(t, func() bool { return c.count(t, "SELECT count() FROM sofarpc_digest") == uint64(p.digests) },
		60*time.Second, 20*time.Millisecond, "the first run commits its backlog: %s", c.stderr)
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, c.cmd.Wait(), "SIGTERM drains and exits 0: %s", c.stderr)
	view := tableDir(t, dir, "sofarpc_latency_1m")

	// The second run is killed entering the rename of its first part of
	// the view's table: its first batch's, from the backlog published
	// before it starts.
	p.publish(t, ctx, nats.URL(), lines)
	c = runCommand(dir, "--nats-url", nats.URL())
	started := make(chan int, 1)
	done := make(chan struct{})
	var cut string
	var traceErr error
	go func() {
		defer close(done)
		cut, traceErr = killat.AtRename(c.cmd, func(pid int) { started <- pid }, func(from string) bool {
			return filepath.Dir(from) == view && strings.HasPrefix(filepath.Base(from), "tmp_insert_")
		})
	}()
	select {
	case pid := <-started:
		c.waitAnnounced(t, dir, pid)
	case <-done:
		t.Fatalf("the traced run did not start: %v: %s", traceErr, c.stderr)
	}
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		t.Fatalf("the traced run never renamed a part of %s: %s", view, c.stderr)
	}
	require.NoError(t, traceErr)
	require.NotEmpty(t, cut, "the traced run is killed at the view's rename, not gone before it: %s", c.stderr)
	_, err = os.Stat(cut)
	require.NoError(t, err, "the part is still under its temporary name: the kill landed before the rename")

	// The third run releases the token, replays the batch, and catches up.
	c = startRun(t, dir, "--nats-url", nats.URL())
	defer func() {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		_ = c.cmd.Wait()
	}()
	journal, stop := journalOf(t, ctx, c)
	defer stop()
	counts := func(ct assert.TestingT) {
		for _, q := range []struct{ what, query string }{
			{"digest rows", "SELECT count() FROM sofarpc_digest"},
			{"calls in the view whose commit was cut", "SELECT sum(calls) FROM sofarpc_latency_1m"},
			{"requests in the cross-source view", "SELECT sum(requests) FROM latency_1m WHERE source = 'sofarpc'"},
		} {
			assert.Equal(ct, uint64(p.digests), c.count(t, q.query), q.what)
		}
		assert.Equal(ct, uint64(p.stats), c.count(t, "SELECT count() FROM sofarpc_stat"), "stat rows")
		open, err := uncommitted(ctx, journal)
		if assert.NoError(ct, err, "list the child's journal") {
			assert.Empty(ct, open, "journaled batches not yet committed")
		}
	}
	require.EventuallyWithT(t, func(ct *assert.CollectT) { counts(ct) }, 120*time.Second, 100*time.Millisecond,
		"the third run catches up, every digest once in the table and in both views: %s", c.stderr)
	time.Sleep(time.Second) // and nothing arrives twice afterwards
	counts(t)
	require.Contains(t, c.stderr.String(), "the token is released", "the run says it released the cut part's token")
	require.Contains(t, c.stderr.String(), filepath.Base(view), "and names the view's table")
	require.Positive(t, c.count(t, "SELECT count() FROM pipeline_batches WHERE replayed"), "the cut batch was replayed: %s", c.stderr)
}

var metadataUUID = regexp.MustCompile(`UUID '([0-9a-f-]{36})'`)

// tableDir returns the directory of table (in tapline's database) below
// the data directory dir, from the engine's metadata file.
func tableDir(t *testing.T, dir, table string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "clickhouse", "metadata", "tapline", table+".sql"))
	require.NoError(t, err)
	m := metadataUUID.FindSubmatch(b)
	require.NotNil(t, m, "the metadata of %s names its UUID: %s", table, b)
	uuid := string(m[1])
	return filepath.Join(dir, "clickhouse", "store", uuid[:3], uuid)
}
