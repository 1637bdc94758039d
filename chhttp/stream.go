package chhttp

import (
	"io"
	"net/http"
	"strings"
)

// output streams a result to the client chunk by chunk: the Native upgrade
// for clickhouse-go, ClickHouse's compressed frames (compress=1) and the
// HTTP Content-Encoding are applied per chunk, so nothing holds a whole
// result. Headers go out with the first chunk; an error before it is an
// ordinary HTTP error, an error after it is written at the end of the body
// as ClickHouse's own server does, and the response is cut there.
type output struct {
	w     http.ResponseWriter
	start func() // sets the headers of a successful answer

	started   bool
	clientRev uint64 // Native upgrade, 0 for none
	compress  bool
	method    byte
	level     int
	enc       io.WriteCloser // Content-Encoding writer over w, or nil
	encoding  string
	sent      int64 // formatted bytes handed to write
	max       int64
	buf       []byte
}

// configure sets how chunks are transformed for this request.
func (o *output) configure(r *http.Request, req *request, format string, maxBytes int64) error {
	o.max = maxBytes
	if strings.EqualFold(format, "Native") && req.clientRev > 0 {
		o.clientRev = req.clientRev
	}
	o.compress, o.method, o.level = req.compress, req.frameMethod, req.zstdLevel
	if req.httpCompress {
		o.encoding = pickEncoding(r.Header.Get("Accept-Encoding"))
	}
	return nil
}

// begin writes the headers and the 200 status.
func (o *output) begin() {
	if o.started {
		return
	}
	o.started = true
	if o.start != nil {
		o.start()
	}
	if o.encoding != "" {
		o.w.Header().Set("Content-Encoding", o.encoding)
	}
	o.w.WriteHeader(http.StatusOK)
}

// write is the engine's chunk callback: chunk is only valid during the call.
func (o *output) write(chunk []byte) error {
	o.sent += int64(len(chunk))
	if o.max > 0 && o.sent > o.max {
		return errorf(396, "Limit for result exceeded: the answer is over %d bytes, this endpoint's cap: add a LIMIT or aggregate", o.max)
	}
	data := chunk
	var err error
	if o.clientRev > 0 {
		if o.buf, err = upgradeNative(o.buf[:0], data, o.clientRev); err != nil {
			return errorf(codeNotImplemented, "%v", err)
		}
		data = o.buf
	}
	if o.compress {
		framed, err := compressFrames(nil, data, o.method, o.level)
		if err != nil {
			return errorf(1001, "compress the response: %v", err)
		}
		data = framed
	}
	if !o.started {
		o.begin()
		if o.encoding != "" {
			if o.enc, err = encoder(o.encoding, o.w); err != nil {
				return errorf(1001, "encode the response: %v", err)
			}
		}
	}
	if o.enc != nil {
		_, err = o.enc.Write(data)
	} else {
		_, err = o.w.Write(data)
	}
	return err
}

// finish ends a successful answer: the headers of an empty result, and the
// Content-Encoding's trailer.
func (o *output) finish() error {
	o.begin()
	if o.enc != nil {
		err := o.enc.Close()
		o.enc = nil
		return err
	}
	return nil
}

// fail reports err: as an HTTP error when nothing was sent yet, else at the
// end of the body (the status is already 200), where clickhouse-go and
// ClickHouse's own clients look for it.
func (o *output) fail(err *chError) {
	if !o.started {
		writeError(o.w, err)
		return
	}
	text := "\n" + err.Error() + "\n"
	if o.enc != nil {
		_, _ = io.WriteString(o.enc, text)
		_ = o.enc.Close()
		o.enc = nil
		return
	}
	_, _ = io.WriteString(o.w, text)
}
