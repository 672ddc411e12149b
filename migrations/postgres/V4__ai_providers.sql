-- AI providers seeded from the environment (SPEC §6). Names stay reserved by soft-deleted
-- rows (unique across all rows); the name rule is checked in Rust.
CREATE TABLE ai_providers (
    id           uuid        PRIMARY KEY,
    type         text        NOT NULL CHECK (type IN ('openai', 'anthropic')),
    name         text        NOT NULL CONSTRAINT ai_providers_name_key UNIQUE,
    display_name text        NOT NULL DEFAULT '',
    enabled      boolean     NOT NULL DEFAULT true,
    deleted      boolean     NOT NULL DEFAULT false,
    base_url     text        NOT NULL,
    -- NULL: no type-specific settings; else {"_type":"bedrock","_version":1,...}.
    settings     jsonb       NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX idx_ai_providers_enabled ON ai_providers (enabled) WHERE NOT deleted;

-- Bearer keys; the runtime uses the oldest first. created_at is strictly increasing per
-- provider, so "oldest first" is the order the keys were configured in.
CREATE TABLE ai_provider_keys (
    id          uuid        PRIMARY KEY,
    provider_id uuid        NOT NULL REFERENCES ai_providers (id) ON DELETE CASCADE,
    api_key     text        NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX idx_ai_provider_keys_provider_id ON ai_provider_keys (provider_id, created_at);

CREATE INDEX audit_logs_resource_idx ON audit_logs (resource_type, resource_id);
