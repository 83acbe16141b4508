-- What each application currently adds to its owner's numbers; `version`
-- is the aggregate_version of the snapshot it came from (older events are
-- ignored), and a deleted application keeps its row so a late event cannot
-- bring it back.
CREATE TABLE application_facts (
    application_id uuid PRIMARY KEY,
    owner_id       uuid NOT NULL,
    version        bigint NOT NULL,
    deleted        boolean NOT NULL DEFAULT false,
    contribution   jsonb NOT NULL DEFAULT '[]'
);

CREATE TABLE interview_facts (
    interview_id uuid PRIMARY KEY,
    owner_id     uuid NOT NULL,
    version      bigint NOT NULL,
    counted      boolean NOT NULL DEFAULT false
);

-- The per-user read model: one row per counter (a month, a status, a
-- category, a location, a histogram bucket...). Reading a user's analytics
-- reads these rows only, however many applications there are.
CREATE TABLE user_counters (
    owner_id uuid NOT NULL,
    metric   text NOT NULL,
    key      text NOT NULL,
    label    text NOT NULL DEFAULT '',
    count    bigint NOT NULL,
    PRIMARY KEY (owner_id, metric, key)
);
