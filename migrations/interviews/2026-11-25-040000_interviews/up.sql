CREATE TABLE interviews (
    id               uuid PRIMARY KEY,
    owner_id         uuid NOT NULL,
    -- An application of the same owner (checked with the applications subgraph when linked).
    application_id   uuid,
    company          text NOT NULL,
    position         text NOT NULL,
    scheduled_at     timestamptz NOT NULL,
    time_zone        text NOT NULL,
    duration_minutes integer CHECK (duration_minutes BETWEEN 1 AND 1440),
    interview_type   text NOT NULL CHECK (interview_type IN ('PHONE', 'ONSITE', 'ONLINE')),
    details          text,
    cancelled        boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    version          bigint NOT NULL DEFAULT 1
);
-- Soonest first, per owner; ties broken by id.
CREATE INDEX interviews_owner_schedule ON interviews (owner_id, scheduled_at, id);
CREATE INDEX interviews_application ON interviews (application_id) WHERE application_id IS NOT NULL;
