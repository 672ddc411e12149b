//! The transaction handle: the `Store` that `in_tx` closures receive. Every query runs on
//! its one connection; transaction locks are rows it inserts and deletes before COMMIT.

use std::cell::RefCell;
use std::time::Duration;

use rusqlite::Connection;

use crate::clock::SharedClock;
use crate::clock::Timestamp;
use crate::database::Error;
use crate::database::LeaseGuard;
use crate::database::LockId;
use crate::database::Result;
use crate::database::Store;
use crate::database::TxFn;
use crate::database::TxOptions;
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
use crate::database::sqlite::Inner;
use crate::database::sqlite::queries;
use crate::database::sqlite::queries::locks::TakeLock;

pub(crate) struct SqliteTx<'a> {
    conn: &'a Connection,
    opts: TxOptions,
    inner: &'a Inner,
    /// Transaction locks this transaction holds (rows to delete before COMMIT).
    held: RefCell<Vec<LockId>>,
    /// Set when `acquire_lock` met another holder's lease: the outermost `in_tx` rolls back,
    /// backs off and re-runs the transaction.
    contended: RefCell<Option<(LockId, String)>>,
}

impl<'a> SqliteTx<'a> {
    pub(crate) fn new(conn: &'a Connection, opts: TxOptions, inner: &'a Inner) -> Self {
        Self { conn, opts, inner, held: RefCell::new(Vec::new()), contended: RefCell::new(None) }
    }

    pub(crate) fn take_contended(&self) -> Option<(LockId, String)> {
        self.contended.borrow_mut().take()
    }

    /// Deletes this transaction's lock rows; called just before COMMIT so none is published.
    pub(crate) fn release_transaction_locks(&self) -> Result<()> {
        if self.held.borrow_mut().drain(..).count() > 0 {
            queries::locks::release_transaction_locks(self.conn)?;
        }
        Ok(())
    }

    fn now(&self) -> Timestamp {
        self.inner.config.clock.now()
    }

    fn holder(&self) -> String {
        format!("{}/tx:{}", self.inner.config.replica_id, self.opts.id)
    }

    fn take_lock(&self, id: LockId, op: &'static str) -> Result<Option<String>> {
        if self.opts.read_only {
            return Err(Error::ReadOnlyTransaction { op });
        }
        if self.held.borrow().contains(&id) {
            return Ok(None);
        }
        let now = self.inner.config.clock.now();
        match queries::locks::take_transaction_lock(self.conn, id, &self.holder(), now)? {
            TakeLock::Taken => {
                self.held.borrow_mut().push(id);
                Ok(None)
            }
            TakeLock::HeldByLease { holder } => Ok(Some(holder)),
        }
    }
}

macro_rules! run_query {
    ($( fn $name:ident(&self $(, $arg:ident : $ty:ty)* $(,)?) -> $ret:ty => $path:path; )*) => {
        $(
            fn $name(&self $(, $arg: $ty)*) -> $ret {
                $path(self.conn $(, $arg)*)
            }
        )*
    };
}

