//! The prebuilds snapshot queries. Each is one statement,
//! whatever the number of presets: the reconciler's read cost does not grow with them.

use rusqlite::Connection;
use rusqlite::OptionalExtension;
use rusqlite::params;

use crate::clock::Timestamp;
use crate::clock::to_micros;
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
use crate::database::sqlite::errors::OpContext;
use crate::database::sqlite::queries::opt_timestamp_at;
use crate::database::sqlite::queries::text_enum_at;
use crate::database::sqlite::queries::timestamp_at;
use crate::database::sqlite::tx::SqliteTx;

/// Q1: every preset with prebuilds configured (`desired_instances IS NOT NULL`), deleted
/// templates included (their prebuilds must be cleaned up).
pub(crate) fn get_template_presets_with_prebuilds(conn: &Connection) -> Result<Vec<PresetInfo>> {
    let op = "get template presets with prebuilds";
    conn.prepare_cached(
        "SELECT p.id, p.name, t.id, t.name, o.id, o.name, tv.id, tv.id = t.active_version_id, p.desired_instances,
                p.scheduling_timezone, p.invalidate_after_secs, p.prebuild_status, t.deleted, t.deprecated <> '',
                p.last_invalidated_at, tv.name
         FROM template_version_presets p
         JOIN template_versions tv ON tv.id = p.template_version_id
         JOIN templates t ON t.id = tv.template_id
         JOIN organizations o ON o.id = t.organization_id
         WHERE p.desired_instances IS NOT NULL
         ORDER BY o.name, t.name, tv.created_at, p.name",
    )
    .op(op)?
    .query_map([], |r| {
        Ok(PresetInfo {
            preset_id: r.get(0)?,
            preset_name: r.get(1)?,
            template_id: r.get(2)?,
            template_name: r.get(3)?,
            organization_id: r.get(4)?,
            organization_name: r.get(5)?,
            template_version_id: r.get(6)?,
            using_active_version: r.get(7)?,
            desired_instances: r.get(8)?,
            scheduling_timezone: r.get(9)?,
            ttl_secs: r.get(10)?,
            prebuild_status: text_enum_at(r, 11)?,
            deleted: r.get(12)?,
            deprecated: r.get(13)?,
            last_invalidated_at: opt_timestamp_at(r, 14)?,
            template_version_name: r.get(15)?,
        })
    })
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

/// Q2: (preset id, cron, desired) of presets on the active version of live, non-deprecated
/// templates.
pub(crate) fn get_active_preset_prebuild_schedules(conn: &Connection) -> Result<Vec<(String, String, i64)>> {
    let op = "get active preset prebuild schedules";
    conn.prepare_cached(
        "SELECT s.preset_id, s.cron_expression, s.desired_instances
         FROM template_version_preset_prebuild_schedules s
         JOIN template_version_presets p ON p.id = s.preset_id
         JOIN templates t ON t.active_version_id = p.template_version_id
         WHERE t.deleted = 0 AND t.deprecated = ''
         ORDER BY s.preset_id, s.rowid",
    )
    .op(op)?
    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

/// Q3: prebuilt workspaces whose latest build is a succeeded start, with the preset of their
/// newest start build that had one, and whether all live top-level agents are ready.
pub(crate) fn get_running_prebuilt_workspaces(conn: &Connection) -> Result<Vec<RunningPrebuild>> {
    let op = "get running prebuilt workspaces";
    conn.prepare_cached(
        "SELECT w.id, w.name, w.template_id, wb.template_version_id,
                COALESCE(wb.template_version_preset_id,
                         (SELECT b.template_version_preset_id FROM workspace_builds b
                          WHERE b.workspace_id = w.id AND b.transition = 'start' AND b.template_version_preset_id IS NOT NULL
                          ORDER BY b.build_number DESC LIMIT 1)),
                COALESCE((SELECT MIN(a.lifecycle_state = 'ready') FROM workspace_resources r
                          JOIN workspace_agents a ON a.resource_id = r.id
                          WHERE r.job_id = wb.job_id AND a.deleted = 0 AND a.parent_id IS NULL), 0),
                w.created_at
         FROM workspaces w
         JOIN workspace_builds wb ON wb.workspace_id = w.id AND wb.build_number = (
             SELECT MAX(m.build_number) FROM workspace_builds m WHERE m.workspace_id = w.id)
         JOIN provisioner_jobs pj ON pj.id = wb.job_id
         WHERE w.owner_id = ?1 AND w.deleted = 0 AND wb.transition = 'start' AND pj.job_status = 'succeeded'
         ORDER BY w.id",
    )
    .op(op)?
    .query_map([PREBUILDS_SYSTEM_USER_ID], |r| {
        Ok(RunningPrebuild {
            id: r.get(0)?,
            name: r.get(1)?,
            template_id: r.get(2)?,
            template_version_id: r.get(3)?,
            current_preset_id: r.get(4)?,
            ready: r.get(5)?,
            created_at: timestamp_at(r, 6)?,
        })
    })
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

/// The counter the V8 triggers bump on every change behind Q1 and Q3.
pub(crate) fn get_prebuilds_data_generation(conn: &Connection) -> Result<Option<i64>> {
    let op = "get prebuilds data generation";
    conn.prepare_cached("SELECT generation FROM prebuilds_data_generation WHERE id = 1")
        .op(op)?
        .query_row([], |r| r.get(0))
        .op(op)
        .map(Some)
}

/// Q4: pending or running latest builds started by the prebuilds user on the template's
/// active version, per (version, transition, preset).
pub(crate) fn count_in_progress_prebuilds(conn: &Connection) -> Result<Vec<InProgress>> {
    let op = "count in progress prebuilds";
    conn.prepare_cached(
        "SELECT wb.template_version_id, wb.transition, wb.template_version_preset_id, COUNT(*)
         FROM provisioner_jobs pj
         CROSS JOIN workspace_builds wb ON wb.job_id = pj.id
         JOIN workspaces w ON w.id = wb.workspace_id
         JOIN templates t ON t.id = w.template_id AND t.active_version_id = wb.template_version_id
         WHERE pj.completed_at IS NULL AND pj.canceled_at IS NULL
           AND wb.initiator_id = ?1 AND w.deleted = 0 AND wb.build_number = (
               SELECT MAX(m.build_number) FROM workspace_builds m WHERE m.workspace_id = wb.workspace_id)
         GROUP BY wb.template_version_id, wb.transition, wb.template_version_preset_id",
    )
    .op(op)?
    .query_map([PREBUILDS_SYSTEM_USER_ID], |r| {
        Ok(InProgress {
            template_version_id: r.get(0)?,
            transition: text_enum_at(r, 1)?,
            preset_id: r.get(2)?,
            count: r.get(3)?,
        })
    })
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

/// Q5: per preset, first start builds of prebuilds on an inactive version whose job is
/// still pending and untouched.
pub(crate) fn count_pending_non_active_prebuilds(conn: &Connection) -> Result<Vec<(String, i64)>> {
    let op = "count pending non-active prebuilds";
    conn.prepare_cached(
        "SELECT wb.template_version_preset_id, COUNT(*)
         FROM provisioner_jobs pj
         CROSS JOIN workspace_builds wb ON wb.job_id = pj.id
         JOIN workspaces w ON w.id = wb.workspace_id
         JOIN templates t ON t.id = w.template_id
         WHERE pj.started_at IS NULL AND pj.canceled_at IS NULL AND pj.completed_at IS NULL AND pj.worker_id IS NULL
           AND wb.initiator_id = ?1 AND wb.template_version_id <> t.active_version_id AND wb.build_number = 1
           AND wb.transition = 'start' AND wb.template_version_preset_id IS NOT NULL
         GROUP BY wb.template_version_preset_id",
    )
    .op(op)?
    .query_map([PREBUILDS_SYSTEM_USER_ID], |r| Ok((r.get(0)?, r.get(1)?)))
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

/// The latest start builds of prebuilds on active versions, numbered newest first per preset
/// (the common part of Q7 and Q8). Only presets with a failed start build can have a row in
/// either answer, and failed jobs are few, so the window runs over those presets alone.
const FILTERED_PREBUILD_BUILDS: &str = "
    failed_presets AS (
        SELECT DISTINCT wb.template_version_preset_id AS preset_id
        FROM provisioner_jobs pj
        CROSS JOIN workspace_builds wb ON wb.job_id = pj.id
        WHERE pj.completed_at IS NOT NULL AND COALESCE(pj.error, '') <> ''
          AND wb.transition = 'start' AND wb.template_version_preset_id IS NOT NULL),
    filtered AS (
        SELECT wb.template_version_id, wb.template_version_preset_id AS preset_id, pj.job_status, wb.created_at,
               p.desired_instances, t.deleted AS template_deleted,
               ROW_NUMBER() OVER (PARTITION BY wb.template_version_preset_id ORDER BY wb.created_at DESC, wb.id) AS rn
        FROM failed_presets fp
        CROSS JOIN workspace_builds wb ON wb.template_version_preset_id = fp.preset_id
        JOIN workspaces w ON w.id = wb.workspace_id
        JOIN templates t ON t.id = w.template_id AND t.active_version_id = wb.template_version_id
        JOIN template_version_presets p ON p.id = wb.template_version_preset_id
        JOIN provisioner_jobs pj ON pj.id = wb.job_id
        WHERE p.desired_instances IS NOT NULL AND wb.transition = 'start' AND w.owner_id = ?1 AND w.deleted = 0
          AND wb.build_number = (SELECT MAX(m.build_number) FROM workspace_builds m WHERE m.workspace_id = w.id))";

/// Q7: presets where one of the N most recent attempts (N = desired) failed since `lookback`:
/// the number of failures since then and the newest failed build among the N.
pub(crate) fn get_presets_backoff(conn: &Connection, lookback: Timestamp) -> Result<Vec<PresetBackoff>> {
    let op = "get presets backoff";
    conn.prepare_cached(&format!(
        "WITH {FILTERED_PREBUILD_BUILDS},
         failed AS (SELECT preset_id, COUNT(*) AS n FROM filtered
                    WHERE template_deleted = 0 AND job_status = 'failed' AND created_at >= ?2 GROUP BY preset_id)
         SELECT f.preset_id, failed.n, MAX(f.created_at)
         FROM filtered f JOIN failed ON failed.preset_id = f.preset_id
         WHERE f.template_deleted = 0 AND f.rn <= f.desired_instances AND f.job_status = 'failed' AND f.created_at >= ?2
         GROUP BY f.preset_id, failed.n"
    ))
    .op(op)?
    .query_map(params![PREBUILDS_SYSTEM_USER_ID, to_micros(lookback)], |r| {
        Ok(PresetBackoff { preset_id: r.get(0)?, num_failed: r.get(1)?, last_build_at: timestamp_at(r, 2)? })
    })
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

/// Q8: presets whose `hard_limit` most recent attempts all failed (0 disables the limit).
pub(crate) fn get_presets_at_failure_limit(conn: &Connection, hard_limit: i64) -> Result<Vec<String>> {
    let op = "get presets at failure limit";
    conn.prepare_cached(&format!(
        "WITH {FILTERED_PREBUILD_BUILDS}
         SELECT preset_id FROM filtered WHERE rn <= ?2 AND job_status = 'failed'
         GROUP BY preset_id HAVING COUNT(*) = ?2"
    ))
    .op(op)?
    .query_map(params![PREBUILDS_SYSTEM_USER_ID, hard_limit], |r| r.get(0))
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

/// Q11: per organization owning a preset with prebuilds configured (0 counts): is the user a
/// member, the id of its group named `group_name`, and is the user in that group.
pub(crate) fn get_organizations_with_prebuild_status(
    conn: &Connection,
    user_id: &str,
    group_name: &str,
) -> Result<Vec<OrganizationPrebuildStatus>> {
    let op = "get organizations with prebuild status";
    conn.prepare_cached(
        "SELECT o.id, o.name,
                EXISTS (SELECT 1 FROM organization_members m WHERE m.organization_id = o.id AND m.user_id = ?1),
                g.id,
                g.id IS NOT NULL AND EXISTS (SELECT 1 FROM group_members gm WHERE gm.group_id = g.id AND gm.user_id = ?1)
         FROM organizations o
         LEFT JOIN groups g ON g.organization_id = o.id AND g.name = ?2
         WHERE EXISTS (SELECT 1 FROM templates t
                       JOIN template_versions tv ON tv.template_id = t.id
                       JOIN template_version_presets p ON p.template_version_id = tv.id
                       WHERE t.organization_id = o.id AND p.desired_instances IS NOT NULL)
         ORDER BY o.name",
    )
    .op(op)?
    .query_map([user_id, group_name], |r| {
        Ok(OrganizationPrebuildStatus {
            organization_id: r.get(0)?,
            organization_name: r.get(1)?,
            has_prebuild_user: r.get(2)?,
            prebuilds_group_id: r.get(3)?,
            has_prebuild_user_in_group: r.get(4)?,
        })
    })
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

/// Q13: per (template, preset, organization) of live templates: prebuilds ever created, how
/// many failed, how many were claimed (owner no longer the prebuilds user).
pub(crate) fn get_prebuild_metrics(conn: &Connection) -> Result<Vec<PrebuildMetricsRow>> {
    let op = "get prebuild metrics";
    conn.prepare_cached(
        "SELECT t.name, p.name, o.name, COUNT(*), SUM(pj.job_status = 'failed'), SUM(w.owner_id <> ?1)
         FROM workspace_builds wb
         JOIN workspaces w ON w.id = wb.workspace_id
         JOIN templates t ON t.id = w.template_id AND t.deleted = 0
         JOIN template_version_presets p ON p.id = wb.template_version_preset_id
         JOIN organizations o ON o.id = w.organization_id
         JOIN provisioner_jobs pj ON pj.id = wb.job_id
         WHERE wb.build_number = 1 AND wb.initiator_id = ?1
         GROUP BY t.name, p.name, o.name
         ORDER BY t.name, p.name, o.name",
    )
    .op(op)?
    .query_map([PREBUILDS_SYSTEM_USER_ID], |r| {
        Ok(PrebuildMetricsRow {
            template_name: r.get(0)?,
            preset_name: r.get(1)?,
            organization_name: r.get(2)?,
            created_count: r.get(3)?,
            failed_count: r.get(4)?,
            claimed_count: r.get(5)?,
        })
    })
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

/// Q6: cancels the pending first builds of prebuilds on inactive versions of `preset_id`
/// (canceled_at = completed_at = now); returns (job id, workspace id) of each.
pub(crate) fn update_prebuild_provisioner_job_with_cancel(
    conn: &Connection,
    preset_id: &str,
    now: Timestamp,
) -> Result<Vec<(String, String)>> {
    let op = "cancel pending prebuild jobs";
    let mut rows: Vec<(String, String)> = conn
        .prepare_cached(
            "UPDATE provisioner_jobs SET canceled_at = ?3, completed_at = ?3, updated_at = ?3
             WHERE id IN (
                 SELECT wb.job_id FROM workspace_builds wb
                 JOIN provisioner_jobs pj ON pj.id = wb.job_id
                 JOIN workspaces w ON w.id = wb.workspace_id
                 JOIN templates t ON t.id = w.template_id
                 WHERE wb.initiator_id = ?1 AND wb.template_version_preset_id = ?2
                   AND wb.template_version_id <> t.active_version_id AND wb.build_number = 1
                   AND wb.transition = 'start' AND pj.started_at IS NULL AND pj.worker_id IS NULL
                   AND pj.canceled_at IS NULL AND pj.completed_at IS NULL)
             RETURNING id, (SELECT workspace_id FROM workspace_builds WHERE job_id = provisioner_jobs.id)",
        )
        .op(op)?
        .query_map(params![PREBUILDS_SYSTEM_USER_ID, preset_id, to_micros(now)], |r| Ok((r.get(0)?, r.get(1)?)))
        .op(op)?
        .collect::<rusqlite::Result<_>>()
        .op(op)?;
    rows.sort();
    Ok(rows)
}

/// Q9: sets a preset's prebuild status.
pub(crate) fn update_preset_prebuild_status(
    conn: &Connection,
    preset_id: &str,
    status: crate::database::models::PrebuildStatus,
) -> Result<()> {
    let op = "update preset prebuild status";
    conn.prepare_cached("UPDATE template_version_presets SET prebuild_status = ?2 WHERE id = ?1")
        .op(op)?
        .execute([preset_id, status.as_str()])
        .op(op)?;
    Ok(())
}

/// Q10: sets `last_invalidated_at` on every preset of the template's active version; returns
/// their ids.
pub(crate) fn update_presets_last_invalidated_at(
    conn: &Connection,
    template_id: &str,
    at: Timestamp,
) -> Result<Vec<String>> {
    let op = "invalidate presets";
    let mut ids: Vec<String> = conn
        .prepare_cached(
            "UPDATE template_version_presets SET last_invalidated_at = ?2
             WHERE template_version_id = (SELECT active_version_id FROM templates WHERE id = ?1)
             RETURNING id",
        )
        .op(op)?
        .query_map(params![template_id, to_micros(at)], |r| r.get(0))
        .op(op)?
        .collect::<rusqlite::Result<_>>()
        .op(op)?;
    ids.sort();
    Ok(ids)
}

/// Q12: gives the oldest ready prebuild of `preset_id` (latest build a succeeded start on the
/// template's active version, template not deleted) to `new_owner` under `new_name`. Writers
/// are serialized, so the chosen row cannot be claimed twice. `None`: nothing claimable.
pub(crate) fn claim_prebuilt_workspace(
    conn: &Connection,
    claim: &crate::database::models::ClaimPrebuild<'_>,
) -> Result<Option<(String, String)>> {
    let op = "claim prebuilt workspace";
    conn.prepare_cached(
        "UPDATE workspaces SET owner_id = ?2, name = ?3, updated_at = ?4, last_used_at = ?4,
                autostart_schedule = ?5, next_start_at = ?6, ttl_ms = ?7, dormant_at = NULL, deleting_at = NULL
         WHERE id = (
             SELECT w.id FROM workspaces w
             JOIN workspace_latest_builds lb ON lb.workspace_id = w.id
             JOIN templates t ON t.id = w.template_id AND t.deleted = 0 AND t.active_version_id = lb.template_version_id
             WHERE w.owner_id = ?1 AND w.deleted = 0 AND lb.transition = 'start' AND lb.job_status = 'succeeded'
               AND (SELECT b.template_version_preset_id FROM workspace_builds b
                    WHERE b.workspace_id = w.id AND b.transition = 'start' AND b.template_version_preset_id IS NOT NULL
                    ORDER BY b.build_number DESC LIMIT 1) = ?8
               AND COALESCE((SELECT MIN(a.lifecycle_state = 'ready') FROM workspace_resources r
                             JOIN workspace_agents a ON a.resource_id = r.id
                             WHERE r.job_id = lb.job_id AND a.deleted = 0 AND a.parent_id IS NULL), 0) = 1
             ORDER BY w.created_at, w.id
             LIMIT 1)
         RETURNING id, name",
    )
    .op(op)?
    .query_row(
        params![
            PREBUILDS_SYSTEM_USER_ID,
            claim.new_owner_id,
            claim.new_name,
            to_micros(claim.now),
            claim.autostart_schedule,
            claim.next_start_at.map(to_micros),
            claim.ttl_ms,
            claim.preset_id,
        ],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .op(op)
}

/// Users who administer `organization_id`'s templates: site owners and template admins, and
/// the organization's admins and template admins.
pub(crate) fn get_template_admins(conn: &Connection, organization_id: &str) -> Result<Vec<String>> {
    let op = "get template admins";
    conn.prepare_cached(
        "SELECT u.id FROM users u
         WHERE u.deleted = 0 AND u.is_system = 0 AND (
             EXISTS (SELECT 1 FROM json_each(u.rbac_roles) r WHERE r.value IN ('owner', 'template-admin'))
             OR EXISTS (SELECT 1 FROM organization_members m, json_each(m.roles) r
                        WHERE m.user_id = u.id AND m.organization_id = ?1
                          AND r.value IN ('organization-admin', 'organization-template-admin')))
         ORDER BY u.id",
    )
    .op(op)?
    .query_map([organization_id], |r| r.get(0))
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

/// Enqueues a notification for a user.
pub(crate) fn insert_notification_message(
    conn: &Connection,
    id: &str,
    template: &str,
    user_id: &str,
    payload: &serde_json::Value,
    now: Timestamp,
) -> Result<()> {
    let op = "insert notification message";
    conn.prepare_cached(
        "INSERT INTO notification_messages (id, notification_template_id, user_id, payload, created_by, created_at,
                                            updated_at)
         VALUES (?1, ?2, ?3, ?4, 'prebuilds_reconciler', ?5, ?5)",
    )
    .op(op)?
    .execute(params![id, template, user_id, payload.to_string(), to_micros(now)])
    .op(op)?;
    Ok(())
}

/// (notification template, user) of every enqueued notification, oldest first.
pub(crate) fn list_notification_messages(conn: &Connection) -> Result<Vec<(String, String)>> {
    let op = "list notification messages";
    conn.prepare_cached(
        "SELECT notification_template_id, user_id FROM notification_messages ORDER BY created_at, rowid",
    )
    .op(op)?
    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

impl PrebuildsStore for SqliteTx<'_> {
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
