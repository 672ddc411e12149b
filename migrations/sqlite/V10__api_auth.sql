-- The HTTP API's authentication (SPEC §16): passwords and avatars of users, and API keys as
-- upstream keeps them (the key's id in clear, only a SHA-256 of its secret).

ALTER TABLE users ADD COLUMN hashed_password TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN avatar_url TEXT NOT NULL DEFAULT '';

CREATE TABLE api_keys (
    id               TEXT    PRIMARY KEY NOT NULL,
    hashed_secret    BLOB    NOT NULL,
    user_id          TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    last_used        INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    login_type       TEXT    NOT NULL CHECK (login_type IN ('password', 'github', 'oidc', 'token', 'none')),
    lifetime_seconds INTEGER NOT NULL DEFAULT 86400,
    token_name       TEXT    NOT NULL DEFAULT '',
    scope            TEXT    NOT NULL DEFAULT 'all' CHECK (scope IN ('all', 'application_connect'))
) STRICT;
CREATE INDEX api_keys_user_id_idx ON api_keys (user_id);
-- Upstream's name: a token name is unique per user.
CREATE UNIQUE INDEX idx_api_key_name ON api_keys (user_id, token_name) WHERE login_type = 'token';

-- The API's workspace listing is cached against the data generation: renaming a user moves
-- their workspaces in its order.
CREATE TRIGGER users_insert_bumps_prebuilds_generation AFTER INSERT ON users
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER users_update_bumps_prebuilds_generation AFTER UPDATE OF username, deleted ON users
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER users_delete_bumps_prebuilds_generation AFTER DELETE ON users
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
