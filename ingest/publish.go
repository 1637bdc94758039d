package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Publisher publishes messages to JetStream and counts what the streams
// acknowledged. Every message carries a JetStream message id (the caller's,
// or one the publisher makes), so that a message sent again after a stall,
// a lost acknowledgement or a reconnect is dropped by the stream's duplicate
// window instead of stored twice. Safe for concurrent use.
type Publisher struct {
	js     jetstream.JetStream
	onErr  func(subject string, err error)
	prefix string
	seq    atomic.Uint64

	mu      sync.Mutex
	resend  []resend             // asynchronous publishes to send again
	tries   map[string]int       // attempts so far, by message id, while unacknowledged
	since   map[string]time.Time // first failure, by message id, while unacknowledged
	failed  int
	lastErr error

	sent, sentBytes, acked, ackedBytes, retries atomic.Uint64

	// retryFor is how long a failing publish is retried (retryForDefault;
	// tests shorten it).
	retryFor time.Duration
	// beforeAck, set by tests, runs on NATS's goroutine before each
	// acknowledgement is counted: a slow acknowledgement path.
	beforeAck func()
}

// Publish limits.
const (
	// publishAttempts and retryForDefault bound the attempts of an asynchronous
	// publish: it is given up on once it was sent publishAttempts times and
	// its first failure is retryFor ago (a cluster electing a stream leader
	// refuses publishes for seconds).
	publishAttempts = 5
	retryForDefault = time.Minute
	// stallLimit bounds how long PublishAsync waits for room while
	// maxPending publishes await their acknowledgement, or for a broken
	// connection to come back (connectionLost).
	stallLimit = time.Minute
	// ackTimeout is how long an asynchronous publish waits for its
	// acknowledgement before it is sent again.
	ackTimeout = 30 * time.Second
)

// Publisher returns a publisher on the broker's connection. maxPending
// bounds the asynchronous publishes awaiting acknowledgement (0 means
// 4096). onErr, when not nil, is called (from another goroutine) for every
// asynchronous publish given up on after its last attempt; Flush reports
// them too.
func (b *Broker) Publisher(maxPending int, onErr func(subject string, err error)) (*Publisher, error) {
	if maxPending == 0 {
		maxPending = 4096
	}
	p := &Publisher{onErr: onErr, tries: map[string]int{}, since: map[string]time.Time{}, retryFor: retryForDefault, prefix: nats.NewInbox()[len(nats.InboxPrefix):] + "-"}
	js, err := jetstream.New(b.nc,
		jetstream.WithPublishAsyncMaxPending(maxPending),
		jetstream.WithPublishAsyncTimeout(ackTimeout),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) { p.asyncFailed(m, err) }),
		jetstream.WithPublishAsyncAckHandler(func(_ jetstream.JetStream, m *nats.Msg, _ *jetstream.PubAck) { p.asyncAcked(m) }),
	)
	if err != nil {
		return nil, fmt.Errorf("nats: publisher: %w", err)
	}
	p.js = js
	return p, nil
}

// PublishStats are a publisher's counters since it was made.
type PublishStats struct {
	// Sent and SentBytes count messages handed to NATS (first attempts).
	Sent, SentBytes uint64
	// Acked and AckedBytes count messages the streams acknowledged.
	Acked, AckedBytes uint64
	// Retries counts messages sent again (same message id).
	Retries uint64
}

// Stats returns the publisher's counters.
func (p *Publisher) Stats() PublishStats {
	return PublishStats{Sent: p.sent.Load(), SentBytes: p.sentBytes.Load(), Acked: p.acked.Load(), AckedBytes: p.ackedBytes.Load(), Retries: p.retries.Load()}
}

func (p *Publisher) msg(subject string, data []byte, msgID string) *nats.Msg {
	if msgID == "" {
		msgID = p.prefix + strconv.FormatUint(p.seq.Add(1), 36)
	}
	m := nats.NewMsg(subject)
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	return m
}

// Publish stores data on subject and waits for the stream's
// acknowledgement: one attempt. A non-empty msgID lets the stream drop a
// second publish of the same message within its duplicate window, so a
// caller may try again with the same msgID after an error.
func (p *Publisher) Publish(ctx context.Context, subject string, data []byte, msgID string) error {
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	p.sent.Add(1)
	p.sentBytes.Add(uint64(len(data)))
	if _, err := p.js.Publish(ctx, subject, data, opts...); err != nil {
		return fmt.Errorf("nats: publish to %s: %w (is a stream capturing this subject? tapline run creates them)", subject, err)
	}
	p.acked.Add(1)
	p.ackedBytes.Add(uint64(len(data)))
	return nil
}

// PublishAsync sends data without waiting for its acknowledgement. While
// maxPending publishes await theirs it waits for room, trying again (same
// message id) with backoff from 10 ms to 1 s for up to a minute before it
// gives up; ctx ends the wait. A publish the stream refuses or never acknowledges is sent again
// later (by PublishAsync or Flush) with the same message id, after a pause
// growing from 50 ms to 5 s, until it was tried five times over at least a
// minute. data must not be modified until Flush returns. msgID may be
// empty: the publisher makes one.
func (p *Publisher) PublishAsync(ctx context.Context, subject string, data []byte, msgID string) error {
	if err := p.sendAgain(ctx); err != nil {
		return err
	}
	m := p.msg(subject, data, msgID)
	if err := p.sendAsync(ctx, m); err != nil {
		return err
	}
	p.sent.Add(1)
	p.sentBytes.Add(uint64(len(data)))
	return nil
}

