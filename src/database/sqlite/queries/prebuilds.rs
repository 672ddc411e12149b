//! The prebuilds snapshot queries. Each is one statement,
//! whatever the number of presets: the reconciler's read cost does not grow with them.

use rusqlite::params;

use crate::clock::Timestamp;
use crate::clock::to_micros;
use crate::database::PrebuildsStore;
use crate::database::Result;
use crate::database::models::ActivePresetPrebuildSchedule;
use crate::database::models::CanceledPrebuildJob;
use crate::database::models::ClaimPrebuild;
use crate::database::models::ClaimedPrebuild;
use crate::database::models::InProgress;
use crate::database::models::OrganizationPrebuildStatus;
use crate::database::models::PREBUILDS_SYSTEM_USER_ID;
use crate::database::models::PendingNonActivePrebuilds;
use crate::database::models::PrebuildMetricsRow;
use crate::database::models::PrebuildStatus;
use crate::database::models::PresetBackoff;
use crate::database::models::PresetInfo;
use crate::database::models::RunningPrebuild;
use crate::database::rows;
use crate::database::sqlite::queries::opt_micros;
use crate::database::sqlite::tx::SqliteTx;

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

impl PrebuildsStore for SqliteTx<'_> {
    /// Q1: `desired_instances IS NOT NULL`; deleted templates included (their prebuilds must be
    /// cleaned up).
    fn get_template_presets_with_prebuilds(&self) -> Result<Vec<PresetInfo>> {
        let sql = "SELECT p.id, p.name, t.id, t.name, o.id, o.name, tv.id, tv.id = t.active_version_id,
                          p.desired_instances, p.scheduling_timezone, p.invalidate_after_secs, p.prebuild_status,
                          t.deleted, t.deprecated <> '', p.last_invalidated_at, tv.name
                   FROM template_version_presets p
                   JOIN template_versions tv ON tv.id = p.template_version_id
                   JOIN templates t ON t.id = tv.template_id
                   JOIN organizations o ON o.id = t.organization_id
                   WHERE p.desired_instances IS NOT NULL
                   ORDER BY o.name, t.name, tv.created_at, p.name";
        self.all("get template presets with prebuilds", sql, [], rows::preset_info)
    }

    fn get_active_preset_prebuild_schedules(&self) -> Result<Vec<ActivePresetPrebuildSchedule>> {
        let sql = "SELECT s.preset_id, s.cron_expression, s.desired_instances
                   FROM template_version_preset_prebuild_schedules s
                   JOIN template_version_presets p ON p.id = s.preset_id
                   JOIN templates t ON t.active_version_id = p.template_version_id
                   WHERE t.deleted = 0 AND t.deprecated = ''
                   ORDER BY s.preset_id, s.rowid";
        self.all("get active preset prebuild schedules", sql, [], |r| {
            Ok(ActivePresetPrebuildSchedule {
                preset_id: r.id(0)?,
                cron_expression: r.text(1)?,
                desired_instances: r.i64(2)?,
            })
        })
    }

    /// Q3: with the preset of their newest start build that had one, and whether all live
    /// top-level agents are ready.
    fn get_running_prebuilt_workspaces(&self) -> Result<Vec<RunningPrebuild>> {
        let sql = "SELECT w.id, w.name, w.template_id, wb.template_version_id,
                          COALESCE(wb.template_version_preset_id,
                                   (SELECT b.template_version_preset_id FROM workspace_builds b
                                    WHERE b.workspace_id = w.id AND b.transition = 'start'
                                      AND b.template_version_preset_id IS NOT NULL
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
                   ORDER BY w.id";
        self.all("get running prebuilt workspaces", sql, [PREBUILDS_SYSTEM_USER_ID], rows::running_prebuild)
    }

    /// The counter the V8 triggers bump on every change behind Q1 and Q3.
    fn get_prebuilds_data_generation(&self) -> Result<Option<i64>> {
        let sql = "SELECT generation FROM prebuilds_data_generation WHERE id = 1";
        self.one("get prebuilds data generation", sql, [], |r| r.i64(0)).map(Some)
    }

    /// Q4: pending or running latest builds started by the prebuilds user.
    fn count_in_progress_prebuilds(&self) -> Result<Vec<InProgress>> {
        let sql = "SELECT wb.template_version_id, wb.transition, wb.template_version_preset_id, COUNT(*)
                   FROM provisioner_jobs pj
                   CROSS JOIN workspace_builds wb ON wb.job_id = pj.id
                   JOIN workspaces w ON w.id = wb.workspace_id
                   JOIN templates t ON t.id = w.template_id AND t.active_version_id = wb.template_version_id
                   WHERE pj.completed_at IS NULL AND pj.canceled_at IS NULL
                     AND wb.initiator_id = ?1 AND w.deleted = 0 AND wb.build_number = (
                         SELECT MAX(m.build_number) FROM workspace_builds m WHERE m.workspace_id = wb.workspace_id)
                   GROUP BY wb.template_version_id, wb.transition, wb.template_version_preset_id";
        self.all("count in progress prebuilds", sql, [PREBUILDS_SYSTEM_USER_ID], rows::in_progress)
    }

    /// Q5: first start builds whose job is still pending and untouched.
    fn count_pending_non_active_prebuilds(&self) -> Result<Vec<PendingNonActivePrebuilds>> {
        let sql = "SELECT wb.template_version_preset_id, COUNT(*)
                   FROM provisioner_jobs pj
                   CROSS JOIN workspace_builds wb ON wb.job_id = pj.id
                   JOIN workspaces w ON w.id = wb.workspace_id
                   JOIN templates t ON t.id = w.template_id
                   WHERE pj.started_at IS NULL AND pj.canceled_at IS NULL AND pj.completed_at IS NULL
                     AND pj.worker_id IS NULL
                     AND wb.initiator_id = ?1 AND wb.template_version_id <> t.active_version_id AND wb.build_number = 1
                     AND wb.transition = 'start' AND wb.template_version_preset_id IS NOT NULL
                   GROUP BY wb.template_version_preset_id";
        let op = "count pending non-active prebuilds";
        self.all(op, sql, [PREBUILDS_SYSTEM_USER_ID], |r| {
            Ok(PendingNonActivePrebuilds { preset_id: r.id(0)?, count: r.i64(1)? })
        })
    }

    /// Q7: N = desired; the number of failures since `lookback` and the newest failed build among the N.
    fn get_presets_backoff(&self, lookback: Timestamp) -> Result<Vec<PresetBackoff>> {
        let sql = format!(
            "WITH {FILTERED_PREBUILD_BUILDS},
             failed AS (SELECT preset_id, COUNT(*) AS n FROM filtered
                        WHERE template_deleted = 0 AND job_status = 'failed' AND created_at >= ?2 GROUP BY preset_id)
             SELECT f.preset_id, failed.n, MAX(f.created_at)
             FROM filtered f JOIN failed ON failed.preset_id = f.preset_id
             WHERE f.template_deleted = 0 AND f.rn <= f.desired_instances AND f.job_status = 'failed'
               AND f.created_at >= ?2
             GROUP BY f.preset_id, failed.n"
        );
        let params = params![PREBUILDS_SYSTEM_USER_ID, to_micros(lookback)];
        self.all("get presets backoff", &sql, params, rows::preset_backoff)
    }

    /// Q8: 0 disables the limit.
    fn get_presets_at_failure_limit(&self, hard_limit: i64) -> Result<Vec<String>> {
        let sql = format!(
            "WITH {FILTERED_PREBUILD_BUILDS}
             SELECT preset_id FROM filtered WHERE rn <= ?2 AND job_status = 'failed'
             GROUP BY preset_id HAVING COUNT(*) = ?2"
        );
        self.all("get presets at failure limit", &sql, params![PREBUILDS_SYSTEM_USER_ID, hard_limit], |r| r.id(0))
    }

    /// Q11: is the user a member, the id of the group named `group_name`, is the user in it.
    fn get_organizations_with_prebuild_status(
        &self,
        user_id: &str,
        group_name: &str,
    ) -> Result<Vec<OrganizationPrebuildStatus>> {
        let sql = "SELECT o.id, o.name,
                          EXISTS (SELECT 1 FROM organization_members m
                                  WHERE m.organization_id = o.id AND m.user_id = ?1),
                          g.id,
                          g.id IS NOT NULL
                          AND EXISTS (SELECT 1 FROM group_members gm WHERE gm.group_id = g.id AND gm.user_id = ?1)
                   FROM organizations o
                   LEFT JOIN groups g ON g.organization_id = o.id AND g.name = ?2
                   WHERE EXISTS (SELECT 1 FROM templates t
                                 JOIN template_versions tv ON tv.template_id = t.id
                                 JOIN template_version_presets p ON p.template_version_id = tv.id
                                 WHERE t.organization_id = o.id AND p.desired_instances IS NOT NULL)
                   ORDER BY o.name";
        let op = "get organizations with prebuild status";
        self.all(op, sql, [user_id, group_name], rows::organization_prebuild_status)
    }

    /// Q13: over live templates; claimed: the owner is no longer the prebuilds user.
    fn get_prebuild_metrics(&self) -> Result<Vec<PrebuildMetricsRow>> {
        let sql = "SELECT t.name, p.name, o.name, COUNT(*), SUM(pj.job_status = 'failed'), SUM(w.owner_id <> ?1)
                   FROM workspace_builds wb
                   JOIN workspaces w ON w.id = wb.workspace_id
                   JOIN templates t ON t.id = w.template_id AND t.deleted = 0
                   JOIN template_version_presets p ON p.id = wb.template_version_preset_id
                   JOIN organizations o ON o.id = w.organization_id
                   JOIN provisioner_jobs pj ON pj.id = wb.job_id
                   WHERE wb.build_number = 1 AND wb.initiator_id = ?1
                   GROUP BY t.name, p.name, o.name
                   ORDER BY t.name, p.name, o.name";
        self.all("get prebuild metrics", sql, [PREBUILDS_SYSTEM_USER_ID], rows::prebuild_metrics_row)
    }

    /// Q6: canceled_at = completed_at = now; sorted.
    fn update_prebuild_provisioner_job_with_cancel(
        &self,
        preset_id: &str,
        now: Timestamp,
    ) -> Result<Vec<CanceledPrebuildJob>> {
        let sql = "UPDATE provisioner_jobs SET canceled_at = ?3, completed_at = ?3, updated_at = ?3
                   WHERE id IN (
                       SELECT wb.job_id FROM workspace_builds wb
                       JOIN provisioner_jobs pj ON pj.id = wb.job_id
                       JOIN workspaces w ON w.id = wb.workspace_id
                       JOIN templates t ON t.id = w.template_id
                       WHERE wb.initiator_id = ?1 AND wb.template_version_preset_id = ?2
                         AND wb.template_version_id <> t.active_version_id AND wb.build_number = 1
                         AND wb.transition = 'start' AND pj.started_at IS NULL AND pj.worker_id IS NULL
                         AND pj.canceled_at IS NULL AND pj.completed_at IS NULL)
                   RETURNING id, (SELECT workspace_id FROM workspace_builds WHERE job_id = provisioner_jobs.id)";
        let params = params![PREBUILDS_SYSTEM_USER_ID, preset_id, to_micros(now)];
        let mut pairs = self.all("cancel pending prebuild jobs", sql, params, |r| {
            Ok(CanceledPrebuildJob { job_id: r.id(0)?, workspace_id: r.id(1)? })
        })?;
        pairs.sort();
        Ok(pairs)
    }

    fn update_preset_prebuild_status(&self, preset_id: &str, status: PrebuildStatus) -> Result<()> {
        let sql = "UPDATE template_version_presets SET prebuild_status = ?2 WHERE id = ?1";
        self.exec("update preset prebuild status", sql, [preset_id, status.as_str()])
    }

    /// Q10: sets `last_invalidated_at`; the ids sorted.
    fn update_presets_last_invalidated_at(&self, template_id: &str, at: Timestamp) -> Result<Vec<String>> {
        let sql = "UPDATE template_version_presets SET last_invalidated_at = ?2
                   WHERE template_version_id = (SELECT active_version_id FROM templates WHERE id = ?1)
                   RETURNING id";
        let mut ids = self.all("invalidate presets", sql, params![template_id, to_micros(at)], |r| r.id(0))?;
        ids.sort();
        Ok(ids)
    }

    /// Q12: the oldest ready prebuild (latest build a succeeded start on the template's active
    /// version, template not deleted). Writers are serialized, so it cannot be claimed twice.
    fn claim_prebuilt_workspace(&self, claim: &ClaimPrebuild<'_>) -> Result<Option<ClaimedPrebuild>> {
        let sql = "UPDATE workspaces SET owner_id = ?2, name = ?3, updated_at = ?4, last_used_at = ?4,
                          autostart_schedule = ?5, next_start_at = ?6, ttl_ms = ?7, dormant_at = NULL,
                          deleting_at = NULL
                   WHERE id = (
                       SELECT w.id FROM workspaces w
                       JOIN workspace_latest_builds lb ON lb.workspace_id = w.id
                       JOIN templates t
                         ON t.id = w.template_id AND t.deleted = 0 AND t.active_version_id = lb.template_version_id
                       WHERE w.owner_id = ?1 AND w.deleted = 0 AND lb.transition = 'start'
                         AND lb.job_status = 'succeeded'
                         AND (SELECT b.template_version_preset_id FROM workspace_builds b
                              WHERE b.workspace_id = w.id AND b.transition = 'start'
                                AND b.template_version_preset_id IS NOT NULL
                              ORDER BY b.build_number DESC LIMIT 1) = ?8
                         AND COALESCE((SELECT MIN(a.lifecycle_state = 'ready') FROM workspace_resources r
                                       JOIN workspace_agents a ON a.resource_id = r.id
                                       WHERE r.job_id = lb.job_id AND a.deleted = 0 AND a.parent_id IS NULL), 0) = 1
                       ORDER BY w.created_at, w.id
                       LIMIT 1)
                   RETURNING id, name";
        let params = params![
            PREBUILDS_SYSTEM_USER_ID,
            claim.new_owner_id,
            claim.new_name,
            to_micros(claim.now),
            claim.autostart_schedule,
            opt_micros(claim.next_start_at),
            claim.ttl_ms,
            claim.preset_id,
        ];
        self.opt("claim prebuilt workspace", sql, params, |r| {
            Ok(ClaimedPrebuild { workspace_id: r.id(0)?, name: r.text(1)? })
        })
    }
}
