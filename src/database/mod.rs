//! The storage boundary: the `Store` trait is the one interface domain code sees.
//!
//! **API boundary.** Domain modules (deployment, aiproviders, boundaryusage, rollup,
//! prebuilds, provisioner) call only what is declared here. The SQLite implementation lives
//! in [`sqlite`]; no `rusqlite` type crosses this module's edge.
//!
//! Every method carries a one-line contract. Methods that take data take it borrowed, so a
//! transaction closure can be re-run (see [`Store::in_tx`]).

pub mod errors;
pub mod lock;
pub mod models;
pub mod sqlite;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::clock::Cancel;
use crate::clock::SharedClock;
use crate::clock::Timestamp;
pub use crate::database::errors::Error;
pub use crate::database::errors::Result;
pub use crate::database::lock::LockId;
pub use crate::database::lock::gen_lock_id;
use crate::database::models::AiProvider;
use crate::database::models::AiProviderKey;
use crate::database::models::AuditLog;
use crate::database::models::BoundaryUsageSummary;
use crate::database::models::ClaimPrebuild;
use crate::database::models::GetUsersParams;
use crate::database::models::Group;
use crate::database::models::GroupMember;
use crate::database::models::InProgress;
use crate::database::models::InsertAiProvider;
use crate::database::models::InsertAuditLog;
use crate::database::models::InsertGroup;
use crate::database::models::InsertOrganization;
use crate::database::models::InsertPreset;
use crate::database::models::InsertProvisionerJob;
use crate::database::models::InsertTemplate;
use crate::database::models::InsertTemplateVersion;
use crate::database::models::InsertUser;
use crate::database::models::InsertWorkspace;
use crate::database::models::InsertWorkspaceAgent;
use crate::database::models::InsertWorkspaceBuild;
use crate::database::models::IntegrityReport;
use crate::database::models::LockRow;
use crate::database::models::Organization;
use crate::database::models::OrganizationMember;
use crate::database::models::OrganizationPrebuildStatus;
use crate::database::models::PrebuildMetricsRow;
use crate::database::models::PrebuildStatus;
use crate::database::models::Preset;
use crate::database::models::PresetBackoff;
use crate::database::models::PresetInfo;
use crate::database::models::PresetParameter;
use crate::database::models::PresetPrebuildSchedule;
use crate::database::models::ProvisionerJob;
use crate::database::models::RollupAgentStat;
use crate::database::models::RollupAppStat;
use crate::database::models::RunningPrebuild;
use crate::database::models::RunningWorkspaceAgent;
use crate::database::models::TelemetrySnapshot;
use crate::database::models::Template;
use crate::database::models::TemplateUsageStat;
use crate::database::models::TemplateVersion;
use crate::database::models::TemplateVersionParameter;
use crate::database::models::UpsertBoundaryUsageStats;
use crate::database::models::User;
use crate::database::models::UserStatus;
use crate::database::models::Workspace;
use crate::database::models::WorkspaceAgentStat;
use crate::database::models::WorkspaceAppStat;
use crate::database::models::WorkspaceBuild;
use crate::database::models::WorkspaceTransition;

/// How a transaction is opened. No `Default`: the caller says what it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxOptions {
    /// Read-only transactions see one consistent snapshot (`BEGIN DEFERRED` on a WAL
    /// database) and never take the writer mutex. Writes inside them fail.
    pub read_only: bool,
    /// Names the transaction in logs, spans and transaction-lock holders. Never drives logic.
    pub id: &'static str,
}

impl TxOptions {
    /// A read-only transaction named `id`.
    pub fn read(id: &'static str) -> Self {
        Self { read_only: true, id }
    }

    /// A read-write (`BEGIN IMMEDIATE`) transaction named `id`.
    pub fn write(id: &'static str) -> Self {
        Self { read_only: false, id }
    }
}

