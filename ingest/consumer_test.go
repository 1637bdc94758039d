package ingest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDroppedPayloadStillAcknowledges: a message whose payload was dropped
// keeps its subject, is kept in progress past its ack wait, is redelivered
// after a nak with a delay (and not before), and its ack reaches the server.
func TestDroppedPayloadStillAcknowledges(t *testing.T) {
	ctx, b := embedded(t, time.Minute)
	_, err := b.EnsureStream(ctx, StreamSpec{Name: "DROP", Subjects: []string{"drop.>"}})
	require.NoError(t, err)
	pub, err := b.Publisher(0, nil)
	require.NoError(t, err)
	require.NoError(t, pub.PublishAsync(ctx, "drop.x", []byte("payload"), "m-1"))
	require.NoError(t, pub.Flush(ctx))
	c, err := b.Consumer(ctx, ConsumerSpec{Stream: "DROP", Durable: "d", AckWait: time.Second})
	require.NoError(t, err)
	defer c.Stop()

	m, err := c.Next(ctx, 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, "payload", string(m.Data()))
	m.DropData()
	require.Nil(t, m.Data())
	require.Equal(t, "drop.x", m.Subject())

	// Kept in progress for three ack waits: not redelivered.
	for range 6 {
		time.Sleep(500 * time.Millisecond)
		require.NoError(t, m.InProgress())
	}
	_, err = c.Next(ctx, 100*time.Millisecond)
	require.ErrorIs(t, err, ErrNoMessage, "in progress: no redelivery")

	// A nak with a delay: redelivered after it, not before.
	require.NoError(t, m.NakWithDelay(1500*time.Millisecond))
	_, err = c.Next(ctx, time.Second)
	require.ErrorIs(t, err, ErrNoMessage, "not before the delay")
	m2, err := c.Next(ctx, 3*time.Second)
	require.NoError(t, err)
	require.EqualValues(t, 2, m2.Delivered)
	m2.DropData()
	require.NoError(t, m2.Ack())
	require.Eventually(t, func() bool {
		st, err := c.State(ctx)
		return err == nil && st.AckFloor == 1 && st.AckPending == 0
	}, 5*time.Second, 20*time.Millisecond, "the ack reached the server")
}

// BenchmarkConsumerState is the price of one read of a consumer's ack
// floor on the embedded server, which every batch pays before it is
// cleared for insertion (pipeline: ackedBefore).
func BenchmarkConsumerState(b *testing.B) {
	ctx, br := embedded(b, time.Minute)
	_, err := br.EnsureStream(ctx, StreamSpec{Name: "STATE", Subjects: []string{"state.>"}})
	if err != nil {
		b.Fatal(err)
	}
	c, err := br.Consumer(ctx, ConsumerSpec{Stream: "STATE", Durable: "d", AckWait: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Stop()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.State(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
