-- Transactional outbox: an event row commits with the change it describes.
CREATE TABLE outbox (
    id           uuid PRIMARY KEY,
    seq          bigserial NOT NULL UNIQUE,
    event_type   text NOT NULL,
    envelope     jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;

-- Idempotent consumers: an event id is recorded in the transaction that applies it.
CREATE TABLE processed_events (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
