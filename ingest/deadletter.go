package ingest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Dead-letter stream defaults: TAPLINE_DLQ captures dlq.> and each source
// writes to dlq.<source>.
const (
	DefaultDeadLetterStream = "TAPLINE_DLQ"
	DeadLetterPrefix        = "dlq."
)

// Header names carried by every dead letter.
const (
	HeaderSubject = "Tapline-Subject" // the subject the record was published to
	HeaderStream  = "Tapline-Stream"  // the stream it was read from
	HeaderSeq     = "Tapline-Seq"     // its message's stream sequence
	HeaderRecord  = "Tapline-Record"  // the record's index among the message's rejects
	HeaderLine    = "Tapline-Line"    // 1-based line of the record in its message
	HeaderReason  = "Tapline-Reason"  // why it could not be decoded
	HeaderSource  = "Tapline-Source"  // the source (format) that rejected it
)

// DeadLetter is one record that could not be decoded, with where it came
// from and why.
type DeadLetter struct {
	Source  string
	Subject string
	Stream  string
	Seq     uint64
	Index   int
	Line    int
	Reason  string
	// Data is the record's original bytes.
	Data []byte
	// Stored is the dead letter's own sequence and time in the DLQ stream
	// (set when read back).
	StoredSeq uint64
	StoredAt  time.Time
}

// DeadLetters publishes to and reads from the dead-letter stream.
type DeadLetters struct {
	js     jetstream.JetStream
	stream string
}

// DeadLetters ensures the dead-letter stream exists and returns a handle.
func (b *Broker) DeadLetters(ctx context.Context, stream string) (*DeadLetters, error) {
	return b.OpenDeadLetters(ctx, stream, 1)
}

// OpenDeadLetters is DeadLetters creating a missing stream with the given
// replicas (a NATS cluster).
func (b *Broker) OpenDeadLetters(ctx context.Context, stream string, replicas int) (*DeadLetters, error) {
	// An operator's changes to the dead-letter stream are kept (see EnsureStream).
	if _, err := b.EnsureStream(ctx, StreamSpec{Name: stream, Subjects: []string{DeadLetterPrefix + ">"}, MaxAge: 30 * 24 * time.Hour, Replicas: replicas}); err != nil {
		return nil, err
	}
	return &DeadLetters{js: b.js, stream: stream}, nil
}

// Publish stores one dead letter and returns once the stream has it. Its
// message id (stream, sequence, index) makes a republish of the same record
// after a crash a duplicate the stream drops (within its 2-minute window).
func (d *DeadLetters) Publish(ctx context.Context, dl DeadLetter) error {
	m := nats.NewMsg(DeadLetterPrefix + dl.Source)
	m.Data = dl.Data
	m.Header.Set(HeaderSource, dl.Source)
	m.Header.Set(HeaderSubject, dl.Subject)
	m.Header.Set(HeaderStream, dl.Stream)
	m.Header.Set(HeaderSeq, strconv.FormatUint(dl.Seq, 10))
	m.Header.Set(HeaderRecord, strconv.Itoa(dl.Index))
	m.Header.Set(HeaderLine, strconv.Itoa(dl.Line))
	m.Header.Set(HeaderReason, dl.Reason)
	id := dl.Stream + ":" + strconv.FormatUint(dl.Seq, 10) + ":" + strconv.Itoa(dl.Index)
	if _, err := d.js.PublishMsg(ctx, m, jetstream.WithMsgID(id), jetstream.WithExpectStream(d.stream)); err != nil {
		return fmt.Errorf("nats: publish dead letter to %s: %w", m.Subject, err)
	}
	return nil
}

// List returns up to limit dead letters starting at stream sequence from
// (1 = the oldest), optionally of one source only.
func (d *DeadLetters) List(ctx context.Context, source string, from uint64, limit int) ([]DeadLetter, error) {
	st, err := d.js.Stream(ctx, d.stream)
	if err != nil {
		return nil, fmt.Errorf("nats: dead-letter stream %s: %w", d.stream, err)
	}
	filter := DeadLetterPrefix + ">"
	if source != "" {
		filter = DeadLetterPrefix + source
	}
	if from == 0 {
		from = 1
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from})
	if err != nil {
		return nil, fmt.Errorf("nats: read dead letters: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("nats: dead-letter stream info: %w", err)
	}
	var out []DeadLetter
	for len(out) < limit {
		if info.State.Msgs == 0 {
			break
		}
		m, err := cons.Next(jetstream.FetchMaxWait(500 * time.Millisecond))
		if errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("nats: read dead letters: %w", err)
		}
		md, _ := m.Metadata()
		h := m.Headers()
		dl := DeadLetter{Source: h.Get(HeaderSource), Subject: h.Get(HeaderSubject), Stream: h.Get(HeaderStream), Reason: h.Get(HeaderReason), Data: m.Data()}
		dl.Seq, _ = strconv.ParseUint(h.Get(HeaderSeq), 10, 64)
		dl.Index, _ = strconv.Atoi(h.Get(HeaderRecord))
		dl.Line, _ = strconv.Atoi(h.Get(HeaderLine))
		if md != nil {
			dl.StoredSeq, dl.StoredAt = md.Sequence.Stream, md.Timestamp
		}
		out = append(out, dl)
		if md != nil && md.NumPending == 0 {
			break
		}
	}
	return out, nil
}

// Count returns how many dead letters the stream holds per subject.
func (d *DeadLetters) Count(ctx context.Context) (map[string]uint64, error) {
	st, err := d.js.Stream(ctx, d.stream)
	if err != nil {
		return nil, fmt.Errorf("nats: dead-letter stream %s: %w", d.stream, err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(DeadLetterPrefix+">"))
	if err != nil {
		return nil, fmt.Errorf("nats: dead-letter stream info: %w", err)
	}
	out := map[string]uint64{}
	for subj, n := range info.State.Subjects {
		out[subj] = n
	}
	return out, nil
}

// Delete removes one dead letter by its sequence in the dead-letter stream
// (after it was replayed).
func (d *DeadLetters) Delete(ctx context.Context, storedSeq uint64) error {
	st, err := d.js.Stream(ctx, d.stream)
	if err != nil {
		return fmt.Errorf("nats: dead-letter stream %s: %w", d.stream, err)
	}
	if err := st.DeleteMsg(ctx, storedSeq); err != nil {
		return fmt.Errorf("nats: delete dead letter #%d: %w", storedSeq, err)
	}
	return nil
}
