package follow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest"
)

const (
	testStream  = "FOLLOWTEST"
	testSubject = "follow.test.app"
)

// startBroker starts an embedded NATS server (listening on a loopback
// port, so a child process can reach it) with the test stream.
func startBroker(ctx context.Context, t testing.TB) *ingest.Broker {
	t.Helper()
	b, err := ingest.Start(ctx, ingest.Config{})
	require.NoError(t, err)
	t.Cleanup(b.Close)
	_, err = b.EnsureStream(ctx, ingest.StreamSpec{Name: testStream, Subjects: []string{"follow.test.>"}})
	require.NoError(t, err)
	return b
}

// stream reads everything the test stream stores, through one durable
// consumer, and splits the messages into lines.
type stream struct {
	t     testing.TB
	cons  *ingest.Consumer
	mu    sync.Mutex
	lines []string
	msgs  int
	raw   []rawMsg // every message, in stream order
}

// rawMsg is one message as the stream holds it.
type rawMsg struct {
	subject string
	data    []byte
}

func openStream(ctx context.Context, t testing.TB, b *ingest.Broker) *stream {
	t.Helper()
	cons, err := b.Consumer(ctx, ingest.ConsumerSpec{Stream: testStream, Durable: "check"})
	require.NoError(t, err)
	t.Cleanup(cons.Stop)
	return &stream{t: t, cons: cons}
}

// read takes every message delivered so far; it returns the lines seen in
// all.
func (s *stream) read(ctx context.Context) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		m, err := s.cons.Next(ctx, 300*time.Millisecond)
		if errors.Is(err, ingest.ErrNoMessage) {
			return len(s.lines)
		}
		require.NoError(s.t, err)
		data := string(m.Data())
		require.True(s.t, strings.HasSuffix(data, "\n"), "a message ends with a whole line: %q", data)
		s.lines = append(s.lines, strings.Split(strings.TrimSuffix(data, "\n"), "\n")...)
		s.msgs++
		s.raw = append(s.raw, rawMsg{m.Subject(), []byte(data)})
		require.NoError(s.t, m.Ack())
	}
}

// waitFor reads until the stream holds n lines (or more).
func (s *stream) waitFor(ctx context.Context, n int, why string) {
	s.t.Helper()
	require.Eventually(s.t, func() bool { return s.read(ctx) >= n }, 60*time.Second, 100*time.Millisecond, "%s: stream holds %d lines, want %d", why, len(s.lines), n)
}

// requireExactlyOnce compares the lines the stream holds with want, line
// by line, as multisets: every line once, none added.
func (s *stream) requireExactlyOnce(ctx context.Context, want []string) {
	s.t.Helper()
	s.read(ctx)
	got := append([]string(nil), s.lines...)
	want = append([]string(nil), want...)
	sort.Strings(got)
	sort.Strings(want)
	for i := 1; i < len(got); i++ {
		require.NotEqual(s.t, got[i-1], got[i], "a line reached the stream twice")
	}
	require.Equal(s.t, len(want), len(got), "lines in the stream")
	require.Equal(s.t, want, got)
}

// logFile appends numbered lines to a file, remembering them.
type logFile struct {
	t    testing.TB
	path string
	name string
	n    int
	want *[]string
}

// write appends n lines, each unique (name and number) with some padding.
func (l *logFile) write(n int) {
	l.t.Helper()
	f, err := os.OpenFile(l.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	require.NoError(l.t, err)
	var sb strings.Builder
	for i := 0; i < n; i++ {
		line := fmt.Sprintf(`{"file":%q,"n":%d,"msg":"%s"}`, l.name, l.n, strings.Repeat("x", l.n%97))
		l.n++
		sb.WriteString(line)
		sb.WriteByte('\n')
		*l.want = append(*l.want, line)
	}
	_, err = f.WriteString(sb.String())
	require.NoError(l.t, err)
	require.NoError(l.t, f.Close())
}

// writeSplit appends one JSON record over two lines (a raw newline in a
// string, as SOFATracer writes SQL) in two writes, pause apart.
func (l *logFile) writeSplit(pause time.Duration) {
	l.t.Helper()
	first := fmt.Sprintf(`{"file":%q,"n":%d,"sql":"SELECT %d`, l.name, l.n, l.n)
	second := fmt.Sprintf(`  FROM t%d WHERE x = '{'"}`, l.n)
	l.n++
	appendFile(l.t, l.path, first+"\n")
	time.Sleep(pause)
	appendFile(l.t, l.path, second+"\n")
	*l.want = append(*l.want, first, second)
}

// requireWholeRecords checks that every message holds whole records:
// each record decode.NextRecord frames in it is valid JSON once its raw
// newlines are read as spaces.
func (s *stream) requireWholeRecords() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.raw {
		for _, rec := range records(m.data) {
			require.True(s.t, json.Valid([]byte(strings.ReplaceAll(rec, "\n", " "))), "a message holds part of a record: %q in %q", rec, m.data)
		}
	}
}

// testConfig is a fast-cycling follower configuration.
func testConfig(dir string, paths ...string) Config {
	return Config{Paths: paths, Subject: testSubject, StateDir: dir + "/state", MaxLines: 20, MaxAge: 30 * time.Millisecond,
		Poll: 10 * time.Millisecond, Checkpoint: 50 * time.Millisecond, RotateWait: 300 * time.Millisecond, ShutdownTimeout: 10 * time.Second}
}

// running is a follower in a goroutine.
type running struct {
	fl     *Follower
	cancel context.CancelFunc
	done   chan error
}

func startFollower(ctx context.Context, t testing.TB, b *ingest.Broker, cfg Config, tweak func(*Follower)) *running {
	t.Helper()
	pub, err := b.Publisher(256, nil)
	require.NoError(t, err)
	fl, err := New(cfg, pub)
	require.NoError(t, err)
	breakOnPurpose(fl)
	if tweak != nil {
		tweak(fl)
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &running{fl: fl, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- fl.Run(ctx) }()
	t.Cleanup(func() { r.stop() })
	return r
}

// stop ends the follower cleanly and returns Run's error (nil after a
// clean stop).
func (r *running) stop() error {
	r.cancel()
	err, ok := <-r.done
	if !ok {
		return nil
	}
	close(r.done)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// waitCaughtUp waits until the follower published lines lines and the
// stream acknowledged everything it read.
func (r *running) waitCaughtUp(t testing.TB, lines int) {
	t.Helper()
	require.Eventually(t, func() bool {
		s := r.fl.Stats()
		return s.Lines >= uint64(lines) && s.LagBytes == 0
	}, 60*time.Second, 10*time.Millisecond, "follower catches up: %+v, want %d lines", r.fl.Stats(), lines)
}
