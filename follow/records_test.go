package follow

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/ingest/decode/django"
	"github.com/tapline/tapline/ingest/decode/sofarpc"
)

// appendFile appends s to path.
func appendFile(t testing.TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	_, err = f.WriteString(s)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// records returns the records decode.NextRecord frames in p, as text.
func records(p []byte) []string {
	var out []string
	for off := 0; ; {
		r, ok := decode.NextRecord(p, off)
		if !ok {
			return out
		}
		out = append(out, string(p[r.Start:r.End]))
		off = r.Next
	}
}

// decodeCount decodes payload with the real decoder of format and returns
// the records decoded and the rejects' reasons.
func decodeCount(t testing.TB, format string, payload []byte) (int, []string) {
	t.Helper()
	newDec, subject := sofarpc.New, "logs.sofarpc.client.digest"
	if format == django.Format {
		newDec, subject = django.New, "logs.django.app"
	}
	dec, err := newDec(decode.Options{})
	require.NoError(t, err)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	var out decode.Output
	for _, tbl := range dec.Tables() {
		out.Builders = append(out.Builders, tbl.NewBuilder(mem))
	}
	dec.Decode(payload, decode.Meta{Subject: subject}, &out)
	for _, b := range out.Builders {
		b.NewRecord().Release()
		b.Release()
	}
	mem.AssertSize(t, 0)
	var reasons []string
	for _, r := range out.Rejects {
		reasons = append(reasons, r.Reason)
	}
	return out.Records, reasons
}

// messagesOf returns the messages the stream holds for subject, in order.
func (s *stream) messagesOf(subject string) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	for _, m := range s.raw {
		if m.subject == subject {
			out = append(out, m.data)
		}
	}
	return out
}

// TestFollowRecordsAcrossCuts writes real multi-line records (a SOFATracer
// datasource digest with raw newlines in its SQL, a structlog record
// pretty-printed with indent 2) in two appends each, the first append
// published by the age bound and the record longer than the line bound:
// each record arrives in one message, every message decodes with the
// format's decoder without a reject, and the files' bytes are in the
// stream once, in order.
func TestFollowRecordsAcrossCuts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := startBroker(ctx, t)
	st := openStream(ctx, t, b)
	dir := t.TempDir()
	digestFile, err := os.ReadFile("../ingest/decode/sofarpc/testdata/rpc-client-digest-docs.log")
	require.NoError(t, err)
	digest := string(bytes.TrimSpace(digestFile)) + "\n"
	raw, err := os.ReadFile("../ingest/decode/sofarpc/testdata/datasource-raw-newline-sql.log")
	require.NoError(t, err)
	sqlRec := records(raw)[0] + "\n" // three physical lines
	require.Equal(t, 3, strings.Count(sqlRec, "\n"))
	pretty, err := os.ReadFile("../ingest/decode/django/testdata/readme-json-example-indent2.log")
	require.NoError(t, err)
	prettyRecs := records(pretty)
	require.Greater(t, strings.Count(prettyRecs[0], "\n"), 8)

	const rpcSubject, djangoSubject = "follow.test.sofarpc", "follow.test.django"
	cfg := testConfig(dir, filepath.Join(dir, "*.log"))
	cfg.Subject = ""
	cfg.Routes = []Route{{Glob: "rpc-*.log", Subject: rpcSubject}, {Glob: "django.log", Subject: djangoSubject}}
	cfg.RecordSubjects = []string{rpcSubject, djangoSubject}
	cfg.MaxLines = 4 // fewer than the pretty-printed record's lines
	cfg.RecordWait = time.Minute
	rpc, dj := filepath.Join(dir, "rpc-client-digest.log"), filepath.Join(dir, "django.log")
	r := startFollower(ctx, t, b, cfg, nil)

	// First appends: whole records, then a record's first line(s) only.
	cut := strings.Index(sqlRec, "\n") + 1
	appendFile(t, rpc, digest+digest+sqlRec[:cut])
	half := strings.Index(prettyRecs[0], `"ip"`) // after the first lines
	appendFile(t, dj, prettyRecs[0][:half])
	// The age bound publishes the whole records; the halves wait.
	require.Eventually(t, func() bool { return r.fl.Stats().Lines >= 2 }, 10*time.Second, 5*time.Millisecond)
	time.Sleep(20 * cfg.MaxAge)
	require.EqualValues(t, 2, r.fl.Stats().Lines, "only the whole records are published")
	// Second appends: the records' rest, and more records.
	appendFile(t, rpc, sqlRec[cut:]+digest)
	appendFile(t, dj, prettyRecs[0][half:]+"\n"+strings.Join(prettyRecs[1:], "\n")+"\n")
	rpcWant, djWant := digest+digest+sqlRec+digest, strings.Join(prettyRecs, "\n")+"\n"
	r.waitCaughtUp(t, strings.Count(rpcWant+djWant, "\n"))
	require.NoError(t, r.stop())
	require.Zero(t, r.fl.Stats().SplitRecords)
	st.waitFor(ctx, strings.Count(rpcWant+djWant, "\n"), "all lines")

	for _, c := range []struct {
		subject, format, want string
		records               int
	}{{rpcSubject, sofarpc.Format, rpcWant, 4}, {djangoSubject, django.Format, djWant, len(prettyRecs)}} {
		msgs := st.messagesOf(c.subject)
		require.Equal(t, c.want, string(bytes.Join(msgs, nil)), "%s: the file's bytes, once, in order", c.subject)
		decoded := 0
		for _, m := range msgs {
			n, rejects := decodeCount(t, c.format, m)
			require.Empty(t, rejects, "%s: message %q decodes whole", c.subject, m)
			decoded += n
		}
		require.Equal(t, c.records, decoded, "%s: records decoded from the messages", c.subject)
	}
	// The datasource record is in one message, decoded as one row.
	for _, m := range st.messagesOf(rpcSubject) {
		if bytes.Contains(m, []byte("select app1")) {
			require.Contains(t, string(m), sqlRec)
		}
	}
	n, rejects := decodeCount(t, sofarpc.Format, []byte(sqlRec))
	require.Equal(t, 1, n)
	require.Empty(t, rejects)
}

