-- Rows the broker refuses are set aside (failed_at, last_error) instead of
-- blocking the relay; published rows are pruned after a retention period,
-- keeping the newest live row of each aggregate (so rebuilds still see it).
ALTER TABLE outbox
    ADD COLUMN aggregate_id      uuid,
    ADD COLUMN aggregate_version bigint,
    ADD COLUMN attempts          integer NOT NULL DEFAULT 0,
    ADD COLUMN failed_at         timestamptz,
    ADD COLUMN last_error        text;
UPDATE outbox
SET aggregate_id = (envelope ->> 'aggregate_id')::uuid,
    aggregate_version = (envelope ->> 'aggregate_version')::bigint;
ALTER TABLE outbox
    ALTER COLUMN aggregate_id SET NOT NULL,
    ALTER COLUMN aggregate_version SET NOT NULL;

DROP INDEX outbox_unpublished;
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_aggregate ON outbox (aggregate_id, aggregate_version);
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
