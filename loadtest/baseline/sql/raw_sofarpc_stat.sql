-- The raw JSON keys of SOFARPC stat lines, as JSONEachRow reads them, for one
-- side: {table} is raw_sofarpc_stat_client or _server and {side} its side
-- (tapline takes the side from the subject; the loadtest inserts each
-- subject's lines into its side's table). Null engine: only the view sees
-- the rows.
CREATE TABLE IF NOT EXISTS {table}
(
    `time` String,
    `stat.key` Map(String, String),
    `count` UInt64,
    `total.cost.milliseconds` UInt64,
    success String,
    side String DEFAULT {side}
)
ENGINE = Null
