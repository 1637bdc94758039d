package baseline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tapline/tapline/ingest"
)

// Stream is one format's stream as a baseline reads it.
type Stream struct {
	// Format is the stream's format (decides how its lines are read).
	Format string
	// Stream is the JetStream stream name (ingest.DefaultSource(Format).Stream).
	Stream string
}

// Read is what one baseline did with one format's messages.
type Read struct {
	// Format is the stream's format.
	Format string
	// Messages read and their payload bytes.
	Messages, Bytes uint64
	// Lines counts the newline-terminated records in the messages (the
	// engine baseline only: the broker baseline does not look inside).
	Lines uint64
	// Elapsed is the timed part: for the broker baseline from the start
	// until this stream's last message was acknowledged.
	Elapsed time.Duration
	// Redelivered counts messages that came a second time (the broker
	// baseline): their first delivery was lost, typically because the
	// server dropped a connection it found too slow, and came back after
	// the ack wait, which Elapsed then includes.
	Redelivered uint64
}

// BrokerAckWait is the broker baseline consumers' ack wait: it acknowledges
// every message at once, so a longer wait only matters when a delivery was
// lost, and then it is time the baseline waits.
const BrokerAckWait = 5 * time.Second

// Dial opens a NATS connection of its own for a baseline; the baseline
// closes it.
type Dial func(ctx context.Context) (*ingest.Broker, error)

// Broker reads every message the streams hold that durable has not yet
// acknowledged, with one durable pull consumer per stream (all streams at
// once, like tapline's sources), acknowledging each message on its own
// exactly as tapline does, and nothing else: the broker's limit for the way
// tapline consumes. durable is created when missing; with a new name it
// reads the whole stream. Each stream is read on a connection of its own
// (dial): a pull of ingest.Consumer asks for 1000 messages whatever their
// size, and nats-server drops a connection whose undelivered data exceeds
// its max_pending (64 MiB by default), which five backlogged streams of
// 100-line messages together do. It returns per-stream reads and the wall
// time of the whole baseline (from before the consumers were created until
// the last acknowledgement was sent; connecting is not included).
func Broker(ctx context.Context, dial Dial, durable string, streams []Stream) ([]Read, time.Duration, error) {
	conns := make([]*ingest.Broker, len(streams))
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range streams {
		c, err := dial(ctx)
		if err != nil {
			return nil, 0, err
		}
		conns[i] = c
	}
	start := time.Now()
	reads := make([]Read, len(streams))
	errs := make([]error, len(streams))
	var wg sync.WaitGroup
	for i, s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reads[i], errs[i] = drainAcks(ctx, conns[i], durable, s, start)
		}()
	}
	wg.Wait()
	var elapsed time.Duration
	for _, r := range reads {
		elapsed = max(elapsed, r.Elapsed)
	}
	return reads, elapsed, errors.Join(errs...)
}

func drainAcks(ctx context.Context, b *ingest.Broker, durable string, s Stream, start time.Time) (Read, error) {
	r := Read{Format: s.Format}
	c, err := b.Consumer(ctx, ingest.ConsumerSpec{Stream: s.Stream, Durable: durable, AckWait: BrokerAckWait})
	if err != nil {
		return r, err
	}
	defer c.Stop()
	total, err := backlog(ctx, c)
	if err != nil {
		return r, err
	}
	seen := make(map[uint64]struct{}, total)
	const wait = 6 * BrokerAckWait
	for r.Messages < total {
		m, err := c.Next(ctx, wait)
		if errors.Is(err, ingest.ErrNoMessage) {
			return r, fmt.Errorf("baseline: broker: %s: no message for %v after %d of %d", s.Stream, wait, r.Messages, total)
		}
		if err != nil {
			return r, err
		}
		if err := m.Ack(); err != nil {
			return r, fmt.Errorf("baseline: broker: ack %s #%d: %w", s.Stream, m.Seq, err)
		}
		if _, dup := seen[m.Seq]; dup || m.Delivered > 1 {
			r.Redelivered++
			if dup {
				continue
			}
		}
		seen[m.Seq] = struct{}{}
		r.Messages++
		r.Bytes += uint64(len(m.Data()))
	}
	r.Elapsed = time.Since(start)
	return r, nil
}

// backlog returns how many messages the consumer has to deliver: those not
// yet delivered and those delivered but not acknowledged (an earlier,
// interrupted run's; they come again after the ack wait).
func backlog(ctx context.Context, c *ingest.Consumer) (uint64, error) {
	st, err := c.State(ctx)
	if err != nil {
		return 0, err
	}
	return st.Pending + uint64(st.AckPending), nil
}
