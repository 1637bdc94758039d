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
	// frameLimit bounds a frame read from a client (ClickHouse refuses more
	// than 1 GiB per block).
	frameLimit = 1 << 30
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
	var out []byte
	var dec *zstd.Decoder
	for len(src) > 0 {
		if len(src) < frameChecksum+frameHeader {
			return nil, errorf(codeCannotDecompress, "compressed body ends inside a frame header")
		}
		size := binary.LittleEndian.Uint32(src[frameChecksum+1:])
		raw := binary.LittleEndian.Uint32(src[frameChecksum+5:])
		if size < frameHeader || uint64(size) > uint64(len(src)-frameChecksum) || raw > frameLimit {
			return nil, errorf(codeCannotDecompress, "compressed frame of %d bytes (%d raw) does not fit the body", size, raw)
		}
		if len(out)+int(raw) > limit {
			return nil, errorf(codeQueryIsTooLarge, "decompressed body over %d bytes", limit)
		}
		frame := src[frameChecksum : frameChecksum+int(size)]
		if h := city.CH128(frame); h.Low != binary.LittleEndian.Uint64(src[0:]) || h.High != binary.LittleEndian.Uint64(src[8:]) {
			return nil, errorf(codeChecksumDoesntMatch, "checksum of a compressed frame does not match")
		}
		payload := frame[frameHeader:]
		switch frame[0] {
		case methodNone:
			if len(payload) != int(raw) {
				return nil, errorf(codeCannotDecompress, "uncompressed frame of %d bytes says %d", len(payload), raw)
			}
			out = append(out, payload...)
		case methodLZ4:
			start := len(out)
			out = append(out, make([]byte, raw)...)
			n, err := lz4.UncompressBlock(payload, out[start:])
			if err != nil || n != int(raw) {
				return nil, errorf(codeCannotDecompress, "LZ4 frame does not decode to %d bytes", raw)
			}
		case methodZSTD:
			if dec == nil {
				var err error
				if dec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(frameLimit)); err != nil {
					return nil, err
				}
				defer dec.Close()
			}
			start := len(out)
			var err error
			out, err = dec.DecodeAll(payload, out)
			if err != nil || len(out)-start != int(raw) {
				return nil, errorf(codeCannotDecompress, "ZSTD frame does not decode to %d bytes", raw)
			}
		default:
			return nil, errorf(codeUnknownCompression, "compression method 0x%02x: this endpoint reads LZ4, ZSTD and NONE frames", frame[0])
		}
		src = src[frameChecksum+int(size):]
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

// encode compresses body with a Content-Encoding; "deflate" is zlib, as
// ClickHouse and browsers mean it.
func encode(encoding string, body []byte) ([]byte, error) {
	var buf bytes.Buffer
	var w io.WriteCloser
	switch encoding {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "deflate":
		w = zlib.NewWriter(&buf)
	case "br":
		w = brotli.NewWriter(&buf)
	case "zstd":
		zw, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		w = zw
	default:
		return body, nil
	}
	if _, err := w.Write(body); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
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
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(frameLimit))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return nil, errorf(codeUnknownCompression, "Content-Encoding %q: this endpoint reads gzip, deflate, br and zstd", encoding)
}
