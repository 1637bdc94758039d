// Package dashboards holds tapline's Grafana dashboards, written for the
// Grafana ClickHouse plugin (grafana-clickhouse-datasource, v4), and their
// provisioning files.
//
// The Go definitions in this package are the single source of the JSON
// files beside them (<uid>.json): `go test ./dashboards -update` rewrites
// the files, and a test fails while a committed file differs from its
// definition. Other tests prove every query: they load the demo's
// generated records of all five formats into the real engine, expand each
// panel's SQL exactly as the plugin does, run it on the engine directly and
// through tapline's HTTP endpoint with clickhouse-go, and require rows, and
// for time series the time column first and ascending. The Overview,
// SOFARPC and g3proxy panels are also checked for values on data sets with
// known counts, error rates and latency ranks (values*_test.go).
//
// Conventions every query follows:
//   - the datasource is the dashboard variable ${datasource} (type
//     grafana-clickhouse-datasource), never a fixed uid;
//   - filters are multi-value variables with "All", applied with
//     $__conditionalAll(column IN (${var:singlequote}), $var), so "All"
//     adds no condition at all;
//   - every query filters on the time column of its table's sort key with
//     $__timeFilter, and reads the materialized-view aggregates
//     (latency_1m, sofarpc_latency_1m, g3proxy_task_1m, django_tasks) where
//     they answer the question; raw tables only for what no aggregate holds
//     (status codes, events, the rows behind a failure);
//   - time buckets of per-minute aggregates are at least a minute:
//     greatest($__interval_s, 60).
package dashboards

// All returns every dashboard, Overview first.
func All() []Dashboard {
	return []Dashboard{overviewDashboard(), g3proxyDashboard(), sofarpcDashboard(), djangoDashboard(), webdebugDashboard(), envoytapDashboard()}
}

// FileName is the file a dashboard's JSON lives in, inside this directory.
func (d Dashboard) FileName() string { return d.UID + ".json" }

// conditional returns the plugin's "no filter when All" condition for a
// column and a variable.
func conditional(column, variable string) string {
	return "$__conditionalAll(" + column + " IN (${" + variable + ":singlequote}), $" + variable + ")"
}

// conditionalNamed is conditional for a raw column whose empty value the
// views name fallback (latency_1m calls a Django service without a name
// 'django', a web debug document without a host 'webdebug'): selecting
// fallback also selects ”. Unlike if(column = ”, ...), the condition
// still uses the table's sort key.
func conditionalNamed(column, variable, fallback string) string {
	list := "${" + variable + ":singlequote}"
	return "$__conditionalAll((" + column + " IN (" + list + ") OR " + column + " = '' AND '" + fallback + "' IN (" + list + ")), $" + variable + ")"
}

// Common column units of table panels.
var (
	latencyUnits = map[string]string{"p50 ms": "ms", "p90 ms": "ms", "p95 ms": "ms", "p99 ms": "ms", "max ms": "ms", "error rate": "percentunit"}
)

// merged returns the unit map of a table with latency columns plus more.
func merged(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}