// TestFollowRecordWaitAndBound: a record whose end is not written within
// RecordWait is published as far as it is written; a record over lines
// longer than MaxLineBytes is published in pieces cut at line ends, none
// longer than that; a line longer than that is skipped. Each is counted,
// and every other line reaches the stream once.
func TestFollowRecordWaitAndBound(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := startBroker(ctx, t)
	st := openStream(ctx, t, b)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	cfg := testConfig(dir, path)
	cfg.RecordSubjects = []string{testSubject}
	cfg.RecordWait, cfg.MaxLineBytes = 200*time.Millisecond, 300
	r := startFollower(ctx, t, b, cfg, nil)

	var want []string
	appendFile(t, path, "{\"sql\":\"SELECT 1\n")
	want = append(want, `{"sql":"SELECT 1`)
	start := time.Now()
	require.Eventually(t, func() bool { s := r.fl.Stats(); return s.SplitRecords == 1 && s.Lines == 1 }, 10*time.Second, 5*time.Millisecond,
		"the open record is published after RecordWait")
	require.GreaterOrEqual(t, time.Since(start), cfg.RecordWait, "not before RecordWait")

	var big strings.Builder
	big.WriteString("{\n")
	want = append(want, "{")
	for i := range 30 {
		line := fmt.Sprintf(`  "key%d": "%s",`, i, strings.Repeat("v", 20))
		big.WriteString(line + "\n")
		want = append(want, line)
	}
	big.WriteString("  \"last\": 1\n}\n")
	want = append(want, `  "last": 1`, "}")
	appendFile(t, path, "FROM t\"}\n"+big.String()+"{\"long\":\""+strings.Repeat("x", 400)+"\"}\n{\"after\":1}\n")
	want = append(want, `FROM t"}`, `{"after":1}`)
	r.waitCaughtUp(t, len(want))
	require.NoError(t, r.stop())
	s := r.fl.Stats()
	require.EqualValues(t, 2, s.SplitRecords, "the open record, and the record over the bound")
	require.EqualValues(t, 1, s.TooLong)
	st.waitFor(ctx, len(want), "all lines")
	st.requireExactlyOnce(ctx, want)
	// The big record's first piece is a message of its own within the
	// bound; its other lines are records of their own from there.
	pieces := 0
	for _, m := range st.messagesOf(testSubject) {
		if bytes.HasPrefix(m, []byte("{\n")) {
			pieces++
			require.LessOrEqual(t, len(m), cfg.MaxLineBytes, "%q", m)
			require.Greater(t, len(m), cfg.MaxLineBytes-40, "cut at the last line end within the bound: %q", m)
		}
	}
	require.Equal(t, 1, pieces)
}
