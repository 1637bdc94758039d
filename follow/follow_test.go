package follow

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest"
)

// TestFollowAppendRotateCopytruncate follows one path while it grows, is
// rotated by rename (with lines the follower had not read yet, and a
// partial last line, in the renamed file), and is rotated by copytruncate:
// every line reaches the stream exactly once; the partial line too, with a
// newline added, once the renamed file stayed idle.
func TestFollowAppendRotateCopytruncate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := startBroker(ctx, t)
	st := openStream(ctx, t, b)
	dir := t.TempDir()
	var want []string
	app := &logFile{t: t, path: filepath.Join(dir, "app.log"), name: "first", want: &want}
	app.write(500)
	r := startFollower(ctx, t, b, testConfig(dir, app.path), nil)
	require.Eventually(t, func() bool { return r.fl.Stats().Files == 1 }, 10*time.Second, 5*time.Millisecond)

	// Append in bursts while the follower reads.
	for i := 0; i < 20; i++ {
		app.write(37)
		time.Sleep(3 * time.Millisecond)
	}
	// Rotate by rename: more lines and a partial line land in the old
	// file right before the rename; the new file gets its own.
	app.write(300)
	f, err := os.OpenFile(app.path, os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	_, err = f.WriteString(`{"partial":"last line without newline"}`)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	want = append(want, `{"partial":"last line without newline"}`)
	require.NoError(t, os.Rename(app.path, app.path+".1"))
	app2 := &logFile{t: t, path: app.path, name: "second", want: &want}
	app2.write(400)
	r.waitCaughtUp(t, len(want))
	require.Eventually(t, func() bool { return r.fl.Stats().Files == 1 }, 10*time.Second, 10*time.Millisecond, "the renamed file is let go once idle")

	// Rotate by copytruncate, once the follower has read the file (the
	// copier's own race is documented, not tested).
	data, err := os.ReadFile(app2.path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(app2.path+".2", data, 0o644))
	require.NoError(t, os.Truncate(app2.path, 0))
	app3 := &logFile{t: t, path: app2.path, name: "third", want: &want}
	app3.write(250)
	require.Eventually(t, func() bool { return r.fl.Stats().Truncations == 1 }, 10*time.Second, 10*time.Millisecond)
	r.waitCaughtUp(t, len(want))
	require.NoError(t, r.stop())

	st.waitFor(ctx, len(want), "all lines")
	st.requireExactlyOnce(ctx, want)
}

// TestFollowRestartMidFile stops the follower cleanly in the middle of a
// file and starts another on the same state directory: it resumes at the
// checkpoint, and every line is in the stream once. Lines longer than the
// message bound go alone; a line longer than MaxLineBytes is skipped and
// counted, not published.
func TestFollowRestartMidFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := startBroker(ctx, t)
	st := openStream(ctx, t, b)
	dir := t.TempDir()
	var want []string
	app := &logFile{t: t, path: filepath.Join(dir, "app.log"), name: "app", want: &want}
	app.write(5000)
	big := `{"big":"` + strings.Repeat("b", 3000) + `"}`
	huge := strings.Repeat("h", 9000)
	f, err := os.OpenFile(app.path, os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	_, err = f.WriteString(big + "\n" + huge + "\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	want = append(want, big)
	app.write(100)

	cfg := testConfig(dir, filepath.Join(dir, "*.log"))
	cfg.MaxBytes, cfg.MaxLineBytes = 2000, 8000
	// Acknowledgements awaited every 5 messages: the first run is slow
	// enough to be stopped in the middle of the file.
	r := startFollower(ctx, t, b, cfg, func(fl *Follower) { fl.cfg.Window = 5 })
	require.Eventually(t, func() bool { return r.fl.Stats().Lines >= 1000 }, 30*time.Second, time.Millisecond)
	require.NoError(t, r.stop())
	first := r.fl.Stats()
	require.Less(t, first.Lines, uint64(len(want)), "stopped mid-file")

	app.write(700)
	r = startFollower(ctx, t, b, cfg, nil)
	r.waitCaughtUp(t, len(want)-int(first.Lines))
	require.EqualValues(t, 1, first.TooLong+r.fl.Stats().TooLong, "the huge line is skipped once")
	require.NoError(t, r.stop())
	st.waitFor(ctx, len(want), "all lines")
	st.requireExactlyOnce(ctx, want)
}

// TestFollowCheckpointsOnlyAcknowledged: while no stream captures the
// subject the publishes fail, the follower stops with an error, and its
// checkpoint has not moved; once a stream exists, the next run ships
// every line.
func TestFollowCheckpointsOnlyAcknowledged(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := ingest.Start(ctx, ingest.Config{})
	require.NoError(t, err)
	defer b.Close()
	dir := t.TempDir()
	var want []string
	app := &logFile{t: t, path: filepath.Join(dir, "app.log"), name: "app", want: &want}
	app.write(300)

	r := startFollower(ctx, t, b, testConfig(dir, app.path), nil)
	select {
	case err = <-r.done:
		close(r.done)
	case <-time.After(100 * time.Second):
		// The publisher retries a refused publish for a minute (a NATS
		// cluster electing a stream leader refuses them for seconds).
		t.Fatal("the follower did not stop on failed publishes")
	}
	require.ErrorContains(t, err, "publishes failed")
	cps, err := stateDir(filepath.Join(dir, "state")).load()
	require.NoError(t, err)
	require.Len(t, cps, 1)
	for _, cp := range cps {
		require.Zero(t, cp.Offset, "checkpoint of unacknowledged lines")
	}

	_, err = b.EnsureStream(ctx, ingest.StreamSpec{Name: testStream, Subjects: []string{"follow.test.>"}})
	require.NoError(t, err)
	st := openStream(ctx, t, b)
	r = startFollower(ctx, t, b, testConfig(dir, app.path), nil)
	r.waitCaughtUp(t, len(want))
	require.NoError(t, r.stop())
	st.waitFor(ctx, len(want), "all lines")
	st.requireExactlyOnce(ctx, want)
}

// TestConfigValidate reports every problem at once.
func TestConfigValidate(t *testing.T) {
	t.Parallel()
	err := Config{MaxLines: -1, Routes: []Route{{Glob: "[", Subject: "x"}}}.Validate()
	require.Error(t, err)
	for _, s := range []string{"no path", "route", "state directory", "max lines"} {
		require.ErrorContains(t, err, s)
	}
	require.NoError(t, Config{Paths: []string{"/var/log/*.log"}, Subject: "logs.x", StateDir: "/tmp/x"}.Validate())
	var c Config
	require.NoError(t, json.NewEncoder(io.Discard).Encode(c))
}

// TestConfigSubject: the first matching route wins, a glob without '/'
// matches the base name, and Subject takes the rest.
func TestConfigSubject(t *testing.T) {
	t.Parallel()
	c := Config{Subject: "logs.rest", Routes: []Route{{Glob: "/var/log/rpc/*.log", Subject: "logs.rpc"}, {Glob: "g3-*.log", Subject: "logs.g3"}, {Glob: "*.log", Subject: "logs.any"}}}
	require.Equal(t, "logs.rpc", c.subject("/var/log/rpc/a.log"))
	require.Equal(t, "logs.g3", c.subject("/srv/x/g3-task.log"))
	require.Equal(t, "logs.any", c.subject("/srv/x/other.log"))
	require.Equal(t, "logs.rest", c.subject("/srv/x/other.txt"))
	require.Equal(t, "", Config{Routes: c.Routes}.subject("/srv/x/other.txt"))
}
