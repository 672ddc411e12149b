//! Shared row mappers of the prebuilds domain's queries, and of the rollup's.

use crate::database::Error;
use crate::database::Result;
use crate::database::models::InProgress;
use crate::database::models::OrganizationPrebuildStatus;
use crate::database::models::PrebuildMetricsRow;
use crate::database::models::PresetBackoff;
use crate::database::models::PresetInfo;
use crate::database::models::RunningPrebuild;
use crate::database::models::TemplateUsageStat;
use crate::database::rows::RowReader;
use crate::database::rows::text_enum;

/// Q1: (preset id, preset name, template id, template name, organization id, organization
/// name, version id, on the active version, desired, timezone, ttl, prebuild status, template
/// deleted, template deprecated, last invalidated at, version name).
pub(crate) fn preset_info(r: &dyn RowReader) -> Result<PresetInfo> {
    Ok(PresetInfo {
        preset_id: r.id(0)?,
        preset_name: r.text(1)?,
        template_id: r.id(2)?,
        template_name: r.text(3)?,
        organization_id: r.id(4)?,
        organization_name: r.text(5)?,
        template_version_id: r.id(6)?,
        using_active_version: r.bool(7)?,
        desired_instances: r.i64(8)?,
        scheduling_timezone: r.text(9)?,
        ttl_secs: r.opt_i64(10)?,
        prebuild_status: text_enum(r, 11, "template_version_presets.prebuild_status")?,
        deleted: r.bool(12)?,
        deprecated: r.bool(13)?,
        last_invalidated_at: r.opt_time(14)?,
        template_version_name: r.text(15)?,
    })
}

/// Q3: (workspace id, name, template id, version id, current preset id, ready, created at).
pub(crate) fn running_prebuild(r: &dyn RowReader) -> Result<RunningPrebuild> {
    Ok(RunningPrebuild {
        id: r.id(0)?,
        name: r.text(1)?,
        template_id: r.id(2)?,
        template_version_id: r.id(3)?,
        current_preset_id: r.opt_id(4)?,
        ready: r.bool(5)?,
        created_at: r.time(6)?,
    })
}

/// Q4: (version id, transition, preset id, count).
pub(crate) fn in_progress(r: &dyn RowReader) -> Result<InProgress> {
    Ok(InProgress {
        template_version_id: r.id(0)?,
        transition: text_enum(r, 1, "workspace_builds.transition")?,
        preset_id: r.opt_id(2)?,
        count: r.i64(3)?,
    })
}

/// Q7: (preset id, failures, newest failed build's creation).
pub(crate) fn preset_backoff(r: &dyn RowReader) -> Result<PresetBackoff> {
    Ok(PresetBackoff { preset_id: r.id(0)?, num_failed: r.i64(1)?, last_build_at: r.time(2)? })
}

/// Q11: (organization id, name, user is a member, group id, user is in the group).
pub(crate) fn organization_prebuild_status(r: &dyn RowReader) -> Result<OrganizationPrebuildStatus> {
    Ok(OrganizationPrebuildStatus {
        organization_id: r.id(0)?,
        organization_name: r.text(1)?,
        has_prebuild_user: r.bool(2)?,
        prebuilds_group_id: r.opt_id(3)?,
        has_prebuild_user_in_group: r.bool(4)?,
    })
}

/// Q13: (template name, preset name, organization name, created, failed, claimed).
pub(crate) fn prebuild_metrics_row(r: &dyn RowReader) -> Result<PrebuildMetricsRow> {
    Ok(PrebuildMetricsRow {
        template_name: r.text(0)?,
        preset_name: r.text(1)?,
        organization_name: r.text(2)?,
        created_count: r.i64(3)?,
        failed_count: r.i64(4)?,
        claimed_count: r.i64(5)?,
    })
}

pub(crate) const USAGE_STAT_COLUMNS: &str = "start_time, end_time, template_id, user_id, median_latency_ms, \
     usage_mins, ssh_mins, sftp_mins, reconnecting_pty_mins, vscode_mins, jetbrains_mins, app_usage_mins";

pub(crate) fn template_usage_stat(r: &dyn RowReader) -> Result<TemplateUsageStat> {
    let app_usage_mins = r.opt_json_text(11)?.map(|text| serde_json::from_str(&text)).transpose().map_err(|e| {
        Error::InvalidValue { op: r.op(), column: "template_usage_stats.app_usage_mins", message: e.to_string() }
    })?;
    Ok(TemplateUsageStat {
        start_time: r.time(0)?,
        end_time: r.time(1)?,
        template_id: r.id(2)?,
        user_id: r.id(3)?,
        median_latency_ms: r.opt_f64(4)?,
        usage_mins: r.i64(5)?,
        ssh_mins: r.i64(6)?,
        sftp_mins: r.i64(7)?,
        reconnecting_pty_mins: r.i64(8)?,
        vscode_mins: r.i64(9)?,
        jetbrains_mins: r.i64(10)?,
        app_usage_mins,
    })
}
