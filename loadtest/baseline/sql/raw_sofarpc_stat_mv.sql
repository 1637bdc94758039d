-- The engine's own JSON ingestion of SOFARPC stat lines (FORMAT
-- JSONEachRow) into sofarpc_stat, from one side's raw table ({table}, the
-- view is {view}). Mapped: time, side (the raw table's default: tapline takes
-- the side from the subject), the stat.key object's local.app, service and
-- method, count, total.cost.milliseconds, success. Left to defaults:
-- remote_app, load_test, stat_key_extra and extra (unknown keys: tapline
-- keeps them, JSONEachRow skips them), ingested_at.
CREATE MATERIALIZED VIEW IF NOT EXISTS {view} TO sofarpc_stat AS SELECT
    toDateTime64(`time`, 3, 'UTC') AS time,
    side AS side,
    `stat.key`['local.app'] AS local_app,
    `stat.key`['service'] AS service,
    `stat.key`['method'] AS method,
    `count` AS count,
    `total.cost.milliseconds` AS total_cost_ms,
    success IN ('Y', 'true') AS success
FROM {table}

