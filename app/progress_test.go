package app

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest"
)

// TestPublishProgress: a long publish reports records, megabytes and
// rates on its progress writer, and the last line counts every record.
func TestPublishProgress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := ingest.Start(ctx, ingest.Config{})
	require.NoError(t, err)
	defer b.Close()
	_, serr := b.EnsureStream(ctx, ingest.StreamSpec{Name: "P", Subjects: []string{"p.>"}})
	require.NoError(t, serr)
	pub, err := b.Publisher(0, nil)
	require.NoError(t, err)
	var out bytes.Buffer
	var records atomic.Uint64
	stop := ShowPublishProgress(&out, 20*time.Millisecond, false, records.Load, pub)
	data := bytes.Repeat([]byte("x"), 10_000)
	for i := 0; i < 200; i++ {
		require.NoError(t, pub.PublishAsync(ctx, "p.x", data, ""))
		records.Add(10)
	}
	require.NoError(t, pub.Flush(ctx))
	time.Sleep(100 * time.Millisecond)
	stop()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.NotEmpty(t, lines)
	require.Contains(t, lines[len(lines)-1], "published 2000 records, 2.0 MB (2.0 MB acknowledged)")
	require.Contains(t, lines[len(lines)-1], "records/s")
}
