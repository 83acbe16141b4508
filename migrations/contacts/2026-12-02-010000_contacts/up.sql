CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE TABLE contacts (
    id           uuid PRIMARY KEY,
    owner_id     uuid NOT NULL,
    name         text NOT NULL,
    position     text,
    company      text,
    -- Lower-cased (kit's e-mail rule), so it matches known_users.email as text.
    email        text,
    phone        text,
    social_links jsonb NOT NULL DEFAULT '[]',
    notes        text,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    version      bigint NOT NULL DEFAULT 1,
    -- What `contacts(search:)` matches: name, company and position,
    -- lower-cased, with a unit separator so that a term never spans two.
    search_text  text GENERATED ALWAYS AS (
        lower(name) || E'\x1f' || lower(coalesce(company, '')) || E'\x1f' || lower(coalesce(position, ''))
    ) STORED
);

-- The list order (newest first, ties broken by id), scoped to the owner.
CREATE INDEX contacts_owner_newest ON contacts (owner_id, created_at DESC, id DESC);
-- Partial, case-insensitive search within one owner's rows (btree_gin for the uuid).
CREATE INDEX contacts_owner_search ON contacts USING gin (owner_id, search_text gin_trgm_ops);

-- users' e-mails, replicated from user.registered and user.updated
-- (decision 26): a contact is linked to the user whose e-mail it has.
-- `version` is the user's aggregate version: an older event never
-- overwrites a newer one.
CREATE TABLE known_users (
    user_id    uuid PRIMARY KEY,
    email      text NOT NULL,
    version    bigint NOT NULL,
    changed_at timestamptz NOT NULL
);
CREATE INDEX known_users_email ON known_users (email);
