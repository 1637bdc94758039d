package follow

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest"
)

// BenchmarkFollow ships a file of real SOFARPC client digest lines (the
// SOFARPC docs' example, ../ingest/decode/sofarpc/testdata) to an
// embedded NATS server's memory stream, from a fresh checkpoint each
// iteration until the stream acknowledged every line, beside reading the
// same file alone with a bufio line scan. "follow-records" cuts messages
// where records end (Config.RecordSubjects, decode.NextRecordSoFar), as
// for the line formats' subjects. Bytes are the file's. The age
// bound and the checkpoint interval are short, so that the last message
// and the last acknowledgement do not wait for their defaults (1 s).
func BenchmarkFollow(b *testing.B) {
	line, err := os.ReadFile("../ingest/decode/sofarpc/testdata/rpc-client-digest-docs.log")
	require.NoError(b, err)
	line = append(bytes.TrimSpace(line), '\n')
	const lines = 50_000
	dir := b.TempDir()
	path := filepath.Join(dir, "rpc-client-digest.log")
	require.NoError(b, os.WriteFile(path, bytes.Repeat(line, lines), 0o644))
	size := int64(len(line) * lines)

	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(size)
		for b.Loop() {
			f, err := os.Open(path)
			require.NoError(b, err)
			sc := bufio.NewScanner(f)
			n := 0
			for sc.Scan() {
				n++
			}
			require.NoError(b, sc.Err())
			require.NoError(b, f.Close())
			require.Equal(b, lines, n)
		}
		b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "lines/s")
	})

	ctx := context.Background()
	br, err := ingest.Start(ctx, ingest.Config{})
	require.NoError(b, err)
	defer br.Close()
	_, err = br.EnsureStream(ctx, ingest.StreamSpec{Name: testStream, Subjects: []string{"follow.test.>"}, Memory: true, MaxBytes: 512 << 20})
	require.NoError(b, err)
	pub, err := br.Publisher(1024, nil)
	require.NoError(b, err)
	runs := 0 // every pass starts from a new state directory, across -count too
	for _, bc := range []struct {
		name    string
		perMsg  int
		records []string
	}{{"follow", 100, nil}, {"follow", 500, nil}, {"follow-records", 100, []string{testSubject}}, {"follow-records", 500, []string{testSubject}}} {
		perMsg := bc.perMsg
		b.Run(fmt.Sprintf("%s/lines-per-message=%d", bc.name, perMsg), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(size)
			for b.Loop() {
				runs++
				cfg := Config{Paths: []string{path}, Subject: testSubject, StateDir: filepath.Join(dir, fmt.Sprintf("state-%d", runs)),
					RecordSubjects: bc.records, MaxLines: perMsg, MaxBytes: 1 << 20, Poll: 5 * time.Millisecond, Checkpoint: 20 * time.Millisecond, MaxAge: 5 * time.Millisecond}
				fl, err := New(cfg, pub)
				require.NoError(b, err)
				ctx, cancel := context.WithCancel(ctx)
				done := make(chan error, 1)
				go func() { done <- fl.Run(ctx) }()
				for s := fl.Stats(); s.Lines < lines || s.LagBytes != 0; s = fl.Stats() {
					time.Sleep(time.Millisecond)
				}
				cancel()
				if err := <-done; !errors.Is(err, context.Canceled) {
					require.NoError(b, err)
				}
			}
			b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
