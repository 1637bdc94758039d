package pipeline

import (
	"sync"
	"time"
)

// Stats are one source's counters since the pipeline started.
type Stats struct {
	Source string
	// Messages read (first deliveries and redeliveries that needed work).
	Messages uint64
	// Records decoded into rows, and records dead-lettered.
	Records, Rejected uint64
	// RecordsCommitted counts decoded records whose batch is committed.
	RecordsCommitted uint64
	// Rows committed per table.
	Rows map[string]uint64
	// Batches committed from fresh deliveries.
	Batches uint64
	// Replayed counts journaled batches this process re-inserted under
	// their original token (left by an earlier start, or adopted).
	Replayed uint64
	// Adopted counts the replayed batches another instance had journaled
	// (its lease ran out: it died or stalled).
	Adopted uint64
	// Parked counts redeliveries left to the process whose batch holds
	// them (nakked with a delay).
	Parked uint64
	// Abandoned counts batches given up unjournaled because another
	// process may hold their messages; they are redelivered.
	Abandoned uint64
	// Lost counts journaled messages the stream no longer held when their
	// batch was replayed (its retention removed them): their rows could
	// not be written. A read that fails for another reason is retried.
	Lost uint64
	// Skipped counts redeliveries of messages already committed (acked again).
	Skipped uint64
	// Retries counts insert attempts that failed temporarily.
	Retries uint64
	// LastError is the latest temporary failure, "" once an insert succeeds.
	LastError string
	// LastCommit is when the latest batch was committed.
	LastCommit time.Time
	// The reader's time since it started, in three parts that add up to
	// about all of it: ReadBuilding decoding messages into batches and
	// sealing them (dead letters included), ReadWaiting waiting for the
	// next message, ReadBlocked waiting for a writer to take a sealed batch.
	// A reader building nearly all the time bounds the source: its decoder
	// is the slower side. One blocked most of the time waits on the inserts.
	// One waiting most of the time keeps up with what the stream delivers.
	ReadBuilding, ReadWaiting, ReadBlocked time.Duration
	// PhaseTime is each Phase's time summed over Batches (the batches
	// Config.ObservePhase sees): divided by Batches, where a batch's commit
	// time goes on average.
	PhaseTime map[Phase]time.Duration
	// Sealed counts the batches the reader closed, by why it closed them
	// (abandoned ones included; replays are not sealed).
	Sealed map[Seal]uint64
}

type stats struct {
	mu sync.Mutex
	s  Stats
}

func (st *stats) update(f func(*Stats)) {
	st.mu.Lock()
	if st.s.Rows == nil {
		st.s.Rows = map[string]uint64{}
		st.s.PhaseTime = map[Phase]time.Duration{}
		st.s.Sealed = map[Seal]uint64{}
	}
	f(&st.s)
	st.mu.Unlock()
}

func (st *stats) snapshot(name string) Stats {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.s
	s.Source = name
	s.Rows = make(map[string]uint64, len(st.s.Rows))
	for k, v := range st.s.Rows {
		s.Rows[k] = v
	}
	s.PhaseTime = make(map[Phase]time.Duration, len(st.s.PhaseTime))
	for k, v := range st.s.PhaseTime {
		s.PhaseTime[k] = v
	}
	s.Sealed = make(map[Seal]uint64, len(st.s.Sealed))
	for k, v := range st.s.Sealed {
		s.Sealed[k] = v
	}
	return s
}
