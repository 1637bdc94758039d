package clickhouse

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/internal/embeddedtest"
	"github.com/tapline/tapline/schema"
	"github.com/tapline/tapline/sink"
)

// allTypes has one column of every type tapline's schema/ can declare,
// including the ones ClickHouse 18.16 (the server in the tests) cannot
// take: LowCardinality, Bool, DateTime64 of each precision, Map, Arrays
// of LowCardinality, and Nullable of each scalar.
var allTypes = schema.NewTable("all_types",
	schema.String("s"), schema.LowCardString("lc"), schema.NullableString("ns"),
	schema.Bool("b"), schema.NullableBool("nb"),
	schema.Int("i8", "Int8"), schema.Int("i16", "Int16"), schema.Int("i32", "Int32"), schema.Int("i64", "Int64"),
	schema.Int("u8", "UInt8"), schema.Int("u16", "UInt16"), schema.Int("u32", "UInt32"), schema.Int("u64", "UInt64"),
	schema.NullableInt("nu32", "UInt32"), schema.NullableInt("ni64", "Int64"),
	schema.Float64("f"), schema.NullableFloat64("nf"),
	schema.Time("t3", 3), schema.Time("t6", 6), schema.Time("t9", 9), schema.NullableTime("nt3", 3),
	schema.StringMap("m"), schema.StringArray("a"), schema.LowCardStringArray("alc"),
)

// nativeBlock encodes rec exactly as Insert does (the same encoder, into
// clickhouse-go's own block columns of the server's announced types),
// serialised as a Native-format block (the protocol's data block without
// its BlockInfo header).
func nativeBlock(t testing.TB, table *schema.Table, rec arrow.Record) []byte {
	block := proto.NewBlock()
	block.ServerContext.Timezone = time.UTC
	var names, types []string
	for _, c := range table.Columns() {
		require.NoError(t, block.AddColumn(c.Name, column.Type(c.CH)))
		names, types = append(names, c.Name), append(types, c.CH)
	}
	enc, err := newEncoder(table, names, types)
	require.NoError(t, err)
	require.NoError(t, enc.append(block.Columns, rec))
	var buf chproto.Buffer
	require.NoError(t, block.Encode(&buf, 0))
	return buf.Buf
}

func ddl(table *schema.Table, name string) string {
	var cols []string
	for _, c := range table.Columns() {
		cols = append(cols, sink.QuoteIdent(c.Name)+" "+c.CH)
	}
	return fmt.Sprintf("CREATE TABLE %s (%s) ENGINE = MergeTree ORDER BY tuple()", sink.QuoteIdent(name), strings.Join(cols, ", "))
}

// TestEncodingOnEmbedded checks the encoding of the types the 18.16 test
// server cannot take. The writer's blocks for a table are fed, in Native
// format, to the embedded ClickHouse 26.7 engine, which parses them with
// the server's own deserializers into a table of the real column types;
// the same Arrow record goes through the embedded engine's ArrowStream
// path (the reference, tested end to end in pipeline/) into a twin table;
// then every row of both is compared as ClickHouse prints it. A wrong
// encoding (DateTime64 scaled to the wrong precision, Nullable masks
// inverted, Map or Array offsets shifted, LowCardinality indexes pointing
// at the wrong dictionary entry, a Bool sent as another width) either
// fails the Native parse or prints different values. Decoding the block
// with clickhouse-go itself would not catch a bug shared by its encoder and
// decoder; the server's parser does.
func TestEncodingOnEmbedded(t *testing.T) {
	ctx := context.Background()
	tg := embeddedtest.Target(t, 1)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tables := append([]*schema.Table{allTypes}, schema.All()...)
	for i, table := range tables {
		t.Run(table.Name(), func(t *testing.T) {
			rec := randomRecord(mem, table, 300, uint64(i+1))
			defer rec.Release()
			native, arrowName := table.Name()+"_native", table.Name()
			require.NoError(t, tg.Exec(ctx, ddl(table, native)))
			require.NoError(t, tg.Exec(ctx, ddl(table, arrowName)))
			require.NoError(t, tg.Insert(ctx, table, rec, ""))
			stmt := strings.Replace(sink.InsertStatement(table, ""), sink.QuoteIdent(table.Name()), sink.QuoteIdent(native), 1)
			_, err := tg.Pool().InsertStream(ctx, stmt, "Native", nativeBlock(t, table, rec))
			require.NoError(t, err, "the engine must parse the writer's block")

			rows := func(name string) []string {
				out, err := tg.Query(ctx, "SELECT * FROM "+sink.QuoteIdent(name), "TabSeparated", nil)
				require.NoError(t, err)
				lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
				sort.Strings(lines)
				return lines
			}
			want, got := rows(arrowName), rows(native)
			require.Len(t, want, 300)
			require.Equal(t, want, got)
		})
	}
}

