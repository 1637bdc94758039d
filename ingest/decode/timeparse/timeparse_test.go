package timeparse

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseSOFA(t *testing.T) {
	t.Parallel()
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	for _, tc := range []struct {
		in  string
		loc *time.Location
	}{
		{"2018-05-20 17:03:20.708", nil},
		{"2018-05-20 17:03:20.708", shanghai},
		{"2018-05-18 07:02:19.717", ny},
		{"2024-03-10 03:30:00.000", ny}, // just after the spring-forward gap
		{"2024-11-03 01:30:00.000", ny}, // ambiguous hour: Go picks the first
		{"2000-02-29 23:59:59.999", nil},
		{"1999-12-31 00:00:00", shanghai},
		{"2018-05-20T17:03:20,708", nil},
	} {
		l := NewLocal(tc.loc)
		got, ok := l.ParseSOFA([]byte(tc.in))
		require.True(t, ok, tc.in)
		loc := tc.loc
		if loc == nil {
			loc = time.UTC
		}
		layout := "2006-01-02 15:04:05.000"
		in := tc.in
		if len(in) == 19 {
			layout = "2006-01-02 15:04:05"
		}
		in = in[:10] + " " + in[11:]
		if len(in) == 23 {
			in = in[:19] + "." + in[20:]
		}
		want, err := time.ParseInLocation(layout, in, loc)
		require.NoError(t, err)
		require.Equal(t, want.UnixMilli(), got, tc.in)
	}
	for _, bad := range []string{"", "2018-05-20", "2018-13-20 17:03:20.708", "2018-02-30 17:03:20.708", "2018/05/20 17:03:20.708", "2018-05-20 17:03:20.7x8", "2018-05-20 24:03:20.708"} {
		_, ok := NewLocal(nil).ParseSOFA([]byte(bad))
		require.False(t, ok, bad)
	}
}

func TestRFC3339(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"2024-01-02T03:04:05.123456Z", "2019-04-13T19:39:29.321453Z", "2025-02-14T03:24:42.973767Z",
		"2024-01-02T03:04:05Z", "2024-01-02T03:04:05.1+08:00", "2024-01-02T03:04:05.123456789-05:30",
	} {
		got, ok := RFC3339([]byte(in))
		require.True(t, ok, in)
		want, err := time.Parse(time.RFC3339Nano, in)
		require.NoError(t, err)
		require.Equal(t, want.UnixNano(), got, in)
	}
	got, ok := RFC3339([]byte("2019-04-13T19:39:29.321453"))
	require.True(t, ok)
	require.Equal(t, time.Date(2019, 4, 13, 19, 39, 29, 321453000, time.UTC).UnixNano(), got)
	for _, bad := range []string{"", "2024-01-02", "2024-01-02T03:04:05.Z", "2024-01-02T03:04:05+0800", "2024-01-02T03:04:05Zjunk", "2024-00-02T03:04:05Z"} {
		_, ok := RFC3339([]byte(bad))
		require.False(t, ok, bad)
	}
}

func FuzzRFC3339(f *testing.F) {
	f.Add("2024-01-02T03:04:05.123456Z")
	f.Add("2024-01-02T03:04:05+08:00")
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := RFC3339([]byte(in))
		want, err := time.Parse(time.RFC3339Nano, in)
		// Canonical RFC 3339 (what the writers emit) must be accepted.
		if err == nil && want.Year() >= 1 && want.Format(time.RFC3339Nano) == in && !ok {
			t.Fatalf("rejected %q that time.Parse accepts", in)
		}
		if ok && err == nil && got != want.UnixNano() {
			t.Fatalf("%q: got %d want %d", in, got, want.UnixNano())
		}
	})
}

func BenchmarkParseSOFA(b *testing.B) {
	l := NewLocal(time.UTC)
	in := []byte("2018-05-20 17:03:20.708")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, ok := l.ParseSOFA(in); !ok {
			b.Fatal("parse")
		}
	}
}
