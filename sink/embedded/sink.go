package embedded

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/ipc"

	"github.com/tapline/tapline/schema"
	"github.com/tapline/tapline/sink"
)

// Target is the embedded engine as a sink.Target: inserts travel as Arrow
// IPC streams (format ArrowStream) through chdb_stream_insert, with no copy
// into text formats. The stream is written into the insert as it is
// encoded, through a small buffer: column buffers larger than it go to the
// engine straight from the record's memory, and no whole copy of a batch
// is ever held on the Go side.
type Target struct {
	p    *Pool
	bufs sync.Pool // *bufio.Writer of appendBufferSize
}

// appendBufferSize is how many bytes of small IPC writes (headers,
// metadata, short buffers) are gathered into one append to the engine.
const appendBufferSize = 1 << 20

var _ sink.Target = (*Target)(nil)

// NewTarget returns a Target on pool p (an Engine's default pool is
// engine.Pool). Close does not close the engine: the engine's owner does.
func NewTarget(p *Pool) *Target {
	return &Target{p: p, bufs: sync.Pool{New: func() any { return bufio.NewWriterSize(nil, appendBufferSize) }}}
}

// Pool returns the pool the target runs on.
func (t *Target) Pool() *Pool { return t.p }

// Exec runs one statement in the engine's database.
func (t *Target) Exec(ctx context.Context, stmt string) error {
	if err := t.p.Exec(ctx, stmt, nil); err != nil {
		return wrap("exec", err)
	}
	return nil
}

// Query runs one statement and returns its output in format.
func (t *Target) Query(ctx context.Context, query, format string, params map[string]string) ([]byte, error) {
	r, err := t.p.Query(ctx, query, format, params)
	if err != nil {
		return nil, wrap("query", err)
	}
	return r.Data, nil
}

// Insert streams rec as Arrow IPC into one INSERT with the deduplication
// token. See sink.Target.
func (t *Target) Insert(ctx context.Context, table *schema.Table, rec arrow.Record, token string) error {
	if !rec.Schema().Equal(table.Arrow()) {
		return &sink.Error{Op: "insert into " + table.Name(), Err: fmt.Errorf("BUG: record schema %v does not match table schema %v", rec.Schema(), table.Arrow())}
	}
	bw := t.bufs.Get().(*bufio.Writer)
	defer t.bufs.Put(bw)
	_, err := t.p.InsertWith(ctx, sink.InsertStatement(table, token), "ArrowStream", func(w io.Writer) error {
		bw.Reset(w)
		iw := ipc.NewWriter(bw, ipc.WithSchema(rec.Schema()))
		if err := iw.Write(rec); err != nil {
			return fmt.Errorf("encode Arrow IPC: %w", err)
		}
		if err := iw.Close(); err != nil {
			return fmt.Errorf("encode Arrow IPC: %w", err)
		}
		return bw.Flush()
	})
	bw.Reset(nil)
	if err != nil {
		return wrap("insert into "+table.Name(), err)
	}
	return nil
}

// SpreadMerges gives each table of the target's database that the engine's
// Config.MergeWidths names its merge width (ALTER TABLE … MODIFY SETTING
// merge_selector_base), so that tables receiving parts at the same pace
// reach their merges at different moments (see DefaultMergeWidths). Run it
// after the schema is applied: tables that do not exist are skipped. It
// returns the tables it set; setting a width a table has already is
// harmless.
func (t *Target) SpreadMerges(ctx context.Context) ([]string, error) {
	widths := t.p.engine.mergeWidths
	if len(widths) == 0 {
		return nil, nil
	}
	out, err := t.p.Query(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree'", "TabSeparatedRaw", nil)
	if err != nil {
		return nil, wrap("spread merges: list tables", err)
	}
	exists := map[string]bool{}
	for _, name := range strings.Fields(string(out.Data)) {
		exists[name] = true
	}
	var set []string
	for _, name := range sortedKeys(widths) {
		if !exists[name] {
			continue
		}
		stmt := fmt.Sprintf("ALTER TABLE %s MODIFY SETTING merge_selector_base = %d", sink.QuoteIdent(name), widths[name])
		if err := t.p.Exec(ctx, stmt, nil); err != nil {
			return set, wrap("spread merges: "+name, err)
		}
		set = append(set, name)
	}
	return set, nil
}

// Close does nothing: the engine is closed by whoever opened it.
func (t *Target) Close() error { return nil }

func wrap(op string, err error) error {
	se := &sink.Error{Op: op, Err: err}
	var ee *EngineError
	if errors.As(err, &ee) {
		se.Code = ee.Code
		se.Retryable = sink.RetryableCode(ee.Code)
	}
	return se
}
