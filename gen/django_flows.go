package gen

import (
	"fmt"
	"strings"
)

const (
	djReqLogger  = "django_structlog.middlewares.request"
	djTaskLogger = "django_structlog.celery.receivers"
)

// request queues the lines of one request that starts at t0 (Unix µs), and
// of the Celery tasks it enqueues.
func (g *django) request(t0 int64) {
	r := g.r
	rt := &djRoutes[g.rpick.pick(r)]
	c := djCtx{requestID: g.uuid(), ip: djStr(fmt.Sprintf("10.1.%d.%d", r.IntN(4), 2+r.IntN(250))), eventFirst: r.Float64() < 0.3}
	switch u := r.Float64(); {
	case u < 0.2:
		c.userID = "null"
	case u < 0.3:
		c.userID = g.uuid()
	default:
		c.userID = djItoa(1 + r.IntN(500))
	}
	if r.Float64() < 0.02 {
		c.ip = "null"
	}
	path := rt.path
	if strings.Contains(path, "%d") {
		path = fmt.Sprintf(path, 1+r.IntN(5))
	}
	full := path
	if rt.query && r.Float64() < 0.3 {
		full += fmt.Sprintf("?page=%d", 2+r.IntN(5))
	}
	// A service still on django-structlog < 2.2 logs the request object's
	// repr and no "request" on request_finished.
	legacy := r.Float64() < 0.05
	reqText := rt.method + " " + full
	if legacy {
		reqText = fmt.Sprintf("<WSGIRequest: %s '%s'>", rt.method, full)
	}
	ua := "null"
	if r.Float64() > 0.05 {
		ua = djStr(djAgents[r.IntN(len(djAgents))])
	}
	latUs := djMsToUs(logNormalMs(r, rt.medianMs, 0.5))
	end := t0 + latUs

	start := g.line(t0, &c, "request_started", djReqLogger, "info", djKV{"request", djStr(reqText)}, djKV{"user_agent", ua})
	startBroken := g.maybeBreak(start)
	for i, n := 0, r.IntN(3); i < n; i++ {
		at := t0 + latUs*int64(i+1)/int64(n+2)
		var l *djLine
		if r.IntN(2) == 0 {
			l = g.line(at, &c, fmt.Sprintf(`(0.00%d) SELECT "shop_order"."id", "shop_order"."total" FROM "shop_order" WHERE "shop_order"."user_id" = %d LIMIT 21; args=(%d,); alias=default`, r.IntN(10), 1+r.IntN(500), 1+r.IntN(500)),
				"django.db.backends", "debug", djKV{"filename", `"utils.py"`}, djKV{"lineno", "151"}, djKV{"func_name", `"debug_sql"`})
		} else {
			l = g.line(at, &c, "orders listed", "shop.views", "info", djKV{"count", djItoa(r.IntN(40))})
		}
		g.maybeBreak(l)
	}
	if rt.task != "" && r.Float64() < 0.5 {
		g.task(t0+latUs/2, c, rt.task, "", 0)
	}

	var l *djLine
	isErr := false
	kw := []djKV{{"code", ""}, {"request", djStr(reqText)}}
	if legacy {
		kw = kw[:1]
	}
	switch u := r.Float64(); {
	case u < 0.01:
		l = g.line(end, &c, "request_cancelled", djReqLogger, "warning")
	case u < 0.01+rt.errRate/2:
		kw[0].v = "500"
		l = g.line(end, &c, "request_failed", djReqLogger, "error", append(kw, djKV{"exception", djStr("Traceback (most recent call last):\n  File \"/app/shop/views.py\", line 41, in checkout\n    order.charge()\nshop.payments.GatewayTimeout: gateway did not answer")})...)
		isErr = true
	case u < 0.01+rt.errRate:
		kw[0].v = []string{"500", "502", "503"}[r.IntN(3)]
		l = g.line(end, &c, "request_finished", djReqLogger, "error", kw...)
		isErr = true
	case u < 0.04+rt.errRate:
		kw[0].v = "404"
		l = g.line(end, &c, "request_finished", djReqLogger, "warning", kw...)
	default:
		kw[0].v = djItoa(rt.code)
		l = g.line(end, &c, "request_finished", djReqLogger, "info", kw...)
		if rt.stream {
			g.line(end+50, &c, "streaming_started", djReqLogger, "info")
			if r.Float64() < 0.03 {
				g.line(end+djMsToUs(logNormalMs(r, 800, 0.5)), &c, "streaming_failed", djReqLogger, "error",
					djKV{"exception", djStr("Traceback (most recent call last):\n  File \"/app/shop/export.py\", line 88, in rows\nConnectionResetError: [Errno 104] Connection reset by peer")})
			} else {
				g.line(end+djMsToUs(logNormalMs(r, 800, 0.5)), &c, "streaming_finished", djReqLogger, "info")
			}
		}
	}
	l.sample, l.kind, l.op, l.isErr = true, "request", path, isErr
	l.latencyMs = float64(latUs) / 1000
	if g.maybeBreak(l) || startBroken {
		l.sample = false
	}
}

