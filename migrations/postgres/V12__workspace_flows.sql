-- The client flows of /api/v2: uploaded files (template archives), the log lines of
-- provisioner jobs, the file a template import reads, and a started workspace's deadline.

CREATE TABLE files (
    id         uuid        PRIMARY KEY,
    hash       text        NOT NULL,
    created_at timestamptz NOT NULL,
    created_by uuid        NOT NULL REFERENCES users (id),
    mimetype   text        NOT NULL,
    data       bytea       NOT NULL,
    -- Upstream deduplicates an upload per uploader.
    UNIQUE (hash, created_by)
);

ALTER TABLE provisioner_jobs ADD COLUMN file_id uuid NULL REFERENCES files (id);

CREATE TABLE provisioner_job_logs (
    id         bigserial   PRIMARY KEY,
    job_id     uuid        NOT NULL REFERENCES provisioner_jobs (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    source     text        NOT NULL CHECK (source IN ('provisioner_daemon', 'provisioner')),
    level      text        NOT NULL CHECK (level IN ('trace', 'debug', 'info', 'warn', 'error')),
    stage      text        NOT NULL,
    output     text        NOT NULL
);
CREATE INDEX provisioner_job_logs_job_id_idx ON provisioner_job_logs (job_id, id);

-- When a started workspace stops on its own (job completion + the workspace's TTL), moved by
-- PUT /workspaces/{id}/extend. NULL: no automatic stop.
ALTER TABLE workspace_builds ADD COLUMN deadline timestamptz NULL;
