package eventtree

import (
	"fmt"
	"testing"
)

// BenchmarkFlatten builds and flattens a document of n events, the shape of
// a typical web debug document: top-level request and response, the
// request's children (middleware, queries, templates, logs), a third level
// under every fourth child, and one event out of time order so that the
// sort runs. It reports events/s. SetBytes is the events' position text,
// the bytes the tree produces per document.
func BenchmarkFlatten(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("events_per_doc=%d", n), func(b *testing.B) {
			var tr Tree
			build := func() {
				tr.Reset()
				req, _ := tr.Add(-1)
				tr.SetTime(req, 1000)
				var last int
				for i := 1; i < n-1; i++ {
					parent := req
					if i%4 == 0 {
						parent = last
					} else {
						last = -1
					}
					id, _ := tr.Add(parent)
					if parent == req {
						last = id
					}
					tr.SetTime(id, int64(1000+i))
				}
				resp, _ := tr.Add(-1)
				tr.SetTime(resp, 999) // out of order: the sort runs
				tr.Flatten()
			}
			build()
			size := 0
			for id := 0; id < tr.Len(); id++ {
				size += len(tr.Path(id))
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				build()
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
