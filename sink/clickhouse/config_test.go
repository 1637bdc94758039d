package clickhouse_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/sink/clickhouse"
)

func TestParseDSN(t *testing.T) {
	t.Parallel()
	c, err := clickhouse.ParseDSN("clickhouse://ingest:p%40ss@ch1:9000,ch2:9000/logs?dial_timeout=2s&secure=false")
	require.NoError(t, err)
	require.Equal(t, []string{"ch1:9000", "ch2:9000"}, c.Addr)
	require.Equal(t, "logs", c.Database)
	require.Equal(t, "ingest", c.User)
	require.Equal(t, clickhouse.Secret("p@ss"), c.Password)
	require.Equal(t, "clickhouse://ingest@ch1:9000,ch2:9000/logs", c.Redacted())
	require.NoError(t, c.Validate())

	c, err = clickhouse.ParseDSN("http://ingest:pw@127.0.0.1:8124/tapline")
	require.NoError(t, err, "ClickHouse's HTTP interface (a server's 8123, or tapline serve)")
	require.Equal(t, "http://ingest@127.0.0.1:8124/tapline", c.Redacted())
	_, err = clickhouse.ParseDSN("ftp://h/db")
	require.ErrorContains(t, err, "http://host:8123/database")
}

// TestSecretsNeverPrint: the password does not appear in any rendering of
// a Config, in slog output, or in DSN errors.
func TestSecretsNeverPrint(t *testing.T) {
	t.Parallel()
	c, err := clickhouse.ParseDSN("clickhouse://u:TopSecret99@h:9000/db")
	require.NoError(t, err)
	var sb strings.Builder
	slog.New(slog.NewTextHandler(&sb, nil)).Info("cfg", "password", c.Password, "cfg", c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%v", c.Password), c.Redacted(), sb.String()} {
		require.NotContains(t, s, "TopSecret99")
	}
	for _, dsn := range []string{"clickhouse://u:TopSecret99@h:notaport/db", "ftp://u:TopSecret99@h:8123/db", "clickhouse://u:TopSecret99@h:9000/db?dial_timeout=x", "clickhouse://u:TopSecret99@%zz"} {
		_, err := clickhouse.ParseDSN(dsn)
		require.Error(t, err, dsn)
		require.NotContains(t, err.Error(), "TopSecret99", dsn)
	}
}

func TestValidateReportsEverything(t *testing.T) {
	t.Parallel()
	err := clickhouse.Config{InsertAttempts: -1, ConnectAttempts: -1}.Validate()
	require.ErrorContains(t, err, "no server address")
	require.ErrorContains(t, err, "insert attempts -1")
	require.ErrorContains(t, err, "connect attempts -1")
}
