package jsonscan

import "testing"

var benchLine = []byte(`{"timestamp":"2018-05-20 17:03:20.708","tracerId":"1e27326d1526807000498100185597","spanId":"0","span.kind":"client","local.app":"SOFATracerRPC","protocol":"bolt","service":"com.alipay.sofa.tracer.examples.sofarpc.direct.DirectService:1.0","method":"sayDirect","current.thread.name":"main","invoke.type":"sync","router.record":"DIRECT","remote.app":"samples","remote.ip":"127.0.0.1:12200","local.client.ip":"127.0.0.1","result.code":"00","req.serialize.time":"33","resp.deserialize.time":"39","resp.size":"170","req.size":"582","client.conn.time":"0","client.elapse.time":"155","local.client.port":"59774","baggage":""}`)

// BenchmarkObjectStrings walks a real SOFARPC digest line (the upstream
// docs' example), reading every member as a string.
func BenchmarkObjectStrings(b *testing.B) {
	var s Scanner
	b.SetBytes(int64(len(benchLine)))
	b.ReportAllocs()
	n := 0
	for i := 0; i < b.N; i++ {
		s.Reset(benchLine)
		s.EnterObject()
		for {
			k, ok := s.Key()
			if !ok {
				break
			}
			v, _ := s.Str()
			n += len(k) + len(v)
		}
		if s.Err() != nil {
			b.Fatal(s.Err())
		}
	}
	_ = n
}
