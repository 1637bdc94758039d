package chhttp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tapline/tapline/sink"
	"github.com/tapline/tapline/sink/embedded"
	"github.com/tapline/tapline/sql/sqllex"
)

// A writable endpoint accepts exactly one kind of write: INSERT INTO a
// table of its own database, with an optional column list, an optional
// SETTINGS insert_deduplication_token, and FORMAT <input format>, the data
// in the request body (as clickhouse-go's HTTP batches send it: the
// statement in the query URL parameter, Native blocks in the body, in
// compressed frames with decompress=1). Two walls again: the engine's
// parser classifies the statement (chdb_classify_query_n: one statement,
// MUTATING, writing only the endpoint's database), and the guard checks
// its shape token by token. The data is streamed into the engine as it
// arrives, bounded by Config.MaxInsertBytes after decompression.

// insertReader is the body of an insert whose statement came first in it.
type insertReader struct {
	*bufio.Reader
	io.Closer
}

// splitInsert finds an INSERT in a writable POST: the query URL parameter,
// or the body's first line when there is no such parameter. It returns the
// statement and whether the request is an insert; r.Body is left
// positioned at the data.
func splitInsert(r *http.Request, req *request) (string, bool) {
	if req.query != "" {
		return req.query, isInsert(req.query)
	}
	br := bufio.NewReaderSize(r.Body, 64<<10)
	r.Body = insertReader{br, r.Body}
	head, _ := br.Peek(16)
	if !isInsert(string(head)) {
		return "", false
	}
	line, err := br.ReadSlice('\n')
	if err != nil && err != io.EOF {
		return "", false // a statement line over 64 KiB: not an insert this endpoint takes
	}
	return strings.TrimSpace(string(line)), true
}

// isInsert reports whether a statement's first word is INSERT.
func isInsert(q string) bool {
	q = strings.TrimLeft(q, " \t\r\n(")
	return len(q) >= 6 && strings.EqualFold(q[:6], "INSERT")
}

// serveInsert runs an INSERT ... FORMAT with the request body as data.
func (h *Handler) serveInsert(ctx context.Context, out *output, r *http.Request, req *request, stmt string) error {
	text, err := canonical(ctx, h.read, stmt)
	if err != nil {
		return err
	}
	cat, err := h.catalog(ctx, false)
	if err != nil {
		return err
	}
	ins, err := parseInsert(text, cat.Database)
	if err != nil {
		return err
	}
	if !cat.tables[ins.table] {
		if cat, err = h.catalog(ctx, true); err != nil {
			return err
		}
		if !cat.tables[ins.table] {
			return errorf(codeAccessDenied, "INSERT into %s refused: it is not a table of database %s (a writable endpoint inserts into its own tables only)", sink.QuoteIdent(ins.table), sink.QuoteIdent(cat.Database))
		}
	}
	a, err := h.write.Classify(ctx, text)
	if err != nil {
		return engineError(err, false)
	}
	if a.Statements != 1 || a.Class != embedded.ClassMutating || a.Flags&embedded.FlagWritesOnlyTargetDatabase == 0 {
		return errorf(codeAccessDenied, "INSERT refused by the engine's own classification (%d statements, class %d, flags %b): only INSERT into the endpoint's database", a.Statements, a.Class, a.Flags)
	}
	exec := ins.stmt
	if req.insertToken != "" {
		if ins.settings {
			return errorf(codeBadArguments, "insert_deduplication_token is given both as a URL parameter and in the statement's SETTINGS: give it once")
		}
		exec += " SETTINGS insert_deduplication_token = " + sink.QuoteString(req.insertToken)
	}
	next, closeBody, err := h.insertBody(r, req)
	if err != nil {
		return err
	}
	defer closeBody()
	res, err := h.write.InsertFrom(ctx, exec, ins.format, next)
	if err != nil {
		if ce, ok := err.(*chError); ok {
			return ce
		}
		return engineError(err, false)
	}
	out.w.Header().Set("X-ClickHouse-Query-Id", req.queryID)
	out.w.Header().Set("X-ClickHouse-Summary", fmt.Sprintf(`{"written_rows":"%d"}`, res.RowsWritten))
	out.begin()
	return nil
}