// sendAsync hands m to NATS, waiting for room while publishes stall.
func (p *Publisher) sendAsync(ctx context.Context, m *nats.Msg) error {
	id := m.Header.Get(jetstream.MsgIDHeader)
	p.mu.Lock()
	p.tries[id]++
	p.mu.Unlock()
	// Room comes back as acknowledgements arrive: look again soon.
	b := &backoff.ExponentialBackOff{InitialInterval: 10 * time.Millisecond, Multiplier: 2, MaxInterval: time.Second, RandomizationFactor: 0.1}
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		_, err := p.js.PublishMsgAsync(m)
		if err != nil && !errors.Is(err, jetstream.ErrTooManyStalledMsgs) && !connectionLost(err) {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(stallLimit))
	switch {
	case errors.Is(err, jetstream.ErrTooManyStalledMsgs):
		return fmt.Errorf("nats: publish to %s: %d publishes awaited their acknowledgement for %v (message id %s): the NATS server is overloaded or unreachable; try again later", m.Subject, p.js.PublishAsyncPending(), stallLimit, id)
	case err != nil:
		return fmt.Errorf("nats: publish to %s: %w", m.Subject, err)
	}
	return nil
}

// asyncAcked counts an acknowledged asynchronous publish.
func (p *Publisher) asyncAcked(m *nats.Msg) {
	if p.beforeAck != nil {
		p.beforeAck()
	}
	p.mu.Lock()
	delete(p.tries, m.Header.Get(jetstream.MsgIDHeader))
	delete(p.since, m.Header.Get(jetstream.MsgIDHeader))
	p.mu.Unlock()
	p.acked.Add(1)
	p.ackedBytes.Add(uint64(len(m.Data)))
}

// resend is a failed asynchronous publish waiting to be sent again.
type resend struct {
	m   *nats.Msg
	due time.Time
}

// asyncFailed queues a refused or unacknowledged publish to be sent again
// (after a pause growing with its attempts), or gives up on it after its
// last attempt. It runs on NATS's goroutine and must not block.
func (p *Publisher) asyncFailed(m *nats.Msg, err error) {
	id := m.Header.Get(jetstream.MsgIDHeader)
	p.mu.Lock()
	first, ok := p.since[id]
	if !ok {
		first = time.Now()
		p.since[id] = first
	}
	if tries := p.tries[id]; tries < publishAttempts || time.Since(first) < p.retryFor {
		pause := min(50*time.Millisecond<<min(tries, 7), 5*time.Second)
		p.resend = append(p.resend, resend{m: m, due: time.Now().Add(pause)})
		p.mu.Unlock()
		return
	}
	delete(p.tries, id)
	delete(p.since, id)
	p.failed++
	p.lastErr = fmt.Errorf("publish to %s (message id %s): %w", m.Subject, id, err)
	p.mu.Unlock()
	if p.onErr != nil {
		p.onErr(m.Subject, err)
	}
}

// sendAgain sends the queued failed publishes whose pause is over again.
func (p *Publisher) sendAgain(ctx context.Context) error {
	now := time.Now()
	p.mu.Lock()
	var due []resend
	keep := p.resend[:0]
	for _, r := range p.resend {
		if r.due.After(now) {
			keep = append(keep, r)
		} else {
			due = append(due, r)
		}
	}
	p.resend = keep
	p.mu.Unlock()
	for i, r := range due {
		p.retries.Add(1)
		if err := p.sendAsync(ctx, r.m); err != nil {
			p.mu.Lock()
			p.resend = append(p.resend, due[i+1:]...)
			p.mu.Unlock()
			return err
		}
	}
	return nil
}

// Flush waits until every asynchronous publish was acknowledged (sending
// failed ones again), or ctx ends. It returns an error when publishes were
// given up on, naming how many and the last cause.
func (p *Publisher) Flush(ctx context.Context) error {
	for {
		select {
		case <-p.js.PublishAsyncComplete():
		case <-ctx.Done():
			return fmt.Errorf("nats: %d publishes still unacknowledged: %w", p.js.PublishAsyncPending(), ctx.Err())
		}
		p.mu.Lock()
		again, n := len(p.resend) > 0, len(p.resend)
		var next time.Time
		for _, r := range p.resend {
			if next.IsZero() || r.due.Before(next) {
				next = r.due
			}
		}
		p.mu.Unlock()
		if !again {
			break
		}
		select {
		case <-time.After(time.Until(next)):
		case <-ctx.Done():
			return fmt.Errorf("nats: %d publishes still unacknowledged: %w", n, ctx.Err())
		}
		if err := p.sendAgain(ctx); err != nil {
			return err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failed > 0 {
		return fmt.Errorf("nats: %d publishes failed after %d attempts and %v each; the last: %w", p.failed, publishAttempts, p.retryFor, p.lastErr)
	}
	return nil
}

// connectionLost reports whether a publish failed because the connection to
// the server broke under it (the server was killed or restarted, the
// network dropped): the client reconnects, to another server of a cluster
// if it has one, and the same message published again (with its message id,
// which the server deduplicates) is not stored twice.
func connectionLost(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) ||
		errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, nats.ErrReconnectBufExceeded)
}
