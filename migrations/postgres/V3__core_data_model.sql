-- Core data model (SPEC §4, §9 data model). The same tables as the SQLite schema of this
-- version, in PostgreSQL's types: uuid, timestamptz, boolean, jsonb, bigint counters, enums
-- as text with CHECK. Index and constraint names are upstream's, so unique violations carry
-- the same names on both engines.

-- ---------------------------------------------------------------------------------------
-- Identity
-- ---------------------------------------------------------------------------------------

CREATE TABLE organizations (
    id           uuid        PRIMARY KEY,
    name         text        NOT NULL,
    display_name text        NOT NULL DEFAULT '',
    description  text        NOT NULL DEFAULT '',
    is_default   boolean     NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE UNIQUE INDEX idx_organization_name ON organizations (name);
CREATE UNIQUE INDEX organizations_single_default ON organizations (is_default) WHERE is_default;

CREATE TABLE users (
    id           uuid        PRIMARY KEY,
    email        text        NOT NULL,
    username     text        NOT NULL,
    name         text        NOT NULL DEFAULT '',
    status       text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'dormant')),
    login_type   text        NOT NULL DEFAULT 'password'
                             CHECK (login_type IN ('password', 'github', 'oidc', 'token', 'none')),
    rbac_roles   jsonb       NOT NULL DEFAULT '[]',
    is_system    boolean     NOT NULL DEFAULT false,
    deleted      boolean     NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL DEFAULT '1970-01-01 00:00:00+00'
);
-- Deleted users free their email and username; both compare case-insensitively, as upstream.
CREATE UNIQUE INDEX idx_users_email ON users (lower(email)) WHERE NOT deleted;
CREATE UNIQUE INDEX idx_users_username ON users (lower(username)) WHERE NOT deleted;
CREATE INDEX users_is_system_idx ON users (is_system);

