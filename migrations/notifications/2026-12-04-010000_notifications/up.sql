-- Notifications (decision 28). Interviews are replicated from interview.*
-- (newest version wins) so reminders can be re-planned when preferences
-- change; `deliveries` is the schedule: one row per (interview, time before,
-- channel, interview time), claimed by workers with FOR UPDATE SKIP LOCKED;
-- `notifications` is what the user lists (in-app).
CREATE TABLE preferences (
    user_id                 uuid PRIMARY KEY,
    channels                text[] NOT NULL,
    reminder_minutes_before integer[] NOT NULL,
    updated_at              timestamptz NOT NULL
);

CREATE TABLE interviews (
    interview_id uuid PRIMARY KEY,
    owner_id     uuid NOT NULL,
    company      text NOT NULL,
    position     text NOT NULL,
    scheduled_at timestamptz NOT NULL,
    time_zone    text NOT NULL,
    -- Cancelled or deleted: nothing is planned for it.
    active       boolean NOT NULL,
    version      bigint NOT NULL
);
CREATE INDEX interviews_owner ON interviews (owner_id) WHERE active;

CREATE TABLE deliveries (
    id              uuid PRIMARY KEY,
    owner_id        uuid NOT NULL,
    kind            text NOT NULL,
    channel         text NOT NULL,
    interview_id    uuid,
    application_id  uuid,
    minutes_before  integer,
    due_at          timestamptz NOT NULL,
    title           text NOT NULL,
    body            text NOT NULL,
    -- PENDING → SENT, or FAILED after the last retry.
    state           text NOT NULL DEFAULT 'PENDING',
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    sent_at         timestamptz,
    -- Stable across retries and replicas: a reminder is one (interview,
    -- interview time, minutes before, channel); a notice one (event, channel).
    idempotency_key text NOT NULL UNIQUE
);
CREATE INDEX deliveries_due ON deliveries (due_at) WHERE state = 'PENDING';
CREATE INDEX deliveries_interview ON deliveries (interview_id) WHERE state = 'PENDING';
-- Retention: sent and failed rows are pruned after NOTIFICATIONS_RETENTION_DAYS.
CREATE INDEX deliveries_done ON deliveries (due_at) WHERE state <> 'PENDING';

CREATE TABLE notifications (
    id             uuid PRIMARY KEY,
    owner_id       uuid NOT NULL,
    kind           text NOT NULL,
    title          text NOT NULL,
    body           text NOT NULL,
    interview_id   uuid,
    application_id uuid,
    created_at     timestamptz NOT NULL,
    read_at        timestamptz,
    -- The delivery it came from: one notification per IN_APP delivery.
    delivery_id    uuid NOT NULL UNIQUE
);
CREATE INDEX notifications_owner_newest ON notifications (owner_id, created_at DESC, id DESC);
CREATE INDEX notifications_owner_unread ON notifications (owner_id) WHERE read_at IS NULL;
