package chhttp

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/internal/embeddedtest"
	"github.com/tapline/tapline/sink"
)

func TestMain(m *testing.M) { embeddedtest.Main(m) }

// endpoint serves a handler with cfg over a fresh database of the shared
// engine.
func endpoint(t *testing.T, cfg Config) (*httptest.Server, sink.Target) {
	t.Helper()
	target := embeddedtest.Target(t, 2)
	h, err := NewHandler(cfg, embeddedtest.Engine(t), target.Pool().Database())
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, target
}

func hostPort(srv *httptest.Server) string { return strings.TrimPrefix(srv.URL, "http://") }

// openHTTP connects clickhouse-go to srv over its HTTP protocol.
func openHTTP(t *testing.T, srv *httptest.Server, opts clickhouse.Options) clickhouse.Conn {
	t.Helper()
	opts.Addr = []string{hostPort(srv)}
	opts.Protocol = clickhouse.HTTP
	conn, err := clickhouse.Open(&opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// typesQuery returns one column of (nearly) every type the engine has that
// clickhouse-go reads, with NULLs, empty arrays and several rows.
const typesQuery = `SELECT
    toUInt8(number) AS u8, toInt16(-number) AS i16, toUInt32(number) AS u32, toInt64(number) AS i64,
    toUInt128(number) AS u128, toInt256(-number) AS i256, toFloat32(number) / 4 AS f32, number / 8 AS f64,
    toDecimal32(number, 2) AS d32, toDecimal128(number, 5) AS d128, toString(number) AS s,
    toFixedString(toString(number % 10), 2) AS fs, toDate('2026-01-01') + number AS d, toDate32('1969-01-01') AS d32d,
    toDateTime('2026-01-01 00:00:00', 'UTC') + number AS dt, toDateTime64('2026-01-01 00:00:00.123', 3, 'UTC') AS dt64,
    toUUID('61f0c404-5cb3-11e7-907b-a6006ad3dba0') AS uuid, toIPv4('10.0.0.1') AS ip4, toIPv6('::1') AS ip6,
    CAST(if(number % 2 = 0, 'a', 'b'), 'Enum8(\'a\' = 1, \'b\' = 2)') AS e8, number % 2 = 0 AS b,
    if(number % 2 = 0, NULL, toString(number)) AS ns, NULL AS nothing, range(number) AS arr,
    [toLowCardinality(toString(number))] AS alc, toLowCardinality(toString(number % 3)) AS lc,
    toLowCardinality(if(number % 2 = 0, NULL, toString(number))) AS lcn, map('k', number, 'l', 1) AS m,
    tuple(number, toString(number)) AS t, CAST((1, 'x'), 'Tuple(a UInt8, b String)') AS nt,
    [NULL, 1.5, toFloat64(number)] AS an, map(toLowCardinality('x'), [number]) AS mla, toIntervalSecond(number) AS iv,
    (1.5, 2.5)::Point AS pt, [[(0., 0.), (1., 1.)]]::Polygon AS poly
FROM numbers(5)`

// TestClickHouseGoTypes reads every type through the endpoint with
// clickhouse-go's HTTP protocol, with each compression it offers, and
// compares the values with the engine's own JSON of the same query.
func TestClickHouseGoTypes(t *testing.T) {
	ctx := context.Background()
	srv, target := endpoint(t, Config{Addr: "127.0.0.1:0"})
	want, err := target.Query(ctx, typesQuery, "JSONCompactEachRow", nil)
	require.NoError(t, err)
	wantRows := strings.Split(strings.TrimSpace(string(want)), "\n")
	for _, method := range []clickhouse.CompressionMethod{clickhouse.CompressionNone, clickhouse.CompressionLZ4, clickhouse.CompressionZSTD, clickhouse.CompressionGZIP, clickhouse.CompressionDeflate, clickhouse.CompressionBrotli} {
		t.Run(method.String(), func(t *testing.T) {
			conn := openHTTP(t, srv, clickhouse.Options{Compression: &clickhouse.Compression{Method: method}})
			rows, err := conn.Query(ctx, typesQuery)
			require.NoError(t, err)
			defer rows.Close()
			types := rows.ColumnTypes()
			require.Len(t, types, 35)
			n := 0
			for rows.Next() {
				dest := make([]any, len(types))
				for i, ct := range types {
					dest[i] = reflect.New(ct.ScanType()).Interface()
				}
				require.NoError(t, rows.Scan(dest...))
				// Spot checks against the engine's JSON of the same row.
				require.Contains(t, wantRows[n], `"`+*dest[10].(*string)+`"`)
				require.Equal(t, uint64(n), uint64(*dest[0].(*uint8)))
				require.Equal(t, int64(-n), (*dest[5].(**big.Int)).Int64(), "Int256")
				require.Equal(t, time.Date(2026, 1, 1, 0, 0, n, 0, time.UTC), dest[14].(*time.Time).UTC())
				if n%2 == 0 {
					require.Nil(t, *dest[21].(**string))
				} else {
					require.Equal(t, strconv.Itoa(n), **dest[21].(**string))
				}
				require.Len(t, *dest[23].(*[]uint64), n)
				require.Equal(t, map[string]uint64{"k": uint64(n), "l": 1}, *dest[27].(*map[string]uint64))
				n++
			}
			require.NoError(t, rows.Err())
			require.Equal(t, len(wantRows), n)
		})
	}
}

// TestClickHouseGoBlocksParamsSettingsErrors covers results of many Native
// blocks, query parameters, settings (as clickhouse-go sends them: URL
// parameters), an empty result, the handshake and ping, and typed errors
// with the codes and statuses a ClickHouse server gives.
func TestClickHouseGoBlocksParamsSettingsErrors(t *testing.T) {
	ctx := context.Background()
	srv, _ := endpoint(t, Config{Addr: "127.0.0.1:0"})
	conn := openHTTP(t, srv, clickhouse.Options{Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4}})
	require.NoError(t, conn.Ping(ctx))
	v, err := conn.ServerVersion()
	require.NoError(t, err)
	require.Equal(t, uint64(26), v.Version.Major, "the engine's version, from the handshake query")

	var count, sum uint64
	require.NoError(t, conn.QueryRow(clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_execution_time": 30})),
		"SELECT count(), sum(number) FROM (SELECT number FROM numbers(200000))").Scan(&count, &sum))
	require.Equal(t, uint64(200000), count)
	rows, err := conn.Query(ctx, "SELECT number, toString(number) FROM numbers(200000)")
	require.NoError(t, err)
	n := 0
	for rows.Next() {
		var num uint64
		var s string
		require.NoError(t, rows.Scan(&num, &s))
		require.Equal(t, uint64(n), num)
		n++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, 200000, n, "several Native blocks, streamed")

	var x string
	var y uint64
	pctx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"x": "it's", "n": "41"}))
	require.NoError(t, conn.QueryRow(pctx, "SELECT {x:String}, {n:UInt64} + 1").Scan(&x, &y))
	require.Equal(t, "it's", x)
	require.Equal(t, uint64(42), y)

	var threads, limit, readonly string
	require.NoError(t, conn.QueryRow(ctx, "SELECT toString(getSetting('max_threads')), toString(getSetting('max_execution_time')), toString(getSetting('readonly'))").Scan(&threads, &limit, &readonly))
	require.Equal(t, []string{"1", "60", "1"}, []string{threads, limit, readonly}, "the endpoint's own limits, on a read-only connection")
	sctx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_threads": 3}))
	err = conn.QueryRow(sctx, "SELECT 1").Scan(new(any))
	var sex *clickhouse.Exception
	require.True(t, errors.As(err, &sex), "%v", err)
	require.Equal(t, int32(497), sex.Code, "a setting the endpoint does not take")

	rows, err = conn.Query(ctx, "SELECT number FROM numbers(10) WHERE number > 100")
	require.NoError(t, err)
	require.False(t, rows.Next())
	require.NoError(t, rows.Err())

	for _, c := range []struct {
		query  string
		code   int32
		status int
	}{
		{"SELECT * FROM no_such_table", 60, http.StatusNotFound},
		{"SELEC 1", 62, http.StatusBadRequest},
		{"SELECT * FROM file('/etc/hostname', 'LineAsString')", 497, http.StatusForbidden},
		{"SELECT * FROM system.disks", 497, http.StatusForbidden},
		{"INSERT INTO t SELECT 1", 164, http.StatusInternalServerError}, // READONLY: ClickHouse's server answers 500 too
	} {
		err := conn.QueryRow(ctx, c.query).Scan(new(any))
		var ex *clickhouse.Exception
		require.True(t, errors.As(err, &ex), "%s: %v", c.query, err)
		require.Equal(t, c.code, ex.Code, "%s: %v", c.query, err)
		var he *clickhouse.HTTPError
		require.True(t, errors.As(err, &he), "%s: %v", c.query, err)
		require.Equal(t, c.status, he.StatusCode, c.query)
	}
}

