-- Core data model (SPEC §4, §9 data model, reference/prebuilds.md §1, platform.md §2.2, §5).
-- UUIDs are lowercase TEXT, timestamps INTEGER microseconds (UTC), booleans INTEGER 0/1.

-- ---------------------------------------------------------------------------------------
-- Identity
-- ---------------------------------------------------------------------------------------

CREATE TABLE organizations (
    id           TEXT    PRIMARY KEY NOT NULL,
    name         TEXT    NOT NULL,
    display_name TEXT    NOT NULL DEFAULT '',
    description  TEXT    NOT NULL DEFAULT '',
    is_default   INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX idx_organization_name ON organizations (name);
CREATE UNIQUE INDEX organizations_single_default ON organizations (is_default) WHERE is_default = 1;

CREATE TABLE users (
    id           TEXT    PRIMARY KEY NOT NULL,
    email        TEXT    NOT NULL COLLATE NOCASE,
    username     TEXT    NOT NULL COLLATE NOCASE,
    name         TEXT    NOT NULL DEFAULT '',
    status       TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'dormant')),
    login_type   TEXT    NOT NULL DEFAULT 'password'
                         CHECK (login_type IN ('password', 'github', 'oidc', 'token', 'none')),
    rbac_roles   TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(rbac_roles)),
    is_system    INTEGER NOT NULL DEFAULT 0 CHECK (is_system IN (0, 1)),
    deleted      INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL DEFAULT 0
) STRICT;
-- Deleted users free their email and username, as upstream.
CREATE UNIQUE INDEX idx_users_email ON users (email) WHERE deleted = 0;
CREATE UNIQUE INDEX idx_users_username ON users (username) WHERE deleted = 0;
CREATE INDEX users_is_system_idx ON users (is_system);

CREATE TABLE organization_members (
    organization_id TEXT    NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    roles           TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(roles)),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (organization_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX organization_members_user_id_idx ON organization_members (user_id);

CREATE TABLE groups (
    id              TEXT    PRIMARY KEY NOT NULL,
    name            TEXT    NOT NULL,
    display_name    TEXT    NOT NULL DEFAULT '',
    organization_id TEXT    NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    avatar_url      TEXT    NOT NULL DEFAULT '',
    quota_allowance INTEGER NOT NULL DEFAULT 0,
    UNIQUE (organization_id, name)
) STRICT;

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX group_members_user_id_idx ON group_members (user_id);

-- Every organization has an "Everyone" group whose ID is the organization's.
CREATE TRIGGER organizations_everyone_group AFTER INSERT ON organizations
BEGIN
    INSERT INTO groups (id, name, display_name, organization_id, quota_allowance)
    VALUES (NEW.id, 'Everyone', '', NEW.id, 0);
END;

-- Explicit group members, plus every organization member in the organization's Everyone
-- group; deleted users excluded.
CREATE VIEW group_members_expanded AS
WITH all_members AS (
    SELECT user_id, group_id FROM group_members
    UNION
    SELECT user_id, organization_id AS group_id FROM organization_members
)
SELECT
    u.id         AS user_id,
    u.email      AS user_email,
    u.username   AS user_username,
    u.name       AS user_name,
    u.status     AS user_status,
    u.is_system  AS user_is_system,
    g.organization_id,
    g.name       AS group_name,
    g.id         AS group_id
FROM all_members m
JOIN users u ON u.id = m.user_id AND u.deleted = 0
JOIN groups g ON g.id = m.group_id;

-- The default organization and the prebuilds system user (SPEC §4).
INSERT INTO organizations (id, name, display_name, description, is_default, created_at, updated_at)
VALUES (
    lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-'
          || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
    'coder', 'Coder', 'Builtin default organization.', 1,
    CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER),
    CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)
);

INSERT INTO users (id, email, username, name, status, login_type, rbac_roles, is_system, created_at, updated_at)
VALUES (
    'c42fdf75-3097-471c-8c33-fb52454d81c0', 'prebuilds@system', 'prebuilds', 'Prebuilds Owner',
    'active', 'none', '[]', 1,
    CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER),
    CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)
);

INSERT INTO organization_members (organization_id, user_id, roles, created_at, updated_at)
SELECT id, 'c42fdf75-3097-471c-8c33-fb52454d81c0', '[]', created_at, created_at
FROM organizations WHERE is_default = 1;

