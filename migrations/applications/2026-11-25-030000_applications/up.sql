CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE TABLE applications (
    id              uuid PRIMARY KEY,
    owner_id        uuid NOT NULL,
    company         text NOT NULL,
    position        text NOT NULL,
    location        text,
    salary_min      integer CHECK (salary_min >= 0),
    salary_max      integer CHECK (salary_max >= 0),
    salary_currency text,
    salary_period   text CHECK (salary_period IN ('YEAR', 'MONTH', 'HOUR')),
    job_description text,
    job_url         text,
    status          text NOT NULL CHECK (status IN ('SAVED', 'APPLIED', 'INTERVIEW', 'OFFER', 'REJECTED')),
    applied_at      timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    version         bigint NOT NULL DEFAULT 1,
    -- What `filter.search` matches: company and position, lower-cased, with a
    -- unit separator so that a term never spans the two.
    search_text     text GENERATED ALWAYS AS (lower(company) || E'\x1f' || lower(position)) STORED,
    CHECK (salary_min IS NULL OR salary_max IS NULL OR salary_min <= salary_max)
);

-- One index per list order (ties broken by id), scoped to the owner.
CREATE INDEX applications_owner_newest ON applications (owner_id, created_at DESC, id DESC);
CREATE INDEX applications_owner_updated ON applications (owner_id, updated_at DESC, id DESC);
CREATE INDEX applications_owner_status ON applications (owner_id, status, created_at DESC, id DESC);
-- Partial, case-insensitive search within one owner's rows (btree_gin for the uuid).
CREATE INDEX applications_owner_search ON applications USING gin (owner_id, search_text gin_trgm_ops);

-- Every status an application went through, creation included.
CREATE TABLE status_changes (
    id             bigserial PRIMARY KEY,
    application_id uuid NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    from_status    text,
    to_status      text NOT NULL,
    changed_at     timestamptz NOT NULL,
    note           text
);
CREATE INDEX status_changes_application ON status_changes (application_id, id);
