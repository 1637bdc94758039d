package follow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest"
)

// childSpec is what a follower child process runs.
type childSpec struct {
	URL string
	Cfg Config
}

// TestMain lets this test binary run a follower in a child process
// (FOLLOW_TEST_CHILD holds its spec), so a test can SIGKILL it.
func TestMain(m *testing.M) {
	if spec := os.Getenv("FOLLOW_TEST_CHILD"); spec != "" {
		os.Exit(runChild(spec))
	}
	os.Exit(m.Run())
}

func runChild(spec string) int {
	var c childSpec
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		fmt.Fprintln(os.Stderr, "child spec:", err)
		return 2
	}
	c.Cfg.Log = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	b, err := ingest.Start(ctx, ingest.Config{URL: c.URL})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer b.Close()
	pub, err := b.Publisher(256, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fl, err := New(c.Cfg, pub)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	breakOnPurpose(fl)
	if err := fl.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// breakOnPurpose breaks the guarantee when FOLLOW_TEST_BREAK asks, to see
// the tests fail: "random-ids" gives every publish a fresh message id;
// "checkpoint-before-ack" writes checkpoints before the acknowledgements;
// "forget-cuts" does not record the cuts made by age; "line-cuts" cuts
// every file's messages at any line end, as if no subject's records could
// span lines.
func breakOnPurpose(fl *Follower) {
	switch os.Getenv("FOLLOW_TEST_BREAK") {
	case "random-ids":
		fl.id = func(*checkpoint, int64, int64) string { return newNonce() }
	case "checkpoint-before-ack":
		fl.beforeAck = true
	case "forget-cuts":
		fl.forgetCuts = true
	case "line-cuts":
		fl.cfg.RecordSubjects = nil
	}
}

// TestFollowSurvivesSIGKILL runs the follower in a child process while a
// writer appends to the file (rotated by rename half way), and SIGKILLs it several times at random
// points (messages published and not yet checkpointed, checkpoints being
// written); a last child catches up and stops on SIGTERM with exit 0.
// Every line is in the stream exactly once: what a killed child published
// and did not checkpoint, the next one publishes again under the same ids,
// and the stream drops it. In "records" the file's subject frames records
// that may span lines, and the writer also appends records over two lines
// in two writes: every message holds whole records only.
func TestFollowSurvivesSIGKILL(t *testing.T) {
	for _, records := range []bool{false, true} {
		name := "lines"
		if records {
			name = "records"
		}
		t.Run(name, func(t *testing.T) { testSurvivesSIGKILL(t, records) })
	}
}

func testSurvivesSIGKILL(t *testing.T, records bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b := startBroker(ctx, t)
	st := openStream(ctx, t, b)
	dir := t.TempDir()
	var want []string
	app := &logFile{t: t, path: filepath.Join(dir, "app.log"), name: "app", want: &want}
	app.write(1)

	// The glob takes the rotated file too: a child started after the
	// rename finds it, by inode, at its checkpoint.
	cfg := testConfig(dir, app.path+"*")
	cfg.Checkpoint, cfg.MaxAge = 150*time.Millisecond, 20*time.Millisecond
	if records {
		cfg.RecordSubjects = []string{testSubject}
	}
	spec, err := json.Marshal(childSpec{URL: b.URL(), Cfg: cfg})
	require.NoError(t, err)
	start := func() (*exec.Cmd, *bytes.Buffer) {
		var stderr bytes.Buffer
		c := exec.Command(os.Args[0], "-test.run=^$")
		c.Env = append(os.Environ(), "FOLLOW_TEST_CHILD="+string(spec))
		c.Stderr = &stderr
		require.NoError(t, c.Start())
		return c, &stderr
	}

	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		// Bursts of random size at random times: messages are cut by
		// size and by age.
		for i := 0; i < 400; i++ {
			if i == 200 {
				require.NoError(t, os.Rename(app.path, app.path+".1"))
			}
			app.write(1 + rand.IntN(40))
			if records && i%3 == 0 {
				app.writeSplit(time.Duration(rand.IntN(40)) * time.Millisecond)
			}
			time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
		}
	}()
	for kill := 0; kill < 8; kill++ {
		c, stderr := start()
		time.Sleep(time.Duration(150+rand.IntN(300)) * time.Millisecond)
		require.NoError(t, c.Process.Kill())
		_ = c.Wait()
		t.Logf("kill %d: stream holds %d lines; child said: %s", kill, st.read(ctx), stderr)
	}
	<-wrote
	c, stderr := start()
	st.waitFor(ctx, len(want), "after the kills")
	time.Sleep(500 * time.Millisecond) // a duplicate would arrive by now
	require.NoError(t, c.Process.Signal(syscall.SIGTERM))
	require.NoError(t, c.Wait(), "the last child stops cleanly: %s", stderr)
	st.requireExactlyOnce(ctx, want)
	if records {
		st.requireWholeRecords()
	}
}