impl Store for SqliteTx<'_> {
    fn in_tx(&self, opts: TxOptions, f: &mut TxFn<'_>) -> Result<()> {
        if self.opts.read_only && !opts.read_only {
            return Err(Error::ReadOnlyTransaction { op: "begin nested read-write transaction" });
        }
        f(self)
    }

    fn acquire_lock(&self, id: LockId) -> Result<()> {
        match self.take_lock(id, "acquire lock")? {
            None => Ok(()),
            Some(holder) => {
                *self.contended.borrow_mut() = Some((id, holder.clone()));
                let timeout_ms = u64::try_from(self.inner.config.lock_timeout.as_millis()).unwrap_or(u64::MAX);
                Err(Error::LockNotAvailable { lock_id: id, holder, timeout_ms })
            }
        }
    }

    fn try_acquire_lock(&self, id: LockId) -> Result<bool> {
        if self.opts.read_only {
            let now = self.inner.config.clock.now();
            return Ok(queries::locks::live_lease_holder(self.conn, id, now)?.is_none());
        }
        Ok(self.take_lock(id, "try acquire lock")?.is_none())
    }

    fn try_acquire_lease(&self, _id: LockId, _holder: &str, _ttl: Duration) -> Result<Option<LeaseGuard>> {
        Err(Error::InTransaction { op: "try acquire lease" })
    }

    fn list_locks(&self) -> Result<Vec<LockRow>> {
        queries::locks::list_locks(self.conn, !self.opts.read_only)
    }

    fn upsert_boundary_usage_stats(&self, params: &UpsertBoundaryUsageStats<'_>) -> Result<bool> {
        queries::boundary_usage::upsert_boundary_usage_stats(self.conn, params, self.now())
    }

    fn get_boundary_usage_summary(&self, max_staleness: Duration) -> Result<BoundaryUsageSummary> {
        queries::boundary_usage::get_boundary_usage_summary(self.conn, max_staleness, self.now())
    }

    fn get_and_reset_boundary_usage_summary(&self, max_staleness: Duration) -> Result<BoundaryUsageSummary> {
        queries::boundary_usage::get_and_reset_boundary_usage_summary(self.conn, max_staleness, self.now())
    }

    fn insert_telemetry_snapshot(
        &self,
        event_type: &str,
        period_ending_at: Timestamp,
        replica_id: &str,
        snapshot: &serde_json::Value,
    ) -> Result<()> {
        queries::boundary_usage::insert_telemetry_snapshot(
            self.conn,
            event_type,
            period_ending_at,
            replica_id,
            snapshot,
            self.now(),
        )
    }

    fn clock(&self) -> SharedClock {
        self.inner.config.clock.clone()
    }

    fn schema_version(&self) -> Result<i64> {
        crate::database::sqlite::migrate::applied_schema_version(self.conn)
    }

    run_query! {
        fn acquire_provisioner_job(&self, worker_id: &str, now: Timestamp) -> Result<Option<ProvisionerJob>>
            => queries::prebuilds::acquire_provisioner_job;
        fn complete_provisioner_job(&self, job_id: &str, now: Timestamp, error: Option<&str>) -> Result<()>
            => queries::prebuilds::complete_provisioner_job;
        fn heartbeat_provisioner_jobs(&self, worker_id: &str, now: Timestamp) -> Result<usize>
            => queries::prebuilds::heartbeat_provisioner_jobs;
        fn requeue_provisioner_jobs(&self, worker_id: Option<&str>, updated_before: Timestamp, now: Timestamp) -> Result<usize>
            => queries::prebuilds::requeue_provisioner_jobs;
        fn get_running_workspace_agents(&self) -> Result<Vec<RunningWorkspaceAgent>>
            => queries::workspaces::get_running_workspace_agents;
        fn get_workspace_build_by_job_id(&self, job_id: &str) -> Result<Option<(String, String, WorkspaceTransition, bool)>>
            => queries::prebuilds::get_workspace_build_by_job_id;
        fn update_prebuild_provisioner_job_with_cancel(&self, preset_id: &str, now: Timestamp) -> Result<Vec<(String, String)>>
            => queries::prebuilds::update_prebuild_provisioner_job_with_cancel;
        fn update_preset_prebuild_status(&self, preset_id: &str, status: PrebuildStatus) -> Result<()>
            => queries::prebuilds::update_preset_prebuild_status;
        fn update_presets_last_invalidated_at(&self, template_id: &str, at: Timestamp) -> Result<Vec<String>>
            => queries::prebuilds::update_presets_last_invalidated_at;
        fn claim_prebuilt_workspace(&self, claim: &ClaimPrebuild<'_>) -> Result<Option<(String, String)>>
            => queries::prebuilds::claim_prebuilt_workspace;
        fn get_template_admins(&self, organization_id: &str) -> Result<Vec<String>>
            => queries::prebuilds::get_template_admins;
        fn insert_notification_message(&self, id: &str, template: &str, user_id: &str, payload: &serde_json::Value, now: Timestamp) -> Result<()>
            => queries::prebuilds::insert_notification_message;
        fn list_notification_messages(&self) -> Result<Vec<(String, String)>>
            => queries::prebuilds::list_notification_messages;
        fn get_template_presets_with_prebuilds(&self) -> Result<Vec<PresetInfo>>
            => queries::prebuilds::get_template_presets_with_prebuilds;
        fn get_active_preset_prebuild_schedules(&self) -> Result<Vec<(String, String, i64)>>
            => queries::prebuilds::get_active_preset_prebuild_schedules;
        fn get_running_prebuilt_workspaces(&self) -> Result<Vec<RunningPrebuild>>
            => queries::prebuilds::get_running_prebuilt_workspaces;
        fn get_prebuilds_data_generation(&self) -> Result<i64>
            => queries::prebuilds::get_prebuilds_data_generation;
        fn count_in_progress_prebuilds(&self) -> Result<Vec<InProgress>>
            => queries::prebuilds::count_in_progress_prebuilds;
        fn count_pending_non_active_prebuilds(&self) -> Result<Vec<(String, i64)>>
            => queries::prebuilds::count_pending_non_active_prebuilds;
        fn get_presets_backoff(&self, lookback: Timestamp) -> Result<Vec<PresetBackoff>>
            => queries::prebuilds::get_presets_backoff;
        fn get_presets_at_failure_limit(&self, hard_limit: i64) -> Result<Vec<String>>
            => queries::prebuilds::get_presets_at_failure_limit;
        fn get_organizations_with_prebuild_status(&self, user_id: &str, group_name: &str) -> Result<Vec<OrganizationPrebuildStatus>>
            => queries::prebuilds::get_organizations_with_prebuild_status;
        fn get_prebuild_metrics(&self) -> Result<Vec<PrebuildMetricsRow>>
            => queries::prebuilds::get_prebuild_metrics;
        fn get_rollup_window_inputs(&self) -> Result<(Option<Timestamp>, Option<Timestamp>)>
            => queries::rollup::get_rollup_window_inputs;
        fn get_agent_stats_for_rollup(&self, start: Timestamp, end: Timestamp) -> Result<Vec<RollupAgentStat>>
            => queries::rollup::get_agent_stats_for_rollup;
        fn get_app_stats_for_rollup(&self, start: Timestamp, end: Timestamp) -> Result<Vec<RollupAppStat>>
            => queries::rollup::get_app_stats_for_rollup;
        fn upsert_template_usage_stats(&self, rows: &[TemplateUsageStat]) -> Result<usize>
            => queries::rollup::upsert_template_usage_stats;
        fn get_template_usage_stats(&self, start: Timestamp, end: Timestamp, template_ids: &[String]) -> Result<Vec<TemplateUsageStat>>
            => queries::rollup::get_template_usage_stats;
        fn list_ai_providers(&self, include_deleted: bool) -> Result<Vec<AiProvider>>
            => queries::ai_providers::list_ai_providers;
        fn insert_ai_provider(&self, params: &InsertAiProvider<'_>) -> Result<AiProvider>
            => queries::ai_providers::insert_ai_provider;
        fn insert_ai_provider_key(&self, id: &str, provider_id: &str, api_key: &str, created_at: Timestamp) -> Result<()>
            => queries::ai_providers::insert_ai_provider_key;
        fn list_ai_provider_keys(&self) -> Result<Vec<AiProviderKey>>
            => queries::ai_providers::list_ai_provider_keys;
        fn soft_delete_ai_provider(&self, name: &str, updated_at: Timestamp) -> Result<Option<AiProvider>>
            => queries::ai_providers::soft_delete_ai_provider;
        fn insert_audit_log(&self, params: &InsertAuditLog<'_>) -> Result<()>
            => queries::ai_providers::insert_audit_log;
        fn list_audit_logs(&self, resource_type: &str) -> Result<Vec<AuditLog>>
            => queries::ai_providers::list_audit_logs;
        fn get_health_settings(&self) -> Result<String> => queries::site_configs::get_health_settings;
        fn get_prebuilds_settings(&self) -> Result<String> => queries::site_configs::get_prebuilds_settings;
        fn insert_provisioner_job(&self, params: &InsertProvisionerJob<'_>) -> Result<ProvisionerJob>
            => queries::templates::insert_provisioner_job;
        fn get_provisioner_job_by_id(&self, id: &str) -> Result<ProvisionerJob>
            => queries::templates::get_provisioner_job_by_id;
        fn insert_template(&self, params: &InsertTemplate<'_>) -> Result<Template>
            => queries::templates::insert_template;
        fn get_template_by_id(&self, id: &str) -> Result<Template>
            => queries::templates::get_template_by_id;
        fn count_templates(&self) -> Result<i64>
            => queries::templates::count_templates;
        fn get_template_by_organization_and_name(&self, organization_id: &str, name: &str) -> Result<Template>
            => queries::templates::get_template_by_organization_and_name;
        fn update_template_active_version(&self, template_id: &str, version_id: &str, updated_at: Timestamp) -> Result<()>
            => queries::templates::update_template_active_version;
        fn update_template_deleted_and_deprecated(&self, template_id: &str, deleted: bool, deprecated: &str, updated_at: Timestamp) -> Result<()>
            => queries::templates::update_template_deleted_and_deprecated;
        fn insert_template_version(&self, params: &InsertTemplateVersion<'_>) -> Result<TemplateVersion>
            => queries::templates::insert_template_version;
        fn get_template_version_by_id(&self, id: &str) -> Result<TemplateVersion>
            => queries::templates::get_template_version_by_id;
        fn get_template_versions_by_template_id(&self, template_id: &str) -> Result<Vec<TemplateVersion>>
            => queries::templates::get_template_versions_by_template_id;
        fn insert_template_version_parameter(&self, template_version_id: &str, name: &str, required: bool, default_value: &str) -> Result<()>
            => queries::templates::insert_template_version_parameter;
        fn get_template_version_parameters(&self, template_version_id: &str) -> Result<Vec<TemplateVersionParameter>>
            => queries::templates::get_template_version_parameters;
        fn insert_preset(&self, params: &InsertPreset<'_>) -> Result<Preset>
            => queries::templates::insert_preset;
        fn get_preset_by_id(&self, id: &str) -> Result<Preset>
            => queries::templates::get_preset_by_id;
        fn get_presets_by_template_version_id(&self, template_version_id: &str) -> Result<Vec<Preset>>
            => queries::templates::get_presets_by_template_version_id;
        fn insert_preset_parameter(&self, id: &str, preset_id: &str, name: &str, value: &str) -> Result<()>
            => queries::templates::insert_preset_parameter;
        fn get_preset_parameters_by_template_version_id(&self, template_version_id: &str) -> Result<Vec<PresetParameter>>
            => queries::templates::get_preset_parameters_by_template_version_id;
        fn insert_preset_prebuild_schedule(&self, id: &str, preset_id: &str, cron_expression: &str, desired_instances: i64) -> Result<()>
            => queries::templates::insert_preset_prebuild_schedule;
        fn get_preset_prebuild_schedules(&self, preset_id: &str) -> Result<Vec<PresetPrebuildSchedule>>
            => queries::templates::get_preset_prebuild_schedules;
        fn insert_workspace(&self, params: &InsertWorkspace<'_>) -> Result<Workspace>
            => queries::workspaces::insert_workspace;
        fn get_workspace_by_id(&self, id: &str) -> Result<Workspace>
            => queries::workspaces::get_workspace_by_id;
        fn get_workspaces_by_template_id(&self, template_id: &str) -> Result<Vec<Workspace>>
            => queries::workspaces::get_workspaces_by_template_id;
        fn update_workspace_deleted(&self, id: &str, deleted: bool, updated_at: Timestamp) -> Result<()>
            => queries::workspaces::update_workspace_deleted;
        fn insert_workspace_build(&self, params: &InsertWorkspaceBuild<'_>) -> Result<WorkspaceBuild>
            => queries::workspaces::insert_workspace_build;
        fn get_workspace_builds_by_workspace_id(&self, workspace_id: &str) -> Result<Vec<WorkspaceBuild>>
            => queries::workspaces::get_workspace_builds_by_workspace_id;
        fn insert_workspace_build_parameter(&self, workspace_build_id: &str, name: &str, value: &str) -> Result<()>
            => queries::workspaces::insert_workspace_build_parameter;
        fn get_workspace_build_parameters(&self, workspace_build_id: &str) -> Result<Vec<(String, String)>>
            => queries::workspaces::get_workspace_build_parameters;
        fn insert_workspace_resource(&self, id: &str, job_id: &str, transition: WorkspaceTransition, created_at: Timestamp) -> Result<()>
            => queries::workspaces::insert_workspace_resource;
        fn insert_workspace_agent(&self, params: &InsertWorkspaceAgent<'_>) -> Result<()>
            => queries::workspaces::insert_workspace_agent;
        fn insert_workspace_agent_stats(&self, stats: &[WorkspaceAgentStat]) -> Result<()>
            => queries::workspaces::insert_workspace_agent_stats;
        fn insert_workspace_app_stats(&self, stats: &[WorkspaceAppStat]) -> Result<()>
            => queries::workspaces::insert_workspace_app_stats;
        fn count_usage_stats(&self) -> Result<(i64, i64)>
            => queries::workspaces::count_usage_stats;
        fn insert_organization(&self, params: &InsertOrganization<'_>) -> Result<Organization>
            => queries::identity::insert_organization;
        fn get_organization_by_id(&self, id: &str) -> Result<Organization>
            => queries::identity::get_organization_by_id;
        fn get_organization_by_name(&self, name: &str) -> Result<Organization>
            => queries::identity::get_organization_by_name;
        fn get_default_organization(&self) -> Result<Organization>
            => queries::identity::get_default_organization;
        fn list_organizations(&self) -> Result<Vec<Organization>>
            => queries::identity::list_organizations;
        fn insert_user(&self, params: &InsertUser<'_>) -> Result<User>
            => queries::identity::insert_user;
        fn get_user_by_id(&self, id: &str) -> Result<User>
            => queries::identity::get_user_by_id;
        fn get_user_by_username(&self, username: &str) -> Result<User>
            => queries::identity::get_user_by_username;
        fn get_users(&self, params: &GetUsersParams<'_>) -> Result<Vec<User>>
            => queries::identity::get_users;
        fn get_user_count(&self, include_system: bool) -> Result<i64>
            => queries::identity::get_user_count;
        fn get_active_user_count(&self, include_system: bool) -> Result<i64>
            => queries::identity::get_active_user_count;
        fn update_user_status(&self, id: &str, status: UserStatus, updated_at: Timestamp) -> Result<User>
            => queries::identity::update_user_status;
        fn update_user_profile(&self, id: &str, username: &str, name: &str, updated_at: Timestamp) -> Result<User>
            => queries::identity::update_user_profile;
        fn delete_user(&self, id: &str, updated_at: Timestamp) -> Result<()>
            => queries::identity::delete_user;
        fn update_inactive_users_to_dormant(&self, last_seen_before: Timestamp, updated_at: Timestamp) -> Result<Vec<String>>
            => queries::identity::update_inactive_users_to_dormant;
        fn insert_organization_member(&self, organization_id: &str, user_id: &str, roles: &[&str], created_at: Timestamp) -> Result<()>
            => queries::identity::insert_organization_member;
        fn get_organization_members(&self, organization_id: Option<&str>, include_system: bool) -> Result<Vec<OrganizationMember>>
            => queries::identity::get_organization_members;
        fn insert_group(&self, params: &InsertGroup<'_>) -> Result<Group>
            => queries::identity::insert_group;
        fn get_group_by_org_and_name(&self, organization_id: &str, name: &str) -> Result<Group>
            => queries::identity::get_group_by_org_and_name;
        fn get_group_by_id(&self, id: &str) -> Result<Option<Group>>
            => queries::identity::get_group_by_id;
        fn insert_group_member(&self, group_id: &str, user_id: &str) -> Result<()>
            => queries::identity::insert_group_member;
        fn delete_group_member(&self, group_id: &str, user_id: &str) -> Result<()>
            => queries::identity::delete_group_member;
        fn get_group_members_by_group_id(&self, group_id: &str, include_system: bool) -> Result<Vec<GroupMember>>
            => queries::identity::get_group_members_by_group_id;
        fn get_group_members_count_by_group_id(&self, group_id: &str, include_system: bool) -> Result<i64>
            => queries::identity::get_group_members_count_by_group_id;
        fn get_group_members_by_group_id_paginated(&self, group_id: &str, include_system: bool, offset: u32, limit: u32) -> Result<(Vec<GroupMember>, i64)>
            => queries::identity::get_group_members_by_group_id_paginated;
        fn check_integrity(&self) -> Result<IntegrityReport> => queries::health::check_integrity;
        fn get_site_config(&self, key: &str) -> Result<Option<String>> => queries::site_configs::get_site_config;
        fn insert_site_config(&self, key: &str, value: &str) -> Result<()> => queries::site_configs::insert_site_config;
        fn upsert_site_config(&self, key: &str, value: &str) -> Result<()> => queries::site_configs::upsert_site_config;
        fn delete_boundary_usage_stats_by_replica_id(&self, replica_id: &str) -> Result<()>
            => queries::boundary_usage::delete_boundary_usage_stats_by_replica_id;
        fn insert_telemetry_lock(&self, event_type: &str, period_ending_at: Timestamp) -> Result<()>
            => queries::boundary_usage::insert_telemetry_lock;
        fn list_telemetry_snapshots(&self, limit: u32) -> Result<Vec<TelemetrySnapshot>>
            => queries::boundary_usage::list_telemetry_snapshots;
    }
}
