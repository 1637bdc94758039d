package pipeline

import (
	"context"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/schema"
)

// batchHealth is what the pipeline records about one committed batch in
// the pipeline_batches table.
type batchHealth struct {
	messages, records, rejects, rows int
	replayed                         bool
	adopted                          bool // replayed by a process other than the one that journaled it
	insert                           time.Duration
}

// writeHealth inserts the batch's pipeline_batches row with the batch token
// (suffix ":pipeline_batches"), retrying like the data inserts, so the row
// is there exactly once whenever the batch's rows are.
func (r *runner) writeHealth(ctx context.Context, j ingest.BatchRecord, h batchHealth, msgs []*ingest.Msg) error {
	rec := r.healthRecord(j, h)
	defer rec.Release()
	tok := j.Token + ":" + schema.PipelineBatches.Name()
	return r.retry(ctx, "insert into "+schema.PipelineBatches.Name(), msgs, func() (bool, error) {
		err := r.p.target.Insert(ctx, schema.PipelineBatches, rec, tok)
		return isRetryable(err), err
	})
}

func (r *runner) healthRecord(j ingest.BatchRecord, h batchHealth) arrow.Record {
	t := schema.PipelineBatches
	b := t.NewBuilder(r.mem)
	defer b.Release()
	str := func(name, v string) { b.Strings(t.Index(name)).AppendString(v) }
	u64 := func(name string, v uint64) { b.Field(t.Index(name)).(*array.Uint64Builder).Append(v) }
	str("source", r.src.Name)
	str("stream", j.Stream)
	str("consumer", j.Durable)
	u64("first_seq", j.First())
	u64("last_seq", j.Last())
	b.Field(t.Index("messages")).(*array.Uint32Builder).Append(uint32(h.messages))
	u64("records", uint64(h.records))
	u64("dead_letters", uint64(h.rejects))
	u64("rows", uint64(h.rows))
	b.Field(t.Index("replayed")).(*array.BooleanBuilder).Append(h.replayed)
	b.Field(t.Index("insert_ms")).(*array.Float64Builder).Append(float64(h.insert.Microseconds()) / 1000)
	str("instance", ingest.OwnerInstance(r.p.owner))
	b.Field(t.Index("adopted")).(*array.BooleanBuilder).Append(h.adopted)
	return b.NewRecord()
}
