-- The template usage rollup (SPEC §8): one row per 30-minute bucket, template and user.
-- Minutes are distinct active minutes (each <= 30).
CREATE TABLE template_usage_stats (
    start_time            timestamptz      NOT NULL,
    end_time              timestamptz      NOT NULL,
    template_id           uuid             NOT NULL,
    user_id               uuid             NOT NULL,
    median_latency_ms     double precision NULL,
    usage_mins            bigint           NOT NULL CHECK (usage_mins BETWEEN 0 AND 30),
    ssh_mins              bigint           NOT NULL CHECK (ssh_mins BETWEEN 0 AND 30),
    sftp_mins             bigint           NOT NULL CHECK (sftp_mins BETWEEN 0 AND 30),
    reconnecting_pty_mins bigint           NOT NULL CHECK (reconnecting_pty_mins BETWEEN 0 AND 30),
    vscode_mins           bigint           NOT NULL CHECK (vscode_mins BETWEEN 0 AND 30),
    jetbrains_mins        bigint           NOT NULL CHECK (jetbrains_mins BETWEEN 0 AND 30),
    -- {app_name: minutes}; NULL when there was no app usage.
    app_usage_mins        jsonb            NULL,
    PRIMARY KEY (start_time, template_id, user_id)
);
CREATE INDEX template_usage_stats_start_time_idx ON template_usage_stats (start_time DESC);
