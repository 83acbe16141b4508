-- Credentials. E-mail is stored normalised (trimmed, lower-case) by the service.
CREATE TABLE accounts (
    id            uuid PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    full_name     text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Rotating refresh tokens, stored as SHA-256 of the opaque token. Every
-- rotation stays in its login's family; presenting a used token revokes the family.
CREATE TABLE refresh_tokens (
    token_hash bytea PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    family_id  uuid NOT NULL,
    issued_at  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- Ed25519 signing keys; exactly one is active. Created on first start so
-- every replica and restart signs with the same key.
CREATE TABLE signing_keys (
    kid             text PRIMARY KEY,
    private_key_der bytea NOT NULL,
    public_key      bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    retired_at      timestamptz
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;

-- Failed logins per e-mail (known or not), for throttling brute force.
CREATE TABLE login_failures (
    id        bigserial PRIMARY KEY,
    email     text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_email_time ON login_failures (email, failed_at);
