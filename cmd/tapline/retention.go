package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tapline/tapline/sql"
)

// retentionFlags registers --retention-raw, --retention-aggregates and
// --retention-batches on fs into r, with sql.DefaultRetention as defaults.
func retentionFlags(fs *flag.FlagSet, r *sql.Retention) {
	*r = sql.DefaultRetention()
	fs.Var(retentionValue{&r.Raw}, "retention-raw", "keep decoded records (raw tables) this long after they arrived, through ClickHouse TTL: a Go `duration` (720h) or days (30d); 0 keeps them forever")
	fs.Var(retentionValue{&r.Aggregates}, "retention-aggregates", "keep the per-minute aggregates (*_1m) this `duration` after their minute; 0 keeps them forever")
	fs.Var(retentionValue{&r.Batches}, "retention-batches", "keep pipeline_batches rows this `duration` after their commit; 0 keeps them forever")
}

// retentionValue is a retention duration flag: a Go duration or a whole
// number of days ("30d"), not negative, whole seconds.
type retentionValue struct{ d *time.Duration }

func (v retentionValue) String() string {
	if v.d == nil {
		return ""
	}
	if *v.d > 0 && *v.d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(*v.d/(24*time.Hour)), 10) + "d"
	}
	return v.d.String()
}

func (v retentionValue) Set(s string) error {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseUint(n, 10, 16)
		if err != nil {
			return fmt.Errorf("%q is not a whole number of days (30d) or a duration (720h)", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return fmt.Errorf("%q is not a whole number of days (30d) or a duration (720h)", s)
		}
	}
	switch {
	case d < 0:
		return errors.New("must not be negative: give 0 to keep rows forever")
	case d%time.Second != 0:
		return fmt.Errorf("%v is not whole seconds", d)
	}
	*v.d = d
	return nil
}
