package decodetest

import (
	"testing"

	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/schema"
)

// Bench measures a decoder as the pipeline runs it: the same payload
// decoded b.N times into one set of builders, flushed every 64k rows with
// capacity kept (schema.ReserveLike). records is how many records the
// payload holds; every one must be accepted. It reports "<unit>/s" (records
// per second, e.g. unit "lines") and "rows/s" (rows over all tables), with
// allocations and bytes per payload.
func Bench(b *testing.B, newDecoder func() decode.Decoder, payload []byte, subject string, records int, unit string) {
	b.Helper()
	BenchPayloads(b, newDecoder, [][]byte{payload}, subject, records, unit)
}

// BenchPayloads is Bench over several payloads, decoded in
// turn: for values that must differ from one payload to the next, as a
// column's distinct values do in a real batch. Each payload holds records
// records; bytes per operation are those of the first payload.
func BenchPayloads(b *testing.B, newDecoder func() decode.Decoder, payloads [][]byte, subject string, records int, unit string) {
	b.Helper()
	mem := schema.NewRecycler(0)
	dec := newDecoder()
	tables := dec.Tables()
	out := decode.Output{Builders: make([]*schema.Builder, len(tables))}
	for i, t := range tables {
		out.Builders[i] = t.NewBuilder(mem)
	}
	meta := decode.Meta{Subject: subject}
	rows, pending := 0, 0
	count := func() int {
		n := 0
		for _, bl := range out.Builders {
			n += bl.Rows()
		}
		return n
	}
	b.SetBytes(int64(len(payloads[0])))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dec.Decode(payloads[i%len(payloads)], meta, &out)
		if pending = count(); pending >= 1<<16 {
			for _, bl := range out.Builders {
				rec := bl.NewRecord()
				schema.ReserveLike(bl, rec)
				rec.Release()
			}
			rows += pending
		}
	}
	b.StopTimer()
	rows += count()
	if len(out.Rejects) > 0 {
		b.Fatalf("unexpected reject: %+v", out.Rejects[0])
	}
	if out.Records != b.N*records {
		b.Fatalf("%d records accepted, want %d", out.Records, b.N*records)
	}
	b.ReportMetric(float64(b.N*records)/b.Elapsed().Seconds(), unit+"/s")
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
