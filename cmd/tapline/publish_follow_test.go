package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest"
)

// TestPublishFollow runs `tapline publish --follow` in a child process
// against an external (test) NATS server, with a glob routed by
// --follow-map: every line of the followed files is in the format's stream
// once, /metrics counts them with no lag left, and SIGTERM stops it with
// exit code 0 and its summary.
func TestPublishFollow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := ingest.Start(ctx, ingest.Config{})
	require.NoError(t, err)
	defer b.Close()
	dir := t.TempDir()
	var want []string
	write := func(name string, from, n int) {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		require.NoError(t, err)
		for i := from; i < from+n; i++ {
			line := fmt.Sprintf("2026-12-02 10:00:00.%03d,%s,line %d", i%1000, name, i)
			want = append(want, line)
			_, err = f.WriteString(line + "\n")
			require.NoError(t, err)
		}
		require.NoError(t, f.Close())
	}
	write("rpc-client-digest.log", 0, 1200)
	write("other-digest.log", 0, 300)

	var stdout, stderr bytes.Buffer
	pr, pw := io.Pipe()
	cmd := exec.Command(os.Args[0], "publish", "--follow", "--nats-url", b.URL(), "--state-dir", filepath.Join(dir, "state"),
		"--follow-map", "rpc-*.log=logs.sofarpc.client.digest", "--subject", "logs.sofarpc.other.digest",
		"--lines-per-message", "100", "--message-age", "50ms", "--poll", "20ms", "--metrics", "127.0.0.1:0", filepath.Join(dir, "*.log"))
	cmd.Env = append(os.Environ(), "TAPLINE_TEST_MAIN=1")
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&stdout, pw), &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := regexp.MustCompile(`metrics: http://(\S+)/metrics`).FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var metrics string
	select {
	case metrics = <-addr:
	case <-time.After(30 * time.Second):
		t.Fatalf("no metrics address: %s %s", &stdout, &stderr)
	}
	write("rpc-client-digest.log", 1200, 500)
	// A record over two lines (SOFATracer's raw newline in SQL) written in
	// two appends further apart than --message-age: sofarpc's records may
	// span lines, so the follower holds the first until the record ends.
	appendTo := func(s string) {
		f, err := os.OpenFile(filepath.Join(dir, "rpc-client-digest.log"), os.O_APPEND|os.O_WRONLY, 0o644)
		require.NoError(t, err)
		_, err = f.WriteString(s)
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
	appendTo("{\"sql\":\"SELECT 1\n")
	time.Sleep(300 * time.Millisecond)
	appendTo("FROM t\"}\n")
	want = append(want, `{"sql":"SELECT 1`, `FROM t"}`)

	cons, err := b.Consumer(ctx, ingest.ConsumerSpec{Stream: ingest.DefaultSource("sofarpc").Stream, Durable: "check"})
	require.NoError(t, err)
	defer cons.Stop()
	var got []string
	var whole bool // the two-line record arrived in one message
	subjects := map[string]int{}
	require.Eventually(t, func() bool {
		for {
			m, err := cons.Next(ctx, 200*time.Millisecond)
			if errors.Is(err, ingest.ErrNoMessage) {
				return len(got) >= len(want)
			}
			require.NoError(t, err)
			whole = whole || strings.Contains(string(m.Data()), "{\"sql\":\"SELECT 1\nFROM t\"}\n")
			lines := strings.Split(strings.TrimSuffix(string(m.Data()), "\n"), "\n")
			got = append(got, lines...)
			subjects[m.Subject()] += len(lines)
			require.NoError(t, m.Ack())
		}
	}, 60*time.Second, 100*time.Millisecond, "stderr: %s", &stderr)
	require.ElementsMatch(t, want, got)
	require.Equal(t, map[string]int{"logs.sofarpc.client.digest": 1702, "logs.sofarpc.other.digest": 300}, subjects)
	require.True(t, whole, "the record over two lines is in one message")

	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + metrics + "/metrics")
		require.NoError(t, err)
		defer resp.Body.Close()
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(resp.Body)
		require.NoError(t, err)
		return value(families, "tapline_follow_lines_total", nil) == float64(len(want)) && value(families, "tapline_follow_lag_bytes", nil) == 0 &&
			value(families, "tapline_follow_files", nil) == 2
	}, 30*time.Second, 100*time.Millisecond)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "exit code 0 after SIGTERM: %s", &stderr)
	_ = pw.Close()
	require.Contains(t, stdout.String(), fmt.Sprintf("published %d lines", len(want)))
}

// TestPublishFollowUsage: bad --follow command lines exit 2 naming every
// problem.
func TestPublishFollowUsage(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--follow", "--data-dir", dir, "--subject", "logs.sofarpc.x"}, []string{"no path to follow"}},
		{[]string{"--follow", "--data-dir", dir, "x.log"}, []string{"no subject"}},
		{[]string{"--follow", "--data-dir", dir, "--subject", "logs.webdebug.x", "--follow-map", "a[=b,nothing", "x.log"},
			[]string{"documents, not lines", `route "a["`, `"nothing": want glob=subject`, `subject "b" is captured by no format`}},
		{[]string{"--follow", "--data-dir", dir, "--subject", "logs.sofarpc.x", "--message-bytes", "-1", "x.log"}, []string{"max bytes must not be negative"}},
	} {
		var stdout, stderr bytes.Buffer
		code := realMain(append([]string{"publish"}, c.args...), &stdout, &stderr)
		require.Equal(t, exitUsage, code, "%v: %s", c.args, &stderr)
		for _, w := range c.want {
			require.Contains(t, stderr.String(), w, "%v", c.args)
		}
	}
}
