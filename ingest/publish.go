package ingest

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Publisher publishes records to JetStream with publish acknowledgements.
// Asynchronous publishes are bounded by MaxPending; Flush waits for every
// acknowledgement. Safe for concurrent use.
type Publisher struct {
	js jetstream.JetStream
}

// Publisher returns a publisher on the broker's connection. maxPending
// bounds unacknowledged asynchronous publishes (0 means 4096). onErr, when
// not nil, is called (from another goroutine) for every asynchronous
// publish the stream refused or never acknowledged.
func (b *Broker) Publisher(maxPending int, onErr func(subject string, err error)) (*Publisher, error) {
	if maxPending == 0 {
		maxPending = 4096
	}
	opts := []jetstream.JetStreamOpt{jetstream.WithPublishAsyncMaxPending(maxPending)}
	if onErr != nil {
		opts = append(opts, jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
			onErr(m.Subject, err)
		}))
	}
	js, err := jetstream.New(b.nc, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats: publisher: %w", err)
	}
	return &Publisher{js: js}, nil
}

// Publish stores data on subject and waits for the stream's
// acknowledgement. A non-empty msgID lets the stream drop a duplicate
// publish of the same message (within the stream's duplicate window).
func (p *Publisher) Publish(ctx context.Context, subject string, data []byte, msgID string) error {
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	if _, err := p.js.Publish(ctx, subject, data, opts...); err != nil {
		return fmt.Errorf("nats: publish to %s: %w (is a stream capturing this subject? tapline run creates them)", subject, err)
	}
	return nil
}

// PublishAsync sends data without waiting; the acknowledgement arrives
// later (failures go to the Publisher's onErr). It blocks while maxPending
// publishes are outstanding. data must not be modified until Flush returns.
func (p *Publisher) PublishAsync(subject string, data []byte, msgID string) error {
	m := &nats.Msg{Subject: subject, Data: data}
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	if _, err := p.js.PublishMsgAsync(m, opts...); err != nil {
		return fmt.Errorf("nats: publish to %s: %w", subject, err)
	}
	return nil
}

// Flush waits until every asynchronous publish was acknowledged, or ctx ends.
func (p *Publisher) Flush(ctx context.Context) error {
	select {
	case <-p.js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("nats: %d publishes still unacknowledged: %w", p.js.PublishAsyncPending(), ctx.Err())
	}
}
