-- The HTTP API's authentication (SPEC §16): passwords and avatars of users, and API keys as
-- upstream keeps them (the key's id in clear, only a SHA-256 of its secret).

ALTER TABLE users ADD COLUMN hashed_password text NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN avatar_url text NOT NULL DEFAULT '';

CREATE TABLE api_keys (
    id               text        PRIMARY KEY,
    hashed_secret    bytea       NOT NULL,
    user_id          uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    last_used        timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    login_type       text        NOT NULL CHECK (login_type IN ('password', 'github', 'oidc', 'token', 'none')),
    lifetime_seconds bigint      NOT NULL DEFAULT 86400,
    token_name       text        NOT NULL DEFAULT '',
    scope            text        NOT NULL DEFAULT 'all' CHECK (scope IN ('all', 'application_connect'))
);
CREATE INDEX api_keys_user_id_idx ON api_keys (user_id);
-- Upstream's name: a token name is unique per user.
CREATE UNIQUE INDEX idx_api_key_name ON api_keys (user_id, token_name) WHERE login_type = 'token';


-- (SQLite's V10 also makes user changes bump its data generation; PostgreSQL has none.)
