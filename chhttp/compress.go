package chhttp

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/go-faster/city"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// ClickHouse's compressed block framing (src/Compression/CompressionInfo.h,
// CompressedWriteBuffer.cpp), used over HTTP when a client sends compress=1
// (for the response) or decompress=1 (for the request body):
//
//	checksum  16 bytes: CityHash128 (v1.0.2) of everything after it, low half first
//	method     1 byte
//	size       4 bytes LE: compressed size, these 9 header bytes included
//	raw size   4 bytes LE: uncompressed size
//	payload    size-9 bytes
const (
	frameChecksum = 16
	frameHeader   = 9
	// frameMax is the uncompressed size of one frame: ClickHouse's default
	// max_compress_block_size.
	frameMax = 1 << 20
	// frameLimit bounds one frame read from a client, compressed or not
	// (clickhouse-go sends a Native block of a batch as one frame).
	frameLimit = 256 << 20
)

// Method bytes of the framing.
const (
	methodNone byte = 0x02
	methodLZ4  byte = 0x82
	methodZSTD byte = 0x90
)

// frameMethod maps network_compression_method to a method byte.
func frameMethod(name string) (byte, error) {
	switch strings.ToUpper(name) {
	case "", "LZ4", "LZ4HC":
		return methodLZ4, nil
	case "ZSTD":
		return methodZSTD, nil
	case "NONE":
		return methodNone, nil
	}
	return 0, errorf(codeUnknownCompression, "unknown network_compression_method %q: this endpoint compresses with LZ4, ZSTD or NONE", name)
}

// compressFrames appends src to dst as compressed frames of at most
// frameMax raw bytes each. A chunk that does not shrink is stored with
// method NONE, which every reader accepts.
func compressFrames(dst, src []byte, method byte, zstdLevel int) ([]byte, error) {
	var enc *zstd.Encoder
	if method == methodZSTD {
		level := zstd.SpeedDefault
		if zstdLevel > 0 {
			level = zstd.EncoderLevelFromZstd(zstdLevel)
		}
		var err error
		if enc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1)); err != nil {
			return nil, err
		}
		defer enc.Close()
	}
	for len(src) > 0 {
		chunk := src[:min(len(src), frameMax)]
		src = src[len(chunk):]
		start := len(dst)
		dst = append(dst, make([]byte, frameChecksum+frameHeader)...)
		m := method
		switch method {
		case methodLZ4:
			buf := make([]byte, lz4.CompressBlockBound(len(chunk)))
			n, err := lz4.CompressBlock(chunk, buf, nil)
			if err != nil {
				return nil, fmt.Errorf("lz4: %w", err)
			}
			if n == 0 || n >= len(chunk) {
				m = methodNone
				dst = append(dst, chunk...)
			} else {
				dst = append(dst, buf[:n]...)
			}
		case methodZSTD:
			dst = enc.EncodeAll(chunk, dst)
		default:
			dst = append(dst, chunk...)
		}
		frame := dst[start:]
		frame[frameChecksum] = m
		binary.LittleEndian.PutUint32(frame[frameChecksum+1:], uint32(len(frame)-frameChecksum))
		binary.LittleEndian.PutUint32(frame[frameChecksum+5:], uint32(len(chunk)))
		h := city.CH128(frame[frameChecksum:])
		binary.LittleEndian.PutUint64(frame[0:], h.Low)
		binary.LittleEndian.PutUint64(frame[8:], h.High)
	}
	return dst, nil
}

// decompressFrames decodes a body of compressed frames, verifying each
// checksum; the decoded body may not exceed limit bytes.
func decompressFrames(src []byte, limit int) ([]byte, error) {
	fr := newFrameReader(bytes.NewReader(src), limit)
	defer fr.close()
	var out []byte
	for {
		chunk, err := fr.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, chunk...)
	}
}

// frameReader reads ClickHouse compressed frames from a stream one at a
// time. Each frame is decoded into exactly the size its header claims, and
// no more: a frame whose payload expands further is an error, so memory
// follows the claims, which are bounded by the reader's limit in total.
type frameReader struct {
	r     io.Reader
	left  int // decoded bytes still allowed
	limit int
	head  [frameChecksum + frameHeader]byte
	buf   []byte // compressed frame, reused
	out   []byte // decoded frame, reused
	dec   *zstd.Decoder
}

func newFrameReader(r io.Reader, limit int) *frameReader {
	return &frameReader{r: r, left: limit, limit: limit}
}

func (f *frameReader) close() {
	if f.dec != nil {
		f.dec.Close()
	}
}

