package webdebug

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/tapline/tapline/schema"
)

// cols holds the typed builders of both tables, bound once per set of
// record builders so that appending is free of type assertions.
type cols struct {
	// webdebug_events
	time                            *array.TimestampBuilder
	docID, position, parentPosition *schema.StringColumn
	version                         *array.Uint16Builder
	depth                           *array.Uint8Builder
	docOrder, timeOrder, children   *array.Uint32Builder
	timeInherited, isError          *array.BooleanBuilder
	typ, sampleKind                 *schema.StringColumn
	duration                        *array.Float64Builder
	success                         *array.BooleanBuilder
	importance                      *array.Uint8Builder
	tags                            listCol
	calledFrom, definedIn           locCols
	payload, target, shape          *schema.StringColumn
	docMethod, docHost, docRoute    *schema.StringColumn
	extra                           mapCol
	// webdebug_documents
	dTime                        *array.TimestampBuilder
	dID                          *schema.StringColumn
	dVersion                     *array.Uint16Builder
	dEvents, dErrors             *array.Uint32Builder
	dMaxDepth                    *array.Uint8Builder
	dSorted, dIsError            *array.BooleanBuilder
	dMethod, dHost, dRoute, dURI *schema.StringColumn
	dDuration                    *array.Float64Builder
	dExtra                       mapCol
}

// locCols are the four columns of a code location.
type locCols struct {
	file                   *schema.StringColumn
	line, posStart, posEnd *array.Uint32Builder
}

// listCol is an Array(String) builder with its value builder.
type listCol struct {
	l *array.ListBuilder
	v *array.StringBuilder
}

// mapCol is a Map(String, String) builder with its key and item builders.
type mapCol struct {
	m    *array.MapBuilder
	k, v *array.StringBuilder
}

func (c *cols) bind(events, docs *schema.Builder) {
	t := schema.WebdebugEvents
	f := func(name string) array.Builder { return events.Field(t.Index(name)) }
	str := func(name string) *schema.StringColumn { return events.Strings(t.Index(name)) }
	u32 := func(name string) *array.Uint32Builder { return f(name).(*array.Uint32Builder) }
	boolean := func(name string) *array.BooleanBuilder { return f(name).(*array.BooleanBuilder) }
	loc := func(prefix string) locCols {
		return locCols{file: str(prefix + "_file"), line: u32(prefix + "_line"), posStart: u32(prefix + "_position_start"), posEnd: u32(prefix + "_position_end")}
	}
	c.time = f("time").(*array.TimestampBuilder)
	c.docID, c.position, c.parentPosition = str("doc_id"), str("position"), str("parent_position")
	c.version = f("version").(*array.Uint16Builder)
	c.depth = f("depth").(*array.Uint8Builder)
	c.docOrder, c.timeOrder, c.children = u32("doc_order"), u32("time_order"), u32("children")
	c.timeInherited, c.isError, c.success = boolean("time_inherited"), boolean("is_error"), boolean("success")
	c.typ, c.sampleKind = str("type"), str("sample_kind")
	c.duration = f("duration_ms").(*array.Float64Builder)
	c.importance = f("importance").(*array.Uint8Builder)
	c.tags = bindList(f("tags"))
	c.calledFrom, c.definedIn = loc("called_from"), loc("defined_in")
	c.payload, c.target, c.shape = str("payload"), str("query_target"), str("query_shape")
	c.docMethod, c.docHost, c.docRoute = str("doc_method"), str("doc_host"), str("doc_route")
	c.extra = bindMap(f("extra"))

	s := schema.WebdebugDocuments
	g := func(name string) array.Builder { return docs.Field(s.Index(name)) }
	gstr := func(name string) *schema.StringColumn { return docs.Strings(s.Index(name)) }
	c.dTime = g("time").(*array.TimestampBuilder)
	c.dID = gstr("doc_id")
	c.dVersion = g("version").(*array.Uint16Builder)
	c.dEvents, c.dErrors = g("events").(*array.Uint32Builder), g("errors").(*array.Uint32Builder)
	c.dMaxDepth = g("max_depth").(*array.Uint8Builder)
	c.dSorted, c.dIsError = g("sorted").(*array.BooleanBuilder), g("is_error").(*array.BooleanBuilder)
	c.dMethod, c.dHost, c.dRoute, c.dURI = gstr("doc_method"), gstr("doc_host"), gstr("doc_route"), gstr("doc_uri")
	c.dDuration = g("duration_ms").(*array.Float64Builder)
	c.dExtra = bindMap(g("extra"))
}

