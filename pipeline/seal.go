package pipeline

// Seal names why the reader closed a batch; Stats.Sealed counts each.
// A live source's batches close by SealAge (the batch age bounds the
// freshness and sets how many inserts the engine takes); a backlog's close
// by SealBytes or SealRows, and its last one by SealCaughtUp. Many batches
// closed by age while the reader builds nearly all the time (Stats'
// ReadBuilding) mean a source that falls behind with small batches.
type Seal string

const (
	// SealAge is a batch closed Config.MaxAge after its first message.
	SealAge Seal = "age"
	// SealRows is a batch closed at Config.MaxRows rows.
	SealRows Seal = "rows"
	// SealBytes is a batch closed at Config.MaxBytes payload bytes.
	SealBytes Seal = "bytes"
	// SealCaughtUp is a batch of a backlog closed as the consumer caught up
	// with the stream, before its age (see Config.MaxAge).
	SealCaughtUp Seal = "caught_up"
	// SealStop is the batch in hand closed as the pipeline stops.
	SealStop Seal = "stop"
)

// Seals lists every Seal.
var Seals = []Seal{SealAge, SealRows, SealBytes, SealCaughtUp, SealStop}