// insertBody returns the chunk source of an insert's data: the body after
// Content-Encoding and, with decompress=1, ClickHouse's frames, bounded by
// Config.MaxInsertBytes.
func (h *Handler) insertBody(r *http.Request, req *request) (func() ([]byte, error), func(), error) {
	in, err := decodeReader(r.Header.Get("Content-Encoding"), r.Body)
	if err != nil {
		return nil, nil, err
	}
	limit := int(h.cfg.MaxInsertBytes)
	if req.decompress {
		fr := newFrameReader(in, limit)
		return fr.next, fr.close, nil
	}
	buf := make([]byte, 1<<20)
	left := limit
	return func() ([]byte, error) {
		n, err := io.ReadFull(in, buf)
		left -= n
		if left < 0 {
			return nil, errorf(codeQueryIsTooLarge, "insert data over %d bytes: split it into smaller inserts", limit)
		}
		if n > 0 {
			return buf[:n], nil
		}
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		if err != nil && err != io.EOF {
			return nil, errorf(codeCannotReadAllData, "read the insert data: %v", err)
		}
		return nil, err
	}, func() {}, nil
}

// insertStatement is a vetted INSERT.
type insertStatement struct {
	stmt     string // the statement without its FORMAT clause
	table    string
	format   string
	settings bool // the statement has a SETTINGS clause
}

// parseInsert checks the canonical text of an INSERT: INSERT INTO table
// [(col, ...)] [SETTINGS insert_deduplication_token = '...'] FORMAT name,
// nothing else.
func parseInsert(text, database string) (insertStatement, error) {
	refuse := func(why string) error {
		return errorf(codeAccessDenied, "this endpoint takes INSERT INTO <table> [(columns)] [SETTINGS insert_deduplication_token = '...'] FORMAT <format> with the data in the body, nothing else: %s", why)
	}
	toks, err := sqllex.Significant(strings.TrimSpace(text))
	if err != nil {
		return insertStatement{}, errorf(codeSyntaxError, "%v", err)
	}
	if len(toks) < 3 || !toks[0].Is("INSERT") || !toks[1].Is("INTO") {
		return insertStatement{}, refuse("not an INSERT INTO")
	}
	i := 2
	if toks[i].Is("TABLE") {
		i++
	}
	if i >= len(toks) || lowerName(toks[i]) == "" || toks[i].Is("FUNCTION") {
		return insertStatement{}, refuse("no table name")
	}
	ins := insertStatement{table: spelled(toks[i])}
	if i+2 < len(toks) && toks[i+1].IsPunct(".") {
		if spelled(toks[i]) != database {
			return insertStatement{}, errorf(codeAccessDenied, "INSERT into database %s refused: this endpoint writes to %s only", spelled(toks[i]), database)
		}
		ins.table = spelled(toks[i+2])
		i += 2
	}
	i++
	if i < len(toks) && toks[i].IsPunct("(") {
		for i++; i < len(toks) && !toks[i].IsPunct(")"); i++ {
			if lowerName(toks[i]) == "" && !toks[i].IsPunct(",") {
				return insertStatement{}, refuse(fmt.Sprintf("%q in the column list", spelled(toks[i])))
			}
		}
		i++
	}
	if i < len(toks) && toks[i].Is("SETTINGS") {
		ins.settings = true
		if err := vetSettings(toks[i+1:], insertSettings); err != nil {
			return insertStatement{}, err
		}
		for i++; i < len(toks) && !toks[i].Is("FORMAT"); i++ {
		}
	}
	if i+2 != len(toks) || !toks[i].Is("FORMAT") {
		return insertStatement{}, refuse("it must end with FORMAT <format> (no VALUES, no SELECT)")
	}
	ins.format = spelled(toks[i+1])
	if !insertFormats[strings.ToLower(ins.format)] {
		return insertStatement{}, errorf(codeAccessDenied, "input format %s is not accepted here (accepted: %s)", ins.format, strings.Join(sortedKeys(insertFormats), ", "))
	}
	ins.stmt = strings.TrimSpace(text[:toks[i].Pos])
	return ins, nil
}