func bindList(b array.Builder) listCol {
	l := b.(*array.ListBuilder)
	return listCol{l: l, v: l.ValueBuilder().(*array.StringBuilder)}
}

func (c listCol) append(vals [][]byte) {
	c.l.Append(true)
	for _, v := range vals {
		c.v.BinaryBuilder.Append(v)
	}
}

func bindMap(b array.Builder) mapCol {
	m := b.(*array.MapBuilder)
	return mapCol{m: m, k: m.KeyBuilder().(*array.StringBuilder), v: m.ItemBuilder().(*array.StringBuilder)}
}

func (c mapCol) append(pairs []kv) {
	c.m.Append(true)
	for _, p := range pairs {
		c.k.BinaryBuilder.Append(p.k)
		c.v.BinaryBuilder.Append(p.v)
	}
}

func (l locCols) append(v *location) {
	l.file.Append(v.file)
	appendOpt32(l.line, v.line)
	appendOpt32(l.posStart, v.posStart)
	appendOpt32(l.posEnd, v.posEnd)
}

func appendOpt32(b *array.Uint32Builder, v opt32) {
	if v.set {
		b.Append(v.v)
	} else {
		b.AppendNull()
	}
}

func appendBool(b *array.BooleanBuilder, v int8) {
	if v < 0 {
		b.AppendNull()
	} else {
		b.Append(v == 1)
	}
}

// appendDocument appends the document's row and one row per event, in
// document order.
func (c *cols) appendDocument(d *Decoder) {
	doc := &d.doc
	id := doc.docID()
	version := uint16(doc.version)
	for i := range d.tree.Len() {
		e := &d.evs[i]
		n := d.tree.Node(i)
		c.time.Append(arrow.Timestamp(n.Time))
		c.docID.Append(id)
		c.version.Append(version)
		c.position.Append(d.tree.Path(i))
		c.parentPosition.Append(d.tree.ParentPath(i))
		c.depth.Append(uint8(n.Depth))
		c.docOrder.Append(uint32(n.DocOrder))
		c.timeOrder.Append(uint32(n.TimeOrder))
		c.children.Append(uint32(n.Children))
		c.timeInherited.Append(n.TimeInherited)
		c.typ.Append(e.typ)
		if e.hasDuration {
			c.duration.Append(e.duration)
		} else {
			c.duration.AppendNull()
		}
		appendBool(c.success, e.success)
		c.isError.Append(e.isError)
		c.sampleKind.AppendString(e.sample)
		if e.hasImport {
			c.importance.Append(e.importance)
		} else {
			c.importance.AppendNull()
		}
		c.tags.append(e.tags)
		c.calledFrom.append(&e.calledFrom)
		c.definedIn.append(&e.definedIn)
		c.payload.Append(e.payload)
		c.target.Append(e.target)
		c.shape.Append(e.shape)
		c.docMethod.Append(doc.method)
		c.docHost.Append(doc.host)
		c.docRoute.Append(doc.route)
		c.extra.append(e.extra)
	}

	c.dTime.Append(arrow.Timestamp(doc.earliest))
	c.dID.Append(id)
	c.dVersion.Append(version)
	c.dEvents.Append(uint32(d.tree.Len()))
	c.dMaxDepth.Append(uint8(d.tree.Deepest()))
	c.dSorted.Append(d.tree.Sorted())
	c.dErrors.Append(uint32(doc.errors))
	c.dMethod.Append(doc.method)
	c.dHost.Append(doc.host)
	c.dRoute.Append(doc.route)
	c.dURI.Append(doc.uri)
	if doc.sampleID >= 0 && d.evs[doc.sampleID].hasDuration {
		c.dDuration.Append(d.evs[doc.sampleID].duration)
	} else {
		c.dDuration.AppendNull()
	}
	c.dIsError.Append(doc.outcome >= 0 && d.evs[doc.outcome].isError)
	c.dExtra.append(doc.extra)
}
