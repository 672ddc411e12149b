-- Indexes that keep the reconciler's cycle cheap at 20,000 prebuilds. In-progress, pending
-- and failed jobs are few; the snapshot queries start from them instead of from every
-- workspace's latest build.

-- Jobs not yet finished: pending or running (Q4).
CREATE INDEX provisioner_jobs_unfinished_idx ON provisioner_jobs (id)
    WHERE completed_at IS NULL AND canceled_at IS NULL;
-- Failed jobs (Q7, Q8).
CREATE INDEX provisioner_jobs_failed_idx ON provisioner_jobs (id)
    WHERE completed_at IS NOT NULL AND COALESCE(error, '') <> '';
-- Q3 walks the prebuilds user's live workspaces.
DROP INDEX workspaces_owner_id_idx;
CREATE INDEX workspaces_owner_id_idx ON workspaces (owner_id, deleted) INCLUDE (id, template_id, name, created_at);
-- A workspace's latest build from the index alone (Q3 and the view).
CREATE INDEX workspace_builds_latest_idx ON workspace_builds (workspace_id, build_number DESC)
    INCLUDE (transition, job_id, template_version_id, template_version_preset_id);
-- Agent readiness of a build's job (Q3).
DROP INDEX workspace_agents_resource_id_idx;
CREATE INDEX workspace_agents_resource_id_idx ON workspace_agents (resource_id) INCLUDE (deleted, parent_id, lifecycle_state);
