-- Retention keeps raw rows for a time after they arrived (sql/retention.go:
-- TTL on ingested_at, which the record tables have). The tables that views
-- assemble per request, task or connection have no arrival time, so they get
-- one: updated_at is when the request, task or connection last had a row
-- inserted (ClickHouse fills it; the views do not name it), and merges keep
-- the latest, so an entity is kept for the raw retention after its last
-- activity. Not in the tables' files, whose checksums deployed databases
-- recorded: a fresh install gets the columns here too.
ALTER TABLE django_requests
    ADD COLUMN IF NOT EXISTS updated_at SimpleAggregateFunction(max, DateTime('UTC')) DEFAULT now();
ALTER TABLE django_tasks
    ADD COLUMN IF NOT EXISTS updated_at SimpleAggregateFunction(max, DateTime('UTC')) DEFAULT now();
ALTER TABLE envoytap_connection_summary
    ADD COLUMN IF NOT EXISTS updated_at SimpleAggregateFunction(max, DateTime('UTC')) DEFAULT now();
