package g3proxy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapline/tapline/internal/decodetest"
)

// benchLines returns the valid records of testdata (every task type, every
// task_event, every envelope), one per line: not the adversarial file, and
// not the pretty-printed ones (*-pretty.log), whose records span lines.
func benchLines(b *testing.B) [][]byte {
	paths, err := filepath.Glob("testdata/*.log")
	if err != nil {
		b.Fatal(err)
	}
	var lines [][]byte
	for _, p := range paths {
		if name := filepath.Base(p); name == "adversarial.log" || strings.HasSuffix(name, "-pretty.log") {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n")) {
			lines = append(lines, l)
		}
	}
	return lines
}

// BenchmarkDecode decodes messages of n task log lines cycling through the
// testdata records and reports lines/s. Builders are flushed every 64k rows
// and re-reserved, as the pipeline's batches are.
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

// BenchmarkDecodeEnvelope decodes messages of 100 copies of the real
// Finished record (issue751) in each envelope: bare JSON, syslog @cee:,
// rsyslog's {"timereported","sd"}.
func BenchmarkDecodeEnvelope(b *testing.B) {
	data, err := os.ReadFile("testdata/issue751-tcptproxy.log")
	if err != nil {
		b.Fatal(err)
	}
	forms := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	for i, name := range []string{"bare", "syslog_cee", "rsyslog_sd"} {
		payload := bytes.Repeat(append(forms[i], '\n'), 100)
		b.Run(name, func(b *testing.B) { benchDecode(b, payload, 100) })
	}
}

func benchDecode(b *testing.B, payload []byte, lines int) {
	decodetest.Bench(b, newDecoder, payload, subject, lines, "lines")
}
