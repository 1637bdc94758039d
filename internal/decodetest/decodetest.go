// Package decodetest is the conformance suite every decode.Decoder passes,
// and the golden-file helper format packages use for their testdata.
//
// A format package calls Run from its tests with its constructor and its
// testdata inputs. Run checks the decode.Decoder contract: row counts agree
// across the columns of each table, rejects point inside the payload and say
// why, output is deterministic, the payload is not retained, every Arrow
// buffer is released, and any prefix of an input decodes without panicking.
// Golden compares the decoded rows and rejects of each testdata/<case>.<ext>
// with testdata/<case>.golden; `go test ./... -update` rewrites the golden
// files.
package decodetest

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/schema"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden files from the decoders' current output")

// Input is one payload as a message would carry it.
type Input struct {
	Name    string
	Subject string
	Payload []byte
}

// Result is what decoding some inputs produced: one record per table (nil
// when the table got no rows) plus counts and rejects. Release it.
type Result struct {
	Records []arrow.Record
	Output  decode.Output
}

// Release releases the records.
func (r *Result) Release() {
	for _, rec := range r.Records {
		if rec != nil {
			rec.Release()
		}
	}
}

// Rows returns the number of rows of table i.
func (r *Result) Rows(i int) int {
	if r.Records[i] == nil {
		return 0
	}
	return int(r.Records[i].NumRows())
}

// Decode runs dec over each input with fresh builders from mem and returns
// the records. It fails the test when the builders disagree on row counts.
func Decode(t testing.TB, dec decode.Decoder, mem memory.Allocator, inputs ...Input) *Result {
	t.Helper()
	tables := dec.Tables()
	out := decode.Output{Builders: make([]*schema.Builder, len(tables))}
	for i, tbl := range tables {
		out.Builders[i] = tbl.NewBuilder(mem)
	}
	for _, in := range inputs {
		dec.Decode(in.Payload, decode.Meta{Subject: in.Subject}, &out)
	}
	res := &Result{Output: out, Records: make([]arrow.Record, len(tables))}
	for i, b := range out.Builders {
		n := -1
		for j := range b.Fields() {
			if n < 0 {
				n = b.ColumnLen(j)
			}
			require.Equalf(t, n, b.ColumnLen(j), "table %s: column %s has %d rows, column %s has %d",
				tables[i].Name(), tables[i].Columns()[0].Name, n, tables[i].Columns()[j].Name, b.ColumnLen(j))
		}
		rec := b.NewRecord()
		if rec.NumRows() == 0 {
			rec.Release()
			rec = nil
		}
		res.Records[i] = rec
		b.Release()
	}
	res.Output.Builders = nil
	return res
}

// Run checks the decode.Decoder contract on the given inputs. newDecoder
// must return a fresh decoder each call.
func Run(t *testing.T, newDecoder func() decode.Decoder, inputs []Input) {
	t.Helper()
	require.NotEmpty(t, inputs, "conformance needs at least one input")

	t.Run("rows_rejects_and_release", func(t *testing.T) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		for _, in := range inputs {
			res := Decode(t, newDecoder(), mem, in)
			for _, rj := range res.Output.Rejects {
				require.Truef(t, rj.Start >= 0 && rj.Start <= rj.End && rj.End <= len(in.Payload),
					"%s: reject [%d,%d) outside payload of %d bytes", in.Name, rj.Start, rj.End, len(in.Payload))
				require.NotEmptyf(t, rj.Reason, "%s: reject without reason", in.Name)
				require.Positivef(t, rj.Line, "%s: reject without line", in.Name)
			}
			if res.Output.Records > 0 {
				rows := 0
				for i := range res.Records {
					rows += res.Rows(i)
				}
				require.Positivef(t, rows, "%s: %d records accepted but no rows", in.Name, res.Output.Records)
			}
			res.Release()
		}
	})

	t.Run("deterministic_and_not_retaining", func(t *testing.T) {
		mem := memory.NewGoAllocator()
		for _, in := range inputs {
			want := Decode(t, newDecoder(), mem, in)
			// Decode a copy, then scribble over the copy before reading the
			// rows: a decoder that kept slices of the payload shows it here.
			cp := Input{Name: in.Name, Subject: in.Subject, Payload: bytes.Clone(in.Payload)}
			dec := newDecoder()
			tables := dec.Tables()
			out := decode.Output{Builders: make([]*schema.Builder, len(tables))}
			for i, tbl := range tables {
				out.Builders[i] = tbl.NewBuilder(mem)
			}
			dec.Decode(cp.Payload, decode.Meta{Subject: cp.Subject}, &out)
			for i := range cp.Payload {
				cp.Payload[i] = 'X'
			}
			// Decode something else with the same decoder: reused scratch
			// space must not leak into the rows already appended.
			dec.Decode(in.Payload, decode.Meta{Subject: in.Subject}, &decode.Output{Builders: scratchBuilders(dec, mem)})
			for i, b := range out.Builders {
				rec := b.NewRecord()
				if want.Records[i] == nil {
					require.Zerof(t, rec.NumRows(), "%s: table %s", in.Name, tables[i].Name())
				} else {
					require.Truef(t, array.RecordEqual(want.Records[i], rec), "%s: table %s differs between two decodes of the same payload, or the decoder retained the payload:\nwant %v\ngot  %v",
						in.Name, tables[i].Name(), want.Records[i], rec)
				}
				rec.Release()
				b.Release()
			}
			require.Equal(t, want.Output.Records, out.Records, in.Name)
			require.Equal(t, want.Output.Rejects, out.Rejects, in.Name)
			want.Release()
		}
	})

	t.Run("prefixes_do_not_panic", func(t *testing.T) {
		mem := memory.NewGoAllocator()
		for _, in := range inputs {
			step := 1
			if len(in.Payload) > 2048 {
				step = len(in.Payload) / 2048
			}
			dec := newDecoder()
			for n := 0; n <= len(in.Payload); n += step {
				out := decode.Output{Builders: scratchBuilders(dec, mem)}
				dec.Decode(in.Payload[:n], decode.Meta{Subject: in.Subject}, &out)
				for _, b := range out.Builders {
					b.NewRecord().Release()
					b.Release()
				}
			}
		}
	})
}