-- ---------------------------------------------------------------------------------------
-- Provisioner jobs, templates, versions, presets
-- ---------------------------------------------------------------------------------------

CREATE TABLE provisioner_jobs (
    id              TEXT    PRIMARY KEY NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    started_at      INTEGER NULL,
    completed_at    INTEGER NULL,
    canceled_at     INTEGER NULL,
    error           TEXT    NULL,
    worker_id       TEXT    NULL,
    initiator_id    TEXT    NOT NULL REFERENCES users (id),
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    type            TEXT    NOT NULL
                            CHECK (type IN ('template_version_import', 'workspace_build', 'template_version_dry_run')),
    input           TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(input)),
    -- Derived as upstream's generated column (reference/prebuilds.md §1.3).
    job_status      TEXT    GENERATED ALWAYS AS (
        CASE
            WHEN completed_at IS NOT NULL THEN
                CASE
                    WHEN COALESCE(error, '') <> '' THEN 'failed'
                    WHEN canceled_at IS NOT NULL THEN 'canceled'
                    ELSE 'succeeded'
                END
            WHEN canceled_at IS NOT NULL THEN 'canceling'
            WHEN started_at IS NULL THEN 'pending'
            ELSE 'running'
        END
    ) VIRTUAL
) STRICT;
-- The provisioner's "oldest pending job" acquisition.
CREATE INDEX provisioner_jobs_pending_idx ON provisioner_jobs (created_at)
    WHERE started_at IS NULL AND canceled_at IS NULL AND completed_at IS NULL;

CREATE TABLE templates (
    id                TEXT    PRIMARY KEY NOT NULL,
    organization_id   TEXT    NOT NULL REFERENCES organizations (id),
    name              TEXT    NOT NULL,
    display_name      TEXT    NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    created_by        TEXT    NULL REFERENCES users (id),
    deleted           INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    -- '' means not deprecated; otherwise the deprecation message.
    deprecated        TEXT    NOT NULL DEFAULT '',
    -- Deferred: a template and its first version are inserted in one transaction.
    active_version_id TEXT    NOT NULL REFERENCES template_versions (id) DEFERRABLE INITIALLY DEFERRED
) STRICT;
CREATE UNIQUE INDEX templates_organization_id_name_idx ON templates (organization_id, name) WHERE deleted = 0;

