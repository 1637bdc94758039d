package django

import (
	"math"
	"strconv"
	"time"
	"unsafe"
)

// zone converts civil times read as if they were UTC into UTC instants for a
// location, caching the offset per civil hour so that a run of timestamps
// costs a comparison each. The zero value (no location) means UTC.
type zone struct {
	loc  *time.Location
	hour int64 // civil hours since the epoch of the cached offset
	off  int64 // the offset of that hour in seconds east of UTC
}

// toUTC returns the instant of the civil time ns (nanoseconds since the
// epoch, read as UTC) in z's location. In a repeated hour (DST ends) the
// first instant is chosen, as time.Date does.
func (z *zone) toUTC(ns int64) int64 {
	if z.loc == nil {
		return ns
	}
	h := floorDiv(ns, 3600e9)
	if h != z.hour {
		c := time.Unix(h*3600, 0).UTC()
		_, off := time.Date(c.Year(), c.Month(), c.Day(), c.Hour(), 0, 0, 0, z.loc).Zone()
		z.hour, z.off = h, int64(off)
	}
	return ns - z.off*1e9
}

// parseFloat parses a finite decimal number without allocating.
func parseFloat(b []byte) (float64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}