func scratchBuilders(dec decode.Decoder, mem memory.Allocator) []*schema.Builder {
	tables := dec.Tables()
	bs := make([]*schema.Builder, len(tables))
	for i, tbl := range tables {
		bs[i] = tbl.NewBuilder(mem)
	}
	return bs
}

// Golden decodes each input on its own and compares a text rendering of the
// rows (one JSON object per row, per table) and rejects with
// testdata/<name>.golden, where name is the input's Name. With -update it
// writes the file instead.
func Golden(t *testing.T, newDecoder func() decode.Decoder, inputs []Input) {
	t.Helper()
	for _, in := range inputs {
		t.Run(in.Name, func(t *testing.T) {
			res := Decode(t, newDecoder(), memory.NewGoAllocator(), in)
			defer res.Release()
			got := Render(newDecoder(), res, in.Payload)
			path := filepath.Join("testdata", in.Name+".golden")
			if *update {
				require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
				return
			}
			want, err := os.ReadFile(path)
			require.NoErrorf(t, err, "missing golden file: run `go test %s -run %s -update`", ".", t.Name())
			require.Equal(t, string(want), got, "decoded rows differ from %s (rerun with -update if the change is intended)", path)
		})
	}
}

// Render prints records and rejects as text for golden files.
func Render(dec decode.Decoder, res *Result, payload []byte) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "# records accepted: %d, rejected: %d\n", res.Output.Records, len(res.Output.Rejects))
	for i, tbl := range dec.Tables() {
		fmt.Fprintf(&sb, "## table %s: %d rows\n", tbl.Name(), res.Rows(i))
		if res.Records[i] != nil {
			var buf bytes.Buffer
			if err := array.RecordToJSON(res.Records[i], &buf); err != nil {
				fmt.Fprintf(&sb, "!! render error: %v\n", err)
			}
			sb.Write(buf.Bytes())
		}
	}
	for _, rj := range res.Output.Rejects {
		fmt.Fprintf(&sb, "## reject line %d: %s: %s\n", rj.Line, rj.Reason, decode.Quote(payload[rj.Start:rj.End], 80))
	}
	return sb.String()
}

// RenderFile decodes the file at path as one message on subject with a
// decoder from newDecoder, requires that no record of it was rejected, and
// returns Render's text of the rows and the number of records decoded: two
// shapes of the same records compare equal by their texts.
func RenderFile(t testing.TB, newDecoder func() decode.Decoder, path, subject string) (text string, records int) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := newDecoder()
	res := Decode(t, dec, memory.NewGoAllocator(), Input{Payload: b, Subject: subject})
	defer res.Release()
	require.Empty(t, res.Output.Rejects, path)
	return Render(dec, res, b), res.Output.Records
}

// ReadInputs reads testdata files matching pattern (e.g. "testdata/*.log")
// as whole-payload inputs named after the file without its extension.
func ReadInputs(t testing.TB, pattern, subject string) []Input {
	t.Helper()
	paths, err := filepath.Glob(pattern)
	require.NoError(t, err)
	require.NotEmptyf(t, paths, "no testdata matches %s", pattern)
	var ins []Input
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		base := filepath.Base(p)
		ins = append(ins, Input{Name: strings.TrimSuffix(base, filepath.Ext(base)), Subject: subject, Payload: b})
	}
	return ins
}
