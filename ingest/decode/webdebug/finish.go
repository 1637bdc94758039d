package webdebug

// finish completes a parsed document: it flattens the event tree, finds
// the document's request and response, decides what each event means for
// the cross-source view (sql/views/latency_1m_webdebug_mv.sql) and fills the
// derived columns.
//
//   - The document's request is its first "request" event (document order)
//     that is not a legacy query and has a "uri" or "method"; its method, uri,
//     host (from an absolute uri, else its Host header) and route shape are
//     copied to every row as doc_method, doc_host, doc_route.
//   - The document's response is its first "response" event.
//   - Request-level sample (sample_kind "request"), one per document that
//     has a request or a response event: the response event when it has a
//     duration (the docs' server rule: "use duration field for total
//     request time"), else the request event when it has one, else the
//     response, else the request, without a duration: the request is
//     counted (requests, errors, no_latency in latency_1m), never as a 0 ms
//     sample. Both describe the same request, so only one counts. A
//     document with neither (only logs, queries, ...) names no request.
//   - Query samples (sample_kind "query"): every query event, current or
//     legacy, with a duration.
//   - is_error: "success" (or legacy "state") is false, or a response's
//     status is 500 or more. An absent success is not an error.
func (d *Decoder) finish() {
	d.tree.Flatten()
	doc := &d.doc
	for id := range d.tree.Len() {
		e := &d.evs[id]
		switch string(e.typ) {
		case "request":
			if doc.req < 0 && !e.legacyQuery && (e.uri != nil || e.method != nil) {
				doc.req = id
			}
		case "response":
			if doc.resp < 0 {
				doc.resp = id
			}
		}
		if e.success < 0 {
			e.success = e.state
		}
		if e.legacyQuery && !e.hasDuration && e.hasLegacyDuration {
			e.duration, e.hasDuration = e.legacyDuration, true
		}
		e.isError = e.success == 0 || (e.hasStatus && e.status >= 500)
		if e.isError {
			doc.errors++
		}
		if e.isQuery() {
			n := len(d.arena)
			d.arena = appendQueryShape(d.arena, e.query, e.syntax)
			e.shape = d.arena[n:len(d.arena):len(d.arena)]
			if e.hasDuration {
				e.sample = sampleQuery
			}
		}
	}
	if doc.req >= 0 {
		r := &d.evs[doc.req]
		doc.method, doc.uri = r.method, r.uri
		n := len(d.arena)
		if authority, _ := splitURI(r.uri); len(authority) > 0 {
			d.arena = appendHost(d.arena, authority)
		} else if len(r.host) > 0 {
			d.arena = appendHost(d.arena, r.host)
		}
		doc.host = d.arena[n:len(d.arena):len(d.arena)]
		if r.uri != nil {
			n = len(d.arena)
			d.arena = appendRoute(d.arena, r.uri)
			doc.route = d.arena[n:len(d.arena):len(d.arena)]
		}
	}
	switch {
	case doc.resp >= 0 && d.evs[doc.resp].hasDuration:
		doc.sampleID = doc.resp
	case doc.req >= 0 && d.evs[doc.req].hasDuration:
		doc.sampleID = doc.req
	case doc.resp >= 0:
		doc.sampleID = doc.resp
	default:
		doc.sampleID = doc.req
	}
	doc.outcome = doc.sampleID
	if doc.sampleID >= 0 {
		d.evs[doc.sampleID].sample = sampleRequest
	}
	doc.earliest, _ = d.tree.Earliest()
}
