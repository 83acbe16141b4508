DROP INDEX outbox_published;
DROP INDEX outbox_aggregate;
DROP INDEX outbox_pending;
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
ALTER TABLE outbox
    DROP COLUMN last_error,
    DROP COLUMN failed_at,
    DROP COLUMN attempts,
    DROP COLUMN aggregate_version,
    DROP COLUMN aggregate_id;
