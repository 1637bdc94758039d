package chhttp

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tapline/tapline/sink"
)

// request is what serveQuery read from an HTTP request.
type request struct {
	query        string
	database     string
	format       string
	queryID      string
	clientRev    uint64
	compress     bool
	frameMethod  byte
	zstdLevel    int
	httpCompress bool
	decompress   bool
	params       map[string]string
	maxExecution time.Duration // the client's max_execution_time, 0 for none
	insertToken  string        // a writable INSERT's insert_deduplication_token URL setting
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

// parseRequest reads the URL parameters and headers of r (not its body).
// Settings in URL parameters: max_execution_time only shortens the
// handler's deadline, readonly restates the connection's, and a writable
// endpoint takes insert_deduplication_token for an INSERT; any other
// setting is refused, because the endpoint's connections cannot change
// settings (readonly = 1).
func (h *Handler) parseRequest(r *http.Request, cat *catalog) (*request, error) {
	u := r.URL.Query()
	req := &request{
		query:    u.Get("query"),
		database: firstNonEmpty(u.Get("database"), r.Header.Get("X-ClickHouse-Database")),
		format:   firstNonEmpty(u.Get("default_format"), r.Header.Get("X-ClickHouse-Format"), "TabSeparated"),
		queryID:  u.Get("query_id"),
		params:   map[string]string{},
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
	req.decompress = u.Get("decompress") == "1"
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
		case k == "max_execution_time":
			secs, err := strconv.ParseFloat(v, 64)
			if err != nil || secs < 0 {
				return nil, errorf(codeBadArguments, "max_execution_time %q: want seconds", v)
			}
			req.maxExecution = time.Duration(secs * float64(time.Second))
		case k == "readonly":
			if v != "1" && v != "2" {
				return nil, errorf(codeReadonly, "Cannot modify 'readonly' setting in readonly mode: this endpoint is read-only")
			}
		case k == "insert_deduplication_token" && h.cfg.Writable:
			req.insertToken = v
		default:
			return nil, errorf(codeAccessDenied, "setting %s cannot be set on this endpoint: its connections are read-only and its limits are its own (URL settings taken: %s)", k, strings.Join(sortedKeys(consumedURLSettings), ", "))
		}
	}
	return req, nil
}

var customSetting = regexp.MustCompile(`^custom_[A-Za-z0-9_]+$`)

// readQueryBody appends a POST body (the query's text, or its rest) to
// req.query, decoded and bounded by maxBody.
func (req *request) readQueryBody(r *http.Request) error {
	if r.Method != http.MethodPost {
		return nil
	}
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "multipart/") {
		return errorf(codeNotImplemented, "external tables (multipart bodies) are not supported by this endpoint")
	}
	in, err := decodeReader(r.Header.Get("Content-Encoding"), r.Body)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(in, maxBody+1))
	if err != nil {
		return errorf(codeCannotReadAllData, "read the request body: %v", err)
	}
	if len(body) > maxBody {
		return errorf(codeQueryIsTooLarge, "request body over %d bytes", maxBody)
	}
	if req.decompress {
		if body, err = decompressFrames(body, maxBody); err != nil {
			return err
		}
	}
	if len(body) > 0 {
		if req.query != "" {
			req.query += "\n"
		}
		req.query += string(body)
	}
	return nil
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
