// Package timeparse reads the timestamp shapes that log writers emit,
// without allocating: SOFATracer's zone-less "2006-01-02 15:04:05.000"
// (read in a configured zone) and RFC 3339 / ISO 8601 with a zone
// ("2024-01-02T03:04:05.123456Z", "+08:00"), the shape g3proxy, structlog and
// protobuf's JSON mapping write.
package timeparse

import (
	"time"
)

// Local reads zone-less civil times in one location. It caches the zone
// offset per civil hour, so a run of timestamps costs a few nanoseconds each.
// The zero value reads UTC. A Local is not safe for concurrent use.
type Local struct {
	loc       *time.Location
	cacheHour int64 // civil hours since the epoch of the cached offset, or -1
	cacheOff  int64 // offset in seconds for cacheHour
}

// NewLocal returns a Local for loc (nil means UTC).
func NewLocal(loc *time.Location) *Local {
	return &Local{loc: loc, cacheHour: -1 << 62}
}

// ParseSOFA reads "yyyy-MM-dd HH:mm:ss[.SSS]" (a 'T' separator and ',' before
// the milliseconds are accepted too) and returns Unix milliseconds.
func (l *Local) ParseSOFA(b []byte) (int64, bool) {
	if len(b) != 19 && len(b) != 23 {
		return 0, false
	}
	y, ok1 := digits(b[0:4])
	mo, ok2 := digits(b[5:7])
	d, ok3 := digits(b[8:10])
	h, ok4 := digits(b[11:13])
	mi, ok5 := digits(b[14:16])
	s, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || b[4] != '-' || b[7] != '-' || (b[10] != ' ' && b[10] != 'T') || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	var ms int64
	if len(b) == 23 {
		if b[19] != '.' && b[19] != ',' {
			return 0, false
		}
		v, ok := digits(b[20:23])
		if !ok {
			return 0, false
		}
		ms = v
	}
	if !validCivil(y, mo, d, h, mi, s) {
		return 0, false
	}
	civilHours := DaysFromCivil(y, mo, d)*24 + h
	off := l.offset(civilHours, y, mo, d, h)
	return (civilHours*3600+mi*60+s-off)*1000 + ms, true
}

func (l *Local) offset(civilHours, y, mo, d, h int64) int64 {
	if l.loc == nil || l.loc == time.UTC {
		return 0
	}
	if civilHours != l.cacheHour {
		t := time.Date(int(y), time.Month(mo), int(d), int(h), 0, 0, 0, l.loc)
		_, off := t.Zone()
		l.cacheHour, l.cacheOff = civilHours, int64(off)
	}
	return l.cacheOff
}

// RFC3339 reads "yyyy-MM-ddTHH:mm:ss[.f{1,9}](Z|±hh:mm)" and returns Unix
// nanoseconds. A space is accepted instead of 'T' and a lower-case 'z'; a
// missing zone means UTC (structlog with utc=False writes none, and tapline
// cannot know the writer's zone).
func RFC3339(b []byte) (int64, bool) {
	if len(b) < 19 {
		return 0, false
	}
	y, ok1 := digits(b[0:4])
	mo, ok2 := digits(b[5:7])
	d, ok3 := digits(b[8:10])
	h, ok4 := digits(b[11:13])
	mi, ok5 := digits(b[14:16])
	s, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != ' ' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	if !validCivil(y, mo, d, h, mi, s) && !(s == 60 && validCivil(y, mo, d, h, mi, 59)) {
		return 0, false
	}
	rest := b[19:]
	var ns int64
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		scale := int64(100000000)
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			if i <= 9 {
				ns += int64(rest[i]-'0') * scale
				scale /= 10
			}
			i++
		}
		if i == 1 {
			return 0, false
		}
		rest = rest[i:]
	}
	var off int64
	switch {
	case len(rest) == 0:
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, okh := digits(rest[1:3])
		om, okm := digits(rest[4:6])
		if !okh || !okm || oh > 23 || om > 59 {
			return 0, false
		}
		off = oh*3600 + om*60
		if rest[0] == '-' {
			off = -off
		}
	default:
		return 0, false
	}
	secs := DaysFromCivil(y, mo, d)*86400 + h*3600 + mi*60 + s - off
	return secs*1e9 + ns, true
}

func digits(b []byte) (int64, bool) {
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

func validCivil(y, mo, d, h, mi, s int64) bool {
	if mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59 || y < 1 {
		return false
	}
	return d <= daysIn(y, mo)
}

func daysIn(y, mo int64) int64 {
	switch mo {
	case 2:
		if (y%4 == 0 && y%100 != 0) || y%400 == 0 {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// DaysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's days_from_civil).
func DaysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