// task queues the lines of a Celery task enqueued at tEnq by a line with
// context parent (a request, or the parent task when parentID is set): the
// enqueue line, its attempts and outcome, and a child task.
func (g *django) task(tEnq int64, parent djCtx, name, parentID string, depth int) {
	r := g.r
	td := djTasks[name]
	id := g.uuid()
	kw := []djKV{{"child_task_id", id}, {"child_task_name", djStr(name)}, {"routing_key", djStr(td.queue)}}
	if r.Float64() < 0.2 {
		kw = append(kw, djKV{"priority", djItoa(r.IntN(10))})
	}
	g.maybeBreak(g.line(tEnq, &parent, "task_enqueued", djTaskLogger, "info", kw...))

	c := parent
	c.taskID, c.parentTaskID = id, parentID
	if r.Float64() < 0.01 {
		// Expired before a worker took it: revoked, never started.
		g.line(tEnq+60_000_000, &djCtx{requestID: c.requestID, userID: c.userID, ip: c.ip, eventFirst: c.eventFirst}, "task_revoked", djTaskLogger, "warning",
			djKV{"terminated", "false"}, djKV{"signum", "null"}, djKV{"signame", "null"}, djKV{"expired", "true"},
			djKV{"task_id", id}, djKV{"task", djStr(name)})
		return
	}
	tStart := tEnq + djMsToUs(2+logNormalMs(r, 20, 0.8))
	for attempt := 0; ; attempt++ {
		// task_started names the task for the views: never broken.
		g.line(tStart, &c, "task_started", djTaskLogger, "info", djKV{"task", djStr(name)})
		durUs := djMsToUs(logNormalMs(r, td.medianMs, 0.6))
		end := tStart + durUs
		if n := r.IntN(3); n > 0 {
			g.maybeBreak(g.line(tStart+durUs/2, &c, "rendering", "shop.tasks", "info", djKV{"items", djItoa(n)}))
		}
		if depth == 0 && td.child != "" && r.Float64() < 0.5 {
			g.task(tStart+durUs/3, c, td.child, id, depth+1)
		}
		switch u := r.Float64(); {
		case attempt < 2 && u < 0.06:
			g.line(end, &c, "task_retrying", djTaskLogger, "warning", djKV{"reason", djStr("Retry in 5s: ConnectionRefusedError(111, 'Connection refused')")})
			tStart = end + 5_000_000
			continue
		case u < 0.08:
			g.line(end, &djCtx{requestID: c.requestID, userID: c.userID, ip: c.ip, eventFirst: c.eventFirst}, "task_revoked", djTaskLogger, "warning",
				djKV{"terminated", "true"}, djKV{"signum", "15"}, djKV{"signame", `"SIGTERM"`}, djKV{"expired", "false"},
				djKV{"task_id", id}, djKV{"task", djStr(name)})
			return
		case u < 0.08+td.failRate:
			ms := djRoundMs(durUs)
			var l *djLine
			if r.IntN(3) == 0 {
				// An expected exception (Task.throws): INFO, no traceback.
				l = g.line(end, &c, "task_failed", djTaskLogger, "info", djKV{"error", djStr("OrderAlreadyPaid(1812)")}, djKV{"duration_ms", djItoa(ms)})
			} else {
				l = g.line(end, &c, "task_failed", djTaskLogger, "error", djKV{"error", djStr("SMTPServerDisconnected('Connection unexpectedly closed')")},
					djKV{"duration_ms", djItoa(ms)}, djKV{"exception", djStr("Traceback (most recent call last):\n  File \"/app/shop/tasks.py\", line 19, in send_receipt\n    smtp.send(msg)\nsmtplib.SMTPServerDisconnected: Connection unexpectedly closed")})
			}
			l.sample, l.kind, l.op, l.isErr, l.latencyMs = true, "task", name, true, float64(ms)
			g.maybeBreak(l)
		default:
			ms := djRoundMs(durUs)
			l := g.line(end, &c, "task_succeeded", djTaskLogger, "info", djKV{"duration_ms", djItoa(ms)})
			l.sample, l.kind, l.op, l.latencyMs = true, "task", name, float64(ms)
			g.maybeBreak(l)
			g.line(end+200, &c, fmt.Sprintf("Task %s[%s] succeeded in %.6fs: None", name, id[1:len(id)-1], float64(durUs)/1e6), "celery.app.trace", "info")
		}
		return
	}
}
