package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

// TestEnsureStreamKeepsTheOperatorsConfiguration: a missing stream is
// created with tapline's defaults; an existing one (here with an operator's
// own age, size limit, duplicate window and an extra subject) is left
// exactly as it is, and the differences are reported.
func TestEnsureStreamKeepsTheOperatorsConfiguration(t *testing.T) {
	ctx, b := embedded(t, time.Minute)

	spec := StreamSpec{Name: "FRESH", Subjects: []string{"fresh.>"}}
	diff, err := b.EnsureStream(ctx, spec)
	require.NoError(t, err)
	require.Empty(t, diff)
	st, err := b.js.Stream(ctx, "FRESH")
	require.NoError(t, err)
	require.Equal(t, 7*24*time.Hour, st.CachedInfo().Config.MaxAge, "created with tapline's defaults")
	require.Equal(t, DefaultDuplicateWindow, st.CachedInfo().Config.Duplicates, "created with tapline's defaults")
	diff, err = b.EnsureStream(ctx, spec)
	require.NoError(t, err)
	require.Empty(t, diff, "its own stream differs in nothing")

	operator := jetstream.StreamConfig{Name: "OWNED", Subjects: []string{"owned.>", "extra.>"}, MaxAge: time.Hour, MaxBytes: 1 << 20,
		Duplicates: time.Minute, Storage: jetstream.FileStorage, Replicas: 1}
	_, err = b.js.CreateStream(ctx, operator)
	require.NoError(t, err)
	diff, err = b.EnsureStream(ctx, StreamSpec{Name: "OWNED", Subjects: []string{"owned.>"}})
	require.NoError(t, err)
	require.Len(t, diff, 4, "subjects, max age, max bytes, duplicate window: %v", diff)
	st, err = b.js.Stream(ctx, "OWNED")
	require.NoError(t, err)
	got := st.CachedInfo().Config
	require.Equal(t, []string{"owned.>", "extra.>"}, got.Subjects, "kept")
	require.Equal(t, time.Hour, got.MaxAge, "kept")
	require.Equal(t, int64(1<<20), got.MaxBytes, "kept")
	require.Equal(t, time.Minute, got.Duplicates, "kept")
}

// TestEnsureStreamCreatesTheDuplicateWindowAsked: a stream created with a
// duplicate window of its own drops a message published again with the same
// id within the window, and stores it once the window has passed.
func TestEnsureStreamCreatesTheDuplicateWindowAsked(t *testing.T) {
	ctx, b := embedded(t, time.Minute)
	const window = time.Second
	_, err := b.EnsureStream(ctx, StreamSpec{Name: "DUPE", Subjects: []string{"dupe.>"}, Duplicates: window})
	require.NoError(t, err)
	st, err := b.js.Stream(ctx, "DUPE")
	require.NoError(t, err)
	require.Equal(t, window, st.CachedInfo().Config.Duplicates)

	pub, err := b.Publisher(0, nil)
	require.NoError(t, err)
	stored := func() uint64 {
		t.Helper()
		require.NoError(t, pub.Flush(ctx))
		info, err := st.Info(ctx)
		require.NoError(t, err)
		return info.State.Msgs
	}
	require.NoError(t, pub.PublishAsync(ctx, "dupe.x", []byte("a"), "id-1"))
	require.NoError(t, pub.PublishAsync(ctx, "dupe.x", []byte("a"), "id-1"))
	require.Equal(t, uint64(1), stored(), "the same id within the window is dropped")
	time.Sleep(window + window/2)
	require.NoError(t, pub.PublishAsync(ctx, "dupe.x", []byte("a"), "id-1"))
	require.Equal(t, uint64(2), stored(), "after the window the same id is stored again")
}

// embedded starts an embedded NATS server and broker for the test, closed
// when the test ends, and returns it with a context that ends after limit.
func embedded(t testing.TB, limit time.Duration) (context.Context, *Broker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	b, err := Start(ctx, Config{})
	require.NoError(t, err)
	t.Cleanup(b.Close)
	return ctx, b
}
