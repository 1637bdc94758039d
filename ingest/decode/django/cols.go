package django

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/tapline/tapline/schema"
)

// cols holds the typed builders of django_events, bound once per record
// builder so that appending is free of type assertions and lookups.
type cols struct {
	ts                                       *array.TimestampBuilder
	service, level, logger, event, eventName *schema.StringColumn
	requestID, correlationID, userID, ip     *schema.StringColumn
	request, method, path, userAgent         *schema.StringColumn
	taskID, parentTaskID, taskName           *schema.StringColumn
	childTaskID, childTaskName, routingKey   *schema.StringColumn
	reason, errorText, exception, signame    *schema.StringColumn
	isError                                  *array.BooleanBuilder
	terminated, expired                      *array.BooleanBuilder
	code                                     *array.Uint16Builder
	priority, signum                         *array.Int32Builder
	durationMs                               *array.Float64Builder
	extra                                    *array.MapBuilder
	extraK, extraV                           *array.StringBuilder
}

func (c *cols) bind(b *schema.Builder) {
	t := schema.DjangoEvents
	f := func(name string) array.Builder { return b.Field(t.Index(name)) }
	str := func(name string) *schema.StringColumn { return b.Strings(t.Index(name)) }
	c.ts = f("timestamp").(*array.TimestampBuilder)
	c.service, c.level, c.logger = str("service"), str("level"), str("logger")
	c.event, c.eventName = str("event"), str("event_name")
	c.isError = f("is_error").(*array.BooleanBuilder)
	c.requestID, c.correlationID, c.userID, c.ip = str("request_id"), str("correlation_id"), str("user_id"), str("ip")
	c.request, c.method, c.path, c.userAgent = str("request"), str("method"), str("path"), str("user_agent")
	c.code = f("code").(*array.Uint16Builder)
	c.taskID, c.parentTaskID, c.taskName = str("task_id"), str("parent_task_id"), str("task_name")
	c.childTaskID, c.childTaskName, c.routingKey = str("child_task_id"), str("child_task_name"), str("routing_key")
	c.priority = f("priority").(*array.Int32Builder)
	c.durationMs = f("duration_ms").(*array.Float64Builder)
	c.reason, c.errorText, c.exception = str("reason"), str("error"), str("exception")
	c.terminated, c.expired = f("terminated").(*array.BooleanBuilder), f("expired").(*array.BooleanBuilder)
	c.signum = f("signum").(*array.Int32Builder)
	c.signame = str("signame")
	c.extra = f("extra").(*array.MapBuilder)
	c.extraK = c.extra.KeyBuilder().(*array.StringBuilder)
	c.extraV = c.extra.ItemBuilder().(*array.StringBuilder)
}

func (c *cols) append(r *record) {
	c.ts.Append(arrow.Timestamp(r.tsUs))
	c.service.Append(r.service)
	c.level.Append(r.level)
	c.logger.Append(r.logger)
	c.event.Append(r.event)
	c.eventName.AppendString(r.name.String())
	c.isError.Append(r.isError)
	c.requestID.Append(r.requestID)
	c.correlationID.Append(r.correlationID)
	c.userID.Append(r.userID)
	c.ip.Append(r.ip)
	c.request.Append(r.request)
	c.method.Append(r.method)
	c.path.Append(r.path)
	c.userAgent.Append(r.userAgent)
	if r.code.set {
		c.code.Append(uint16(r.code.v))
	} else {
		c.code.AppendNull()
	}
	c.taskID.Append(r.taskID)
	c.parentTaskID.Append(r.parentTaskID)
	c.taskName.Append(r.taskName)
	c.childTaskID.Append(r.childTaskID)
	c.childTaskName.Append(r.childTaskName)
	c.routingKey.Append(r.routingKey)
	appendInt32(c.priority, r.priority)
	if r.durationMs.set {
		c.durationMs.Append(r.durationMs.v)
	} else {
		c.durationMs.AppendNull()
	}
	c.reason.Append(r.reason)
	c.errorText.Append(r.errorText)
	c.exception.Append(r.exception)
	appendBool(c.terminated, r.terminated)
	appendInt32(c.signum, r.signum)
	c.signame.Append(r.signame)
	appendBool(c.expired, r.expired)
	c.extra.Append(true)
	for _, p := range r.extra {
		c.extraK.BinaryBuilder.Append(p.k)
		c.extraV.BinaryBuilder.Append(p.v)
	}
}

func appendInt32(b *array.Int32Builder, v optInt) {
	if v.set {
		b.Append(int32(v.v))
	} else {
		b.AppendNull()
	}
}

func appendBool(b *array.BooleanBuilder, v optBool) {
	if v.set {
		b.Append(v.v)
	} else {
		b.AppendNull()
	}
}
