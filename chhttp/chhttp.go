// Package chhttp serves the part of ClickHouse's HTTP interface that
// tapline's own CLI, curl users and Grafana's ClickHouse plugin use, backed
// by a sink.Target (normally the embedded engine of a running tapline):
// GET /ping, and queries by GET or POST with the query in the "query" URL
// parameter or the body, "default_format" and "database" parameters, and
// errors as ClickHouse formats them.
package chhttp

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/tapline/tapline/sink"
)

// Config configures the endpoint. The zero value serves read-only queries
// without authentication, which Validate accepts only on loopback.
type Config struct {
	// Addr is the listen address, e.g. "127.0.0.1:8124".
	Addr string
	// User and Password, when set, are required from clients (HTTP basic
	// auth or X-ClickHouse-User/X-ClickHouse-Key headers). Required when
	// Addr is not a loopback address.
	User     string
	Password string
	// Writable allows statements other than reads (INSERT, DDL).
	Writable bool
}

// Validate reports every problem at once; it does not modify c.
func (c Config) Validate() error {
	var errs []error
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		errs = append(errs, fmt.Errorf("--http %q: want host:port: %w", c.Addr, err))
	} else if !loopback(host) && (c.User == "" || c.Password == "") {
		errs = append(errs, fmt.Errorf("--http %q is reachable beyond this machine: set --http-user and --http-password", c.Addr))
	}
	return errors.Join(errs...)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Handler serves the ClickHouse HTTP interface subset over target.
type Handler struct {
	cfg    Config
	target sink.Target
}

// NewHandler returns a handler; cfg must be valid.
func NewHandler(cfg Config, target sink.Target) *Handler {
	return &Handler{cfg: cfg, target: target}
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/ping":
		_, _ = io.WriteString(w, "Ok.\n")
		return
	case "/":
	default:
		writeError(w, http.StatusNotFound, 0, fmt.Sprintf("There is no handle %s", r.URL.Path))
		return
	}
	if !h.authorized(r) {
		writeError(w, http.StatusUnauthorized, 516, "Authentication failed: password is incorrect, or there is no user with such name.")
		return
	}
	q := r.URL.Query()
	query := q.Get("query")
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			writeError(w, http.StatusBadRequest, 0, "cannot read request body: "+err.Error())
			return
		}
		if len(body) > 0 {
			if query != "" {
				query += " "
			}
			query += string(body)
		}
	}
	query = strings.TrimSpace(query)
	if query == "" {
		_, _ = io.WriteString(w, "Ok.\n")
		return
	}
	if !h.cfg.Writable && !readOnly(query) {
		writeError(w, http.StatusForbidden, 164, "Cannot execute query in readonly mode: this tapline endpoint is read-only")
		return
	}
	format := q.Get("default_format")
	if format == "" {
		format = "TabSeparated"
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Minute)
	defer cancel()
	out, err := h.target.Query(ctx, query, format, nil)
	if err != nil {
		var se *sink.Error
		code := 0
		if errors.As(err, &se) {
			code = se.Code
		}
		writeError(w, statusFor(code), code, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.Header().Set("X-ClickHouse-Format", format)
	_, _ = w.Write(out)
}

func (h *Handler) authorized(r *http.Request) bool {
	if h.cfg.User == "" {
		return true
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		user, pass = r.Header.Get("X-ClickHouse-User"), r.Header.Get("X-ClickHouse-Key")
		if user == "" {
			user, pass = r.URL.Query().Get("user"), r.URL.Query().Get("password")
		}
	}
	return subtle.ConstantTimeCompare([]byte(user), []byte(h.cfg.User)) == 1 &&
		subtle.ConstantTimeCompare([]byte(pass), []byte(h.cfg.Password)) == 1
}

// readOnly reports whether query starts with a reading statement.
func readOnly(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	for strings.HasPrefix(q, "--") {
		if i := strings.IndexByte(q, '\n'); i >= 0 {
			q = strings.TrimLeft(q[i+1:], " \t\r\n(")
		} else {
			return false
		}
	}
	word := strings.ToUpper(strings.FieldsFunc(q, func(r rune) bool { return r == ' ' || r == '\n' || r == '\t' || r == '(' })[0])
	switch word {
	case "SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS":
		return true
	}
	return false
}

func statusFor(code int) int {
	switch code {
	case 60, 81: // UNKNOWN_TABLE, UNKNOWN_DATABASE
		return http.StatusNotFound
	case 62, 47, 46, 16, 43, 53: // SYNTAX_ERROR, UNKNOWN_IDENTIFIER, UNKNOWN_FUNCTION, NO_SUCH_COLUMN_IN_TABLE, ILLEGAL_TYPE_OF_ARGUMENT, TYPE_MISMATCH
		return http.StatusBadRequest
	case 164, 497: // READONLY, ACCESS_DENIED
		return http.StatusForbidden
	case 516:
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	if code != 0 {
		w.Header().Set("X-ClickHouse-Exception-Code", fmt.Sprint(code))
	}
	w.WriteHeader(status)
	if code != 0 && !strings.HasPrefix(msg, "Code:") {
		msg = fmt.Sprintf("Code: %d. DB::Exception: %s", code, msg)
	}
	_, _ = io.WriteString(w, msg+"\n")
}
