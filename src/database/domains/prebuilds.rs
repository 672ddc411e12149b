//! The prebuilds snapshot and prebuild writes: `PrebuildsStore` and its rows.

use crate::clock::Timestamp;
use crate::database::Result;
use crate::database::domains::templates::PrebuildStatus;
use crate::database::domains::workspaces::WorkspaceTransition;

store_domain! {
    /// The prebuilds snapshot (Q1-Q13 of upstream's reconciler) and prebuild writes.
    pub trait PrebuildsStore {
        /// Q1: presets with prebuilds configured, deleted templates included.
        read fn get_template_presets_with_prebuilds(&self) -> Result<Vec<PresetInfo>>;

        /// Q2: (preset id, cron, desired) of presets on active versions of live, non-deprecated templates.
        read fn get_active_preset_prebuild_schedules(&self) -> Result<Vec<ActivePresetPrebuildSchedule>>;

        /// Q3: prebuilt workspaces whose latest build is a succeeded start.
        read fn get_running_prebuilt_workspaces(&self) -> Result<Vec<RunningPrebuild>>;

        /// A counter bumped by every change to the rows behind Q1 and Q3: equal values in two
        /// transactions mean those queries would answer the same. `None` when the engine
        /// keeps no such counter (PostgreSQL: a row every writer bumps would make concurrent
        /// writers collide); the snapshot is then read whole every cycle.
        read fn get_prebuilds_data_generation(&self) -> Result<Option<i64>>;

        /// Q4: in-progress prebuild builds on active versions per (version, transition, preset).
        read fn count_in_progress_prebuilds(&self) -> Result<Vec<InProgress>>;

        /// Q5: pending first prebuild builds of inactive versions, per preset.
        read fn count_pending_non_active_prebuilds(&self) -> Result<Vec<PendingNonActivePrebuilds>>;

        /// Q7: presets in backoff (a recent attempt among the newest N failed since `lookback`).
        read fn get_presets_backoff(&self, lookback: Timestamp) -> Result<Vec<PresetBackoff>>;

        /// Q8: presets whose `hard_limit` newest attempts all failed.
        read fn get_presets_at_failure_limit(&self, hard_limit: i64) -> Result<Vec<String>>;

        /// Q11: membership status of `user_id` per organization with prebuild presets.
        read fn get_organizations_with_prebuild_status(&self, user_id: &str, group_name: &str) -> Result<Vec<OrganizationPrebuildStatus>>;

        /// Q13: lifetime created / failed / claimed prebuild counts per (template, preset, organization).
        read fn get_prebuild_metrics(&self) -> Result<Vec<PrebuildMetricsRow>>;

        /// Q6: cancels pending first prebuild builds of inactive versions of a preset; returns (job id, workspace id).
        write fn update_prebuild_provisioner_job_with_cancel(&self, preset_id: &str, now: Timestamp) -> Result<Vec<CanceledPrebuildJob>>;

        /// Q9: sets a preset's prebuild status.
        write fn update_preset_prebuild_status(&self, preset_id: &str, status: PrebuildStatus) -> Result<()>;

        /// Q10: invalidates the presets of a template's active version; returns their ids.
        write fn update_presets_last_invalidated_at(&self, template_id: &str, at: Timestamp) -> Result<Vec<String>>;

        /// Q12: claims the oldest ready prebuild of a preset; `None` when none is claimable.
        write fn claim_prebuilt_workspace(&self, claim: &ClaimPrebuild<'_>) -> Result<Option<ClaimedPrebuild>>;



    }
}

/// A preset with prebuilds configured (query Q1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresetInfo {
    pub preset_id: String,
    pub preset_name: String,
    pub template_id: String,
    pub template_name: String,
    pub organization_id: String,
    pub organization_name: String,
    pub template_version_id: String,
    pub template_version_name: String,
    pub using_active_version: bool,
    pub desired_instances: i64,
    pub scheduling_timezone: String,
    /// `invalidate_after_secs`.
    pub ttl_secs: Option<i64>,
    pub prebuild_status: PrebuildStatus,
    /// The template is soft-deleted.
    pub deleted: bool,
    /// The template is deprecated.
    pub deprecated: bool,
    pub last_invalidated_at: Option<Timestamp>,
}

/// A running prebuilt workspace (query Q3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningPrebuild {
    pub id: String,
    pub name: String,
    pub template_id: String,
    pub template_version_id: String,
    pub current_preset_id: Option<String>,
    pub ready: bool,
    pub created_at: Timestamp,
}

/// In-progress prebuild builds of a (version, transition, preset) (query Q4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InProgress {
    pub template_version_id: String,
    pub transition: WorkspaceTransition,
    pub preset_id: Option<String>,
    pub count: i64,
}

/// A preset whose recent prebuilds failed (query Q7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresetBackoff {
    pub preset_id: String,
    pub num_failed: i64,
    pub last_build_at: Timestamp,
}

/// Membership status of the prebuilds user in an organization with prebuild presets (Q11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationPrebuildStatus {
    pub organization_id: String,
    pub organization_name: String,
    pub has_prebuild_user: bool,
    pub prebuilds_group_id: Option<String>,
    pub has_prebuild_user_in_group: bool,
}

/// Lifetime prebuild counters of one (template, preset, organization) (Q13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrebuildMetricsRow {
    pub template_name: String,
    pub preset_name: String,
    pub organization_name: String,
    pub created_count: i64,
    pub failed_count: i64,
    pub claimed_count: i64,
}

/// Parameters of `claim_prebuilt_workspace`.
#[derive(Debug, Clone)]
pub struct ClaimPrebuild<'a> {
    pub preset_id: &'a str,
    pub new_owner_id: &'a str,
    pub new_name: &'a str,
    pub now: Timestamp,
    pub autostart_schedule: Option<&'a str>,
    pub next_start_at: Option<Timestamp>,
    pub ttl_ms: Option<i64>,
}

/// Q5's row: pending first prebuild builds of inactive versions of a preset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingNonActivePrebuilds {
    pub preset_id: String,
    pub count: i64,
}

/// Q6's row: a canceled pending prebuild job and its workspace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CanceledPrebuildJob {
    pub job_id: String,
    pub workspace_id: String,
}

/// Q12's answer: the claimed workspace and its new name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedPrebuild {
    pub workspace_id: String,
    pub name: String,
}

/// Q2's row: a prebuild schedule of a preset on an active version of a live template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivePresetPrebuildSchedule {
    pub preset_id: String,
    pub cron_expression: String,
    pub desired_instances: i64,
}
