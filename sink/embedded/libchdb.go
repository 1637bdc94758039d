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
} tl_api;

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
*/
import "C"

import (
	"errors"
	"fmt"
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
	if n := C.tl_len(r); n > 0 {
		res.Data = C.GoBytes(unsafe.Pointer(C.tl_buf(r)), C.int(n))
	}
	return res, nil
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
	// The parameter arrays must live in C memory: a Go slice of pointers to
	// Go memory may not be passed to C.
	n := len(params)
	ptrSize := C.size_t(unsafe.Sizeof((*C.char)(nil)))
	lenSize := C.size_t(unsafe.Sizeof(C.size_t(0)))
	names := unsafe.Slice((**C.char)(C.malloc(C.size_t(n)*ptrSize)), n)
	vals := unsafe.Slice((**C.char)(C.malloc(C.size_t(n)*ptrSize)), n)
	nlens := unsafe.Slice((*C.size_t)(C.malloc(C.size_t(n)*lenSize)), n)
	vlens := unsafe.Slice((*C.size_t)(C.malloc(C.size_t(n)*lenSize)), n)
	i := 0
	for k, v := range params {
		names[i] = (*C.char)(C.CBytes([]byte(k)))
		nlens[i] = C.size_t(len(k))
		vals[i] = (*C.char)(C.CBytes([]byte(v)))
		vlens[i] = C.size_t(len(v))
		i++
	}
	defer func() {
		for j := 0; j < n; j++ {
			C.free(unsafe.Pointer(names[j]))
			C.free(unsafe.Pointer(vals[j]))
		}
		C.free(unsafe.Pointer(&names[0]))
		C.free(unsafe.Pointer(&vals[0]))
		C.free(unsafe.Pointer(&nlens[0]))
		C.free(unsafe.Pointer(&vlens[0]))
	}()
	q := unsafe.StringData(sql)
	f := unsafe.StringData(format)
	r := C.tl_query_params(c.p, (*C.char)(unsafe.Pointer(q)), C.size_t(len(sql)), (*C.char)(unsafe.Pointer(f)), C.size_t(len(format)),
		&names[0], &nlens[0], &vals[0], &vlens[0], C.size_t(n))
	return takeResult(r)
}

// insert runs one streaming INSERT: the statement (without FORMAT) and the
// payload chunks in the given input format. It returns the rows written,
// which include rows written by dependent materialized views.
func (c cconn) insert(stmt, format string, chunks [][]byte) (Result, error) {
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
	for _, chunk := range chunks {
		if len(chunk) == 0 {
			continue
		}
		if C.tl_append(s, unsafe.Pointer(&chunk[0]), C.size_t(len(chunk))) != 0 {
			msg := "append failed"
			if e := C.tl_insert_err(s); e != nil {
				msg = C.GoString(e)
			}
			return Result{}, newEngineError(msg)
		}
	}
	return takeResult(C.tl_done(s))
}

func (libchdb) shutdown() bool { return C.tl_shutdown() == 0 }
