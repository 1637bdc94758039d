package ingest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

// TestPublishAsyncRidesOutStalls holds acknowledgements back (each takes
// longer than nats.go waits for room) with one publish allowed in flight:
// every PublishAsync stalls, and the publisher must wait and send again
// with the same message id instead of failing with "stalled with too many
// outstanding async published messages"; every message is stored once.
func TestPublishAsyncRidesOutStalls(t *testing.T) {
	ctx, b := embedded(t, 2*time.Minute)
	_, err := b.EnsureStream(ctx, StreamSpec{Name: "STALL", Subjects: []string{"stall.>"}})
	require.NoError(t, err)

	pub, err := b.Publisher(1, nil)
	require.NoError(t, err)
	var slow atomic.Int32
	slow.Store(5)
	pub.beforeAck = func() {
		if slow.Add(-1) >= 0 {
			time.Sleep(400 * time.Millisecond) // nats.go waits 200ms for room
		}
	}
	const n = 40
	for i := 0; i < n; i++ {
		require.NoError(t, pub.PublishAsync(ctx, "stall.x", []byte(fmt.Sprintf("message %d", i)), fmt.Sprintf("m-%d", i)))
	}
	require.NoError(t, pub.Flush(ctx))
	st := pub.Stats()
	require.EqualValues(t, n, st.Sent)
	require.EqualValues(t, n, st.Acked)

	// The same ids again: the stream's duplicate window drops them.
	for i := 0; i < 10; i++ {
		require.NoError(t, pub.PublishAsync(ctx, "stall.x", []byte("again"), fmt.Sprintf("m-%d", i)))
	}
	require.NoError(t, pub.Flush(ctx))
	info := streamInfo(ctx, t, b, "STALL")
	require.EqualValues(t, n, info.State.Msgs, "every message stored once")
}

// TestPublishAsyncGivesUpWithoutStream: a subject no stream captures
// fails at Flush with the count and cause, and onErr hears of it.
func TestPublishAsyncGivesUpWithoutStream(t *testing.T) {
	ctx, b := embedded(t, time.Minute)
	var heard atomic.Int32
	pub, err := b.Publisher(0, func(string, error) { heard.Add(1) })
	require.NoError(t, err)
	pub.retryFor = 300 * time.Millisecond
	require.NoError(t, pub.PublishAsync(ctx, "nobody.listens", []byte("x"), ""))
	err = pub.Flush(ctx)
	require.ErrorContains(t, err, "1 publishes failed")
	require.EqualValues(t, 1, heard.Load())
}

func streamInfo(ctx context.Context, t *testing.T, b *Broker, name string) *jetstream.StreamInfo {
	t.Helper()
	s, err := b.js.Stream(ctx, name)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	return info
}
