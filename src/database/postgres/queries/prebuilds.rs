//! The prebuilds snapshot queries and prebuild writes, written for
//! PostgreSQL. Each is one statement whatever the number of presets; a workspace's latest
//! build is found with a `LATERAL` top-1 over `workspace_builds_latest_idx`.

use postgres::Row;

use crate::clock::Timestamp;
use crate::database::PrebuildsStore;
use crate::database::Result;
use crate::database::models::ClaimPrebuild;
use crate::database::models::InProgress;
use crate::database::models::OrganizationPrebuildStatus;
use crate::database::models::PREBUILDS_SYSTEM_USER_ID;
use crate::database::models::PrebuildMetricsRow;
use crate::database::models::PrebuildStatus;
use crate::database::models::PresetBackoff;
use crate::database::models::PresetInfo;
use crate::database::models::RunningPrebuild;
use crate::database::postgres::queries::get;
use crate::database::postgres::queries::get_enum;
use crate::database::postgres::queries::get_id;
use crate::database::postgres::queries::get_opt_id;
use crate::database::postgres::queries::id;
use crate::database::postgres::queries::new_id;
use crate::database::postgres::tx::PgTx;

fn prebuilds_user() -> uuid::Uuid {
    id(PREBUILDS_SYSTEM_USER_ID)
}

/// Q1: every preset with prebuilds configured, deleted templates included.
pub(crate) fn get_template_presets_with_prebuilds(tx: &PgTx<'_>) -> Result<Vec<PresetInfo>> {
    let op = "get template presets with prebuilds";
    let rows = tx.query(
        op,
        "SELECT p.id, p.name, t.id, t.name, o.id, o.name, tv.id, tv.id = t.active_version_id, p.desired_instances,
                p.scheduling_timezone, p.invalidate_after_secs, p.prebuild_status, t.deleted, t.deprecated <> '',
                p.last_invalidated_at, tv.name
         FROM template_version_presets p
         JOIN template_versions tv ON tv.id = p.template_version_id
         JOIN templates t ON t.id = tv.template_id
         JOIN organizations o ON o.id = t.organization_id
         WHERE p.desired_instances IS NOT NULL
         ORDER BY o.name COLLATE \"C\", t.name COLLATE \"C\", tv.created_at, p.name COLLATE \"C\"",
        &[],
    )?;
    rows.iter()
        .map(|r: &Row| {
            Ok(PresetInfo {
                preset_id: get_id(op, r, 0)?,
                preset_name: get(op, r, 1)?,
                template_id: get_id(op, r, 2)?,
                template_name: get(op, r, 3)?,
                organization_id: get_id(op, r, 4)?,
                organization_name: get(op, r, 5)?,
                template_version_id: get_id(op, r, 6)?,
                using_active_version: get(op, r, 7)?,
                desired_instances: get(op, r, 8)?,
                scheduling_timezone: get(op, r, 9)?,
                ttl_secs: get(op, r, 10)?,
                prebuild_status: get_enum(op, "template_version_presets.prebuild_status", r, 11)?,
                deleted: get(op, r, 12)?,
                deprecated: get(op, r, 13)?,
                last_invalidated_at: get(op, r, 14)?,
                template_version_name: get(op, r, 15)?,
            })
        })
        .collect()
}

/// Q2: (preset id, cron, desired) of presets on the active version of live, non-deprecated
/// templates, in the order the schedules were declared.
pub(crate) fn get_active_preset_prebuild_schedules(tx: &PgTx<'_>) -> Result<Vec<(String, String, i64)>> {
    let op = "get active preset prebuild schedules";
    let rows = tx.query(
        op,
        "SELECT s.preset_id, s.cron_expression, s.desired_instances
         FROM template_version_preset_prebuild_schedules s
         JOIN template_version_presets p ON p.id = s.preset_id
         JOIN templates t ON t.active_version_id = p.template_version_id
         WHERE NOT t.deleted AND t.deprecated = ''
         ORDER BY s.preset_id, s.seq",
        &[],
    )?;
    rows.iter().map(|r| Ok((get_id(op, r, 0)?, get(op, r, 1)?, get(op, r, 2)?))).collect()
}

