-- Lock rows (SPEC §3.2, §15). On PostgreSQL transaction locks are advisory locks and never
-- rows; leases are committed rows with an expiry, taken under the advisory lock of their id.
CREATE TABLE locks (
    lock_id     bigint      PRIMARY KEY,
    holder      text        NOT NULL,
    kind        text        NOT NULL CHECK (kind IN ('transaction', 'lease')),
    acquired_at timestamptz NOT NULL,
    expires_at  timestamptz NULL,
    CHECK ((kind = 'lease') = (expires_at IS NOT NULL))
);

-- Deployment-wide key/value settings (SPEC §5); upstream's unique constraint on key.
CREATE TABLE site_configs (
    key   text NOT NULL,
    value text NOT NULL,
    CONSTRAINT site_configs_key_key UNIQUE (key)
);
