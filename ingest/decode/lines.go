package decode

import "bytes"

// NextLine finds the next line of payload at or after off that holds more
// than white space. It returns the line without its line terminator ("\n"
// or "\r\n") and without surrounding spaces or tabs, the offset where the
// search for the following line should start, and ok=false when no such line
// is left. Line-oriented decoders loop:
//
//	for off := 0; ; {
//		start, end, next, ok := decode.NextLine(payload, off)
//		if !ok { break }
//		... payload[start:end] ...
//		off = next
//	}
//
// Formats whose JSON records real writers split across lines frame with
// NextRecord instead, which returns the same records for one-line input.
func NextLine(payload []byte, off int) (start, end, next int, ok bool) {
	for off < len(payload) {
		nl := bytes.IndexByte(payload[off:], '\n')
		lineEnd, following := len(payload), len(payload)
		if nl >= 0 {
			lineEnd, following = off+nl, off+nl+1
		}
		s, e := off, lineEnd
		for s < e && isSpace(payload[s]) {
			s++
		}
		for e > s && isSpace(payload[e-1]) {
			e--
		}
		if s < e {
			return s, e, following, true
		}
		off = following
	}
	return 0, 0, len(payload), false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }
