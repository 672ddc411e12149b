-- AI providers seeded from the environment (SPEC §6). Names stay reserved by soft-deleted
-- rows (UNIQUE across all rows); the name rule is checked in Rust.
CREATE TABLE ai_providers (
    id           TEXT    PRIMARY KEY NOT NULL,
    type         TEXT    NOT NULL CHECK (type IN ('openai', 'anthropic')),
    name         TEXT    NOT NULL UNIQUE,
    display_name TEXT    NOT NULL DEFAULT '',
    enabled      INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    deleted      INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    base_url     TEXT    NOT NULL,
    -- NULL: no type-specific settings; else {"_type":"bedrock","_version":1,...}.
    settings     TEXT    NULL CHECK (settings IS NULL OR json_valid(settings)),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX idx_ai_providers_enabled ON ai_providers (enabled) WHERE deleted = 0;

-- Bearer keys; the runtime uses the oldest first. created_at is strictly increasing per
-- provider, so "oldest first" is the order the keys were configured in.
CREATE TABLE ai_provider_keys (
    id          TEXT    PRIMARY KEY NOT NULL,
    provider_id TEXT    NOT NULL REFERENCES ai_providers (id) ON DELETE CASCADE,
    api_key     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX idx_ai_provider_keys_provider_id ON ai_provider_keys (provider_id, created_at);

CREATE INDEX audit_logs_resource_idx ON audit_logs (resource_type, resource_id);
