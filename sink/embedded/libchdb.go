//go:build cgo && linux

package embedded

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// The subset of programs/local/chdb.h (chdb-io/chdb-core, ClickHouse 26.7) that
// tapline calls. Handles are opaque pointers; nothing here dereferences them.
typedef void* tl_conn;    // chdb_connection
typedef void* tl_result;  // chdb_result *
typedef void* tl_istream; // chdb_insert_stream

static struct {
	void *handle;
	const char *(*version)(void);
	void (*set_signal_handlers_enabled)(int);
	tl_conn *(*connect)(int, char **);
	void (*close_conn)(tl_conn *);
	tl_result (*query_n)(tl_conn, const char *, size_t, const char *, size_t);
	tl_result (*query_with_params_n)(tl_conn, const char *, size_t, const char *, size_t,
		const char *const *, const size_t *, const char *const *, const size_t *, size_t);
	void (*destroy_query_result)(tl_result);
	char *(*result_buffer)(tl_result);
	size_t (*result_length)(tl_result);
	double (*result_elapsed)(tl_result);
	uint64_t (*result_rows_read)(tl_result);
	uint64_t (*result_rows_written)(tl_result);
	const char *(*result_error)(tl_result);
	tl_istream (*stream_insert_n)(tl_conn, const char *, size_t, const char *, size_t);
	int (*stream_append)(tl_istream, const void *, size_t);
	tl_result (*stream_done)(tl_istream);
	const char *(*stream_insert_error)(tl_istream);
	void (*destroy_insert_stream)(tl_istream);
	int (*shutdown)(void);
	tl_result (*stream_query_with_params_n)(tl_conn, const char *, size_t, const char *, size_t,
		const char *const *, const size_t *, const char *const *, const size_t *, size_t);
	tl_result (*stream_fetch)(tl_conn, tl_result);
	void (*stream_cancel)(tl_conn, tl_result);
	void (*stream_cancel_insert)(tl_istream);
	int (*classify)(tl_conn, const char *, size_t, const char *, size_t, void *);
} tl_api;

// tl_analysis mirrors chdb_query_analysis_v1.
typedef struct {
	uint32_t struct_size;
	uint32_t statement_count;
	uint32_t flags;
	uint32_t query_class;
} tl_analysis;

// tl_load opens the library and resolves every symbol. It returns NULL on
// success or a static/dlerror message naming what is missing.
static const char *tl_load(const char *path) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) return dlerror();
#define TL_SYM(field, name) do { *(void **)(&tl_api.field) = dlsym(h, name); if (!tl_api.field) return "missing symbol " name; } while (0)
	TL_SYM(version, "chdb_version");
	TL_SYM(set_signal_handlers_enabled, "chdb_set_signal_handlers_enabled");
	TL_SYM(connect, "chdb_connect");
	TL_SYM(close_conn, "chdb_close_conn");
	TL_SYM(query_n, "chdb_query_n");
	TL_SYM(query_with_params_n, "chdb_query_with_params_n");
	TL_SYM(destroy_query_result, "chdb_destroy_query_result");
	TL_SYM(result_buffer, "chdb_result_buffer");
	TL_SYM(result_length, "chdb_result_length");
	TL_SYM(result_elapsed, "chdb_result_elapsed");
	TL_SYM(result_rows_read, "chdb_result_rows_read");
	TL_SYM(result_rows_written, "chdb_result_rows_written");
	TL_SYM(result_error, "chdb_result_error");
	TL_SYM(stream_insert_n, "chdb_stream_insert_n");
	TL_SYM(stream_append, "chdb_stream_append");
	TL_SYM(stream_done, "chdb_stream_done");
	TL_SYM(stream_insert_error, "chdb_stream_insert_error");
	TL_SYM(destroy_insert_stream, "chdb_destroy_insert_stream");
	TL_SYM(shutdown, "chdb_shutdown");
	TL_SYM(stream_query_with_params_n, "chdb_stream_query_with_params_n");
	TL_SYM(stream_fetch, "chdb_stream_fetch_result");
	TL_SYM(stream_cancel, "chdb_stream_cancel_query");
	TL_SYM(stream_cancel_insert, "chdb_stream_cancel_insert");
	TL_SYM(classify, "chdb_classify_query_n");
#undef TL_SYM
	tl_api.handle = h;
	return NULL;
}

