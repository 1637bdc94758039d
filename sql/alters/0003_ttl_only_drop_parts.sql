-- The big record tables are partitioned by day, and live rows of one day
-- arrive on that day: once retention (TTL on ingested_at) has passed for a
-- whole part, ClickHouse drops the part instead of rewriting it row by row
-- (cheap). A part with one row still young stays whole until that row expires:
-- a backfilled part can outlive its oldest rows by the time it took to
-- arrive. Monthly-partitioned tables keep row-wise TTL: dropping only whole
-- parts there would keep rows up to a month too long.
ALTER TABLE django_events MODIFY SETTING ttl_only_drop_parts = 1;
ALTER TABLE envoytap_events MODIFY SETTING ttl_only_drop_parts = 1;
ALTER TABLE g3proxy_task MODIFY SETTING ttl_only_drop_parts = 1;
ALTER TABLE sofarpc_digest MODIFY SETTING ttl_only_drop_parts = 1;
