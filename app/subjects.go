package app

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tapline/tapline/ingest"
)

// SourceSpecs returns the stream, subjects and consumer of each format:
// ingest.DefaultSource, with the subjects replaced where subjects (from
// ParseSubjects) names the format.
func SourceSpecs(formats []string, subjects map[string][]string) []ingest.SourceSpec {
	specs := make([]ingest.SourceSpec, 0, len(formats))
	for _, f := range formats {
		spec := ingest.DefaultSource(f)
		if subs, ok := subjects[f]; ok {
			spec.Subjects = subs
		}
		specs = append(specs, spec)
	}
	return specs
}

// ParseSubjects reads --subjects ("sofarpc=rpc.>,g3proxy=proxy.task") and
// checks every entry: a known format, a valid NATS subject (wildcards
// allowed), and no subject that overlaps another format's (two streams
// cannot capture one subject). Every problem is reported at once.
func ParseSubjects(v string) (map[string][]string, error) {
	out := map[string][]string{}
	if strings.TrimSpace(v) == "" {
		return out, nil
	}
	known := map[string]bool{}
	for _, n := range Formats() {
		known[n] = true
	}
	var errs []error
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		format, subject, ok := strings.Cut(item, "=")
		format, subject = strings.TrimSpace(format), strings.TrimSpace(subject)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("--subjects %q: want format=subject", item))
		case !known[format]:
			errs = append(errs, fmt.Errorf("--subjects %q: unknown format %q (known: %s)", item, format, strings.Join(Formats(), ", ")))
		case !validSubject(subject):
			errs = append(errs, fmt.Errorf("--subjects %q: %q is not a NATS subject (tokens separated by '.', '*' for one token, '>' last for the rest)", item, subject))
		default:
			out[format] = append(out[format], subject)
		}
	}
	for fa, sa := range out {
		for fb, sb := range out {
			if fa >= fb {
				continue
			}
			for _, x := range sa {
				for _, y := range sb {
					if subjectsOverlap(x, y) {
						errs = append(errs, fmt.Errorf("--subjects: %s (%s) and %s (%s) overlap: one subject can feed only one format", x, fa, y, fb))
					}
				}
			}
		}
	}
	return out, errors.Join(errs...)
}

func validSubject(s string) bool {
	if s == "" || strings.ContainsAny(s, " \t\r\n") {
		return false
	}
	toks := strings.Split(s, ".")
	for i, t := range toks {
		if t == "" || (t == ">" && i != len(toks)-1) || (len(t) > 1 && strings.ContainsAny(t, "*>")) {
			return false
		}
	}
	return true
}

// subjectsOverlap reports whether some subject matches both filters.
func subjectsOverlap(a, b string) bool {
	ta, tb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; ; i++ {
		switch {
		case i < len(ta) && ta[i] == ">":
			return i < len(tb)
		case i < len(tb) && tb[i] == ">":
			return i < len(ta)
		case i == len(ta) || i == len(tb):
			return len(ta) == len(tb)
		case ta[i] != tb[i] && ta[i] != "*" && tb[i] != "*":
			return false
		}
	}
}

// subjectMatches reports whether subject (no wildcards) matches filter.
func subjectMatches(filter, subject string) bool {
	tf, ts := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, t := range tf {
		if t == ">" {
			return len(ts) > i
		}
		if i >= len(ts) || (t != "*" && t != ts[i]) {
			return false
		}
	}
	return len(tf) == len(ts)
}

// FormatForSubject returns the format whose subjects in specs capture
// subject (no wildcards), or "".
func FormatForSubject(specs []ingest.SourceSpec, subject string) string {
	for _, sp := range specs {
		for _, f := range sp.Subjects {
			if subjectMatches(f, subject) {
				return sp.Name
			}
		}
	}
	return ""
}