/// The closure type of [`Store::in_tx`].
pub type TxFn<'a> = dyn FnMut(&dyn Store) -> Result<()> + 'a;

/// A store shared between threads and services.
pub type SharedStore = Arc<dyn Store + Send + Sync>;

/// The one storage interface. Implemented by the pool-level store (each call runs in its own
/// short transaction) and by the transaction handle passed to `in_tx` closures.
pub trait Store {
    // --- transactions and locks -------------------------------------------------------------

    /// Runs `f` on one connection inside one transaction; commits if `f` returns `Ok`, rolls
    /// back otherwise. On a transaction handle it runs `f` inline (no BEGIN, no commit of its
    /// own); asking for read-write inside a read-only transaction is `ReadOnlyTransaction`.
    /// `f` may run more than once: when `acquire_lock` meets another holder's lease, the whole
    /// transaction is rolled back and retried, so take transaction locks first and keep side
    /// effects outside the closure.
    fn in_tx(&self, opts: TxOptions, f: &mut TxFn<'_>) -> Result<()>;

    /// Takes transaction lock `id` for the rest of the current read-write transaction (blocks
    /// while another holder's live lease sits on it, up to the lock timeout, then
    /// `LockNotAvailable`). Re-entrant. Outside a read-write transaction: an error.
    fn acquire_lock(&self, id: LockId) -> Result<()>;

    /// Like `acquire_lock` but never waits: false when another holder's live lease sits on
    /// `id`. In a read-only transaction it only answers the question and takes nothing.
    fn try_acquire_lock(&self, id: LockId) -> Result<bool>;

    /// Takes lease `id` for `holder` in its own short write transaction, or takes over an
    /// expired one; `None` at once when another live lease holds it. Not inside a transaction.
    fn try_acquire_lease(&self, id: LockId, holder: &str, ttl: Duration) -> Result<Option<LeaseGuard>>;

    /// All committed lock rows (leases; transaction locks are never visible outside their
    /// transaction), ordered by lock id.
    fn list_locks(&self) -> Result<Vec<LockRow>>;

    /// The clock this store binds timestamps from.
    fn clock(&self) -> SharedClock;

    // --- schema and health ------------------------------------------------------------------

    /// The newest applied migration version.
    fn schema_version(&self) -> Result<i64>;

    /// `PRAGMA integrity_check`, `PRAGMA foreign_key_check` and the schema version.
    fn check_integrity(&self) -> Result<IntegrityReport>;

    // --- site configs -----------------------------------------------------------------------

    /// The value stored under `key`, if any.
    fn get_site_config(&self, key: &str) -> Result<Option<String>>;

    /// Inserts `key`; a second insert of the same key is `UniqueViolation { site_configs_key_key }`.
    fn insert_site_config(&self, key: &str, value: &str) -> Result<()>;

    /// Inserts or replaces `key`.
    fn upsert_site_config(&self, key: &str, value: &str) -> Result<()>;

    /// `site_configs['health_settings']`, or `'{}'` when absent.
    fn get_health_settings(&self) -> Result<String>;

    /// `site_configs['prebuilds_settings']`, or `'{}'` when absent.
    fn get_prebuilds_settings(&self) -> Result<String>;

    // --- boundary usage telemetry (run inside a write transaction holding lock 9) ----------

    /// Inserts the replica's row from the deltas (true: a new period began), or replaces its
    /// unique counts with the cumulative values and adds the request counts (false).
    fn upsert_boundary_usage_stats(&self, params: &UpsertBoundaryUsageStats<'_>) -> Result<bool>;

    /// Sums rows whose window started within `max_staleness` (each sum 0 when none); reads only.
    fn get_boundary_usage_summary(&self, max_staleness: Duration) -> Result<BoundaryUsageSummary>;

    /// Sums rows whose window started within `max_staleness` (each sum 0 when none), then
    /// deletes all rows; the rows summed are exactly the rows deleted.
    fn get_and_reset_boundary_usage_summary(&self, max_staleness: Duration) -> Result<BoundaryUsageSummary>;

    /// Deletes one replica's row.
    fn delete_boundary_usage_stats_by_replica_id(&self, replica_id: &str) -> Result<()>;

    /// Claims a telemetry period; a second claim is `UniqueViolation { telemetry_locks_pkey }`.
    fn insert_telemetry_lock(&self, event_type: &str, period_ending_at: Timestamp) -> Result<()>;

    /// Stores a collected snapshot (JSON) for operators to inspect.
    fn insert_telemetry_snapshot(
        &self,
        event_type: &str,
        period_ending_at: Timestamp,
        replica_id: &str,
        snapshot: &serde_json::Value,
    ) -> Result<()>;

    /// The newest `limit` snapshots, newest first.
    fn list_telemetry_snapshots(&self, limit: u32) -> Result<Vec<TelemetrySnapshot>>;

    // --- identity: organizations, users, members, groups (SPEC §4) -------------------------

    /// Inserts an organization (its Everyone group is created with it).
    fn insert_organization(&self, params: &InsertOrganization<'_>) -> Result<Organization>;

    /// The organization with `id`; `NotFound` when absent.
    fn get_organization_by_id(&self, id: &str) -> Result<Organization>;

    /// The organization named `name`; `NotFound` when absent.
    fn get_organization_by_name(&self, name: &str) -> Result<Organization>;

    /// The default organization (`coder` unless renamed).
    fn get_default_organization(&self) -> Result<Organization>;

    /// All organizations by name.
    fn list_organizations(&self) -> Result<Vec<Organization>>;

    /// Inserts a human user (`is_system` false).
    fn insert_user(&self, params: &InsertUser<'_>) -> Result<User>;

    /// The user with `id`, deleted or not; `NotFound` when absent.
    fn get_user_by_id(&self, id: &str) -> Result<User>;

    /// The non-deleted user named `username`; `NotFound` when absent.
    fn get_user_by_username(&self, username: &str) -> Result<User>;

    /// Non-deleted users by username, filtered by `params` (system users only with `include_system`).
    fn get_users(&self, params: &GetUsersParams<'_>) -> Result<Vec<User>>;

    /// Non-deleted users.
    fn get_user_count(&self, include_system: bool) -> Result<i64>;

    /// Active non-deleted users; with `include_system = false` this is the license seat count.
    fn get_active_user_count(&self, include_system: bool) -> Result<i64>;

    /// Sets a user's status; `SystemUser` for system users.
    fn update_user_status(&self, id: &str, status: UserStatus, updated_at: Timestamp) -> Result<User>;

    /// Renames a user; `SystemUser` for system users.
    fn update_user_profile(&self, id: &str, username: &str, name: &str, updated_at: Timestamp) -> Result<User>;

    /// Soft-deletes a user; `SystemUser` for system users.
    fn delete_user(&self, id: &str, updated_at: Timestamp) -> Result<()>;

    /// Marks active human users last seen before `last_seen_before` dormant (never system users); returns their IDs.
    fn update_inactive_users_to_dormant(
        &self,
        last_seen_before: Timestamp,
        updated_at: Timestamp,
    ) -> Result<Vec<String>>;

    /// Adds a user to an organization; a duplicate is `UniqueViolation { organization_members_pkey }`.
    fn insert_organization_member(
        &self,
        organization_id: &str,
        user_id: &str,
        roles: &[&str],
        created_at: Timestamp,
    ) -> Result<()>;

    /// Members of one organization (or all) among non-deleted users.
    fn get_organization_members(
        &self,
        organization_id: Option<&str>,
        include_system: bool,
    ) -> Result<Vec<OrganizationMember>>;

    /// Inserts a group; a duplicate name in the organization is `UniqueViolation { groups_name_organization_id_key }`.
    fn insert_group(&self, params: &InsertGroup<'_>) -> Result<Group>;

    /// The group of `organization_id` named `name`; `NotFound` when absent.
    fn get_group_by_org_and_name(&self, organization_id: &str, name: &str) -> Result<Group>;

    /// The group with `id`, if any.
    fn get_group_by_id(&self, id: &str) -> Result<Option<Group>>;

    /// Adds an explicit group member; a duplicate is `UniqueViolation { group_members_pkey }`.
    fn insert_group_member(&self, group_id: &str, user_id: &str) -> Result<()>;

    /// Removes an explicit group member.
    fn delete_group_member(&self, group_id: &str, user_id: &str) -> Result<()>;

    /// Expanded members of a group (explicit members, or all organization members for Everyone).
    fn get_group_members_by_group_id(&self, group_id: &str, include_system: bool) -> Result<Vec<GroupMember>>;

    /// The number of expanded members of a group.
    fn get_group_members_count_by_group_id(&self, group_id: &str, include_system: bool) -> Result<i64>;

    /// A page of expanded members by username, and the total under the same filter (`limit` 0: all).
    fn get_group_members_by_group_id_paginated(
        &self,
        group_id: &str,
        include_system: bool,
        offset: u32,
        limit: u32,
    ) -> Result<(Vec<GroupMember>, i64)>;

    // --- templates, versions, presets, jobs (SPEC §9 data model) --------------------------

    /// Inserts a provisioner job in the state its timestamps describe.
    fn insert_provisioner_job(&self, params: &InsertProvisionerJob<'_>) -> Result<ProvisionerJob>;

    /// The job with `id`; `NotFound` when absent.
    fn get_provisioner_job_by_id(&self, id: &str) -> Result<ProvisionerJob>;

    /// Inserts a template (its active version may be inserted later in the same transaction).
    fn insert_template(&self, params: &InsertTemplate<'_>) -> Result<Template>;

    /// The template with `id`, deleted or not; `NotFound` when absent.
    fn get_template_by_id(&self, id: &str) -> Result<Template>;

    /// How many templates exist, deleted ones included.
    fn count_templates(&self) -> Result<i64>;

    /// The non-deleted template of an organization named `name`; `NotFound` when absent.
    fn get_template_by_organization_and_name(&self, organization_id: &str, name: &str) -> Result<Template>;

    /// Promotes a version to the template's active version.
    fn update_template_active_version(&self, template_id: &str, version_id: &str, updated_at: Timestamp) -> Result<()>;

    /// Soft-deletes or restores a template and sets its deprecation message ('' = none).
    fn update_template_deleted_and_deprecated(
        &self,
        template_id: &str,
        deleted: bool,
        deprecated: &str,
        updated_at: Timestamp,
    ) -> Result<()>;

    /// Inserts a template version.
    fn insert_template_version(&self, params: &InsertTemplateVersion<'_>) -> Result<TemplateVersion>;

    /// The version with `id`; `NotFound` when absent.
    fn get_template_version_by_id(&self, id: &str) -> Result<TemplateVersion>;

    /// A template's versions, oldest first.
    fn get_template_versions_by_template_id(&self, template_id: &str) -> Result<Vec<TemplateVersion>>;

    /// Declares a parameter of a version.
    fn insert_template_version_parameter(
        &self,
        template_version_id: &str,
        name: &str,
        required: bool,
        default_value: &str,
    ) -> Result<()>;

    /// A version's parameters by name.
    fn get_template_version_parameters(&self, template_version_id: &str) -> Result<Vec<TemplateVersionParameter>>;

    /// Inserts a preset.
    fn insert_preset(&self, params: &InsertPreset<'_>) -> Result<Preset>;

    /// The preset with `id`; `NotFound` when absent.
    fn get_preset_by_id(&self, id: &str) -> Result<Preset>;

    /// A version's presets by name.
    fn get_presets_by_template_version_id(&self, template_version_id: &str) -> Result<Vec<Preset>>;

    /// Sets a parameter value of a preset.
    fn insert_preset_parameter(&self, id: &str, preset_id: &str, name: &str, value: &str) -> Result<()>;

    /// Every preset parameter of a version's presets (callers filter by preset).
    fn get_preset_parameters_by_template_version_id(&self, template_version_id: &str) -> Result<Vec<PresetParameter>>;

    /// Adds a prebuild schedule (cron, desired instances) to a preset.
    fn insert_preset_prebuild_schedule(
        &self,
        id: &str,
        preset_id: &str,
        cron_expression: &str,
        desired_instances: i64,
    ) -> Result<()>;

    /// A preset's prebuild schedules.
    fn get_preset_prebuild_schedules(&self, preset_id: &str) -> Result<Vec<PresetPrebuildSchedule>>;

    /// Inserts a workspace; a duplicate name for the owner is `UniqueViolation { workspaces_owner_id_lower_idx }`.
    fn insert_workspace(&self, params: &InsertWorkspace<'_>) -> Result<Workspace>;

    /// The workspace with `id`, deleted or not; `NotFound` when absent.
    fn get_workspace_by_id(&self, id: &str) -> Result<Workspace>;

    /// Non-deleted workspaces of a template, oldest first.
    fn get_workspaces_by_template_id(&self, template_id: &str) -> Result<Vec<Workspace>>;

    /// Marks a workspace deleted (or not).
    fn update_workspace_deleted(&self, id: &str, deleted: bool, updated_at: Timestamp) -> Result<()>;

    /// Inserts a workspace build.
    fn insert_workspace_build(&self, params: &InsertWorkspaceBuild<'_>) -> Result<WorkspaceBuild>;

    /// A workspace's builds, newest first.
    fn get_workspace_builds_by_workspace_id(&self, workspace_id: &str) -> Result<Vec<WorkspaceBuild>>;

    /// Records a parameter value of a build.
    fn insert_workspace_build_parameter(&self, workspace_build_id: &str, name: &str, value: &str) -> Result<()>;

    /// A build's parameter values as (name, value), by name.
    fn get_workspace_build_parameters(&self, workspace_build_id: &str) -> Result<Vec<(String, String)>>;

    /// Inserts a resource produced by a job.
    fn insert_workspace_resource(
        &self,
        id: &str,
        job_id: &str,
        transition: WorkspaceTransition,
        created_at: Timestamp,
    ) -> Result<()>;

    /// Inserts an agent of a resource.
    fn insert_workspace_agent(&self, params: &InsertWorkspaceAgent<'_>) -> Result<()>;

    /// Inserts agent stats (one statement prepared once for all rows).
    fn insert_workspace_agent_stats(&self, stats: &[WorkspaceAgentStat]) -> Result<()>;

    /// Inserts app stats; a repeated (agent, session) extends that session.
    fn insert_workspace_app_stats(&self, stats: &[WorkspaceAppStat]) -> Result<()>;

    /// The numbers of agent stats and app stats rows.
    fn count_usage_stats(&self) -> Result<(i64, i64)>;

    // --- AI providers and audit logs (SPEC §6) --------------------------------------------

    /// Providers by name; soft-deleted ones only with `include_deleted`.
    fn list_ai_providers(&self, include_deleted: bool) -> Result<Vec<AiProvider>>;

    /// Inserts a provider (enabled, not deleted); a used name (deleted rows included) is `UniqueViolation { ai_providers_name_key }`.
    fn insert_ai_provider(&self, params: &InsertAiProvider<'_>) -> Result<AiProvider>;

    /// Inserts a bearer key of a provider.
    fn insert_ai_provider_key(&self, id: &str, provider_id: &str, api_key: &str, created_at: Timestamp) -> Result<()>;

    /// Every provider's keys, oldest first within each provider.
    fn list_ai_provider_keys(&self) -> Result<Vec<AiProviderKey>>;

    /// Soft-deletes the live provider `name` (deleted, disabled); `None` when there is none.
    fn soft_delete_ai_provider(&self, name: &str, updated_at: Timestamp) -> Result<Option<AiProvider>>;

    /// Appends an audit entry.
    fn insert_audit_log(&self, params: &InsertAuditLog<'_>) -> Result<()>;

    /// Audit entries of a resource type, oldest first.
    fn list_audit_logs(&self, resource_type: &str) -> Result<Vec<AuditLog>>;

    // --- template usage rollup (SPEC §8) ---------------------------------------------------

    /// (newest bucket start, earliest agent stat): the inputs of the rollup window.
    fn get_rollup_window_inputs(&self) -> Result<(Option<Timestamp>, Option<Timestamp>)>;

    /// Agent stats created in `[start, end)`.
    fn get_agent_stats_for_rollup(&self, start: Timestamp, end: Timestamp) -> Result<Vec<RollupAgentStat>>;

    /// App sessions overlapping `[start, end)`, with their workspace's template.
    fn get_app_stats_for_rollup(&self, start: Timestamp, end: Timestamp) -> Result<Vec<RollupAppStat>>;

    /// Upserts rollup rows, skipping unchanged ones; returns the number written.
    fn upsert_template_usage_stats(&self, rows: &[TemplateUsageStat]) -> Result<usize>;

    /// Rollup rows entirely inside `[start, end]` for the templates (empty: all).
    fn get_template_usage_stats(
        &self,
        start: Timestamp,
        end: Timestamp,
        template_ids: &[String],
    ) -> Result<Vec<TemplateUsageStat>>;

    // --- prebuilds snapshot (SPEC §9, reference/prebuilds.md §2) ---------------------------

    /// Q1: presets with prebuilds configured, deleted templates included.
    fn get_template_presets_with_prebuilds(&self) -> Result<Vec<PresetInfo>>;

    /// Q2: (preset id, cron, desired) of presets on active versions of live, non-deprecated templates.
    fn get_active_preset_prebuild_schedules(&self) -> Result<Vec<(String, String, i64)>>;

    /// Q3: prebuilt workspaces whose latest build is a succeeded start.
    fn get_running_prebuilt_workspaces(&self) -> Result<Vec<RunningPrebuild>>;

    /// A counter bumped by every change to the rows behind Q1 and Q3: equal values in two
    /// transactions mean those queries would answer the same.
    fn get_prebuilds_data_generation(&self) -> Result<i64>;

    /// Q4: in-progress prebuild builds on active versions per (version, transition, preset).
    fn count_in_progress_prebuilds(&self) -> Result<Vec<InProgress>>;

    /// Q5: pending first prebuild builds of inactive versions, per preset.
    fn count_pending_non_active_prebuilds(&self) -> Result<Vec<(String, i64)>>;

    /// Q7: presets in backoff (a recent attempt among the newest N failed since `lookback`).
    fn get_presets_backoff(&self, lookback: Timestamp) -> Result<Vec<PresetBackoff>>;

    /// Q8: presets whose `hard_limit` newest attempts all failed.
    fn get_presets_at_failure_limit(&self, hard_limit: i64) -> Result<Vec<String>>;

    /// Q11: membership status of `user_id` per organization with prebuild presets.
    fn get_organizations_with_prebuild_status(
        &self,
        user_id: &str,
        group_name: &str,
    ) -> Result<Vec<OrganizationPrebuildStatus>>;

    /// Q13: lifetime created / failed / claimed prebuild counts per (template, preset, organization).
    fn get_prebuild_metrics(&self) -> Result<Vec<PrebuildMetricsRow>>;

    // --- prebuilds writes (SPEC §9) --------------------------------------------------------

    /// Q6: cancels pending first prebuild builds of inactive versions of a preset; returns (job id, workspace id).
    fn update_prebuild_provisioner_job_with_cancel(
        &self,
        preset_id: &str,
        now: Timestamp,
    ) -> Result<Vec<(String, String)>>;

    /// Q9: sets a preset's prebuild status.
    fn update_preset_prebuild_status(&self, preset_id: &str, status: PrebuildStatus) -> Result<()>;

    /// Q10: invalidates the presets of a template's active version; returns their ids.
    fn update_presets_last_invalidated_at(&self, template_id: &str, at: Timestamp) -> Result<Vec<String>>;

    /// Q12: claims the oldest ready prebuild of a preset; `None` when none is claimable.
    fn claim_prebuilt_workspace(&self, claim: &ClaimPrebuild<'_>) -> Result<Option<(String, String)>>;

    /// Users who administer an organization's templates.
    fn get_template_admins(&self, organization_id: &str) -> Result<Vec<String>>;

    /// Enqueues a notification for a user.
    fn insert_notification_message(
        &self,
        id: &str,
        template: &str,
        user_id: &str,
        payload: &serde_json::Value,
        now: Timestamp,
    ) -> Result<()>;

    /// (notification template, user) of enqueued notifications, oldest first.
    fn list_notification_messages(&self) -> Result<Vec<(String, String)>>;

    /// Takes the oldest pending job for `worker_id`; never the same job twice, across processes too.
    fn acquire_provisioner_job(&self, worker_id: &str, now: Timestamp) -> Result<Option<ProvisionerJob>>;

    /// Completes a job: succeeded, or failed with `error`.
    fn complete_provisioner_job(&self, job_id: &str, now: Timestamp, error: Option<&str>) -> Result<()>;

    /// Touches `updated_at` of the unfinished jobs `worker_id` holds (the provisioner's
    /// heartbeat); returns how many.
    fn heartbeat_provisioner_jobs(&self, worker_id: &str, now: Timestamp) -> Result<usize>;

    /// Puts started, unfinished jobs last updated before `updated_before` back to pending
    /// (of `worker_id` only, when given); returns how many.
    fn requeue_provisioner_jobs(
        &self,
        worker_id: Option<&str>,
        updated_before: Timestamp,
        now: Timestamp,
    ) -> Result<usize>;

    /// Ready top-level agents of live workspaces whose latest build is a succeeded start,
    /// prebuilt (unclaimed) workspaces left out: what the demo's simulated activity reports on.
    fn get_running_workspace_agents(&self) -> Result<Vec<RunningWorkspaceAgent>>;

    /// The build of a job: (build id, workspace id, transition, the version's fail_builds).
    fn get_workspace_build_by_job_id(
        &self,
        job_id: &str,
    ) -> Result<Option<(String, String, WorkspaceTransition, bool)>>;
}

/// Runs `f` in a transaction and carries its value and its own error type out of it: the
/// generic front of the object-safe [`Store::in_tx`].
pub fn in_tx<T, E>(store: &dyn Store, opts: TxOptions, mut f: impl FnMut(&dyn Store) -> Result<T, E>) -> Result<T, E>
where
    E: From<Error>,
{
    let mut value = None;
    let mut closure_error = None;
    let res = store.in_tx(opts, &mut |tx| match f(tx) {
        Ok(v) => {
            value = Some(v);
            Ok(())
        }
        Err(e) => {
            closure_error = Some(e);
            Err(Error::ClosureFailed)
        }
    });
    match res {
        Ok(()) => Ok(value.expect("in_tx: closure returned Ok without a value")),
        Err(Error::ClosureFailed) => Err(closure_error.expect("in_tx: closure error recorded")),
        Err(e) => Err(E::from(e)),
    }
}

/// What a `LeaseGuard` needs from the store that issued it.
pub(crate) trait LeaseBackend: Send + Sync {
    /// Extends the lease to now + ttl; false when it is no longer ours.
    fn renew_lease(&self, id: LockId, holder: &str, ttl: Duration) -> Result<bool>;
    /// Deletes the lease row if it is still ours.
    fn release_lease(&self, id: LockId, holder: &str) -> Result<()>;
    fn clock(&self) -> SharedClock;
}

/// A held lease. A background heartbeat renews it every ttl/3; dropping the guard (or
/// [`LeaseGuard::release`]) stops the heartbeat and deletes the row. If the lease is lost (a
/// renew finds another holder), [`LeaseGuard::is_held`] turns false and the work should stop.
pub struct LeaseGuard {
    lock_id: LockId,
    holder: String,
    lost: Arc<AtomicBool>,
    cancel: Cancel,
    heartbeat: Option<JoinHandle<()>>,
    backend: Arc<dyn LeaseBackend>,
    released: bool,
}

impl fmt::Debug for LeaseGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaseGuard")
            .field("lock_id", &self.lock_id)
            .field("holder", &self.holder)
            .field("held", &self.is_held())
            .finish()
    }
}

impl LeaseGuard {
    pub(crate) fn start(backend: Arc<dyn LeaseBackend>, lock_id: LockId, holder: &str, ttl: Duration) -> Self {
        let lost = Arc::new(AtomicBool::new(false));
        let cancel = Cancel::new();
        let heartbeat = {
            let backend = Arc::clone(&backend);
            let lost = Arc::clone(&lost);
            let cancel = cancel.clone();
            let holder = holder.to_owned();
            std::thread::Builder::new()
                .name(format!("lease-{}", lock_id.as_i64()))
                .spawn(move || heartbeat_loop(&*backend, lock_id, &holder, ttl, &lost, &cancel))
                .expect("spawn lease heartbeat thread")
        };
        Self { lock_id, holder: holder.to_owned(), lost, cancel, heartbeat: Some(heartbeat), backend, released: false }
    }

    pub fn lock_id(&self) -> LockId {
        self.lock_id
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// False once a heartbeat found the lease taken by someone else.
    pub fn is_held(&self) -> bool {
        !self.lost.load(Ordering::SeqCst)
    }

    /// Stops the heartbeat and deletes the lease row, reporting a failure to delete.
    pub fn release(mut self) -> Result<()> {
        self.stop_heartbeat();
        self.released = true;
        self.backend.release_lease(self.lock_id, &self.holder)
    }

    /// Stops the heartbeat and leaves the row in place, as a crashed process would: the lease
    /// stays until it expires. For crash tests and for handing a lease to expiry on purpose.
    pub fn abandon(mut self) {
        self.stop_heartbeat();
        self.released = true;
    }

    fn stop_heartbeat(&mut self) {
        self.cancel.cancel();
        if let Some(handle) = self.heartbeat.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        self.stop_heartbeat();
        if let Err(error) = self.backend.release_lease(self.lock_id, &self.holder) {
            // The row expires on its own; the next holder takes it over after the ttl.
            tracing::warn!(lock_id = self.lock_id.as_i64(), holder = %self.holder, %error, "release lease");
        }
    }
}

fn heartbeat_loop(
    backend: &dyn LeaseBackend,
    lock_id: LockId,
    holder: &str,
    ttl: Duration,
    lost: &AtomicBool,
    cancel: &Cancel,
) {
    let clock = backend.clock();
    loop {
        if !clock.sleep_until(crate::clock::add_duration(clock.now(), ttl / 3), cancel) {
            return;
        }
        match backend.renew_lease(lock_id, holder, ttl) {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(lock_id = lock_id.as_i64(), holder, "lease lost to another holder");
                lost.store(true, Ordering::SeqCst);
                return;
            }
            // A transient failure (busy file): try again next beat; the ttl leaves two more.
            Err(error) => tracing::warn!(lock_id = lock_id.as_i64(), holder, %error, "renew lease"),
        }
    }
}
