-- unaccent, pg_trgm and fuzzystrmatch are trusted extensions: a database
-- owner may create them without superuser rights.
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS fuzzystrmatch;
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- What both sides of a search see: lower case, accents folded, anything but
-- letters and digits a word break. IMMUTABLE (unaccent itself is only
-- STABLE, because its dictionary could change) so that index and query agree.
CREATE FUNCTION search_normalize(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT btrim(regexp_replace(lower(public.unaccent('public.unaccent'::regdictionary, $1)), '[^[:alnum:]]+', ' ', 'g')) $$;

-- One row per searchable entity; only what finding and ranking need (the
-- weighted words), never the entity's fields: the owners serve those.
CREATE TABLE documents (
    kind       text NOT NULL,
    id         uuid NOT NULL,
    -- The only user it is shown to; the nil UUID for public documents (user
    -- profiles), so that one index answers "mine or public".
    owner_id   uuid NOT NULL,
    -- The aggregate version of the event it came from: older events never overwrite.
    version    bigint NOT NULL,
    -- A tombstone: the entity was deleted (kept so a late older event cannot
    -- bring it back; pruned after SEARCH_RETENTION_DAYS).
    deleted_at timestamptz,
    words      tsvector NOT NULL,
    indexed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, id)
);

-- Words within an owner (btree_gin for the uuid): a heavy user's search
-- reads only the postings of their own and public documents.
CREATE INDEX documents_owner_words ON documents USING gin (owner_id, words) WHERE deleted_at IS NULL;
CREATE INDEX documents_tombstones ON documents (deleted_at) WHERE deleted_at IS NOT NULL;

-- Every indexed word of 4 to 64 letters (a typed word of 5 may be one edit
-- from a word of 4), once: typo tolerance looks up the
-- known words near a query word here (trigram index), then searches for them.
CREATE TABLE lexicon (
    word text PRIMARY KEY
);
CREATE INDEX lexicon_trigrams ON lexicon USING gin (word gin_trgm_ops);
