package publish

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/gen"
)

func TestStringMemberReadsGeneratedJSON(t *testing.T) {
	t.Parallel()
	v, ok := stringMember([]byte(`{"timestamp":"x","tracerId":"0a0fe9","spanId":"0.1"}`), "tracerId")
	require.True(t, ok)
	require.Equal(t, "0a0fe9", string(v))
	v, ok = stringMember([]byte("{\n  \"uuid\" :  \"u-1\",\n  \"events\": [{\"id\": \"e\"}]}"), "uuid")
	require.True(t, ok)
	require.Equal(t, "u-1", string(v))
	_, ok = stringMember([]byte(`{"key":"id","n":1}`), "id")
	require.False(t, ok, "a value is no member")
	_, ok = stringMember([]byte(`{"tracerId":12}`), "tracerId")
	require.False(t, ok)
	v, ok = firstOf([]byte(`{"uuid":"doc","events":[{"id":"ev"}]}`), "uuid", "id")
	require.True(t, ok)
	require.Equal(t, "doc", string(v), "the document's own id comes first")
}

// TestTallyDigestsKeysAsAMultiset: the digest of the same records in
// another order is the same, and one record lost with another counted
// twice changes it while the count stays.
func TestTallyDigestsKeysAsAMultiset(t *testing.T) {
	t.Parallel()
	g := gen.NewSofarpc(gen.Options{Seed: 3, Start: time.Unix(1_700_000_000, 0)})
	var recs []gen.Record
	for len(recs) < 400 {
		var r gen.Record
		g.Next(&r)
		r.Data = append([]byte(nil), r.Data...)
		recs = append(recs, r)
	}
	var fwd, back, swapped Tally
	for i := range recs {
		fwd.count(&recs[i])
		back.count(&recs[len(recs)-1-i])
		if i == 0 {
			swapped.count(&recs[1])
		} else {
			swapped.count(&recs[i])
		}
	}
	require.Positive(t, fwd.Keys["sofarpc_digest"].N)
	require.Positive(t, fwd.Keys["sofarpc_stat"].N)
	require.Equal(t, fwd.Keys, back.Keys)
	require.Equal(t, fwd.Keys["sofarpc_digest"].N, swapped.Keys["sofarpc_digest"].N)
	require.NotEqual(t, fwd.Keys["sofarpc_digest"].Sum, swapped.Keys["sofarpc_digest"].Sum)
	var merged Tally
	merged.add(&fwd)
	merged.add(&back)
	require.Equal(t, 2*fwd.Keys["sofarpc_stat"].N, merged.Keys["sofarpc_stat"].N)
	require.Equal(t, 2*fwd.Keys["sofarpc_stat"].Sum, merged.Keys["sofarpc_stat"].Sum, "sums wrap alike")
}