/// Q3: prebuilt workspaces whose latest build is a succeeded start, with the preset of their
/// newest start build that had one, and whether all live top-level agents are ready.
pub(crate) fn get_running_prebuilt_workspaces(tx: &PgTx<'_>) -> Result<Vec<RunningPrebuild>> {
    let op = "get running prebuilt workspaces";
    let rows = tx.query(
        op,
        // Set-based: the latest build of every prebuild in one sorted pass and readiness
        // in one aggregate, instead of three index probes per workspace.
        "WITH prebuilds AS (
             SELECT w.id, w.name, w.template_id, w.created_at FROM workspaces w
             WHERE w.owner_id = $1 AND NOT w.deleted),
         latest AS (
             SELECT DISTINCT ON (b.workspace_id)
                    b.workspace_id, b.template_version_id, b.template_version_preset_id, b.job_id, b.transition
             FROM workspace_builds b JOIN prebuilds p ON p.id = b.workspace_id
             ORDER BY b.workspace_id, b.build_number DESC),
         ready AS (
             SELECT r.job_id, bool_and(a.lifecycle_state = 'ready') AS ready
             FROM latest l
             JOIN workspace_resources r ON r.job_id = l.job_id
             JOIN workspace_agents a ON a.resource_id = r.id
             WHERE NOT a.deleted AND a.parent_id IS NULL
             GROUP BY r.job_id)
         SELECT p.id, p.name, p.template_id, l.template_version_id,
                COALESCE(l.template_version_preset_id,
                         (SELECT b.template_version_preset_id FROM workspace_builds b
                          WHERE b.workspace_id = p.id AND b.transition = 'start' AND b.template_version_preset_id IS NOT NULL
                          ORDER BY b.build_number DESC LIMIT 1)),
                COALESCE(ready.ready, false), p.created_at
         FROM prebuilds p
         JOIN latest l ON l.workspace_id = p.id
         JOIN provisioner_jobs pj ON pj.id = l.job_id
         LEFT JOIN ready ON ready.job_id = l.job_id
         WHERE l.transition = 'start' AND pj.job_status = 'succeeded'
         ORDER BY p.id",
        &[&prebuilds_user()],
    )?;
    rows.iter()
        .map(|r| {
            Ok(RunningPrebuild {
                id: get_id(op, r, 0)?,
                name: get(op, r, 1)?,
                template_id: get_id(op, r, 2)?,
                template_version_id: get_id(op, r, 3)?,
                current_preset_id: get_opt_id(op, r, 4)?,
                ready: get(op, r, 5)?,
                created_at: get(op, r, 6)?,
            })
        })
        .collect()
}

/// No generation counter on PostgreSQL (see the domain trait).
pub(crate) fn get_prebuilds_data_generation(_tx: &PgTx<'_>) -> Result<Option<i64>> {
    Ok(None)
}

/// Q4: pending or running latest builds started by the prebuilds user on the template's
/// active version, per (version, transition, preset).
pub(crate) fn count_in_progress_prebuilds(tx: &PgTx<'_>) -> Result<Vec<InProgress>> {
    let op = "count in progress prebuilds";
    let rows = tx.query(
        op,
        "SELECT wb.template_version_id, wb.transition, wb.template_version_preset_id, COUNT(*)
         FROM provisioner_jobs pj
         JOIN workspace_builds wb ON wb.job_id = pj.id
         JOIN workspaces w ON w.id = wb.workspace_id
         JOIN templates t ON t.id = w.template_id AND t.active_version_id = wb.template_version_id
         WHERE pj.completed_at IS NULL AND pj.canceled_at IS NULL
           AND wb.initiator_id = $1 AND NOT w.deleted AND wb.build_number = (
               SELECT MAX(m.build_number) FROM workspace_builds m WHERE m.workspace_id = wb.workspace_id)
         GROUP BY wb.template_version_id, wb.transition, wb.template_version_preset_id",
        &[&prebuilds_user()],
    )?;
    rows.iter()
        .map(|r| {
            Ok(InProgress {
                template_version_id: get_id(op, r, 0)?,
                transition: get_enum(op, "workspace_builds.transition", r, 1)?,
                preset_id: get_opt_id(op, r, 2)?,
                count: get(op, r, 3)?,
            })
        })
        .collect()
}

