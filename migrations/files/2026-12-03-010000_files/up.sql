-- Résumés (decision 27). createResumeUpload makes a pending row;
-- attachResume, once it has checked the bytes, makes it the owner's résumé
-- (attached_at) and dooms the previous one (removed_at), as removeResume
-- does. The sweeper deletes the objects and rows of doomed résumés and of
-- uploads never attached: the table holds one attached row per user plus
-- the uploads of the last minutes.
CREATE TABLE files (
    id                uuid PRIMARY KEY,
    owner_id          uuid NOT NULL,
    file_name         text NOT NULL,
    content_type      text NOT NULL,
    size_bytes        bigint NOT NULL CHECK (size_bytes > 0),
    created_at        timestamptz NOT NULL,
    upload_expires_at timestamptz NOT NULL,
    -- Set while the local backend receives the one PUT its URL allows.
    received_at       timestamptz,
    attached_at       timestamptz,
    removed_at        timestamptz
);

-- One résumé per user.
CREATE UNIQUE INDEX files_one_resume_per_owner ON files (owner_id)
    WHERE attached_at IS NOT NULL AND removed_at IS NULL;
-- What the sweeper scans.
CREATE INDEX files_pending_by_expiry ON files (upload_expires_at) WHERE attached_at IS NULL;
CREATE INDEX files_removed ON files (removed_at) WHERE removed_at IS NOT NULL;

-- The key local upload and download URLs are signed with, made on first
-- start so that every replica and every restart agree.
CREATE TABLE url_signing_key (
    id         smallint PRIMARY KEY CHECK (id = 1),
    secret     bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
