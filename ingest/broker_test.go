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
