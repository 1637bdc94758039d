package schema

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// ReserveLike grows the builders of rb to hold as many rows and string bytes
// as rec has, so that filling the next batch of about the same size does not
// reallocate (and copy) buffers as they grow. rec must have rb's schema.
// Typical use: rec := rb.NewRecord(); ReserveLike(rb, rec).
func ReserveLike(rb *Builder, rec arrow.Record) {
	for i, b := range rb.Fields() {
		if s := rb.strs[i]; s != nil {
			switch a := rec.Column(i).(type) {
			case *array.String:
				s.Reserve(a.Len(), len(a.ValueBytes()))
			case *array.Dictionary:
				s.Reserve(a.Len(), len(a.Dictionary().(*array.String).ValueBytes()))
			}
			continue
		}
		reserveLike(b, rec.Column(i))
	}
}

func reserveLike(b array.Builder, a arrow.Array) {
	n := a.Len()
	if n == 0 {
		return
	}
	switch bb := b.(type) {
	case *array.StringBuilder:
		bb.Reserve(n)
		bb.ReserveData(len(a.(*array.String).ValueBytes()))
	case *array.MapBuilder:
		m := a.(*array.Map)
		bb.Reserve(n)
		reserveLike(bb.KeyBuilder(), m.Keys())
		reserveLike(bb.ItemBuilder(), m.Items())
	case *array.ListBuilder:
		bb.Reserve(n)
		reserveLike(bb.ValueBuilder(), a.(*array.List).ListValues())
	default:
		b.Reserve(n)
	}
}
