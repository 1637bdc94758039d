package ingest

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/internal/syncbuf"
)

// TestConnectionEventsGoToTheLog: a client of an embedded server that
// stops and starts again on the same address reports the disconnect and
// the reconnect to Config.Log, as warnings with their reason, and goes on
// working (the NATS client's default wrote bare lines to standard error).
func TestConnectionEventsGoToTheLog(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	server, err := Start(ctx, Config{StoreDir: t.TempDir(), Listen: addr})
	require.NoError(t, err)
	var log syncbuf.Buffer
	client, err := Start(ctx, Config{URL: server.URL(), Log: slog.New(slog.NewTextHandler(&log, nil))})
	require.NoError(t, err)
	defer client.Close()

	server.Close()
	require.Eventually(t, func() bool { return strings.Contains(log.String(), "nats: disconnected; reconnecting") }, 10*time.Second, 10*time.Millisecond,
		"the disconnect is logged: %q", log.String())
	require.Contains(t, log.String(), "level=WARN")

	again, err := Start(ctx, Config{StoreDir: t.TempDir(), Listen: addr})
	require.NoError(t, err)
	defer again.Close()
	require.Eventually(t, func() bool { return strings.Contains(log.String(), "nats: reconnected") }, 20*time.Second, 20*time.Millisecond,
		"the reconnect is logged: %q", log.String())
	_, err = client.js.AccountInfo(ctx)
	require.NoError(t, err, "the client works after the reconnect")
}

// TestStartRefusesAnUnusableNKeySeed: an NKey file that holds no seed
// fails the start with the flag and what the file must hold, before any
// connection attempt (it was dropped silently, and the server's
// authorization error named nothing).
func TestStartRefusesAnUnusableNKeySeed(t *testing.T) {
	f := filepath.Join(t.TempDir(), "user.nk")
	require.NoError(t, os.WriteFile(f, []byte("not a seed\n"), 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Start(ctx, Config{URL: "nats://127.0.0.1:1", NKeyFile: f, ConnectTimeout: time.Second})
	require.Error(t, err)
	require.ErrorContains(t, err, "--nats-nkey "+f)
	require.ErrorContains(t, err, "NKey user seed")
}
