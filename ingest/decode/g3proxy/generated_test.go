package g3proxy

import (
	"bytes"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/gen"
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/schema"
)

// TestGeneratedMessagesKeepEveryRecord decodes the load generator's
// g3proxy records (JSON, rsyslog and syslog lines mixed, 5% broken the
// ways transports break them) 100 to a message, as the loadtest publishes
// them, and checks that every record is one row or one reject. A JSON line
// cut short once took the syslog records after it into its dead letter:
// the loadtest lost 3 of 720k records.
func TestGeneratedMessagesKeepEveryRecord(t *testing.T) {
	t.Parallel()
	g := gen.NewG3proxy(gen.Options{Seed: 11, Start: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Malformed: 0.05})
	dec := newDecoder()
	out := decode.Output{Builders: []*schema.Builder{dec.Tables()[0].NewBuilder(memory.NewGoAllocator())}}
	defer out.Builders[0].Release()
	var r gen.Record
	var payload bytes.Buffer
	for msg := 0; msg < 400; msg++ {
		payload.Reset()
		for i := 0; i < 100; i++ {
			g.Next(&r)
			payload.Write(r.Data)
			payload.WriteByte('\n')
		}
		before, rejBefore := out.Records, len(out.Rejects)
		dec.Decode(payload.Bytes(), decode.Meta{Subject: "logs.g3proxy.task"}, &out)
		require.Equal(t, 100, out.Records-before+len(out.Rejects)-rejBefore, "message %d: every record is one row or one reject:\n%s", msg, payload.String())
	}
	require.Equal(t, out.Records, out.Builders[0].Field(0).Len())
}
