package app

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSubjectsFlag(t *testing.T) {
	t.Parallel()
	subjects, err := ParseSubjects("sofarpc=rpc.*.digest, sofarpc=rpc.*.stat,g3proxy=proxy.>")
	require.NoError(t, err)
	specs := SourceSpecs([]string{"sofarpc", "g3proxy", "django"}, subjects)
	require.Equal(t, []string{"rpc.*.digest", "rpc.*.stat"}, specs[0].Subjects)
	require.Equal(t, []string{"proxy.>"}, specs[1].Subjects)
	require.Equal(t, []string{"logs.django.>"}, specs[2].Subjects, "formats not named keep the default")
	require.Equal(t, "TAPLINE_SOFARPC", specs[0].Stream)

	require.Equal(t, "sofarpc", FormatForSubject(specs, "rpc.client.digest"))
	require.Equal(t, "g3proxy", FormatForSubject(specs, "proxy.eu.task"))
	require.Equal(t, "", FormatForSubject(specs, "proxy"), "'>' needs at least one token")
	require.Equal(t, "", FormatForSubject(specs, "rpc.client.digest.x"))
	require.Equal(t, "django", FormatForSubject(specs, "logs.django.structlog"))

	_, err = ParseSubjects("sofarpc=a.>,g3proxy=a.b,nope=x,django,webdebug=a..b,envoytap=a.>.b")
	require.Error(t, err)
	for _, want := range []string{`unknown format "nope"`, `"django": want format=subject`, `"a..b" is not a NATS subject`, `"a.>.b" is not a NATS subject`, "a.b (g3proxy) and a.> (sofarpc) overlap"} {
		require.Contains(t, err.Error(), want)
	}
	for a, b := range map[string]string{"a.*": "a.b", "a.b.c": "a.>", "*.x": "y.*", ">": "q"} {
		require.True(t, subjectsOverlap(a, b), "%s %s", a, b)
		require.True(t, subjectsOverlap(b, a), "%s %s", b, a)
	}
	for a, b := range map[string]string{"a.b": "a.c", "a.*": "a.b.c", "a.b.>": "a.b", "x.>": "y.>"} {
		require.False(t, subjectsOverlap(a, b), "%s %s", a, b)
		require.False(t, subjectsOverlap(b, a), "%s %s", b, a)
	}
}
