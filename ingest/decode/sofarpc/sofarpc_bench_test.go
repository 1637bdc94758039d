package sofarpc

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/tapline/tapline/internal/decodetest"
)

// BenchmarkDecodeDigest decodes messages of n real digest lines (the
// upstream docs' client and server examples, alternating) and reports
// lines/s. Builders are flushed every 64k rows, as the pipeline's batches are.
func BenchmarkDecodeDigest(b *testing.B) {
	client, err := os.ReadFile("testdata/rpc-client-digest-docs.log")
	if err != nil {
		b.Fatal(err)
	}
	server, err := os.ReadFile("testdata/rpc-server-digest-docs.log")
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 100, 1000} {
		var payload bytes.Buffer
		for i := 0; i < n; i++ {
			if i%2 == 0 {
				payload.Write(client)
			} else {
				payload.Write(server)
			}
		}
		b.Run(fmt.Sprintf("lines_per_msg=%d", n), func(b *testing.B) {
			benchDecode(b, payload.Bytes(), n)
		})
	}
	// Client lines calling 65,536 different remote hosts, 1000 lines per
	// message: the LowCardinality remote_host column then has tens of
	// thousands of distinct values per batch, as in the generated digests
	// of the drain's backlog (baseline gen-sofa).
	var payloads [][]byte
	for m, k := 0, 0; m < 64; m++ {
		var payload []byte
		for i := 0; i < 1000; i++ {
			host := fmt.Sprintf(`"remote.ip":"10.0.%d.%d:12200"`, k/256, k%256)
			payload = append(payload, bytes.Replace(client, []byte(`"remote.ip":"127.0.0.1:12200"`), []byte(host), 1)...)
			k++
		}
		payloads = append(payloads, payload)
	}
	b.Run("lines_per_msg=1000/remote_hosts=65536", func(b *testing.B) {
		decodetest.BenchPayloads(b, newDecoder, payloads, "logs.sofarpc.client.digest", 1000, "lines")
	})
}

// BenchmarkDecodeStat decodes messages of 100 stat lines.
func BenchmarkDecodeStat(b *testing.B) {
	line, err := os.ReadFile("testdata/rpc-stat-docs.log")
	if err != nil {
		b.Fatal(err)
	}
	benchDecode(b, bytes.Repeat(line, 100), 100)
}

func benchDecode(b *testing.B, payload []byte, lines int) {
	decodetest.Bench(b, newDecoder, payload, "logs.sofarpc.client.digest", lines, "lines")
}
