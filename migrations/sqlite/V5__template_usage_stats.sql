-- The template usage rollup (SPEC §8, reference/platform.md §2.1): one row per 30-minute
-- bucket, template and user. Minutes are distinct active minutes (each <= 30).
CREATE TABLE template_usage_stats (
    start_time            INTEGER NOT NULL,
    end_time              INTEGER NOT NULL,
    template_id           TEXT    NOT NULL,
    user_id               TEXT    NOT NULL,
    median_latency_ms     REAL    NULL,
    usage_mins            INTEGER NOT NULL CHECK (usage_mins BETWEEN 0 AND 30),
    ssh_mins              INTEGER NOT NULL CHECK (ssh_mins BETWEEN 0 AND 30),
    sftp_mins             INTEGER NOT NULL CHECK (sftp_mins BETWEEN 0 AND 30),
    reconnecting_pty_mins INTEGER NOT NULL CHECK (reconnecting_pty_mins BETWEEN 0 AND 30),
    vscode_mins           INTEGER NOT NULL CHECK (vscode_mins BETWEEN 0 AND 30),
    jetbrains_mins        INTEGER NOT NULL CHECK (jetbrains_mins BETWEEN 0 AND 30),
    -- {app_name: minutes} with keys sorted; NULL when there was no app usage.
    app_usage_mins        TEXT    NULL CHECK (app_usage_mins IS NULL OR json_valid(app_usage_mins)),
    PRIMARY KEY (start_time, template_id, user_id)
) STRICT, WITHOUT ROWID;
-- For MAX(start_time) and range reads.
CREATE INDEX template_usage_stats_start_time_idx ON template_usage_stats (start_time DESC);
