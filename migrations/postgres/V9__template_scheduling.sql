-- Template details and scheduling, as upstream's `templates` columns (durations here in
-- milliseconds, as the API speaks them; upstream stores nanoseconds). Defaults are those of
-- a template created through upstream's API.
ALTER TABLE templates
    ADD COLUMN description TEXT NOT NULL DEFAULT '',
    ADD COLUMN icon TEXT NOT NULL DEFAULT '',
    ADD COLUMN default_ttl_ms bigint NOT NULL DEFAULT 0 CHECK (default_ttl_ms >= 0),
    ADD COLUMN activity_bump_ms bigint NOT NULL DEFAULT 3600000 CHECK (activity_bump_ms >= 0),
    -- Bitmap of the days autostart may NOT run, Monday = bit 0 .. Sunday = bit 6; 0 = every day.
    ADD COLUMN autostart_block_days_of_week bigint NOT NULL DEFAULT 0
        CHECK (autostart_block_days_of_week BETWEEN 0 AND 127),
    ADD COLUMN autostop_requirement_days_of_week bigint NOT NULL DEFAULT 0
        CHECK (autostop_requirement_days_of_week BETWEEN 0 AND 127),
    ADD COLUMN autostop_requirement_weeks bigint NOT NULL DEFAULT 0 CHECK (autostop_requirement_weeks BETWEEN 0 AND 16),
    ADD COLUMN allow_user_autostart boolean NOT NULL DEFAULT true,
    ADD COLUMN allow_user_autostop boolean NOT NULL DEFAULT true,
    ADD COLUMN allow_user_cancel_workspace_jobs boolean NOT NULL DEFAULT true,
    ADD COLUMN failure_ttl_ms bigint NOT NULL DEFAULT 0 CHECK (failure_ttl_ms >= 0),
    ADD COLUMN time_til_dormant_ms bigint NOT NULL DEFAULT 0 CHECK (time_til_dormant_ms >= 0),
    ADD COLUMN time_til_dormant_autodelete_ms bigint NOT NULL DEFAULT 0 CHECK (time_til_dormant_autodelete_ms >= 0),
    ADD COLUMN require_active_version boolean NOT NULL DEFAULT false;
