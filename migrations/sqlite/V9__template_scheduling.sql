-- Template details and scheduling, as upstream's `templates` columns (durations here in
-- milliseconds, as the API speaks them; upstream stores nanoseconds). They feed what a claim
-- sets on a workspace (default TTL, the days autostart may run) and the API's Template.
-- Defaults are those of a template created through upstream's API.
ALTER TABLE templates ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE templates ADD COLUMN icon TEXT NOT NULL DEFAULT '';
ALTER TABLE templates ADD COLUMN default_ttl_ms INTEGER NOT NULL DEFAULT 0 CHECK (default_ttl_ms >= 0);
ALTER TABLE templates ADD COLUMN activity_bump_ms INTEGER NOT NULL DEFAULT 3600000 CHECK (activity_bump_ms >= 0);
-- Bitmap of the days autostart may NOT run, Monday = bit 0 .. Sunday = bit 6; 0 = every day.
ALTER TABLE templates ADD COLUMN autostart_block_days_of_week INTEGER NOT NULL DEFAULT 0
    CHECK (autostart_block_days_of_week BETWEEN 0 AND 127);
-- Bitmap of the days a stop is required, Monday = bit 0 .. Sunday = bit 6.
ALTER TABLE templates ADD COLUMN autostop_requirement_days_of_week INTEGER NOT NULL DEFAULT 0
    CHECK (autostop_requirement_days_of_week BETWEEN 0 AND 127);
ALTER TABLE templates ADD COLUMN autostop_requirement_weeks INTEGER NOT NULL DEFAULT 0
    CHECK (autostop_requirement_weeks BETWEEN 0 AND 16);
ALTER TABLE templates ADD COLUMN allow_user_autostart INTEGER NOT NULL DEFAULT 1 CHECK (allow_user_autostart IN (0, 1));
ALTER TABLE templates ADD COLUMN allow_user_autostop INTEGER NOT NULL DEFAULT 1 CHECK (allow_user_autostop IN (0, 1));
ALTER TABLE templates ADD COLUMN allow_user_cancel_workspace_jobs INTEGER NOT NULL DEFAULT 1
    CHECK (allow_user_cancel_workspace_jobs IN (0, 1));
ALTER TABLE templates ADD COLUMN failure_ttl_ms INTEGER NOT NULL DEFAULT 0 CHECK (failure_ttl_ms >= 0);
ALTER TABLE templates ADD COLUMN time_til_dormant_ms INTEGER NOT NULL DEFAULT 0 CHECK (time_til_dormant_ms >= 0);
ALTER TABLE templates ADD COLUMN time_til_dormant_autodelete_ms INTEGER NOT NULL DEFAULT 0
    CHECK (time_til_dormant_autodelete_ms >= 0);
ALTER TABLE templates ADD COLUMN require_active_version INTEGER NOT NULL DEFAULT 0 CHECK (require_active_version IN (0, 1));
