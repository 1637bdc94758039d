package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ConsumerSpec describes a durable pull consumer on a stream.
type ConsumerSpec struct {
	// Stream the consumer reads.
	Stream string
	// Durable name; several tapline processes with the same durable name
	// share the work (each message goes to one of them).
	Durable string
	// AckWait is how long the server waits for an ack before redelivering;
	// 0 means 60s. Long batches send InProgress to extend it.
	AckWait time.Duration
	// MaxAckPending bounds the messages delivered and not yet acked; 0
	// means 20000. It must exceed the messages of the batches in flight
	// (the pipeline holds up to three), or batches close short of their size.
	MaxAckPending int
	// PullBytes bounds the bytes of delivered messages buffered in this
	// process before Next hands them over; 0 means 8 MiB (the largest
	// message the embedded server accepts, so no message can stall). Without
	// a bound, large messages with a backlog in several streams overflow the
	// connection's pending limit (64 MiB) and the server drops it.
	PullBytes int
}

// Consumer is a durable pull consumer. Next is not safe for concurrent use;
// the other methods are.
type Consumer struct {
	stream jetstream.Stream
	cons   jetstream.Consumer
	iter   jetstream.MessagesContext
	spec   ConsumerSpec
	nc     *nats.Conn // for the acknowledgements of dropped payloads

	// clustered is set once the server said the consumer is replicated
	// (a Raft group): only its leader's word on its progress counts then.
	clustered atomic.Bool
	// floorMu guards floor, the highest ack floor State returned.
	floorMu sync.Mutex
	floor   uint64
}

// Consumer creates or updates the durable consumer and starts pulling.
// Deliveries are acknowledged explicitly, one by one: an ack never covers
// another message, so no batch can acknowledge an uncommitted message.
func (b *Broker) Consumer(ctx context.Context, spec ConsumerSpec) (*Consumer, error) {
	if spec.AckWait == 0 {
		spec.AckWait = 60 * time.Second
	}
	if spec.MaxAckPending == 0 {
		spec.MaxAckPending = 20000
	}
	st, err := b.js.Stream(ctx, spec.Stream)
	if err != nil {
		return nil, fmt.Errorf("nats: stream %s: %w", spec.Stream, err)
	}
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       spec.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       spec.AckWait,
		MaxAckPending: spec.MaxAckPending,
		MaxDeliver:    -1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("nats: consumer %s on %s: %w", spec.Durable, spec.Stream, err)
	}
	if spec.PullBytes == 0 {
		spec.PullBytes = 8 << 20
	}
	it, err := cons.Messages(jetstream.PullMaxBytes(spec.PullBytes), jetstream.PullExpiry(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("nats: pull from %s/%s: %w", spec.Stream, spec.Durable, err)
	}
	c := &Consumer{stream: st, cons: cons, iter: it, spec: spec, nc: b.nc}
	c.noteCluster(cons.CachedInfo())
	return c, nil
}

// noteCluster remembers that the consumer is replicated when info says so.
func (c *Consumer) noteCluster(info *jetstream.ConsumerInfo) {
	if info != nil && info.Cluster != nil && info.Cluster.RaftGroup != "" {
		c.clustered.Store(true)
	}
}

// Stream returns the stream name.
func (c *Consumer) Stream() string { return c.spec.Stream }

// Durable returns the consumer's durable name.
func (c *Consumer) Durable() string { return c.spec.Durable }

// AckWait returns the consumer's ack wait.
func (c *Consumer) AckWait() time.Duration { return c.spec.AckWait }

// Msg is one delivered message.
type Msg struct {
	// m is the delivery until DropData; nil after it, when the
	// acknowledgements go to reply on nc themselves.
	m       jetstream.Msg
	nc      *nats.Conn
	reply   string
	subject string
	// Seq is the message's stream sequence.
	Seq uint64
	// Delivered counts deliveries of this message (1 the first time).
	Delivered uint64
	// Published is when the message was stored in the stream.
	Published time.Time
	// Pending is how many of the stream's messages were still waiting for
	// this consumer when the server delivered this one: 0 means it was the
	// last, so the consumer has caught up with the stream (a batching
	// hint; other processes' deliveries and new messages change it).
	Pending uint64
	// Fetched is when this process received the delivery: the server
	// redelivers it to any process AckWait after that unless it is
	// acknowledged or marked in progress.
	Fetched time.Time
}

// Data returns the payload; nil after DropData.
func (m *Msg) Data() []byte {
	if m.m == nil {
		return nil
	}
	return m.m.Data()
}

// DropData lets the payload go (a batch holds the decoded rows, not the
// bytes, until its commit): Data returns nil afterwards, and Subject, Ack,
// NakWithDelay and InProgress keep working through the delivery's reply
// subject. Call it from the goroutine that owns the Msg, before handing the
// Msg to others.
func (m *Msg) DropData() {
	if m.m == nil {
		return
	}
	m.reply, m.subject = m.m.Reply(), m.m.Subject()
	m.m = nil
}

// Subject returns the subject the message was published to.
func (m *Msg) Subject() string {
	if m.m == nil {
		return m.subject
	}
	return m.m.Subject()
}

// JetStream's acknowledgements, as the client library sends them.
var (
	ackAck      = []byte("+ACK")
	ackProgress = []byte("+WPI")
)

// ackDropped sends an acknowledgement of a message whose payload was
// dropped to its reply subject, as jetstream.Msg does.
func (m *Msg) ackDropped(body []byte) error {
	if m.reply == "" {
		return jetstream.ErrMsgNoReply
	}
	return m.nc.Publish(m.reply, body)
}

