-- Tables partitioned by day whose retention TTL is on the partition's time
-- column (sql/retention.go): a part only holds one day, so retention can drop
-- whole parts instead of rewriting them row by row (cheaper merges). Rows stay
-- at most one day past their TTL. Monthly-partitioned tables keep row-wise
-- TTL: dropping whole parts there would keep rows up to a month too long.
ALTER TABLE django_events MODIFY SETTING ttl_only_drop_parts = 1;
ALTER TABLE envoytap_events MODIFY SETTING ttl_only_drop_parts = 1;
ALTER TABLE g3proxy_task MODIFY SETTING ttl_only_drop_parts = 1;
ALTER TABLE sofarpc_digest MODIFY SETTING ttl_only_drop_parts = 1;
