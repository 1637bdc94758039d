package procstat

import (
	"bytes"
	"context"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/require"
)

var sink []byte

func TestReadSeesCPUAndMemoryUsed(t *testing.T) {
	a, err := Read()
	require.NoError(t, err)
	ra := rusageCPU(t)
	require.Positive(t, a.RSS)
	require.GreaterOrEqual(t, a.HWM, a.RSS)
	require.Positive(t, a.Threads)

	// Burn 200ms of CPU (not of wall time: on a loaded machine the process
	// gets less than a core) and touch 64 MiB.
	x := 0
	for deadline := time.Now().Add(30 * time.Second); rusageCPU(t)-ra < 200*time.Millisecond; x++ {
		require.True(t, time.Now().Before(deadline), "got less than 200ms of CPU in 30s")
	}
	sink = make([]byte, 64<<20)
	for i := range sink {
		sink[i] = byte(i)
	}
	rb := rusageCPU(t) // [ra, rb] lies within [a, b]
	b, err := Read()
	require.NoError(t, err)
	runtime.KeepAlive(x)
	require.GreaterOrEqual(t, b.CPU-a.CPU, rb-ra)
	require.GreaterOrEqual(t, b.RSS, a.RSS+60<<20)
	pct := CPUPercent(a, b)
	require.InDelta(t, 100*float64(b.CPU-a.CPU)/float64(b.At.Sub(a.At)), pct, 1e-9)
	require.Positive(t, pct)
	require.Less(t, pct, 100.0*float64(runtime.NumCPU())+10)
	require.Zero(t, CPUPercent(b, b))
	require.Equal(t, uint64(2048), kib([]byte("   2 kB")))
}

// rusageCPU is the process's user plus system CPU time, read directly, so
// that the test burns a fixed amount of CPU however loaded the machine is.
func rusageCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestCPUByLabelSplitsAProfile profiles two labelled goroutines that do
// work in a 1:3 ratio, and an unlabelled one, and reads the split back.
func TestCPUByLabelSplitsAProfile(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, pprof.StartCPUProfile(&buf))
	// A fixed amount of work, not of time: the split must hold however the
	// goroutines share the CPUs.
	burn := func(n int) {
		x := uint64(1)
		for i := 0; i < n; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
		runtime.KeepAlive(x)
	}
	var wg sync.WaitGroup
	const unit = 450_000_000 // about 45 samples for "a" at 100 Hz: fewer left the ratio to chance under load (4.7 once)
	for _, job := range []struct {
		label string
		d     int
	}{{"a", unit}, {"b", 3 * unit}, {"", unit}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if job.label == "" {
				burn(job.d)
				return
			}
			pprof.Do(context.Background(), pprof.Labels("part", job.label), func(context.Context) {
				// A goroutine started here inherits the label.
				done := make(chan struct{})
				go func() { burn(job.d / 3); close(done) }()
				burn(job.d * 2 / 3)
				<-done
			})
		}()
	}
	wg.Wait()
	pprof.StopCPUProfile()
	split, err := CPUByLabel(buf.Bytes(), "part")
	require.NoError(t, err)
	require.Greater(t, split["b"], split["a"], "%v", split)
	ratio := float64(split["b"]) / float64(split["a"])
	require.InDelta(t, 3, ratio, 1.5, "%v", split)
	require.Greater(t, split["a"], 50*time.Millisecond, "%v", split)
	require.Greater(t, split[""], 50*time.Millisecond, "unlabelled Go work counts under the empty label: %v", split)
	require.Less(t, split[Native], 30*time.Millisecond, "no native code ran: %v", split)
	_, err = CPUByLabel([]byte("not gzip"), "part")
	require.Error(t, err)
}

// burnFramed is work that CPUByLabel's Frames rule can tell by its code.
//
//go:noinline
func burnFramed(n int) uint64 {
	x := uint64(1)
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

// TestCPUByLabelTellsUnlabelledWorkByItsCode profiles unlabelled work in
// burnFramed (twice as much) and elsewhere, and labelled work in
// burnFramed: a Frames rule takes the unlabelled burnFramed samples out of
// the empty label, and only those (a label comes first).
func TestCPUByLabelTellsUnlabelledWorkByItsCode(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, pprof.StartCPUProfile(&buf))
	const unit = 450_000_000 // as in TestCPUByLabelSplitsAProfile: enough samples for the ratio under load
	var wg sync.WaitGroup
	wg.Go(func() { runtime.KeepAlive(burnFramed(2 * unit)) })
	wg.Go(func() {
		x := uint64(1)
		for i := 0; i < unit; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
		runtime.KeepAlive(x)
	})
	wg.Go(func() {
		pprof.Do(context.Background(), pprof.Labels("part", "a"), func(context.Context) {
			runtime.KeepAlive(burnFramed(unit))
		})
	})
	wg.Wait()
	pprof.StopCPUProfile()
	const framed = "\x00framed"
	rule := Frames{Key: framed, Prefix: "github.com/tapline/tapline/loadtest/procstat.burnFramed"}
	split, err := CPUByLabel(buf.Bytes(), "part", rule)
	require.NoError(t, err)
	require.Greater(t, split[framed], 50*time.Millisecond, "%v", split)
	require.Greater(t, split[""], 50*time.Millisecond, "%v", split)
	require.InDelta(t, 2, float64(split[framed])/float64(split[""]), 1, "the framed work was twice the other: %v", split)
	require.Greater(t, split["a"], 50*time.Millisecond, "labelled work keeps its label: %v", split)
	all, err := CPUByLabel(buf.Bytes(), "part")
	require.NoError(t, err)
	require.Zero(t, all[framed], "no rule, no key")
	require.Equal(t, split[""]+split[framed], all[""], "the rule only moves samples out of the empty label")

	// pprof writes a dot of a module path as %2e (nats.go's functions).
	fn := &profile.Function{Name: "github.com/nats-io/nats%2ego.(*Conn).readLoop"}
	s := &profile.Sample{Location: []*profile.Location{{Line: []profile.Line{{Function: fn}}}}}
	require.Equal(t, "client", framesKey(s, []Frames{{Key: "server", Prefix: "github.com/nats-io/nats-server/"}, {Key: "client", Prefix: "github.com/nats-io/nats.go"}}))
}

func TestReadMachineSeesThisProcessBurn(t *testing.T) {
	a, err := ReadMachine()
	require.NoError(t, err)
	p0, err := Read()
	require.NoError(t, err)
	end := time.Now().Add(300 * time.Millisecond)
	x := 0
	for time.Now().Before(end) {
		x++
	}
	runtime.KeepAlive(x)
	b, err := ReadMachine()
	require.NoError(t, err)
	p1, err := Read()
	require.NoError(t, err)
	require.GreaterOrEqual(t, b.Busy, a.Busy)
	// The machine was at least as busy as this process (ticks are 10ms).
	require.GreaterOrEqual(t, MachinePercent(a, b)+10, CPUPercent(p0, p1)*0.8)
	require.Less(t, MachinePercent(a, b), 100.0*float64(runtime.NumCPU())+20)
}
