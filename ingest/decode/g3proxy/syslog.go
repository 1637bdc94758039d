package g3proxy

import "bytes"

// syslogHost returns the HOSTNAME of a syslog header (the bytes before the
// CEE cookie), or nil when the header names none. It is best effort: a
// header it cannot read yields nil, never an error, because the record
// itself is in the JSON that follows.
//
// Shapes (lib/g3-syslog/src/format/{rfc3164,rfc5424}.rs; rsyslog file
// output drops the "<PRI>"):
//
//	RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID    ("-" = none)
//	RFC 3164: <PRI>Mmm dd hh:mm:ss [HOSTNAME ]TAG[PID]:          (hostname optional)
//
// For RFC 3164 (and other "TIMESTAMP [HOST ]TAG:" headers, such as
// rsyslog's RFC 3339 file format), the hostname is the token before the
// tag when there are two.
func syslogHost(h []byte) []byte {
	h = bytes.TrimSpace(h)
	if len(h) > 0 && h[0] == '<' {
		i := bytes.IndexByte(h, '>')
		if i < 0 {
			return nil
		}
		h = h[i+1:]
	}
	if len(h) > 2 && h[0] == '1' && h[1] == ' ' {
		_, host, n := tokens(h[2:])
		if n < 2 || string(host) == "-" {
			return nil
		}
		return host
	}
	switch {
	case len(h) >= 16 && h[3] == ' ' && h[6] == ' ' && h[9] == ':' && h[12] == ':' && h[15] == ' ':
		h = h[16:] // "Mmm dd hh:mm:ss "
	case len(h) > 0 && h[0] >= '0' && h[0] <= '9':
		// An RFC 3339 timestamp as the first token.
		i := bytes.IndexByte(h, ' ')
		if i < 0 {
			return nil
		}
		h = h[i+1:]
	}
	if host, _, n := tokens(h); n == 2 {
		return host
	}
	return nil
}

// tokens returns the first two space-separated tokens of b and how many
// tokens b has, counting no further than 3.
func tokens(b []byte) (first, second []byte, n int) {
	for n < 3 {
		for len(b) > 0 && b[0] == ' ' {
			b = b[1:]
		}
		if len(b) == 0 {
			return first, second, n
		}
		tok := b
		if i := bytes.IndexByte(b, ' '); i >= 0 {
			tok, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		switch n {
		case 0:
			first = tok
		case 1:
			second = tok
		}
		n++
	}
	return first, second, n
}
