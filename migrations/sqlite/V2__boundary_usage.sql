-- Boundary usage telemetry (SPEC §7): one row per replica, summed and emptied by the
-- collector. window_start is set on insert only (the replica's start of the period).
CREATE TABLE boundary_usage_stats (
    replica_id              TEXT    PRIMARY KEY NOT NULL,
    unique_workspaces_count INTEGER NOT NULL DEFAULT 0 CHECK (unique_workspaces_count >= 0),
    unique_users_count      INTEGER NOT NULL DEFAULT 0 CHECK (unique_users_count >= 0),
    allowed_requests        INTEGER NOT NULL DEFAULT 0 CHECK (allowed_requests >= 0),
    denied_requests         INTEGER NOT NULL DEFAULT 0 CHECK (denied_requests >= 0),
    window_start            INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
) STRICT;

-- Claims of a telemetry period: the replica that inserts (event_type, period_ending_at)
-- first collects that period; everyone else gets a unique violation and skips.
CREATE TABLE telemetry_locks (
    event_type       TEXT    NOT NULL,
    period_ending_at INTEGER NOT NULL,
    PRIMARY KEY (event_type, period_ending_at)
) STRICT;

-- What would have been reported: coderlite sends nothing over the network.
CREATE TABLE telemetry_snapshots (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    event_type       TEXT    NOT NULL,
    period_ending_at INTEGER NOT NULL,
    collected_at     INTEGER NOT NULL,
    replica_id       TEXT    NOT NULL,
    snapshot         TEXT    NOT NULL CHECK (json_valid(snapshot))
) STRICT;

CREATE INDEX telemetry_snapshots_collected_at_idx ON telemetry_snapshots (collected_at);
