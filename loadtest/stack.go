package loadtest

import (
	"context"
	"fmt"

	"github.com/tapline/tapline/app"
	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/loadtest/baseline"
	"github.com/tapline/tapline/loadtest/publish"
	"github.com/tapline/tapline/sink"
	"github.com/tapline/tapline/sink/embedded"
)

// publishWindow bounds each publisher's unacknowledged asynchronous
// publishes: enough to keep a connection busy, few enough that the broker's
// queue (which probes wait in too) stays short.
const publishWindow = 512

// envOf is what the loadtest measures on the stack st.
func envOf(st *app.Stack, formats []string) (Env, error) {
	mode := " (external)"
	if st.Broker.Embedded() {
		mode = " (embedded)"
	}
	env := Env{
		NATS:       st.Broker.URL() + mode,
		ClickHouse: st.Target.Desc,
		Target:     st.Target,
		DLQ:        st.DLQ,
		Pipeline:   st.Pipeline,
		Consumers:  st.Consumers,
		Tables:     map[string][]string{},
		NewDecoder: st.NewDecoder,
	}
	env.Dial = func(ctx context.Context) (*ingest.Broker, error) { return st.Dial(ctx, "tapline-loadtest") }
	env.Connect = func(ctx context.Context, onErr func(string, error)) (publish.Sender, func(), error) {
		b, err := env.Dial(ctx)
		if err != nil {
			return nil, nil, err
		}
		pub, err := b.Publisher(publishWindow, onErr)
		if err != nil {
			b.Close()
			return nil, nil, err
		}
		return pub, b.Close, nil
	}
	for _, f := range formats {
		dec, err := app.Registry().New(f, decode.Options{})
		if err != nil {
			return env, err
		}
		for _, t := range dec.Tables() {
			env.Tables[f] = append(env.Tables[f], t.Name())
		}
	}
	if st.Target.Engine == nil {
		env.NoEngine = "it needs the embedded engine (chDB's stream insert of raw JSONEachRow); tapline writes a ClickHouse server with Arrow-typed columns only. Run the loadtest without --clickhouse for this baseline."
		return env, nil
	}
	env.OpenDatabase = func(ctx context.Context, name string) (sink.Target, baseline.Inserter, error) {
		return openDatabase(ctx, st, name)
	}
	return env, nil
}

// openDatabase makes a fresh database name with tapline's schema on the
// stack's engine, and an inserter of raw formats into it.
func openDatabase(ctx context.Context, st *app.Stack, name string) (sink.Target, baseline.Inserter, error) {
	if err := st.Target.Exec(ctx, "DROP DATABASE IF EXISTS "+sink.QuoteIdent(name)+" SYNC"); err != nil {
		return nil, nil, err
	}
	pool, err := st.Target.Engine.NewPool(name, 2)
	if err != nil {
		return nil, nil, err
	}
	t := embedded.NewTarget(pool)
	if err := app.ApplySchema(ctx, &app.Target{Target: t, Database: name, Desc: "database " + name}, st.Config().Cluster, st.Config().Log); err != nil {
		return nil, nil, fmt.Errorf("loadtest: schema of %s: %w", name, err)
	}
	return t, poolInserter{pool}, nil
}

// poolInserter inserts raw formats through the embedded engine.
type poolInserter struct{ p *embedded.Pool }

func (i poolInserter) InsertRaw(ctx context.Context, stmt, format string, chunks ...[]byte) error {
	_, err := i.p.InsertStream(ctx, stmt, format, chunks...)
	return err
}
