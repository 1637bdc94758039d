package loadtest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tapline/tapline/sink"
)

// settleMax bounds how long a baseline waits for the engine's merges to
// end before it is timed (see settle).
const settleMax = 60 * time.Second

// settlePoll is how often settle reads system.merges.
const settlePoll = 100 * time.Millisecond

// runningMerges counts the merges the engine runs in every database: the
// live phase's tables and the baselines' own.
const runningMerges = "SELECT count() FROM system.merges WHERE NOT is_mutation"

// settle waits until the engine runs no merge, reading system.merges every
// settlePoll for at most settleMax, and returns how long it waited. A
// baseline is timed after it, so that it does not share the machine with
// the merges of the parts an earlier phase wrote: one such merge can take a
// core for seconds, which halved the broker baseline in some runs and so
// doubled drain ÷ broker. It adds a note to the report when it waited at
// least a poll, when the merges outlasted settleMax (the baseline then runs
// beside them), or when system.merges could not be read (it then does not
// wait). While merges run it says so once on the progress output. before
// names the baseline, for the notes and the progress line.
func (r *run) settle(ctx context.Context, t sink.Target, before string) time.Duration {
	start := time.Now()
	told := false
	for {
		out, err := t.Query(ctx, runningMerges, "TabSeparated", nil)
		if err != nil {
			r.notes = append(r.notes, fmt.Sprintf("Before %s: the engine's running merges could not be read (%v), so it did not wait for them.", before, err))
			return time.Since(start)
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(out)))
		if err != nil {
			r.notes = append(r.notes, fmt.Sprintf("Before %s: system.merges answered %q, not a count, so it did not wait for merges.", before, out))
			return time.Since(start)
		}
		waited := time.Since(start)
		if n == 0 {
			if waited >= settlePoll {
				r.notes = append(r.notes, fmt.Sprintf("Before %s, it waited %.1f s for the engine's merges of earlier parts to end, so that they did not share the machine with it.", before, waited.Seconds()))
			}
			return waited
		}
		if !told {
			r.progress("baseline: waiting for the engine's %d running merges to end before %s (at most %v)...", n, before, settleMax)
			told = true
		}
		if waited >= settleMax {
			r.notes = append(r.notes, fmt.Sprintf("Before %s: %d merges still ran after %v; it ran beside them, so its rate is understated.", before, n, settleMax))
			return waited
		}
		select {
		case <-ctx.Done():
			return time.Since(start)
		case <-time.After(settlePoll):
		}
	}
}
