-- pipeline_batches learns which tapline process committed a batch and
-- whether it adopted the batch from another process (issue 10: several
-- processes on one durable consumer). tables/pipeline_batches.sql has both
-- columns since; rows committed before this alter read '' and false.
ALTER TABLE pipeline_batches
    ADD COLUMN IF NOT EXISTS instance LowCardinality(String),
    ADD COLUMN IF NOT EXISTS adopted Bool;