static const char *tl_version(void) { return tl_api.version(); }
static void tl_disable_signal_handlers(void) { tl_api.set_signal_handlers_enabled(0); }
static tl_conn *tl_connect(int argc, char **argv) { return tl_api.connect(argc, argv); }
static void tl_close(tl_conn *c) { tl_api.close_conn(c); }
static tl_result tl_query(tl_conn *c, const char *q, size_t ql, const char *f, size_t fl) {
	return tl_api.query_n(*c, q, ql, f, fl);
}
static tl_result tl_query_params(tl_conn *c, const char *q, size_t ql, const char *f, size_t fl,
		const char *const *names, const size_t *nlens, const char *const *vals, const size_t *vlens, size_t n) {
	return tl_api.query_with_params_n(*c, q, ql, f, fl, names, nlens, vals, vlens, n);
}
static void tl_destroy(tl_result r) { tl_api.destroy_query_result(r); }
static char *tl_buf(tl_result r) { return tl_api.result_buffer(r); }
static size_t tl_len(tl_result r) { return tl_api.result_length(r); }
static double tl_elapsed(tl_result r) { return tl_api.result_elapsed(r); }
static uint64_t tl_rows_read(tl_result r) { return tl_api.result_rows_read(r); }
static uint64_t tl_rows_written(tl_result r) { return tl_api.result_rows_written(r); }
static const char *tl_err(tl_result r) { return tl_api.result_error(r); }
static tl_istream tl_insert(tl_conn *c, const char *q, size_t ql, const char *f, size_t fl) {
	return tl_api.stream_insert_n(*c, q, ql, f, fl);
}
static int tl_append(tl_istream s, const void *d, size_t n) { return tl_api.stream_append(s, d, n); }
static tl_result tl_done(tl_istream s) { return tl_api.stream_done(s); }
static const char *tl_insert_err(tl_istream s) { return tl_api.stream_insert_error(s); }
static void tl_destroy_insert(tl_istream s) { tl_api.destroy_insert_stream(s); }
static int tl_shutdown(void) { return tl_api.shutdown(); }
static tl_result tl_stream_query(tl_conn *c, const char *q, size_t ql, const char *f, size_t fl,
		const char *const *names, const size_t *nlens, const char *const *vals, const size_t *vlens, size_t n) {
	return tl_api.stream_query_with_params_n(*c, q, ql, f, fl, names, nlens, vals, vlens, n);
}
static tl_result tl_stream_fetch(tl_conn *c, tl_result r) { return tl_api.stream_fetch(*c, r); }
static void tl_stream_cancel(tl_conn *c, tl_result r) { tl_api.stream_cancel(*c, r); }
static void tl_cancel_insert(tl_istream s) { tl_api.stream_cancel_insert(s); }
static int tl_classify(tl_conn *c, const char *q, size_t ql, const char *db, size_t dbl, tl_analysis *out) {
	out->struct_size = sizeof(tl_analysis);
	return tl_api.classify(*c, q, ql, db, dbl, out);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"io"
	"unsafe"
)

// libchdb is the dlopen'ed engine. All functions assume load succeeded.
type libchdb struct{}

func loadLibrary(path string) (libchdb, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	if msg := C.tl_load(cpath); msg != nil {
		return libchdb{}, fmt.Errorf("load %s: %s", path, C.GoString(msg))
	}
	return libchdb{}, nil
}

func (libchdb) version() string { return C.GoString(C.tl_version()) }

func (libchdb) disableSignalHandlers() { C.tl_disable_signal_handlers() }

// cconn is one engine connection; it runs one statement at a time.
type cconn struct{ p *C.tl_conn }

func (libchdb) connect(args []string) (cconn, error) {
	argv := make([]*C.char, len(args))
	for i, a := range args {
		argv[i] = C.CString(a)
	}
	defer func() {
		for _, p := range argv {
			C.free(unsafe.Pointer(p))
		}
	}()
	// argv is a Go slice of C pointers: allowed to pass (no Go pointers inside).
	p := C.tl_connect(C.int(len(argv)), (**C.char)(unsafe.Pointer(&argv[0])))
	if p == nil {
		return cconn{}, errors.New("chdb_connect returned no connection")
	}
	return cconn{p: p}, nil
}

func (c cconn) close() { C.tl_close(c.p) }

func takeResult(r C.tl_result) (Result, error) {
	if r == nil {
		return Result{}, errors.New("engine returned no result")
	}
	defer C.tl_destroy(r)
	if e := C.tl_err(r); e != nil {
		return Result{}, newEngineError(C.GoString(e))
	}
	res := Result{
		RowsRead:    uint64(C.tl_rows_read(r)),
		RowsWritten: uint64(C.tl_rows_written(r)),
		Elapsed:     float64(C.tl_elapsed(r)),
	}
	res.Data = resultBytes(r)
	return res, nil
}

