-- Boundary usage telemetry (SPEC §7): one row per replica, summed and emptied by the
-- collector. window_start is set on insert only (the replica's start of the period).
CREATE TABLE boundary_usage_stats (
    replica_id              text        PRIMARY KEY,
    unique_workspaces_count bigint      NOT NULL DEFAULT 0 CHECK (unique_workspaces_count >= 0),
    unique_users_count      bigint      NOT NULL DEFAULT 0 CHECK (unique_users_count >= 0),
    allowed_requests        bigint      NOT NULL DEFAULT 0 CHECK (allowed_requests >= 0),
    denied_requests         bigint      NOT NULL DEFAULT 0 CHECK (denied_requests >= 0),
    window_start            timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL
);

-- Claims of a telemetry period: the replica that inserts (event_type, period_ending_at)
-- first collects that period; everyone else gets a unique violation and skips.
CREATE TABLE telemetry_locks (
    event_type       text        NOT NULL,
    period_ending_at timestamptz NOT NULL,
    PRIMARY KEY (event_type, period_ending_at)
);

-- What would have been reported: coderlite sends nothing over the network.
CREATE TABLE telemetry_snapshots (
    id               bigserial   PRIMARY KEY,
    event_type       text        NOT NULL,
    period_ending_at timestamptz NOT NULL,
    collected_at     timestamptz NOT NULL,
    replica_id       text        NOT NULL,
    snapshot         jsonb       NOT NULL
);
CREATE INDEX telemetry_snapshots_collected_at_idx ON telemetry_snapshots (collected_at);
