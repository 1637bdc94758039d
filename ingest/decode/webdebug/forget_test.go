package webdebug

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/schema"
)

// docWithEvents is a web debug document of n events that each carry tags,
// an unknown member and e-mail recipients: every kind of slice an event
// keeps.
func docWithEvents(id string, n int) []byte {
	var evs []string
	for i := 0; i < n; i++ {
		evs = append(evs, fmt.Sprintf(`{"type":"email","time":1547058561%03d,"tags":["t%d"],"x-%d":"v","payload":{"subject":"s","from":"a@b","to":["c@d","e@f"]}}`, i, i, i))
	}
	return []byte(fmt.Sprintf(`{"id":%q,"version":1,"events":[%s]}`, id, strings.Join(evs, ",")))
}

// TestForgetDropsEveryPayloadReference checks that after Decode no event
// slot the decoder keeps for reuse points into a payload, also when a
// document with few events follows one with many, so that a message's
// bytes are not kept alive by the decoder after Decode returns.
func TestForgetDropsEveryPayloadReference(t *testing.T) {
	d, err := New(decode.Options{})
	require.NoError(t, err)
	dec := d.(*Decoder)
	mem := memory.NewGoAllocator()
	out := decode.Output{Builders: []*schema.Builder{schema.WebdebugEvents.NewBuilder(mem), schema.WebdebugDocuments.NewBuilder(mem)}}
	for i, n := range []int{40, 2, 25, 1} {
		dec.Decode(docWithEvents(fmt.Sprint("doc-", i), n), decode.Meta{Subject: subject}, &out)
		require.Empty(t, out.Rejects)
		require.GreaterOrEqual(t, len(dec.evs), 40)
		for j := range dec.evs {
			requireNoReferences(t, fmt.Sprintf("after document %d (%d events): event slot %d", i, n, j), reflect.ValueOf(dec.evs[j]))
		}
	}
}

// requireNoReferences fails unless v holds no slice with elements: a byte
// slice must have no capacity either (it would keep its array alive), and
// slices of slices (tags, extra, e-mail recipients) may keep capacity, but
// every element in it must be empty.
func requireNoReferences(t *testing.T, where string, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			requireNoReferences(t, where+"."+v.Type().Field(i).Name, v.Field(i))
		}
	case reflect.Slice:
		require.Zerof(t, v.Len(), "%s holds %d elements", where, v.Len())
		if v.Type().Elem().Kind() == reflect.Uint8 {
			require.Zerof(t, v.Cap(), "%s keeps %d bytes of capacity", where, v.Cap())
			return
		}
		all := v.Slice(0, v.Cap())
		for i := 0; i < all.Len(); i++ {
			require.Truef(t, all.Index(i).IsZero(), "%s keeps element %d in its capacity", where, i)
		}
	}
}