/// Q5: per preset, first start builds of prebuilds on an inactive version whose job is still
/// pending and untouched.
pub(crate) fn count_pending_non_active_prebuilds(tx: &PgTx<'_>) -> Result<Vec<(String, i64)>> {
    let op = "count pending non-active prebuilds";
    let rows = tx.query(
        op,
        "SELECT wb.template_version_preset_id, COUNT(*)
         FROM provisioner_jobs pj
         JOIN workspace_builds wb ON wb.job_id = pj.id
         JOIN workspaces w ON w.id = wb.workspace_id
         JOIN templates t ON t.id = w.template_id
         WHERE pj.started_at IS NULL AND pj.canceled_at IS NULL AND pj.completed_at IS NULL AND pj.worker_id IS NULL
           AND wb.initiator_id = $1 AND wb.template_version_id <> t.active_version_id AND wb.build_number = 1
           AND wb.transition = 'start' AND wb.template_version_preset_id IS NOT NULL
         GROUP BY wb.template_version_preset_id",
        &[&prebuilds_user()],
    )?;
    rows.iter().map(|r| Ok((get_id(op, r, 0)?, get(op, r, 1)?))).collect()
}

/// The latest start builds of prebuilds on active versions, numbered newest first per preset
/// (the common part of Q7 and Q8), over the presets that have a failed start build at all.
/// The failed presets are materialized first and drive the rest (with no failures, nothing
/// else is read); `error IS NOT NULL AND error <> ''` rather than a COALESCE, so the planner
/// can estimate it from the column's statistics.
const FILTERED_PREBUILD_BUILDS: &str = "
    failed_presets AS MATERIALIZED (
        SELECT DISTINCT wb.template_version_preset_id AS preset_id
        FROM provisioner_jobs pj
        JOIN workspace_builds wb ON wb.job_id = pj.id
        WHERE pj.completed_at IS NOT NULL AND pj.error IS NOT NULL AND pj.error <> ''
          AND wb.transition = 'start' AND wb.template_version_preset_id IS NOT NULL),
    filtered AS (
        SELECT wb.template_version_id, wb.template_version_preset_id AS preset_id, pj.job_status, wb.created_at,
               p.desired_instances, t.deleted AS template_deleted,
               ROW_NUMBER() OVER (PARTITION BY wb.template_version_preset_id ORDER BY wb.created_at DESC, wb.id) AS rn
        FROM failed_presets fp
        JOIN workspace_builds wb ON wb.template_version_preset_id = fp.preset_id
        JOIN workspaces w ON w.id = wb.workspace_id
        JOIN templates t ON t.id = w.template_id AND t.active_version_id = wb.template_version_id
        JOIN template_version_presets p ON p.id = wb.template_version_preset_id
        JOIN provisioner_jobs pj ON pj.id = wb.job_id
        WHERE p.desired_instances IS NOT NULL AND wb.transition = 'start' AND w.owner_id = $1 AND NOT w.deleted
          AND NOT EXISTS (
              SELECT 1 FROM workspace_builds m WHERE m.workspace_id = w.id AND m.build_number > wb.build_number))";

/// Q7: presets where one of the N most recent attempts (N = desired) failed since `lookback`:
/// the number of failures since then and the newest failed build among the N.
pub(crate) fn get_presets_backoff(tx: &PgTx<'_>, lookback: Timestamp) -> Result<Vec<PresetBackoff>> {
    let op = "get presets backoff";
    let rows = tx.query(
        op,
        &format!(
            "WITH {FILTERED_PREBUILD_BUILDS},
             failed AS (SELECT preset_id, COUNT(*) AS n FROM filtered
                        WHERE NOT template_deleted AND job_status = 'failed' AND created_at >= $2 GROUP BY preset_id)
             SELECT f.preset_id, failed.n, MAX(f.created_at)
             FROM filtered f JOIN failed ON failed.preset_id = f.preset_id
             WHERE NOT f.template_deleted AND f.rn <= f.desired_instances AND f.job_status = 'failed'
               AND f.created_at >= $2
             GROUP BY f.preset_id, failed.n"
        ),
        &[&prebuilds_user(), &lookback],
    )?;
    rows.iter()
        .map(|r| {
            Ok(PresetBackoff {
                preset_id: get_id(op, r, 0)?,
                num_failed: get(op, r, 1)?,
                last_build_at: get(op, r, 2)?,
            })
        })
        .collect()
}

/// Q8: presets whose `hard_limit` most recent attempts all failed (0 disables the limit).
pub(crate) fn get_presets_at_failure_limit(tx: &PgTx<'_>, hard_limit: i64) -> Result<Vec<String>> {
    let op = "get presets at failure limit";
    let rows = tx.query(
        op,
        &format!(
            "WITH {FILTERED_PREBUILD_BUILDS}
             SELECT preset_id FROM filtered WHERE rn <= $2 AND job_status = 'failed'
             GROUP BY preset_id HAVING COUNT(*) = $2"
        ),
        &[&prebuilds_user(), &hard_limit],
    )?;
    rows.iter().map(|r| get_id(op, r, 0)).collect()
}