// TestDatabaseSQL runs through database/sql, which is how the Grafana
// plugin uses clickhouse-go (clickhouse.OpenDB, gzip over HTTP), with the
// plugin's credentials setup: a user the endpoint checks.
func TestDatabaseSQL(t *testing.T) {
	ctx := context.Background()
	srv, _ := endpoint(t, Config{Addr: "127.0.0.1:0", User: "grafana", Password: "s3cret"})
	open := func(user, pass string) *sql.DB {
		db := clickhouse.OpenDB(&clickhouse.Options{
			Addr: []string{hostPort(srv)}, Protocol: clickhouse.HTTP, Auth: clickhouse.Auth{Username: user, Password: pass},
			Compression: &clickhouse.Compression{Method: clickhouse.CompressionGZIP},
		})
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	db := open("grafana", "s3cret")
	require.NoError(t, db.PingContext(ctx))
	var version string
	require.NoError(t, db.QueryRowContext(ctx, "SELECT version()").Scan(&version))
	require.True(t, strings.HasPrefix(version, "26."), version)

	err := open("grafana", "wrong").PingContext(ctx)
	var ex *clickhouse.Exception
	require.True(t, errors.As(err, &ex), "%v", err)
	require.Equal(t, int32(516), ex.Code)
}

// TestNativeUpgradeLayout checks the bytes upgradeNative adds on a block
// written by hand: BlockInfo before the block, and a zero after each type
// from revision 54454 on.
func TestNativeUpgradeLayout(t *testing.T) {
	t.Parallel()
	// 2 columns, 1 row: x UInt8 = 7, s String = "hi".
	in := []byte{2, 1, 1, 'x', 5, 'U', 'I', 'n', 't', '8', 7, 1, 's', 6, 'S', 't', 'r', 'i', 'n', 'g', 2, 'h', 'i'}
	out, err := upgradeNative(nil, in, 54460)
	require.NoError(t, err)
	want := append(append([]byte{}, blockInfo...), 2, 1, 1, 'x', 5, 'U', 'I', 'n', 't', '8', 0, 7, 1, 's', 6, 'S', 't', 'r', 'i', 'n', 'g', 0, 2, 'h', 'i')
	require.Equal(t, want, out)
	out, err = upgradeNative(nil, in, 54400)
	require.NoError(t, err)
	require.Equal(t, append(append([]byte{}, blockInfo...), in...), out, "before custom serialization: BlockInfo only")
	out, err = upgradeNative(nil, in, 0)
	require.NoError(t, err)
	require.Equal(t, in, out)
	_, err = upgradeNative(nil, in[:len(in)-1], 54460)
	require.Error(t, err, "a short column is an error, not a truncated answer")
	_, err = upgradeNative(nil, []byte{1, 1, 1, 'v', 7, 'D', 'y', 'n', 'a', 'm', 'i', 'c', 0}, 54460)
	require.ErrorContains(t, err, "Dynamic")
}

// TestCompressFrames round-trips ClickHouse's compressed frames and checks
// that a corrupted frame fails its checksum.
func TestCompressFrames(t *testing.T) {
	t.Parallel()
	data := []byte(strings.Repeat("tapline compresses this text; ", 100_000)) // 3 MB: several frames
	for _, m := range []byte{methodLZ4, methodZSTD, methodNone} {
		framed, err := compressFrames(nil, data, m, 0)
		require.NoError(t, err)
		if m != methodNone {
			require.Less(t, len(framed), len(data)/10)
		}
		back, err := decompressFrames(framed, len(data))
		require.NoError(t, err)
		require.Equal(t, data, back)
		_, err = decompressFrames(framed, len(data)-1)
		require.Error(t, err, "over the limit")
		framed[20]++
		_, err = decompressFrames(framed, len(data))
		require.Error(t, err)
	}
	random := make([]byte, 5000)
	for i := range random {
		random[i] = byte(i*7919 + i*i)
	}
	framed, err := compressFrames(nil, random, methodLZ4, 0)
	require.NoError(t, err)
	back, err := decompressFrames(framed, maxBody)
	require.NoError(t, err)
	require.Equal(t, random, back)

	// A header claiming a huge compressed size for a few raw bytes is
	// refused before anything is allocated for it.
	bogus := make([]byte, frameChecksum+frameHeader)
	bogus[frameChecksum] = methodLZ4
	binary.LittleEndian.PutUint32(bogus[frameChecksum+1:], 200<<20)
	binary.LittleEndian.PutUint32(bogus[frameChecksum+5:], 10)
	_, err = decompressFrames(bogus, maxBody)
	require.ErrorContains(t, err, "larger than any compression")
}

// TestConfigValidate reports every problem at once.
func TestConfigValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, Config{Addr: "127.0.0.1:8124"}.Validate())
	require.NoError(t, Config{Addr: "[::1]:8124"}.Validate())
	require.NoError(t, Config{Addr: "0.0.0.0:8124", User: "u", Password: "p"}.Validate())
	err := Config{Addr: "0.0.0.0:8124", Password: "p", MaxExecutionTime: -time.Second}.Validate()
	require.ErrorContains(t, err, "--http-user")
	require.ErrorContains(t, err, "without --http-user")
	require.ErrorContains(t, err, "max execution time")
	require.ErrorContains(t, Config{Addr: "nonsense"}.Validate(), "host:port")
	require.Equal(t, "[redacted]", Secret("p").String())
	require.Equal(t, "[redacted]", fmt.Sprintf("%v %#v", Secret("p"), Secret("p"))[:10])
}

// TestCompressedRequestBodies sends the query in ClickHouse's compressed
// frames (decompress=1) and with Content-Encoding, as clients may.
func TestCompressedRequestBodies(t *testing.T) {
	srv, _ := endpoint(t, Config{Addr: "127.0.0.1:0"})
	framed, err := compressFrames(nil, []byte("SELECT 40 + 2"), methodZSTD, 0)
	require.NoError(t, err)
	resp, err := http.Post(srv.URL+"/?decompress=1", "application/octet-stream", bytes.NewReader(framed))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "42\n", string(body))

	for _, enc := range []string{"gzip", "deflate", "br", "zstd"} {
		var buf bytes.Buffer
		w, err := encoder(enc, &buf)
		require.NoError(t, err)
		_, err = w.Write([]byte("SELECT 'encoded'"))
		require.NoError(t, err)
		require.NoError(t, w.Close())
		b := buf.Bytes()
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/", bytes.NewReader(b))
		require.NoError(t, err)
		req.Header.Set("Content-Encoding", enc)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, "encoded\n", string(body), enc)
	}
}