CREATE TABLE organization_members (
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    roles           jsonb       NOT NULL DEFAULT '[]',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX organization_members_user_id_idx ON organization_members (user_id);

CREATE TABLE groups (
    id              uuid   PRIMARY KEY,
    name            text   NOT NULL,
    display_name    text   NOT NULL DEFAULT '',
    organization_id uuid   NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    avatar_url      text   NOT NULL DEFAULT '',
    quota_allowance bigint NOT NULL DEFAULT 0,
    CONSTRAINT groups_name_organization_id_key UNIQUE (organization_id, name)
);

CREATE TABLE group_members (
    group_id uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user_id_idx ON group_members (user_id);

-- Every organization has an "Everyone" group whose ID is the organization's.
CREATE FUNCTION organizations_everyone_group() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO groups (id, name, display_name, organization_id, quota_allowance)
    VALUES (NEW.id, 'Everyone', '', NEW.id, 0);
    RETURN NEW;
END;
$$;
CREATE TRIGGER organizations_everyone_group AFTER INSERT ON organizations
    FOR EACH ROW EXECUTE FUNCTION organizations_everyone_group();

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
JOIN users u ON u.id = m.user_id AND NOT u.deleted
JOIN groups g ON g.id = m.group_id;

-- The default organization and the prebuilds system user (SPEC §4).
INSERT INTO organizations (id, name, display_name, description, is_default, created_at, updated_at)
VALUES (gen_random_uuid(), 'coder', 'Coder', 'Builtin default organization.', true,
        date_trunc('milliseconds', now()), date_trunc('milliseconds', now()));

INSERT INTO users (id, email, username, name, status, login_type, rbac_roles, is_system, created_at, updated_at)
VALUES ('c42fdf75-3097-471c-8c33-fb52454d81c0', 'prebuilds@system', 'prebuilds', 'Prebuilds Owner',
        'active', 'none', '[]', true, date_trunc('milliseconds', now()), date_trunc('milliseconds', now()));

INSERT INTO organization_members (organization_id, user_id, roles, created_at, updated_at)
SELECT id, 'c42fdf75-3097-471c-8c33-fb52454d81c0', '[]', created_at, created_at
FROM organizations WHERE is_default;

-- ---------------------------------------------------------------------------------------
-- Provisioner jobs, templates, versions, presets
-- ---------------------------------------------------------------------------------------

CREATE TABLE provisioner_jobs (
    id              uuid        PRIMARY KEY,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    started_at      timestamptz NULL,
    completed_at    timestamptz NULL,
    canceled_at     timestamptz NULL,
    error           text        NULL,
    worker_id       text        NULL,
    initiator_id    uuid        NOT NULL REFERENCES users (id),
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    type            text        NOT NULL
                                CHECK (type IN ('template_version_import', 'workspace_build', 'template_version_dry_run')),
    input           jsonb       NOT NULL DEFAULT '{}',
    -- Derived as upstream's generated column.
    job_status      text        GENERATED ALWAYS AS (
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
    ) STORED
);
-- The provisioner's "oldest pending job" acquisition.
CREATE INDEX provisioner_jobs_pending_idx ON provisioner_jobs (created_at)
    WHERE started_at IS NULL AND canceled_at IS NULL AND completed_at IS NULL;

CREATE TABLE templates (
    id                uuid        PRIMARY KEY,
    organization_id   uuid        NOT NULL REFERENCES organizations (id),
    name              text        NOT NULL,
    display_name      text        NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    created_by        uuid        NULL REFERENCES users (id),
    deleted           boolean     NOT NULL DEFAULT false,
    -- '' means not deprecated; otherwise the deprecation message.
    deprecated        text        NOT NULL DEFAULT '',
    -- A template and its first version are inserted in one transaction; the FK is added
    -- once template_versions exists.
    active_version_id uuid        NOT NULL
);
CREATE UNIQUE INDEX templates_organization_id_name_idx ON templates (organization_id, name) WHERE NOT deleted;

CREATE TABLE template_versions (
    id              uuid        PRIMARY KEY,
    template_id     uuid        NULL REFERENCES templates (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    name            text        NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    created_by      uuid        NULL REFERENCES users (id),
    job_id          uuid        NOT NULL REFERENCES provisioner_jobs (id),
    -- Echo provisioner: builds of this version fail (fixtures use it for backoff and limits).
    fail_builds     boolean     NOT NULL DEFAULT false
);
CREATE INDEX template_versions_template_id_idx ON template_versions (template_id);
CREATE UNIQUE INDEX template_versions_template_id_name_idx ON template_versions (template_id, name);
ALTER TABLE templates ADD CONSTRAINT templates_active_version_id_fkey
    FOREIGN KEY (active_version_id) REFERENCES template_versions (id) DEFERRABLE INITIALLY DEFERRED;

CREATE TABLE template_version_parameters (
    template_version_id uuid    NOT NULL REFERENCES template_versions (id) ON DELETE CASCADE,
    name                text    NOT NULL,
    required            boolean NOT NULL DEFAULT false,
    default_value       text    NOT NULL DEFAULT '',
    PRIMARY KEY (template_version_id, name)
);

CREATE TABLE template_version_presets (
    id                    uuid        PRIMARY KEY,
    template_version_id   uuid        NOT NULL REFERENCES template_versions (id) ON DELETE CASCADE,
    name                  text        NOT NULL,
    created_at            timestamptz NOT NULL,
    -- NULL: this preset wants no prebuilds.
    desired_instances     bigint      NULL CHECK (desired_instances >= 0),
    invalidate_after_secs bigint      NULL CHECK (invalidate_after_secs >= 0),
    scheduling_timezone   text        NOT NULL DEFAULT '',
    prebuild_status       text        NOT NULL DEFAULT 'healthy'
                                      CHECK (prebuild_status IN ('healthy', 'hard_limited', 'validation_failed')),
    last_invalidated_at   timestamptz NULL,
    is_default            boolean     NOT NULL DEFAULT false,
    UNIQUE (template_version_id, name)
);
CREATE INDEX template_version_presets_prebuilds_idx ON template_version_presets (template_version_id)
    WHERE desired_instances IS NOT NULL;

CREATE TABLE template_version_preset_parameters (
    id                         uuid PRIMARY KEY,
    template_version_preset_id uuid NOT NULL REFERENCES template_version_presets (id) ON DELETE CASCADE,
    name                       text NOT NULL,
    value                      text NOT NULL,
    UNIQUE (template_version_preset_id, name)
);

-- seq keeps the order schedules were declared in (SQLite's rowid order).
CREATE TABLE template_version_preset_prebuild_schedules (
    id                uuid      PRIMARY KEY,
    seq               bigserial NOT NULL,
    preset_id         uuid      NOT NULL REFERENCES template_version_presets (id) ON DELETE CASCADE,
    cron_expression   text      NOT NULL,
    desired_instances bigint    NOT NULL CHECK (desired_instances >= 0)
);
CREATE INDEX template_version_preset_prebuild_schedules_preset_id_idx
    ON template_version_preset_prebuild_schedules (preset_id, seq);

-- ---------------------------------------------------------------------------------------
-- Workspaces, builds, resources, agents
-- ---------------------------------------------------------------------------------------

CREATE TABLE workspaces (
    id                 uuid        PRIMARY KEY,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    owner_id           uuid        NOT NULL REFERENCES users (id),
    organization_id    uuid        NOT NULL REFERENCES organizations (id),
    template_id        uuid        NOT NULL REFERENCES templates (id),
    name               text        NOT NULL,
    deleted            boolean     NOT NULL DEFAULT false,
    last_used_at       timestamptz NOT NULL DEFAULT '1970-01-01 00:00:00+00',
    automatic_updates  text        NOT NULL DEFAULT 'never' CHECK (automatic_updates IN ('never', 'always')),
    autostart_schedule text        NULL,
    -- Milliseconds.
    ttl_ms             bigint      NULL,
    next_start_at      timestamptz NULL,
    dormant_at         timestamptz NULL,
    deleting_at        timestamptz NULL
);
CREATE UNIQUE INDEX workspaces_owner_id_lower_idx ON workspaces (owner_id, lower(name)) WHERE NOT deleted;
CREATE INDEX workspaces_template_id_idx ON workspaces (template_id) WHERE NOT deleted;
CREATE INDEX workspaces_organization_id_idx ON workspaces (organization_id);

CREATE TABLE workspace_builds (
    id                         uuid        PRIMARY KEY,
    created_at                 timestamptz NOT NULL,
    updated_at                 timestamptz NOT NULL,
    workspace_id               uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    template_version_id        uuid        NOT NULL REFERENCES template_versions (id),
    build_number               bigint      NOT NULL CHECK (build_number >= 1),
    transition                 text        NOT NULL CHECK (transition IN ('start', 'stop', 'delete')),
    initiator_id               uuid        NOT NULL REFERENCES users (id),
    job_id                     uuid        NOT NULL UNIQUE REFERENCES provisioner_jobs (id),
    reason                     text        NOT NULL DEFAULT 'initiator',
    template_version_preset_id uuid        NULL REFERENCES template_version_presets (id) ON DELETE SET NULL,
    UNIQUE (workspace_id, build_number)
);
CREATE INDEX workspace_builds_template_version_preset_id_idx ON workspace_builds (template_version_preset_id);
CREATE INDEX workspace_builds_initiator_id_idx ON workspace_builds (initiator_id);

CREATE TABLE workspace_build_parameters (
    workspace_build_id uuid NOT NULL REFERENCES workspace_builds (id) ON DELETE CASCADE,
    name               text NOT NULL,
    value              text NOT NULL,
    PRIMARY KEY (workspace_build_id, name)
);

CREATE TABLE workspace_resources (
    id         uuid        PRIMARY KEY,
    created_at timestamptz NOT NULL,
    job_id     uuid        NOT NULL REFERENCES provisioner_jobs (id) ON DELETE CASCADE,
    transition text        NOT NULL CHECK (transition IN ('start', 'stop', 'delete')),
    type       text        NOT NULL DEFAULT 'echo_resource',
    name       text        NOT NULL DEFAULT 'dev'
);
CREATE INDEX workspace_resources_job_id_idx ON workspace_resources (job_id);

CREATE TABLE workspace_agents (
    id              uuid        PRIMARY KEY,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    resource_id     uuid        NOT NULL REFERENCES workspace_resources (id) ON DELETE CASCADE,
    name            text        NOT NULL DEFAULT 'main',
    lifecycle_state text        NOT NULL DEFAULT 'created' CHECK (lifecycle_state IN (
        'created', 'starting', 'start_timeout', 'start_error', 'ready',
        'shutting_down', 'shutdown_timeout', 'shutdown_error', 'off')),
    ready_at        timestamptz NULL,
    deleted         boolean     NOT NULL DEFAULT false,
    parent_id       uuid        NULL REFERENCES workspace_agents (id) ON DELETE CASCADE
);
CREATE INDEX workspace_agents_resource_id_idx ON workspace_agents (resource_id);

-- ---------------------------------------------------------------------------------------
-- Usage inputs of the rollup. No foreign keys, as upstream: agents report at high rates and
-- stats outlive the rows they name.
-- ---------------------------------------------------------------------------------------

CREATE TABLE workspace_agent_stats (
    id                             uuid             PRIMARY KEY,
    created_at                     timestamptz      NOT NULL,
    user_id                        uuid             NOT NULL,
    agent_id                       uuid             NOT NULL,
    workspace_id                   uuid             NOT NULL,
    template_id                    uuid             NOT NULL,
    connection_count               bigint           NOT NULL DEFAULT 0,
    connection_median_latency_ms   double precision NOT NULL DEFAULT -1,
    rx_bytes                       bigint           NOT NULL DEFAULT 0,
    tx_bytes                       bigint           NOT NULL DEFAULT 0,
    session_count_vscode           bigint           NOT NULL DEFAULT 0,
    session_count_jetbrains        bigint           NOT NULL DEFAULT 0,
    session_count_reconnecting_pty bigint           NOT NULL DEFAULT 0,
    session_count_ssh              bigint           NOT NULL DEFAULT 0
);
CREATE INDEX workspace_agent_stats_created_at_idx ON workspace_agent_stats (created_at);

CREATE TABLE workspace_app_stats (
    id                 bigserial   PRIMARY KEY,
    user_id            uuid        NOT NULL,
    workspace_id       uuid        NOT NULL,
    agent_id           uuid        NOT NULL,
    access_method      text        NOT NULL,
    slug_or_port       text        NOT NULL,
    session_id         uuid        NOT NULL,
    session_started_at timestamptz NOT NULL,
    session_ended_at   timestamptz NOT NULL,
    requests           bigint      NOT NULL DEFAULT 0,
    UNIQUE (agent_id, session_id)
);
CREATE INDEX workspace_app_stats_session_ended_at_idx ON workspace_app_stats (session_ended_at);

-- ---------------------------------------------------------------------------------------
-- Audit log and notifications
-- ---------------------------------------------------------------------------------------

-- seq keeps insertion order among entries of one instant (SQLite's rowid order).
CREATE TABLE audit_logs (
    id                uuid        PRIMARY KEY,
    seq               bigserial   NOT NULL,
    time              timestamptz NOT NULL,
    user_id           uuid        NOT NULL,
    organization_id   uuid        NOT NULL,
    resource_type     text        NOT NULL,
    resource_id       uuid        NOT NULL,
    resource_target   text        NOT NULL,
    action            text        NOT NULL CHECK (action IN ('create', 'write', 'delete', 'start', 'stop')),
    diff              jsonb       NOT NULL DEFAULT '{}',
    status_code       bigint      NOT NULL,
    additional_fields jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_logs_time_idx ON audit_logs (time);

-- seq keeps insertion order among messages of one instant (SQLite's rowid order).
CREATE TABLE notification_messages (
    id                       uuid        PRIMARY KEY,
    seq                      bigserial   NOT NULL,
    notification_template_id text        NOT NULL,
    user_id                  uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method                   text        NOT NULL DEFAULT 'smtp',
    status                   text        NOT NULL DEFAULT 'pending'
                                         CHECK (status IN ('pending', 'leased', 'sent', 'permanent_failure',
                                                           'temporary_failure', 'unknown', 'inhibited')),
    payload                  jsonb       NOT NULL DEFAULT '{}',
    created_by               text        NOT NULL,
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL,
    dedupe_hash              text        NULL UNIQUE
);
CREATE INDEX notification_messages_status_idx ON notification_messages (status, created_at);
