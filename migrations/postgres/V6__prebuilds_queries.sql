-- Support for the prebuilds snapshot queries.

-- One row per non-deleted workspace: its newest build and that build's job state.
CREATE VIEW workspace_latest_builds AS
SELECT
    wb.id,
    wb.workspace_id,
    wb.template_version_id,
    wb.job_id,
    wb.template_version_preset_id,
    wb.transition,
    wb.created_at,
    wb.build_number,
    wb.initiator_id,
    pj.job_status,
    pj.worker_id,
    pj.started_at,
    pj.canceled_at,
    pj.completed_at
FROM workspaces w
JOIN LATERAL (
    SELECT b.* FROM workspace_builds b WHERE b.workspace_id = w.id ORDER BY b.build_number DESC LIMIT 1
) wb ON true
JOIN provisioner_jobs pj ON pj.id = wb.job_id
WHERE NOT w.deleted;

-- Templates of an organization, deleted ones included (membership status, Q11).
CREATE INDEX templates_organization_id_idx ON templates (organization_id);
-- Prebuilt workspaces by owner, deleted ones included (metrics).
CREATE INDEX workspaces_owner_id_idx ON workspaces (owner_id);