// resultBytes copies a result's buffer into Go memory. The length is a
// size_t: C.GoBytes takes an int32 and would wrap past 2 GiB.
func resultBytes(r C.tl_result) []byte {
	n := C.tl_len(r)
	if n == 0 {
		return nil
	}
	return append([]byte(nil), resultView(r)...)
}

// resultView is a result's buffer as a Go slice over C memory: valid until
// the result is destroyed, never to be retained.
func resultView(r C.tl_result) []byte {
	n := C.tl_len(r)
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(C.tl_buf(r))), int(n))
}

func (c cconn) query(sql, format string) (Result, error) {
	q := unsafe.StringData(sql)
	f := unsafe.StringData(format)
	r := C.tl_query(c.p, (*C.char)(unsafe.Pointer(q)), C.size_t(len(sql)), (*C.char)(unsafe.Pointer(f)), C.size_t(len(format)))
	return takeResult(r)
}

func (c cconn) queryParams(sql, format string, params map[string]string) (Result, error) {
	if len(params) == 0 {
		return c.query(sql, format)
	}
	cp := newCParams(params)
	defer cp.free()
	q := unsafe.StringData(sql)
	f := unsafe.StringData(format)
	r := C.tl_query_params(c.p, (*C.char)(unsafe.Pointer(q)), C.size_t(len(sql)), (*C.char)(unsafe.Pointer(f)), C.size_t(len(format)),
		cp.names, cp.nlens, cp.vals, cp.vlens, cp.n)
	return takeResult(r)
}

// cParams holds query parameters in C memory: a Go slice of pointers to Go
// memory may not be passed to C.
type cParams struct {
	names, vals  **C.char
	nlens, vlens *C.size_t
	n            C.size_t
}

func newCParams(params map[string]string) cParams {
	n := len(params)
	if n == 0 {
		return cParams{}
	}
	ptrSize := C.size_t(unsafe.Sizeof((*C.char)(nil)))
	lenSize := C.size_t(unsafe.Sizeof(C.size_t(0)))
	cp := cParams{
		names: (**C.char)(C.malloc(C.size_t(n) * ptrSize)),
		vals:  (**C.char)(C.malloc(C.size_t(n) * ptrSize)),
		nlens: (*C.size_t)(C.malloc(C.size_t(n) * lenSize)),
		vlens: (*C.size_t)(C.malloc(C.size_t(n) * lenSize)),
		n:     C.size_t(n),
	}
	names, vals := unsafe.Slice(cp.names, n), unsafe.Slice(cp.vals, n)
	nlens, vlens := unsafe.Slice(cp.nlens, n), unsafe.Slice(cp.vlens, n)
	i := 0
	for k, v := range params {
		names[i] = (*C.char)(C.CBytes([]byte(k)))
		nlens[i] = C.size_t(len(k))
		vals[i] = (*C.char)(C.CBytes([]byte(v)))
		vlens[i] = C.size_t(len(v))
		i++
	}
	return cp
}

func (cp cParams) free() {
	if cp.n == 0 {
		return
	}
	names, vals := unsafe.Slice(cp.names, int(cp.n)), unsafe.Slice(cp.vals, int(cp.n))
	for j := range names {
		C.free(unsafe.Pointer(names[j]))
		C.free(unsafe.Pointer(vals[j]))
	}
	C.free(unsafe.Pointer(cp.names))
	C.free(unsafe.Pointer(cp.vals))
	C.free(unsafe.Pointer(cp.nlens))
	C.free(unsafe.Pointer(cp.vlens))
}

