package demo

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/tapline/tapline/app"
	"github.com/tapline/tapline/sql"
)

// rawCheckQuery recomputes the demo's table from the raw rows.
const rawCheckQuery = "SELECT service, method, side, count() AS requests, round(quantileExact(0.5)(latency_ms), 1) AS p50_ms, round(quantileExact(0.9)(latency_ms), 1) AS p90_ms, round(quantileExact(0.99)(latency_ms), 1) AS p99_ms, round(countIf(is_error) / count(), 4) AS error_rate FROM sofarpc_digest GROUP BY service, method, side ORDER BY service, method, side"

// verify compares the view with the raw table: request counts and error
// rates must be equal. The view's percentiles are t-digest estimates, whose
// error is in rank, not in value (between a 250 ms bulk and 3 s timeouts a
// tiny rank error is a large value error), so each estimate is checked by
// the share of raw rows at or below it: its rank error is how far p lies
// outside [share below, share at or below].
func verify(ctx context.Context, st *app.Stack, w io.Writer) error {
	view, err := st.Target.Query(ctx, sql.Query("sofarpc_by_method"), "TabSeparated", nil)
	if err != nil {
		return err
	}
	raw, err := st.Target.Query(ctx, rawCheckQuery, "TabSeparated", nil)
	if err != nil {
		return err
	}
	vl := strings.Split(strings.TrimSpace(string(view)), "\n")
	rl := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(vl) != len(rl) {
		return fmt.Errorf("view has %d groups, raw table %d", len(vl), len(rl))
	}
	for i := range vl {
		v, r := strings.Split(vl[i], "\t"), strings.Split(rl[i], "\t")
		if v[0] != r[0] || v[1] != r[1] || v[2] != r[2] || v[3] != r[3] || v[7] != r[7] {
			return fmt.Errorf("view and raw table disagree:\n  view %v\n  raw  %v", v, r)
		}
	}
	ranks, err := st.Target.Query(ctx, rankCheckQuery, "TabSeparated", nil)
	if err != nil {
		return err
	}
	worst := 0.0
	for _, line := range strings.Split(strings.TrimSpace(string(ranks)), "\n") {
		f := strings.Split(line, "\t")
		n, _ := strconv.ParseFloat(f[0], 64)
		for k, p := range []float64{0.5, 0.9, 0.99} {
			lo, _ := strconv.ParseFloat(f[1+2*k], 64)
			hi, _ := strconv.ParseFloat(f[2+2*k], 64)
			lo, hi = lo/n, hi/n
			d := 0.0
			if p < lo {
				d = lo - p
			} else if p > hi {
				d = p - hi
			}
			worst = max(worst, d)
		}
	}
	fmt.Fprintf(w, "Checked against the raw table: request counts and error rates equal in all %d groups; every p50/p90/p99 estimate within %.2f percentage points of its exact rank.\n", len(vl), worst*100)
	return nil
}

// rankCheckQuery counts, per group, the raw rows below and at or below the
// view's p50, p90 and p99 estimates.
const rankCheckQuery = `WITH v AS (
    SELECT service, method, side, quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles) AS q
    FROM sofarpc_latency_1m GROUP BY service, method, side)
SELECT count(),
    countIf(d.latency_ms < v.q[1]), countIf(d.latency_ms <= v.q[1]),
    countIf(d.latency_ms < v.q[2]), countIf(d.latency_ms <= v.q[2]),
    countIf(d.latency_ms < v.q[4]), countIf(d.latency_ms <= v.q[4])
FROM sofarpc_digest AS d INNER JOIN v ON d.service = v.service AND d.method = v.method AND d.side = v.side
GROUP BY d.service, d.method, d.side`