/// Q11: per organization owning a preset with prebuilds configured (0 counts): is the user a
/// member, the id of its group named `group_name`, and is the user in that group.
pub(crate) fn get_organizations_with_prebuild_status(
    tx: &PgTx<'_>,
    user_id: &str,
    group_name: &str,
) -> Result<Vec<OrganizationPrebuildStatus>> {
    let op = "get organizations with prebuild status";
    let rows = tx.query(
        op,
        "SELECT o.id, o.name,
                EXISTS (SELECT 1 FROM organization_members m WHERE m.organization_id = o.id AND m.user_id = $1),
                g.id,
                g.id IS NOT NULL AND EXISTS (SELECT 1 FROM group_members gm WHERE gm.group_id = g.id AND gm.user_id = $1)
         FROM organizations o
         LEFT JOIN groups g ON g.organization_id = o.id AND g.name = $2
         WHERE EXISTS (SELECT 1 FROM templates t
                       JOIN template_versions tv ON tv.template_id = t.id
                       JOIN template_version_presets p ON p.template_version_id = tv.id
                       WHERE t.organization_id = o.id AND p.desired_instances IS NOT NULL)
         ORDER BY o.name COLLATE \"C\"",
        &[&id(user_id), &group_name],
    )?;
    rows.iter()
        .map(|r| {
            Ok(OrganizationPrebuildStatus {
                organization_id: get_id(op, r, 0)?,
                organization_name: get(op, r, 1)?,
                has_prebuild_user: get(op, r, 2)?,
                prebuilds_group_id: get_opt_id(op, r, 3)?,
                has_prebuild_user_in_group: get(op, r, 4)?,
            })
        })
        .collect()
}

/// Q13: per (template, preset, organization) of live templates: prebuilds ever created, how
/// many failed, how many were claimed (owner no longer the prebuilds user).
pub(crate) fn get_prebuild_metrics(tx: &PgTx<'_>) -> Result<Vec<PrebuildMetricsRow>> {
    let op = "get prebuild metrics";
    let rows = tx.query(
        op,
        "SELECT t.name, p.name, o.name, COUNT(*),
                COUNT(*) FILTER (WHERE pj.job_status = 'failed'), COUNT(*) FILTER (WHERE w.owner_id <> $1)
         FROM workspace_builds wb
         JOIN workspaces w ON w.id = wb.workspace_id
         JOIN templates t ON t.id = w.template_id AND NOT t.deleted
         JOIN template_version_presets p ON p.id = wb.template_version_preset_id
         JOIN organizations o ON o.id = w.organization_id
         JOIN provisioner_jobs pj ON pj.id = wb.job_id
         WHERE wb.build_number = 1 AND wb.initiator_id = $1
         GROUP BY t.name, p.name, o.name
         ORDER BY t.name COLLATE \"C\", p.name COLLATE \"C\", o.name COLLATE \"C\"",
        &[&prebuilds_user()],
    )?;
    rows.iter()
        .map(|r| {
            Ok(PrebuildMetricsRow {
                template_name: get(op, r, 0)?,
                preset_name: get(op, r, 1)?,
                organization_name: get(op, r, 2)?,
                created_count: get(op, r, 3)?,
                failed_count: get(op, r, 4)?,
                claimed_count: get(op, r, 5)?,
            })
        })
        .collect()
}

/// Q6: cancels the pending first builds of prebuilds on inactive versions of `preset_id`
/// (canceled_at = completed_at = now); returns (job id, workspace id) of each.
pub(crate) fn update_prebuild_provisioner_job_with_cancel(
    tx: &PgTx<'_>,
    preset_id: &str,
    now: Timestamp,
) -> Result<Vec<(String, String)>> {
    let op = "cancel pending prebuild jobs";
    let rows = tx.query(
        op,
        "UPDATE provisioner_jobs SET canceled_at = $3, completed_at = $3, updated_at = $3
         WHERE id IN (
             SELECT wb.job_id FROM workspace_builds wb
             JOIN provisioner_jobs pj ON pj.id = wb.job_id
             JOIN workspaces w ON w.id = wb.workspace_id
             JOIN templates t ON t.id = w.template_id
             WHERE wb.initiator_id = $1 AND wb.template_version_preset_id = $2
               AND wb.template_version_id <> t.active_version_id AND wb.build_number = 1
               AND wb.transition = 'start' AND pj.started_at IS NULL AND pj.worker_id IS NULL
               AND pj.canceled_at IS NULL AND pj.completed_at IS NULL)
         RETURNING id, (SELECT workspace_id FROM workspace_builds WHERE job_id = provisioner_jobs.id)",
        &[&prebuilds_user(), &id(preset_id), &now],
    )?;
    let mut pairs = rows.iter().map(|r| Ok((get_id(op, r, 0)?, get_id(op, r, 1)?))).collect::<Result<Vec<_>>>()?;
    pairs.sort();
    Ok(pairs)
}