// stream runs one statement as a streaming query: emit receives each chunk
// of output (C memory, valid only during the call). The query is cancelled
// on the engine, and stream returns, when stop reports true or emit fails;
// both are checked between chunks, since a fetch cannot be interrupted
// (chdb.h: fetch and cancel on one connection must be serialized).
func (c cconn) stream(sql, format string, params map[string]string, stop func() error, emit func([]byte) error) (Result, error) {
	cp := newCParams(params)
	defer cp.free()
	q := unsafe.StringData(sql)
	f := unsafe.StringData(format)
	h := C.tl_stream_query(c.p, (*C.char)(unsafe.Pointer(q)), C.size_t(len(sql)), (*C.char)(unsafe.Pointer(f)), C.size_t(len(format)),
		cp.names, cp.nlens, cp.vals, cp.vlens, cp.n)
	if h == nil {
		return Result{}, errors.New("engine returned no streaming result")
	}
	defer C.tl_destroy(h)
	if e := C.tl_err(h); e != nil {
		return Result{}, newEngineError(C.GoString(e))
	}
	var total Result
	for {
		if err := stop(); err != nil {
			C.tl_stream_cancel(c.p, h)
			return total, err
		}
		r := C.tl_stream_fetch(c.p, h)
		if r == nil {
			C.tl_stream_cancel(c.p, h)
			return total, errors.New("engine returned no result chunk")
		}
		if e := C.tl_err(r); e != nil {
			err := newEngineError(C.GoString(e))
			C.tl_destroy(r)
			return total, err
		}
		data := resultView(r)
		total.RowsRead += uint64(C.tl_rows_read(r))
		total.Elapsed += float64(C.tl_elapsed(r))
		if len(data) == 0 {
			C.tl_destroy(r)
			return total, nil
		}
		err := emit(data)
		C.tl_destroy(r)
		if err != nil {
			C.tl_stream_cancel(c.p, h)
			return total, err
		}
	}
}

// classify asks the engine's parser what sql would do, without running it.
func (c cconn) classify(sql, database string) (Analysis, error) {
	var out C.tl_analysis
	q := unsafe.StringData(sql)
	d := unsafe.StringData(database)
	if C.tl_classify(c.p, (*C.char)(unsafe.Pointer(q)), C.size_t(len(sql)), (*C.char)(unsafe.Pointer(d)), C.size_t(len(database)), &out) != 0 {
		return Analysis{}, errors.New("chdb_classify_query_n failed")
	}
	return Analysis{Statements: int(out.statement_count), Class: QueryClass(out.query_class), Flags: AnalysisFlags(out.flags)}, nil
}

// insertFrom runs one streaming INSERT fed by next until it returns io.EOF;
// any other error from next cancels the insert (nothing is committed).
func (c cconn) insertFrom(stmt, format string, next func() ([]byte, error)) (Result, error) {
	return c.insertWith(stmt, format, func(w io.Writer) error {
		for {
			chunk, err := next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if _, err := w.Write(chunk); err != nil {
				return err
			}
		}
	})
}

// insertWith runs one streaming INSERT whose payload fill writes: each
// Write hands its bytes to the engine, which copies them before Write
// returns. An error from fill cancels the insert (nothing is committed)
// and is returned; after a failed append, Write returns the engine's error
// and insertWith returns it even if fill ignored it.
func (c cconn) insertWith(stmt, format string, fill func(io.Writer) error) (Result, error) {
	q := unsafe.StringData(stmt)
	f := unsafe.StringData(format)
	s := C.tl_insert(c.p, (*C.char)(unsafe.Pointer(q)), C.size_t(len(stmt)), (*C.char)(unsafe.Pointer(f)), C.size_t(len(format)))
	if s == nil {
		return Result{}, errors.New("engine returned no insert stream")
	}
	defer C.tl_destroy_insert(s)
	if e := C.tl_insert_err(s); e != nil {
		return Result{}, newEngineError(C.GoString(e))
	}
	a := &appender{s: s}
	if err := fill(a); err != nil {
		if a.err == nil {
			C.tl_cancel_insert(s)
		}
		return Result{}, err
	}
	if a.err != nil {
		return Result{}, a.err
	}
	return takeResult(C.tl_done(s))
}

// appender is an io.Writer into an engine insert stream.
type appender struct {
	s   C.tl_istream
	err error
}

// Write appends p to the insert; the engine copies it before returning.
func (a *appender) Write(p []byte) (int, error) {
	if a.err != nil {
		return 0, a.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if C.tl_append(a.s, unsafe.Pointer(&p[0]), C.size_t(len(p))) != 0 {
		msg := "append failed"
		if e := C.tl_insert_err(a.s); e != nil {
			msg = C.GoString(e)
		}
		a.err = newEngineError(msg)
		return 0, a.err
	}
	return len(p), nil
}

// insert runs one streaming INSERT: the statement (without FORMAT) and the
// payload chunks in the given input format. It returns the rows written,
// which include rows written by dependent materialized views.
func (c cconn) insert(stmt, format string, chunks [][]byte) (Result, error) {
	i := 0
	return c.insertFrom(stmt, format, func() ([]byte, error) {
		if i == len(chunks) {
			return nil, io.EOF
		}
		i++
		return chunks[i-1], nil
	})
}

func (libchdb) shutdown() bool { return C.tl_shutdown() == 0 }
