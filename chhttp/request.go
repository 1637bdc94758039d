package chhttp

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tapline/tapline/sink"
)

// request is what serveQuery read from an HTTP request.
type request struct {
	query         string
	database      string
	format        string
	queryID       string
	clientRev     uint64
	compress      bool
	frameMethod   byte
	zstdLevel     int
	httpCompress  bool
	params        map[string]string
	settings      map[string]string
	maxExecSetter bool
}

// urlParams are URL parameters of ClickHouse's HTTP interface that are not
// settings; the ones the endpoint uses are read by parseRequest, the rest
// are accepted and ignored.
var urlParams = map[string]bool{
	"query": true, "database": true, "default_format": true, "user": true, "password": true,
	"query_id": true, "quota_key": true, "session_id": true, "session_timeout": true, "session_check": true,
	"compress": true, "decompress": true, "buffer_size": true, "wait_end_of_query": true,
	"client_protocol_version": true, "stacktrace": true, "role": true, "enable_http_compression": true,
	"http_zlib_compression_level": true, "network_compression_method": true, "network_zstd_compression_level": true,
	"http_native_compression_disable_checksumming_on_decompress": true, "send_progress_in_http_headers": true,
	"http_headers_progress_interval_ms": true, "add_http_cors_header": true, "http_response_buffer_size": true,
	"http_wait_end_of_query": true, "cancel_http_readonly_queries_on_client_close": true,
}

var customSetting = regexp.MustCompile(`^custom_[A-Za-z0-9_]+$`)

// parseRequest reads the query, parameters and settings of r.
func (h *Handler) parseRequest(r *http.Request, cat *catalog) (*request, error) {
	u := r.URL.Query()
	req := &request{
		query:    u.Get("query"),
		database: firstNonEmpty(u.Get("database"), r.Header.Get("X-ClickHouse-Database")),
		format:   firstNonEmpty(u.Get("default_format"), r.Header.Get("X-ClickHouse-Format"), "TabSeparated"),
		queryID:  u.Get("query_id"),
		params:   map[string]string{},
		settings: map[string]string{},
	}
	if req.database != "" && req.database != cat.Database {
		return nil, errorf(codeUnknownDatabase, "Database %s does not exist on this endpoint: it serves database %s", sink.QuoteIdent(req.database), sink.QuoteIdent(cat.Database))
	}
	if req.queryID == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		req.queryID = hex.EncodeToString(b[:])
	}
	if v := u.Get("client_protocol_version"); v != "" {
		rev, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, errorf(codeBadArguments, "client_protocol_version %q is not a number", v)
		}
		req.clientRev = rev
	}
	req.compress = u.Get("compress") == "1"
	if req.compress {
		m, err := frameMethod(u.Get("network_compression_method"))
		if err != nil {
			return nil, err
		}
		req.frameMethod = m
		if v := u.Get("network_zstd_compression_level"); v != "" {
			req.zstdLevel, _ = strconv.Atoi(v)
		}
	}
	req.httpCompress = u.Get("enable_http_compression") == "1"
	for k, vs := range u {
		v := vs[len(vs)-1]
		switch {
		case strings.HasPrefix(k, "param_"):
			req.params[strings.TrimPrefix(k, "param_")] = v
		case urlParams[k]:
		case !cat.settings[k] && !customSetting.MatchString(k):
			return nil, errorf(codeUnknownSetting, "Unknown setting '%s' (a URL parameter that is neither a ClickHouse setting nor one of the HTTP interface's own)", k)
		case !settingAllowed(k):
			return nil, errorf(codeAccessDenied, "setting %s is not allowed on this endpoint: it reads or writes files or enables introspection", k)
		default:
			if filterSettings[k] {
				if err := cat.policy.vetExpression(v, 1); err != nil {
					return nil, err
				}
			}
			req.settings[k] = v
			if k == "max_execution_time" {
				req.maxExecSetter = true
			}
		}
	}
	if r.Method == http.MethodPost {
		body, err := readBody(r, u.Get("decompress") == "1")
		if err != nil {
			return nil, err
		}
		if len(body) > 0 {
			if req.query != "" {
				req.query += "\n"
			}
			req.query += string(body)
		}
	}
	return req, nil
}

// readBody returns the decoded request body.
func readBody(r *http.Request, decompress bool) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "multipart/") {
		return nil, errorf(codeNotImplemented, "external tables (multipart bodies) are not supported by this endpoint")
	}
	in, err := decodeReader(r.Header.Get("Content-Encoding"), r.Body)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(in, maxBody+1))
	if err != nil {
		return nil, errorf(codeCannotReadAllData, "read the request body: %v", err)
	}
	if len(body) > maxBody {
		return nil, errorf(codeQueryIsTooLarge, "request body over %d bytes", maxBody)
	}
	if decompress {
		if body, err = decompressFrames(body, maxBody); err != nil {
			return nil, err
		}
	}
	return body, nil
}

// withSettings returns the statement's text with the request's settings
// and the execution time limit in a SETTINGS clause. Only reads take it:
// in DDL a trailing SETTINGS would become the table's.
func (h *Handler) withSettings(st statement, req *request) (string, error) {
	if !st.read {
		if len(req.settings) > 0 {
			return "", errorf(codeNotImplemented, "settings in URL parameters apply to reads only on this endpoint: put them in the statement's own SETTINGS clause")
		}
		return st.text, nil
	}
	settings := req.settings
	if !req.maxExecSetter {
		limit := h.cfg.MaxExecutionTime
		if limit == 0 {
			limit = 5 * time.Minute
		}
		settings = make(map[string]string, len(req.settings)+1)
		for k, v := range req.settings {
			settings[k] = v
		}
		settings["max_execution_time"] = strconv.FormatFloat(limit.Seconds(), 'f', -1, 64)
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	sb.WriteString(st.text)
	sb.WriteString(" SETTINGS ")
	for i, k := range keys {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(k)
		sb.WriteString(" = ")
		sb.WriteString(sink.QuoteString(settings[k]))
	}
	return sb.String(), nil
}

// contentType is the Content-Type ClickHouse sends for an output format.
func contentType(format string) string {
	f := strings.ToLower(format)
	switch {
	case f == "native" || strings.HasPrefix(f, "rowbinary") || strings.HasPrefix(f, "arrow") ||
		f == "parquet" || f == "orc" || f == "avro" || strings.HasPrefix(f, "protobuf") || f == "capnproto" ||
		f == "msgpack" || f == "bson" || f == "bsoneachrow" || f == "rawblob" || f == "npy":
		return "application/octet-stream"
	case strings.HasPrefix(f, "json") || strings.HasPrefix(f, "ndjson"):
		return "application/json; charset=UTF-8"
	case strings.HasPrefix(f, "tabseparated") || strings.HasPrefix(f, "tsv"):
		return "text/tab-separated-values; charset=UTF-8"
	case strings.HasPrefix(f, "csv"):
		return "text/csv; charset=UTF-8"
	case f == "xml":
		return "application/xml; charset=UTF-8"
	}
	return "text/plain; charset=UTF-8"
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
