package django

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/tapline/tapline/internal/decodetest"
)

// benchLines returns the real JSON lines of testdata: the upstream README's
// request and Celery example, the structlog-example demo's request with its
// SQL debug and Celery lines (the mix a Django stream carries), and the
// documented events; the one non-JSON access line is left out.
func benchLines(b *testing.B) [][]byte {
	var lines [][]byte
	for _, f := range []string{"readme-json-example.log", "structlog-example-json.log", "events-doc.log"} {
		data, err := os.ReadFile("testdata/" + f)
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(l) > 0 && l[0] == '{' {
				lines = append(lines, l)
			}
		}
	}
	return lines
}

// BenchmarkDecode decodes messages of n lines taken in turn from the
// testdata lines above and reports lines/s. Builders are flushed every 64k
// rows and re-reserved like the last batch, as the pipeline does.
func BenchmarkDecode(b *testing.B) {
	lines := benchLines(b)
	for _, n := range []int{1, 100, 1000} {
		var payload bytes.Buffer
		for i := 0; i < n; i++ {
			payload.Write(lines[i%len(lines)])
			payload.WriteByte('\n')
		}
		b.Run(fmt.Sprintf("lines_per_msg=%d", n), func(b *testing.B) {
			benchDecode(b, payload.Bytes(), n)
		})
	}
}

func benchDecode(b *testing.B, payload []byte, lines int) {
	decodetest.Bench(b, newDecoder, payload, subject, lines, "lines")
}
