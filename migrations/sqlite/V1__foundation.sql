-- Lock rows (SPEC §3.2). Transaction locks live only inside the write transaction that took
-- them (deleted before COMMIT); leases are committed rows with an expiry.
CREATE TABLE locks (
    lock_id     INTEGER PRIMARY KEY,
    holder      TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('transaction', 'lease')),
    acquired_at INTEGER NOT NULL,
    expires_at  INTEGER NULL,
    CHECK ((kind = 'lease') = (expires_at IS NOT NULL))
) STRICT;

-- Deployment-wide key/value settings (SPEC §5).
CREATE TABLE site_configs (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;
