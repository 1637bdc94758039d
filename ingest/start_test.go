package ingest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

const (
	killedStream   = "KILLED"
	killedMessages = 1000
	killedSize     = 64 << 10
)

// TestEmbeddedStartWaitsForAStoreRecoveringFromAKill: a child process
// fills an embedded server's store (64 MiB) and is SIGKILLed; the next
// start recovers that store before it listens, which takes longer than the
// connect timeout given here. The start still succeeds and the stream
// holds every message. With the start bounded by ConnectTimeout (as it was
// with a fixed 10 s, which a restart after a crash under CI's load
// exceeded) it fails.
func TestEmbeddedStartWaitsForAStoreRecoveringFromAKill(t *testing.T) {
	if dir := os.Getenv("TAPLINE_TEST_KILLED_STORE"); dir != "" {
		fillAndWait(t, dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestEmbeddedStartWaitsForAStoreRecoveringFromAKill$")
	cmd.Env = append(os.Environ(), "TAPLINE_TEST_KILLED_STORE="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	lines := bufio.NewScanner(out)
	filled := false
	for lines.Scan() {
		if lines.Text() == "filled" {
			filled = true
			break
		}
	}
	require.True(t, filled, "the child fills the store (its errors are above)")
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const connect = 50 * time.Millisecond
	var progress bytes.Buffer
	defer func(every time.Duration) { startProgressEvery = every }(startProgressEvery)
	// Shorter than the recovery of this store on a fast machine (130-160
	// ms here; a 100 ms interval, whose test wanted over 250 ms, failed
	// there), and a readiness wait is no longer than one interval.
	startProgressEvery = 20 * time.Millisecond
	began := time.Now()
	b, err := Start(ctx, Config{StoreDir: dir, ConnectTimeout: connect, Progress: &progress})
	took := time.Since(began)
	require.NoError(t, err)
	defer b.Close()
	t.Logf("the start after the kill took %v; progress:\n%s", took, progress.String())
	require.Greater(t, took, connect, "the recovery outlasts the connect timeout, or this test shows nothing")
	st, err := b.js.Stream(ctx, killedStream)
	require.NoError(t, err)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(killedMessages), info.State.Msgs, "every acknowledged message survived the kill")
	require.Greater(t, took, 5*startProgressEvery/2, "the recovery outlasts the progress interval, or the line below shows nothing")
	require.Contains(t, progress.String(), "embedded NATS still starting after", "a slow start says so")
}

// fillAndWait is the child of the test above: it fills a stream on an
// embedded server in dir, says "filled" on stdout and waits to be killed.
func fillAndWait(t *testing.T, dir string) {
	ctx := context.Background()
	b, err := Start(ctx, Config{StoreDir: dir})
	require.NoError(t, err)
	_, err = b.EnsureStream(ctx, StreamSpec{Name: killedStream, Subjects: []string{"killed.>"}})
	require.NoError(t, err)
	js, err := jetstream.New(b.nc, jetstream.WithPublishAsyncMaxPending(256))
	require.NoError(t, err)
	data := bytes.Repeat([]byte("x"), killedSize)
	for i := range killedMessages {
		_, err := js.PublishAsync(fmt.Sprintf("killed.%d", i%16), data)
		require.NoError(t, err)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(2 * time.Minute):
		t.Fatal("publishes not acknowledged in 2 minutes")
	}
	fmt.Println("filled")
	time.Sleep(time.Hour)
}

// TestEmbeddedStartReportsAPortInUse: a listen address that another socket
// holds fails the start with the server's own reason at once, instead of
// a wait and a guess.
func TestEmbeddedStartReportsAPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = Start(ctx, Config{StoreDir: t.TempDir(), Listen: l.Addr().String()})
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "address already in use"), "the server's reason: %v", err)
	require.ErrorContains(t, err, "--nats-listen", "and what to do")
}
