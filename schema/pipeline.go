package schema

// PipelineBatches is one row per committed batch, written by the pipeline
// itself after the batch's rows are committed (sql/tables/pipeline_batches.sql):
// the pipeline's health as data, for dashboards and `tapline sql`.
var PipelineBatches = NewTable("pipeline_batches",
	LowCardString("source"),
	LowCardString("stream"),
	LowCardString("consumer"),
	Int("first_seq", "UInt64"),
	Int("last_seq", "UInt64"),
	Int("messages", "UInt32"),
	Int("records", "UInt64"),
	Int("dead_letters", "UInt64"),
	Int("rows", "UInt64"),
	Bool("replayed"),
	Float64("insert_ms"),
	// The tapline process that committed the batch.
	LowCardString("instance"),
	// The batch was committed by another process than the one that
	// journaled it.
	Bool("adopted"),
)