CREATE TABLE template_versions (
    id              TEXT    PRIMARY KEY NOT NULL,
    template_id     TEXT    NULL REFERENCES templates (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    name            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    created_by      TEXT    NULL REFERENCES users (id),
    job_id          TEXT    NOT NULL REFERENCES provisioner_jobs (id),
    -- Echo provisioner: builds of this version fail (fixtures use it for backoff and limits).
    fail_builds     INTEGER NOT NULL DEFAULT 0 CHECK (fail_builds IN (0, 1))
) STRICT;
CREATE INDEX template_versions_template_id_idx ON template_versions (template_id);
CREATE UNIQUE INDEX template_versions_template_id_name_idx ON template_versions (template_id, name);

CREATE TABLE template_version_parameters (
    template_version_id TEXT    NOT NULL REFERENCES template_versions (id) ON DELETE CASCADE,
    name                TEXT    NOT NULL,
    required            INTEGER NOT NULL DEFAULT 0 CHECK (required IN (0, 1)),
    default_value       TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (template_version_id, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE template_version_presets (
    id                    TEXT    PRIMARY KEY NOT NULL,
    template_version_id   TEXT    NOT NULL REFERENCES template_versions (id) ON DELETE CASCADE,
    name                  TEXT    NOT NULL,
    created_at            INTEGER NOT NULL,
    -- NULL: this preset wants no prebuilds.
    desired_instances     INTEGER NULL CHECK (desired_instances >= 0),
    invalidate_after_secs INTEGER NULL CHECK (invalidate_after_secs >= 0),
    scheduling_timezone   TEXT    NOT NULL DEFAULT '',
    prebuild_status       TEXT    NOT NULL DEFAULT 'healthy'
                                  CHECK (prebuild_status IN ('healthy', 'hard_limited', 'validation_failed')),
    last_invalidated_at   INTEGER NULL,
    is_default            INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    UNIQUE (template_version_id, name)
) STRICT;
CREATE INDEX template_version_presets_prebuilds_idx ON template_version_presets (template_version_id)
    WHERE desired_instances IS NOT NULL;

CREATE TABLE template_version_preset_parameters (
    id                         TEXT PRIMARY KEY NOT NULL,
    template_version_preset_id TEXT NOT NULL REFERENCES template_version_presets (id) ON DELETE CASCADE,
    name                       TEXT NOT NULL,
    value                      TEXT NOT NULL,
    UNIQUE (template_version_preset_id, name)
) STRICT;

CREATE TABLE template_version_preset_prebuild_schedules (
    id                TEXT    PRIMARY KEY NOT NULL,
    preset_id         TEXT    NOT NULL REFERENCES template_version_presets (id) ON DELETE CASCADE,
    cron_expression   TEXT    NOT NULL,
    desired_instances INTEGER NOT NULL CHECK (desired_instances >= 0)
) STRICT;
CREATE INDEX template_version_preset_prebuild_schedules_preset_id_idx
    ON template_version_preset_prebuild_schedules (preset_id);

-- ---------------------------------------------------------------------------------------
-- Workspaces, builds, resources, agents
-- ---------------------------------------------------------------------------------------

CREATE TABLE workspaces (
    id                 TEXT    PRIMARY KEY NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    owner_id           TEXT    NOT NULL REFERENCES users (id),
    organization_id    TEXT    NOT NULL REFERENCES organizations (id),
    template_id        TEXT    NOT NULL REFERENCES templates (id),
    name               TEXT    NOT NULL,
    deleted            INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    last_used_at       INTEGER NOT NULL DEFAULT 0,
    automatic_updates  TEXT    NOT NULL DEFAULT 'never' CHECK (automatic_updates IN ('never', 'always')),
    autostart_schedule TEXT    NULL,
    -- Milliseconds.
    ttl_ms             INTEGER NULL,
    next_start_at      INTEGER NULL,
    dormant_at         INTEGER NULL,
    deleting_at        INTEGER NULL
) STRICT;
CREATE UNIQUE INDEX workspaces_owner_id_lower_idx ON workspaces (owner_id, lower(name)) WHERE deleted = 0;
CREATE INDEX workspaces_template_id_idx ON workspaces (template_id) WHERE deleted = 0;
CREATE INDEX workspaces_organization_id_idx ON workspaces (organization_id);

CREATE TABLE workspace_builds (
    id                         TEXT    PRIMARY KEY NOT NULL,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL,
    workspace_id               TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    template_version_id        TEXT    NOT NULL REFERENCES template_versions (id),
    build_number               INTEGER NOT NULL CHECK (build_number >= 1),
    transition                 TEXT    NOT NULL CHECK (transition IN ('start', 'stop', 'delete')),
    initiator_id               TEXT    NOT NULL REFERENCES users (id),
    job_id                     TEXT    NOT NULL UNIQUE REFERENCES provisioner_jobs (id),
    reason                     TEXT    NOT NULL DEFAULT 'initiator',
    template_version_preset_id TEXT    NULL REFERENCES template_version_presets (id) ON DELETE SET NULL,
    UNIQUE (workspace_id, build_number)
) STRICT;
CREATE INDEX workspace_builds_template_version_preset_id_idx ON workspace_builds (template_version_preset_id);
CREATE INDEX workspace_builds_initiator_id_idx ON workspace_builds (initiator_id);

CREATE TABLE workspace_build_parameters (
    workspace_build_id TEXT NOT NULL REFERENCES workspace_builds (id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    value              TEXT NOT NULL,
    PRIMARY KEY (workspace_build_id, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE workspace_resources (
    id         TEXT    PRIMARY KEY NOT NULL,
    created_at INTEGER NOT NULL,
    job_id     TEXT    NOT NULL REFERENCES provisioner_jobs (id) ON DELETE CASCADE,
    transition TEXT    NOT NULL CHECK (transition IN ('start', 'stop', 'delete')),
    type       TEXT    NOT NULL DEFAULT 'echo_resource',
    name       TEXT    NOT NULL DEFAULT 'dev'
) STRICT;
CREATE INDEX workspace_resources_job_id_idx ON workspace_resources (job_id);

CREATE TABLE workspace_agents (
    id              TEXT    PRIMARY KEY NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    resource_id     TEXT    NOT NULL REFERENCES workspace_resources (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL DEFAULT 'main',
    lifecycle_state TEXT    NOT NULL DEFAULT 'created' CHECK (lifecycle_state IN (
        'created', 'starting', 'start_timeout', 'start_error', 'ready',
        'shutting_down', 'shutdown_timeout', 'shutdown_error', 'off')),
    ready_at        INTEGER NULL,
    deleted         INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    parent_id       TEXT    NULL REFERENCES workspace_agents (id) ON DELETE CASCADE
) STRICT;
CREATE INDEX workspace_agents_resource_id_idx ON workspace_agents (resource_id);

-- ---------------------------------------------------------------------------------------
-- Usage inputs of the rollup (platform.md §2.2). No foreign keys, as upstream: agents report
-- at high rates and stats outlive the rows they name.
-- ---------------------------------------------------------------------------------------

CREATE TABLE workspace_agent_stats (
    id                             TEXT    PRIMARY KEY NOT NULL,
    created_at                     INTEGER NOT NULL,
    user_id                        TEXT    NOT NULL,
    agent_id                       TEXT    NOT NULL,
    workspace_id                   TEXT    NOT NULL,
    template_id                    TEXT    NOT NULL,
    connection_count               INTEGER NOT NULL DEFAULT 0,
    connection_median_latency_ms   REAL    NOT NULL DEFAULT -1,
    rx_bytes                       INTEGER NOT NULL DEFAULT 0,
    tx_bytes                       INTEGER NOT NULL DEFAULT 0,
    session_count_vscode           INTEGER NOT NULL DEFAULT 0,
    session_count_jetbrains        INTEGER NOT NULL DEFAULT 0,
    session_count_reconnecting_pty INTEGER NOT NULL DEFAULT 0,
    session_count_ssh              INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX workspace_agent_stats_created_at_idx ON workspace_agent_stats (created_at);

CREATE TABLE workspace_app_stats (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id            TEXT    NOT NULL,
    workspace_id       TEXT    NOT NULL,
    agent_id           TEXT    NOT NULL,
    access_method      TEXT    NOT NULL,
    slug_or_port       TEXT    NOT NULL,
    session_id         TEXT    NOT NULL,
    session_started_at INTEGER NOT NULL,
    session_ended_at   INTEGER NOT NULL,
    requests           INTEGER NOT NULL DEFAULT 0,
    UNIQUE (agent_id, session_id)
) STRICT;
CREATE INDEX workspace_app_stats_session_ended_at_idx ON workspace_app_stats (session_ended_at);

-- ---------------------------------------------------------------------------------------
-- Audit log and notifications
-- ---------------------------------------------------------------------------------------

CREATE TABLE audit_logs (
    id                TEXT    PRIMARY KEY NOT NULL,
    time              INTEGER NOT NULL,
    user_id           TEXT    NOT NULL,
    organization_id   TEXT    NOT NULL,
    resource_type     TEXT    NOT NULL,
    resource_id       TEXT    NOT NULL,
    resource_target   TEXT    NOT NULL,
    action            TEXT    NOT NULL CHECK (action IN ('create', 'write', 'delete', 'start', 'stop')),
    diff              TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(diff)),
    status_code       INTEGER NOT NULL,
    additional_fields TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(additional_fields))
) STRICT;
CREATE INDEX audit_logs_time_idx ON audit_logs (time);

CREATE TABLE notification_messages (
    id                       TEXT    PRIMARY KEY NOT NULL,
    notification_template_id TEXT    NOT NULL,
    user_id                  TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method                   TEXT    NOT NULL DEFAULT 'smtp',
    status                   TEXT    NOT NULL DEFAULT 'pending'
                                     CHECK (status IN ('pending', 'leased', 'sent', 'permanent_failure',
                                                       'temporary_failure', 'unknown', 'inhibited')),
    payload                  TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    created_by               TEXT    NOT NULL,
    created_at               INTEGER NOT NULL,
    updated_at               INTEGER NOT NULL,
    dedupe_hash              TEXT    NULL UNIQUE
) STRICT;
CREATE INDEX notification_messages_status_idx ON notification_messages (status, created_at);