/// Q9: sets a preset's prebuild status.
pub(crate) fn update_preset_prebuild_status(tx: &PgTx<'_>, preset_id: &str, status: PrebuildStatus) -> Result<()> {
    tx.execute(
        "update preset prebuild status",
        "UPDATE template_version_presets SET prebuild_status = $2 WHERE id = $1",
        &[&id(preset_id), &status.as_str()],
    )?;
    Ok(())
}

/// Q10: sets `last_invalidated_at` on every preset of the template's active version; returns
/// their ids.
pub(crate) fn update_presets_last_invalidated_at(
    tx: &PgTx<'_>,
    template_id: &str,
    at: Timestamp,
) -> Result<Vec<String>> {
    let op = "invalidate presets";
    let rows = tx.query(
        op,
        "UPDATE template_version_presets SET last_invalidated_at = $2
         WHERE template_version_id = (SELECT active_version_id FROM templates WHERE id = $1)
         RETURNING id",
        &[&id(template_id), &at],
    )?;
    let mut ids = rows.iter().map(|r| get_id(op, r, 0)).collect::<Result<Vec<_>>>()?;
    ids.sort();
    Ok(ids)
}

/// Q12: gives the oldest ready prebuild of the preset (latest build a succeeded start on the
/// template's active version, template not deleted) to the new owner. Rows another
/// transaction is changing are skipped (`SKIP LOCKED`), and the outer `owner_id` check makes
/// a row claimed meanwhile unclaimable twice. `None`: nothing claimable.
pub(crate) fn claim_prebuilt_workspace(tx: &PgTx<'_>, claim: &ClaimPrebuild<'_>) -> Result<Option<(String, String)>> {
    let op = "claim prebuilt workspace";
    tx.query_opt(
        op,
        "UPDATE workspaces SET owner_id = $2, name = $3, updated_at = $4, last_used_at = $4,
                autostart_schedule = $5, next_start_at = $6, ttl_ms = $7, dormant_at = NULL, deleting_at = NULL
         WHERE owner_id = $1 AND id = (
             SELECT w.id FROM workspaces w
             CROSS JOIN LATERAL (
                 SELECT b.template_version_id, b.transition, b.job_id
                 FROM workspace_builds b WHERE b.workspace_id = w.id ORDER BY b.build_number DESC LIMIT 1) lb
             JOIN provisioner_jobs pj ON pj.id = lb.job_id
             JOIN templates t ON t.id = w.template_id AND NOT t.deleted AND t.active_version_id = lb.template_version_id
             WHERE w.owner_id = $1 AND NOT w.deleted AND lb.transition = 'start' AND pj.job_status = 'succeeded'
               AND (SELECT b.template_version_preset_id FROM workspace_builds b
                    WHERE b.workspace_id = w.id AND b.transition = 'start' AND b.template_version_preset_id IS NOT NULL
                    ORDER BY b.build_number DESC LIMIT 1) = $8
               AND COALESCE((SELECT bool_and(a.lifecycle_state = 'ready') FROM workspace_resources r
                             JOIN workspace_agents a ON a.resource_id = r.id
                             WHERE r.job_id = lb.job_id AND NOT a.deleted AND a.parent_id IS NULL), false)
             ORDER BY w.created_at, w.id
             LIMIT 1
             FOR UPDATE OF w SKIP LOCKED)
         RETURNING id, name",
        &[
            &prebuilds_user(),
            &new_id(op, "owner_id", claim.new_owner_id)?,
            &claim.new_name,
            &claim.now,
            &claim.autostart_schedule,
            &claim.next_start_at,
            &claim.ttl_ms,
            &id(claim.preset_id),
        ],
    )?
    .map(|r| Ok((get_id(op, &r, 0)?, get(op, &r, 1)?)))
    .transpose()
}

