CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Public profiles. Created from auth's user.registered event (or, for
-- read-your-writes, from auth's internal account lookup, whichever comes first).
CREATE TABLE profiles (
    id           uuid PRIMARY KEY,
    email        text NOT NULL,
    full_name    text NOT NULL,
    phone        text,
    location     text,
    headline     text,
    skills       text[] NOT NULL DEFAULT '{}',
    social_links jsonb NOT NULL DEFAULT '[]',
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    version      bigint NOT NULL DEFAULT 1
);
-- Case-insensitive partial name search (ILIKE '%term%').
CREATE INDEX profiles_full_name_trgm ON profiles USING gin (lower(full_name) gin_trgm_ops);
CREATE INDEX profiles_name_order ON profiles (lower(full_name), id);

CREATE TABLE saved_profiles (
    owner_id   uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    profile_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    saved_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner_id, profile_id)
);