// Ack acknowledges the message: the server will not deliver it again. Call
// only once the data it carries is committed.
func (m *Msg) Ack() error {
	if m.m == nil {
		return m.ackDropped(ackAck)
	}
	return m.m.Ack()
}

// NakWithDelay asks for redelivery after delay (a sink outage).
func (m *Msg) NakWithDelay(delay time.Duration) error {
	if m.m == nil {
		return m.ackDropped([]byte(fmt.Sprintf("-NAK {\"delay\": %d}", delay.Nanoseconds())))
	}
	return m.m.NakWithDelay(delay)
}

// InProgress resets the server's ack timer for this message.
func (m *Msg) InProgress() error {
	if m.m == nil {
		return m.ackDropped(ackProgress)
	}
	return m.m.InProgress()
}

// Next returns the next delivered message, waiting at most maxWait; it
// returns ErrNoMessage when none arrived in time.
func (c *Consumer) Next(ctx context.Context, maxWait time.Duration) (*Msg, error) {
	wctx, cancel := context.WithTimeout(ctx, maxWait)
	defer cancel()
	m, err := c.iter.Next(jetstream.NextContext(wctx))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, jetstream.ErrNoHeartbeat) {
			return nil, ErrNoMessage
		}
		return nil, fmt.Errorf("nats: next message from %s/%s: %w", c.spec.Stream, c.spec.Durable, err)
	}
	md, err := m.Metadata()
	if err != nil {
		return nil, fmt.Errorf("nats: message metadata: %w", err)
	}
	return &Msg{m: m, nc: c.nc, Seq: md.Sequence.Stream, Delivered: md.NumDelivered, Published: md.Timestamp, Pending: md.NumPending, Fetched: time.Now()}, nil
}

// Stop stops pulling. Messages delivered and not acknowledged are
// redelivered after their ack wait (to this or another process).
func (c *Consumer) Stop() { c.iter.Stop() }

// StoredMsg is a message read from the stream by sequence.
type StoredMsg struct {
	Seq     uint64
	Subject string
	Data    []byte
}

// Get reads the message with stream sequence seq (for replaying a journaled
// batch). It fails when the stream no longer holds it.
func (c *Consumer) Get(ctx context.Context, seq uint64) (*StoredMsg, error) {
	raw, err := c.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("nats: get %s #%d: %w (%v)", c.spec.Stream, seq, ErrMessageGone, err)
	}
	if err != nil {
		return nil, fmt.Errorf("nats: get %s #%d: %w", c.spec.Stream, seq, err)
	}
	return &StoredMsg{Seq: raw.Sequence, Subject: raw.Subject, Data: raw.Data}, nil
}

// ErrMessageGone is returned by Get when the stream no longer holds the
// sequence (its retention removed it): the only error that means it will
// never be readable again. Any other error of Get may pass.
var ErrMessageGone = errors.New("the stream no longer holds the message")

// State is a consumer's progress as the server sees it.
type State struct {
	// AckFloor: every message up to this stream sequence is acknowledged.
	AckFloor uint64
	// Pending messages not yet delivered (the lag).
	Pending uint64
	// AckPending messages delivered and not yet acknowledged.
	AckPending int
	// Redelivered messages delivered more than once and not yet acked.
	Redelivered int
}

// ErrStaleState is returned by State when the answer may be stale: a
// replicated consumer's progress came from a node that is not its leader,
// or its ack floor is below one State had returned before the request was
// sent. Read it again.
var ErrStaleState = errors.New("the consumer's progress came from a NATS node that is not its leader, or lags one read before (a node recovering after a restart, or a leader just elected); read it again")

// State asks the server for the consumer's progress. It answers only from
// the consumer's leader: while a node of a cluster restarts, it may answer
// a consumer info request first, from a consumer it has not recovered yet
// (an ack floor of 0) or from what it had on disk, and State then fails
// with ErrStaleState (TestConsumerStateComesFromTheLeader): so does an
// answer whose ack floor is below one State returned before this request
// was sent. The ack floor it returns never goes below one it returned
// before: every message up to a floor the leader reported is acknowledged,
// whatever a node says later. Reads may run at once, and their answers
// come back in any order; an answer lower than a floor another read
// returned meanwhile is older, not stale, and is returned with that
// higher floor (TestConcurrentStateReadsAreNotStale). (A durable consumer
// deleted and created again under a running process keeps failing so
// until the process restarts.)
func (c *Consumer) State(ctx context.Context) (State, error) {
	c.floorMu.Lock()
	before := c.floor
	c.floorMu.Unlock()
	info, err := c.cons.Info(ctx)
	if err != nil {
		return State{}, fmt.Errorf("nats: consumer info %s/%s: %w", c.spec.Stream, c.spec.Durable, err)
	}
	c.noteCluster(info)
	if c.clustered.Load() && (info.Cluster == nil || info.Cluster.Leader == "") {
		return State{}, fmt.Errorf("nats: consumer info %s/%s: %w", c.spec.Stream, c.spec.Durable, ErrStaleState)
	}
	if info.AckFloor.Stream < before {
		return State{}, fmt.Errorf("nats: consumer info %s/%s: ack floor %d after %d: %w", c.spec.Stream, c.spec.Durable, info.AckFloor.Stream, before, ErrStaleState)
	}
	c.floorMu.Lock()
	c.floor = max(c.floor, info.AckFloor.Stream)
	floor := c.floor
	c.floorMu.Unlock()
	return State{AckFloor: floor, Pending: info.NumPending, AckPending: info.NumAckPending, Redelivered: info.NumRedelivered}, nil
}
