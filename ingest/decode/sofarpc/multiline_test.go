package sofarpc

import (
	"os"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/internal/decodetest"
	"github.com/tapline/tapline/schema"
)

// rawNewlineSQL is the SQL text of sofa-tracer's DataSourceUtilTest
// (testGetSqlEscaped, PR #411): before that fix the datasource plugin wrote
// it into datasource-client-digest.log as is, raw newline and CRLF included.
const rawNewlineSQL = "  select app1\n" + ",app2\r\n" + " from table where          " + " id = a;"

// field returns a digest or stat field that is a typed column when the
// schema has one, and otherwise the value kept in extra (or stat_key_extra).
func field(t *testing.T, row map[string]any, name string) any {
	t.Helper()
	if v, ok := row[name]; ok {
		return v
	}
	for _, m := range []string{"extra", "stat_key_extra"} {
		if kv, ok := row[m].(map[string]string); ok {
			if v, ok := kv[name]; ok {
				return v
			}
		}
	}
	return nil
}

// TestDatasourceDigestWithRawNewlines decodes SOFATracer datasource records
// whose SQL holds raw line breaks (testdata/datasource-raw-newline-sql.log:
// the docs' digest and stat examples with that SQL, then the docs' digest
// as published): each record is whole, field for field, SQL included, and
// the record after them is untouched.
func TestDatasourceDigestWithRawNewlines(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/datasource-raw-newline-sql.log")
	require.NoError(t, err)
	res := decodetest.Decode(t, newDecoder(), memory.NewGoAllocator(), decodetest.Input{Payload: b, Subject: "logs.sofarpc.client.digest"})
	defer res.Release()
	require.Empty(t, res.Output.Rejects)
	require.Equal(t, 3, res.Output.Records)
	require.Equal(t, 2, res.Rows(0))
	require.Equal(t, 1, res.Rows(1))
	const layout = "2006-01-02 15:04:05.000"
	for i, sql := range []string{rawNewlineSQL, "CREATE TABLE TEST(ID INT PRIMARY KEY%2C NAME VARCHAR(255));"} {
		row := decodetest.Row(t, schema.SofarpcDigest, res.Records[0], i, layout)
		require.Equal(t, "2018-09-28 01:11:56.715", row["timestamp"])
		require.Equal(t, "1e1bcab91538068316462100111113", row["trace_id"])
		require.Equal(t, "0.1.2", row["span_id"])
		require.Equal(t, "SOFATracerDataSource", row["local_app"])
		require.Equal(t, "success", row["result_code"])
		require.Equal(t, sql, field(t, row, "sql"))
		require.Equal(t, "http-nio-8080-exec-1", row["thread_name"])
	}
	st := decodetest.Row(t, schema.SofarpcStat, res.Records[1], 0, layout)
	require.Equal(t, "2018-09-28 01:12:43.647", st["time"])
	require.Equal(t, "SOFATracerDataSource", st["local_app"])
	require.Equal(t, uint64(1), st["count"])
	require.Equal(t, uint64(228), st["total_cost_ms"])
	require.Equal(t, rawNewlineSQL, field(t, st, "sql"))
}