/// Users who administer `organization_id`'s templates: site owners and template admins, and
/// the organization's admins and template admins.
pub(crate) fn get_template_admins(tx: &PgTx<'_>, organization_id: &str) -> Result<Vec<String>> {
    let op = "get template admins";
    let rows = tx.query(
        op,
        "SELECT u.id FROM users u
         WHERE NOT u.deleted AND NOT u.is_system AND (
             EXISTS (SELECT 1 FROM jsonb_array_elements_text(u.rbac_roles) r(role) WHERE r.role IN ('owner', 'template-admin'))
             OR EXISTS (SELECT 1 FROM organization_members m, jsonb_array_elements_text(m.roles) r(role)
                        WHERE m.user_id = u.id AND m.organization_id = $1
                          AND r.role IN ('organization-admin', 'organization-template-admin')))
         ORDER BY u.id",
        &[&id(organization_id)],
    )?;
    rows.iter().map(|r| get_id(op, r, 0)).collect()
}

pub(crate) fn insert_notification_message(
    tx: &PgTx<'_>,
    message_id: &str,
    template: &str,
    user_id: &str,
    payload: &serde_json::Value,
    now: Timestamp,
) -> Result<()> {
    let op = "insert notification message";
    tx.execute(
        op,
        "INSERT INTO notification_messages (id, notification_template_id, user_id, payload, created_by, created_at,
                                            updated_at)
         VALUES ($1, $2, $3, $4, 'prebuilds_reconciler', $5, $5)",
        &[&new_id(op, "id", message_id)?, &template, &new_id(op, "user_id", user_id)?, payload, &now],
    )?;
    Ok(())
}

pub(crate) fn list_notification_messages(tx: &PgTx<'_>) -> Result<Vec<(String, String)>> {
    let op = "list notification messages";
    let rows = tx.query(
        op,
        "SELECT notification_template_id, user_id FROM notification_messages ORDER BY created_at, seq",
        &[],
    )?;
    rows.iter().map(|r| Ok((get(op, r, 0)?, get_id(op, r, 1)?))).collect()
}

impl PrebuildsStore for PgTx<'_> {
    run_query! {
        fn get_template_presets_with_prebuilds(&self) -> Result<Vec<PresetInfo>> => get_template_presets_with_prebuilds;
        fn get_active_preset_prebuild_schedules(&self) -> Result<Vec<(String, String, i64)>> => get_active_preset_prebuild_schedules;
        fn get_running_prebuilt_workspaces(&self) -> Result<Vec<RunningPrebuild>> => get_running_prebuilt_workspaces;
        fn get_prebuilds_data_generation(&self) -> Result<Option<i64>> => get_prebuilds_data_generation;
        fn count_in_progress_prebuilds(&self) -> Result<Vec<InProgress>> => count_in_progress_prebuilds;
        fn count_pending_non_active_prebuilds(&self) -> Result<Vec<(String, i64)>> => count_pending_non_active_prebuilds;
        fn get_presets_backoff(&self, lookback: Timestamp) -> Result<Vec<PresetBackoff>> => get_presets_backoff;
        fn get_presets_at_failure_limit(&self, hard_limit: i64) -> Result<Vec<String>> => get_presets_at_failure_limit;
        fn get_organizations_with_prebuild_status(&self, user_id: &str, group_name: &str) -> Result<Vec<OrganizationPrebuildStatus>> => get_organizations_with_prebuild_status;
        fn get_prebuild_metrics(&self) -> Result<Vec<PrebuildMetricsRow>> => get_prebuild_metrics;
        fn update_prebuild_provisioner_job_with_cancel(&self, preset_id: &str, now: Timestamp) -> Result<Vec<(String, String)>> => update_prebuild_provisioner_job_with_cancel;
        fn update_preset_prebuild_status(&self, preset_id: &str, status: PrebuildStatus) -> Result<()> => update_preset_prebuild_status;
        fn update_presets_last_invalidated_at(&self, template_id: &str, at: Timestamp) -> Result<Vec<String>> => update_presets_last_invalidated_at;
        fn claim_prebuilt_workspace(&self, claim: &ClaimPrebuild<'_>) -> Result<Option<(String, String)>> => claim_prebuilt_workspace;
        fn get_template_admins(&self, organization_id: &str) -> Result<Vec<String>> => get_template_admins;
        fn insert_notification_message(&self, id: &str, template: &str, user_id: &str, payload: &serde_json::Value, now: Timestamp) -> Result<()> => insert_notification_message;
        fn list_notification_messages(&self) -> Result<Vec<(String, String)>> => list_notification_messages;
    }
}
