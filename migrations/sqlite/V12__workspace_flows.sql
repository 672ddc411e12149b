-- The client flows of /api/v2: uploaded files (template archives), the log lines of
-- provisioner jobs, the file a template import reads, and a started workspace's deadline.

CREATE TABLE files (
    id         TEXT    PRIMARY KEY NOT NULL,
    hash       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL REFERENCES users (id),
    mimetype   TEXT    NOT NULL,
    data       BLOB    NOT NULL,
    -- Upstream deduplicates an upload per uploader.
    UNIQUE (hash, created_by)
) STRICT;

ALTER TABLE provisioner_jobs ADD COLUMN file_id TEXT NULL REFERENCES files (id);

CREATE TABLE provisioner_job_logs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id     TEXT    NOT NULL REFERENCES provisioner_jobs (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    source     TEXT    NOT NULL CHECK (source IN ('provisioner_daemon', 'provisioner')),
    level      TEXT    NOT NULL CHECK (level IN ('trace', 'debug', 'info', 'warn', 'error')),
    stage      TEXT    NOT NULL,
    output     TEXT    NOT NULL
) STRICT;
CREATE INDEX provisioner_job_logs_job_id_idx ON provisioner_job_logs (job_id, id);

-- When a started workspace stops on its own (job completion + the workspace's TTL), moved by
-- PUT /workspaces/{id}/extend. NULL: no automatic stop.
ALTER TABLE workspace_builds ADD COLUMN deadline INTEGER NULL;