// next returns the next frame's decoded bytes (valid until the next call),
// or io.EOF after the last frame.
func (f *frameReader) next() ([]byte, error) {
	if n, err := io.ReadFull(f.r, f.head[:]); err != nil {
		if err == io.EOF && n == 0 {
			return nil, io.EOF
		}
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return nil, errorf(codeCannotDecompress, "compressed body ends inside a frame header")
		}
		return nil, errorf(codeCannotReadAllData, "read the request body: %v", err)
	}
	size := binary.LittleEndian.Uint32(f.head[frameChecksum+1:])
	raw := binary.LittleEndian.Uint32(f.head[frameChecksum+5:])
	if size < frameHeader || size > frameLimit || raw > frameLimit {
		return nil, errorf(codeCannotDecompress, "compressed frame of %d bytes (%d raw) is out of bounds", size, raw)
	}
	if int(raw) > f.left {
		return nil, errorf(codeQueryIsTooLarge, "decompressed body over %d bytes", f.limit)
	}
	// A frame is never larger than its content compresses to at worst (LZ4
	// and ZSTD bounds are raw + raw/255 + a few bytes): a larger size claim
	// would only make the reader allocate what the limit forbids.
	if int64(size)-frameHeader > int64(raw)+int64(raw)/255+64 {
		return nil, errorf(codeCannotDecompress, "compressed frame of %d bytes for %d raw bytes: larger than any compression of it", size, raw)
	}
	f.left -= int(raw)
	f.buf = append(f.buf[:0], f.head[frameChecksum:]...)
	f.buf = append(f.buf, make([]byte, size-frameHeader)...)
	if _, err := io.ReadFull(f.r, f.buf[frameHeader:]); err != nil {
		return nil, errorf(codeCannotDecompress, "compressed body ends inside a frame of %d bytes", size)
	}
	if h := city.CH128(f.buf); h.Low != binary.LittleEndian.Uint64(f.head[0:]) || h.High != binary.LittleEndian.Uint64(f.head[8:]) {
		return nil, errorf(codeChecksumDoesntMatch, "checksum of a compressed frame does not match")
	}
	payload := f.buf[frameHeader:]
	if cap(f.out) < int(raw) {
		f.out = make([]byte, raw)
	}
	out := f.out[:raw]
	switch f.buf[0] {
	case methodNone:
		if len(payload) != int(raw) {
			return nil, errorf(codeCannotDecompress, "uncompressed frame of %d bytes says %d", len(payload), raw)
		}
		copy(out, payload)
	case methodLZ4:
		n, err := lz4.UncompressBlock(payload, out)
		if err != nil || n != int(raw) {
			return nil, errorf(codeCannotDecompress, "LZ4 frame does not decode to %d bytes", raw)
		}
	case methodZSTD:
		if f.dec == nil {
			var err error
			if f.dec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(raw)+1<<20)); err != nil {
				return nil, err
			}
		}
		if err := f.dec.Reset(bytes.NewReader(payload)); err != nil {
			return nil, errorf(codeCannotDecompress, "ZSTD frame: %v", err)
		}
		if _, err := io.ReadFull(f.dec, out); err != nil {
			return nil, errorf(codeCannotDecompress, "ZSTD frame does not decode to %d bytes", raw)
		}
		if n, _ := f.dec.Read(make([]byte, 1)); n != 0 {
			return nil, errorf(codeCannotDecompress, "ZSTD frame decodes to more than the %d bytes it claims", raw)
		}
	default:
		return nil, errorf(codeUnknownCompression, "compression method 0x%02x: this endpoint reads LZ4, ZSTD and NONE frames", f.buf[0])
	}
	return out, nil
}

// httpEncodings are the Content-Encodings the endpoint reads and writes, in
// the order it prefers them.
var httpEncodings = []string{"gzip", "deflate", "br", "zstd"}

// pickEncoding returns the first encoding of httpEncodings the client
// accepts, or "" for none.
func pickEncoding(acceptEncoding string) string {
	accepted := map[string]bool{}
	for _, part := range strings.Split(acceptEncoding, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.ReplaceAll(strings.TrimSpace(params), " ", "") == "q=0" {
			continue
		}
		accepted[strings.ToLower(strings.TrimSpace(name))] = true
	}
	for _, e := range httpEncodings {
		if accepted[e] {
			return e
		}
	}
	return ""
}

// encoder returns a writer that compresses into w with a Content-Encoding;
// "deflate" is zlib, as ClickHouse and browsers mean it. Close flushes it
// (and does not close w).
func encoder(encoding string, w io.Writer) (io.WriteCloser, error) {
	switch encoding {
	case "gzip":
		return gzip.NewWriter(w), nil
	case "deflate":
		return zlib.NewWriter(w), nil
	case "br":
		return brotli.NewWriter(w), nil
	case "zstd":
		return zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
	}
	return nil, fmt.Errorf("unknown encoding %q", encoding)
}

// decodeReader wraps a request body sent with a Content-Encoding.
func decodeReader(encoding string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity":
		return r, nil
	case "gzip", "x-gzip":
		return gzip.NewReader(r)
	case "deflate":
		return zlib.NewReader(r)
	case "br":
		return brotli.NewReader(r), nil
	case "zstd":
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(64<<20))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return nil, errorf(codeUnknownCompression, "Content-Encoding %q: this endpoint reads gzip, deflate, br and zstd", encoding)
}
