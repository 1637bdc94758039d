//go:build !(cgo && linux)

package embedded

import (
	"errors"
	"io"
)

// This build has no cgo or is not Linux: the engine cannot be loaded, but
// everything else in tapline builds and runs against a ClickHouse server.
type libchdb struct{}

type cconn struct{}

var errNoCgo = errors.New("embedded engine needs a Linux build with cgo enabled (CGO_ENABLED=1); use a ClickHouse server target instead")

func loadLibrary(string) (libchdb, error)       { return libchdb{}, errNoCgo }
func (libchdb) version() string                 { return "" }
func (libchdb) disableSignalHandlers()          {}
func (libchdb) connect([]string) (cconn, error) { return cconn{}, errNoCgo }
func (cconn) close()                            {}
func (cconn) queryParams(string, string, map[string]string) (Result, error) {
	return Result{}, errNoCgo
}
func (cconn) insert(string, string, [][]byte) (Result, error) { return Result{}, errNoCgo }
func (cconn) stream(string, string, map[string]string, func() error, func([]byte) error) (Result, error) {
	return Result{}, errNoCgo
}
func (cconn) classify(string, string) (Analysis, error) { return Analysis{}, errNoCgo }
func (cconn) insertFrom(string, string, func() ([]byte, error)) (Result, error) {
	return Result{}, errNoCgo
}
func (cconn) insertWith(string, string, func(io.Writer) error) (Result, error) {
	return Result{}, errNoCgo
}