// TestInternerKeepsPointersStable: equal strings share one pointer, and a
// pointer keeps its value while the column is appended.
func TestInternerKeepsPointersStable(t *testing.T) {
	t.Parallel()
	var in interner
	in.reset(4)
	a, b, c := in.intern("x"), in.intern("y"), in.intern("x")
	require.Same(t, a, c)
	require.NotSame(t, a, b)
	in.intern("z")
	in.intern("w")
	require.Equal(t, "x", *a)
	require.Equal(t, "y", *b)
}

// TestEncoderRejectsMismatch: a server column of another type than tapline
// declares is a schema mismatch naming the column.
func TestEncoderRejectsMismatch(t *testing.T) {
	t.Parallel()
	names := []string{"s", "lc"}
	table := schema.NewTable("x", schema.String("s"), schema.LowCardString("lc"))
	_, err := newEncoder(table, names, []string{"String", "String"})
	require.ErrorContains(t, err, "column lc is String on the server, tapline sends LowCardinality(String)")
	_, err = newEncoder(table, names[:1], []string{"String"})
	require.ErrorContains(t, err, "column lc is missing")
	_, err = newEncoder(table, names, []string{"String", "LowCardinality(String)"})
	require.NoError(t, err)
}

// randomRecord fills n rows of table with seeded values of every column's
// Arrow type, with NULLs in nullable columns and empty, multi-byte and
// escape-worthy strings, for encoding checks.
func randomRecord(mem memory.Allocator, table *schema.Table, n int, seed uint64) arrow.Record {
	r := rand.New(rand.NewPCG(seed, 1))
	words := []string{"", "a", "svc-payments", "héllo wörld", "tab\there", "line\nbreak", `back\slash`, "quote'd", "日本語", "x"}
	str := func() string { return words[r.IntN(len(words))] }
	rb := table.NewBuilder(mem)
	defer rb.Release()
	for i := 0; i < n; i++ {
		for j, c := range table.Columns() {
			fb := rb.Field(j)
			if c.Nullable && r.IntN(4) == 0 {
				fb.AppendNull()
				continue
			}
			switch b := fb.(type) {
			case *array.StringBuilder:
				b.Append(str())
			case *array.BinaryDictionaryBuilder:
				if err := b.AppendString(str()); err != nil {
					panic(err)
				}
			case *array.BooleanBuilder:
				b.Append(r.IntN(2) == 1)
			case *array.Int8Builder:
				b.Append(int8(r.IntN(256) - 128))
			case *array.Int16Builder:
				b.Append(int16(r.IntN(65536) - 32768))
			case *array.Int32Builder:
				b.Append(int32(r.Uint32()))
			case *array.Int64Builder:
				b.Append(int64(r.Uint64()))
			case *array.Uint8Builder:
				b.Append(uint8(r.UintN(256)))
			case *array.Uint16Builder:
				b.Append(uint16(r.UintN(65536)))
			case *array.Uint32Builder:
				b.Append(r.Uint32())
			case *array.Uint64Builder:
				b.Append(r.Uint64())
			case *array.Float64Builder:
				b.Append(float64(r.IntN(1_000_000)) / 8)
			case *array.TimestampBuilder:
				unit := c.Arrow.(*arrow.TimestampType).Unit
				ns := int64(1_600_000_000_000_000_000) + r.Int64N(300_000_000_000_000_000)
				b.Append(arrow.Timestamp(ns / int64(unit.Multiplier())))
			case *array.MapBuilder:
				b.Append(true)
				for k := 0; k < r.IntN(4); k++ {
					b.KeyBuilder().(*array.StringBuilder).Append(fmt.Sprintf("k%d%s", k, str()))
					b.ItemBuilder().(*array.StringBuilder).Append(str())
				}
			case *array.ListBuilder:
				b.Append(true)
				for k := 0; k < r.IntN(4); k++ {
					b.ValueBuilder().(*array.StringBuilder).Append(str())
				}
			default:
				panic(fmt.Sprintf("randomRecord: no generator for %T (column %s)", fb, c.Name))
			}
		}
	}
	return rb.NewRecord()
}

// BenchmarkEncode measures the writer's column appends alone (no network)
// for tables with every newer type: allocations per batch must not grow
// with rows (Array columns excepted: one interface value per row).
//
//	go test -run '^$' -bench BenchmarkEncode -benchmem -count 3 ./sink/clickhouse/
func BenchmarkEncode(b *testing.B) {
	for _, table := range []*schema.Table{schema.SofarpcDigest, allTypes} {
		for _, rows := range []int{1_000, 10_000} {
			rec := randomRecord(memory.NewGoAllocator(), table, rows, 7)
			block := proto.NewBlock()
			block.ServerContext.Timezone = time.UTC
			var names, types []string
			for _, c := range table.Columns() {
				require.NoError(b, block.AddColumn(c.Name, column.Type(c.CH)))
				names, types = append(names, c.Name), append(types, c.CH)
			}
			enc, err := newEncoder(table, names, types)
			require.NoError(b, err)
			b.Run(fmt.Sprintf("%s/rows=%d", table.Name(), rows), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					for _, c := range block.Columns {
						c.Reset()
					}
					if err := enc.append(block.Columns, rec); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			})
			rec.Release()
		}
	}
}
