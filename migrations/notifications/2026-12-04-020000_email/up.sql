-- Where a user's e-mail reminders go: their address and name from
-- user.registered / user.updated (newest aggregate version wins).
CREATE TABLE recipients (
    user_id   uuid PRIMARY KEY,
    email     text NOT NULL,
    full_name text NOT NULL,
    phone     text,
    version   bigint NOT NULL
);

-- Sending to another server, at most once (decision 28): a sender leases a
-- row (lease_until), records the attempt just before handing it over
-- (attempted_at), and marks it SENT after. A failed attempt waits until
-- next_attempt_at; a row whose attempt was recorded but never marked (the
-- sender died in between) is UNCONFIRMED, never sent twice.
ALTER TABLE deliveries
    ADD COLUMN lease_until     timestamptz,
    ADD COLUMN attempted_at    timestamptz,
    ADD COLUMN next_attempt_at timestamptz;
