-- envoytap_connection_summary has no time column every row carries
-- (connection rows have no events), so retention needs one: updated_at is
-- when the connection last had a row inserted (ClickHouse fills it; the
-- views do not name it), and merges keep the latest. Retention (TTL) keeps a
-- connection for the raw retention after its last activity. Not in
-- tables/envoytap_connection_summary.sql, whose checksum databases recorded:
-- a fresh install gets the column here too.
ALTER TABLE envoytap_connection_summary
    ADD COLUMN IF NOT EXISTS updated_at SimpleAggregateFunction(max, DateTime('UTC')) DEFAULT now();
