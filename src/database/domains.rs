//! The `Store`'s domains: one trait per domain, so each engine's `queries/<domain>.rs`
//! implements exactly one of them and a reader finds a domain's SQL for both engines side by
//! side. [`crate::database::Store`] combines them with the transaction core.
//!
//! Each trait is declared once, through `store_domain!`, which also implements it for every
//! [`PooledStore`] (a store that owns a pool rather than one transaction): there, each method
//! runs in its own short transaction, read-only or read-write as the declaration says. The
//! transaction handles of the engines implement the traits with their SQL.
//!
//! Every method carries a one-line contract. Methods that take data take it borrowed, so a
//! transaction closure can be re-run (see [`crate::database::TxStore::in_tx`]).

use std::time::Duration;

use crate::clock::Timestamp;
use crate::database::Result;
use crate::database::TxStore;
use crate::database::models::*;

/// A store that owns connections (a pool) rather than one transaction: every domain method
/// called on it runs in a transaction of its own, through [`TxStore::in_tx`].
pub trait PooledStore: TxStore + Sized {}

/// Declares a domain trait and implements it for every [`PooledStore`]. Each method is
/// marked `read` or `write`: the kind of transaction it runs in when called on a pool.
macro_rules! store_domain {
    (
        $(#[$trait_meta:meta])*
        pub trait $trait:ident {
            $(
                $(#[$meta:meta])*
                $kind:ident fn $name:ident(&self $(, $arg:ident : $ty:ty)* $(,)?) -> $ret:ty;
            )*
        }
    ) => {
        $(#[$trait_meta])*
        pub trait $trait {
            $(
                $(#[$meta])*
                fn $name(&self $(, $arg: $ty)*) -> $ret;
            )*
        }

        impl<P: PooledStore> $trait for P {
            $(
                fn $name(&self $(, $arg: $ty)*) -> $ret {
                    crate::database::in_tx(self, crate::database::TxOptions::$kind(stringify!($name)), |tx| {
                        tx.$name($($arg),*)
                    })
                }
            )*
        }
    };
}

store_domain! {
    /// Site configs, the lock rows on record, the schema version and integrity checks.
    pub trait SystemStore {
        /// All committed lock rows (leases; transaction locks are never visible outside their
        /// transaction), ordered by lock id.
        read fn list_locks(&self) -> Result<Vec<LockRow>>;

        /// The newest applied migration version.
        read fn schema_version(&self) -> Result<i64>;

        /// `PRAGMA integrity_check`, `PRAGMA foreign_key_check` and the schema version.
        read fn check_integrity(&self) -> Result<IntegrityReport>;

        /// The value stored under `key`, if any.
        read fn get_site_config(&self, key: &str) -> Result<Option<String>>;

        /// Inserts `key`; a second insert of the same key is `UniqueViolation { site_configs_key_key }`.
        write fn insert_site_config(&self, key: &str, value: &str) -> Result<()>;

        /// Inserts or replaces `key`.
        write fn upsert_site_config(&self, key: &str, value: &str) -> Result<()>;

        /// `site_configs['health_settings']`, or `'{}'` when absent.
        read fn get_health_settings(&self) -> Result<String>;

        /// `site_configs['prebuilds_settings']`, or `'{}'` when absent.
        read fn get_prebuilds_settings(&self) -> Result<String>;
    }
}

store_domain! {
    /// Boundary usage telemetry; run inside a write transaction holding lock 9.
    pub trait BoundaryUsageStore {
        /// Inserts the replica's row from the deltas (true: a new period began), or replaces its
        /// unique counts with the cumulative values and adds the request counts (false).
        write fn upsert_boundary_usage_stats(&self, params: &UpsertBoundaryUsageStats<'_>) -> Result<bool>;

        /// Sums rows whose window started within `max_staleness` (each sum 0 when none); reads only.
        read fn get_boundary_usage_summary(&self, max_staleness: Duration) -> Result<BoundaryUsageSummary>;

        /// Sums rows whose window started within `max_staleness` (each sum 0 when none), then
        /// deletes all rows; the rows summed are exactly the rows deleted.
        write fn get_and_reset_boundary_usage_summary(&self, max_staleness: Duration) -> Result<BoundaryUsageSummary>;

        /// Deletes one replica's row.
        write fn delete_boundary_usage_stats_by_replica_id(&self, replica_id: &str) -> Result<()>;

        /// Claims a telemetry period; a second claim is `UniqueViolation { telemetry_locks_pkey }`.
        write fn insert_telemetry_lock(&self, event_type: &str, period_ending_at: Timestamp) -> Result<()>;

        /// Stores a collected snapshot (JSON) for operators to inspect.
        write fn insert_telemetry_snapshot(&self, event_type: &str, period_ending_at: Timestamp, replica_id: &str, snapshot: &serde_json::Value) -> Result<()>;

        /// The newest `limit` snapshots, newest first.
        read fn list_telemetry_snapshots(&self, limit: u32) -> Result<Vec<TelemetrySnapshot>>;
    }
}

store_domain! {
    /// Identity: organizations, users, members, groups.
    pub trait IdentityStore {
        /// Inserts an organization (its Everyone group is created with it).
        write fn insert_organization(&self, params: &InsertOrganization<'_>) -> Result<Organization>;

        /// The organization with `id`; `NotFound` when absent.
        read fn get_organization_by_id(&self, id: &str) -> Result<Organization>;

        /// The organization named `name`; `NotFound` when absent.
        read fn get_organization_by_name(&self, name: &str) -> Result<Organization>;

        /// The default organization (`coder` unless renamed).
        read fn get_default_organization(&self) -> Result<Organization>;

        /// All organizations by name.
        read fn list_organizations(&self) -> Result<Vec<Organization>>;

        /// Inserts a human user (`is_system` false).
        write fn insert_user(&self, params: &InsertUser<'_>) -> Result<User>;

        /// The user with `id`, deleted or not; `NotFound` when absent.
        read fn get_user_by_id(&self, id: &str) -> Result<User>;

        /// The non-deleted user named `username`; `NotFound` when absent.
        read fn get_user_by_username(&self, username: &str) -> Result<User>;

        /// The non-deleted user with `email` (case-insensitive); `NotFound` when absent.
        read fn get_user_by_email(&self, email: &str) -> Result<User>;

        /// The users with these ids (deleted or not), in no particular order.
        read fn get_users_by_ids(&self, ids: &[String]) -> Result<Vec<User>>;

        /// The user's password hash (a PHC string; `""` when the user has no password).
        read fn get_user_hashed_password(&self, id: &str) -> Result<String>;

        /// Sets the user's password hash; system users are refused (`SystemUser`).
        write fn update_user_hashed_password(&self, id: &str, hashed_password: &str, updated_at: Timestamp) -> Result<()>;

        /// Replaces the user's site roles; system users are refused (`SystemUser`).
        write fn update_user_roles(&self, id: &str, roles: &[String], updated_at: Timestamp) -> Result<User>;

        /// Non-deleted users by username, filtered by `params` (system users only with `include_system`).
        read fn get_users(&self, params: &GetUsersParams<'_>) -> Result<Vec<User>>;

        /// Non-deleted users.
        read fn get_user_count(&self, include_system: bool) -> Result<i64>;

        /// Active non-deleted users; with `include_system = false` this is the license seat count.
        read fn get_active_user_count(&self, include_system: bool) -> Result<i64>;

        /// Sets a user's status; `SystemUser` for system users.
        write fn update_user_status(&self, id: &str, status: UserStatus, updated_at: Timestamp) -> Result<User>;

        /// Renames a user; `SystemUser` for system users.
        write fn update_user_profile(&self, id: &str, username: &str, name: &str, updated_at: Timestamp) -> Result<User>;

        /// Soft-deletes a user; `SystemUser` for system users.
        write fn delete_user(&self, id: &str, updated_at: Timestamp) -> Result<()>;

        /// Marks active human users last seen before `last_seen_before` dormant (never system users); returns their IDs.
        write fn update_inactive_users_to_dormant(&self, last_seen_before: Timestamp, updated_at: Timestamp) -> Result<Vec<String>>;

        /// Adds a user to an organization; a duplicate is `UniqueViolation { organization_members_pkey }`.
        write fn insert_organization_member(&self, organization_id: &str, user_id: &str, roles: &[&str], created_at: Timestamp) -> Result<()>;

        /// Members of one organization (or all) among non-deleted users.
        read fn get_organization_members(&self, organization_id: Option<&str>, include_system: bool) -> Result<Vec<OrganizationMember>>;

        /// Inserts a group; a duplicate name in the organization is `UniqueViolation { groups_name_organization_id_key }`.
        write fn insert_group(&self, params: &InsertGroup<'_>) -> Result<Group>;

        /// The group of `organization_id` named `name`; `NotFound` when absent.
        read fn get_group_by_org_and_name(&self, organization_id: &str, name: &str) -> Result<Group>;

        /// The group with `id`, if any.
        read fn get_group_by_id(&self, id: &str) -> Result<Option<Group>>;

        /// The groups of an organization (its Everyone group included), by name.
        read fn get_groups_by_organization_id(&self, organization_id: &str) -> Result<Vec<Group>>;

        /// Every expanded group member of an organization's groups, by group then username.
        read fn get_group_members_by_organization_id(&self, organization_id: &str, include_system: bool) -> Result<Vec<GroupMember>>;

        /// Adds an explicit group member; a duplicate is `UniqueViolation { group_members_pkey }`.
        write fn insert_group_member(&self, group_id: &str, user_id: &str) -> Result<()>;

        /// Removes an explicit group member.
        write fn delete_group_member(&self, group_id: &str, user_id: &str) -> Result<()>;

        /// Expanded members of a group (explicit members, or all organization members for Everyone).
        read fn get_group_members_by_group_id(&self, group_id: &str, include_system: bool) -> Result<Vec<GroupMember>>;

        /// The number of expanded members of a group.
        read fn get_group_members_count_by_group_id(&self, group_id: &str, include_system: bool) -> Result<i64>;

        /// A page of expanded members by username, and the total under the same filter (`limit` 0: all).
        read fn get_group_members_by_group_id_paginated(&self, group_id: &str, include_system: bool, offset: u32, limit: u32) -> Result<(Vec<GroupMember>, i64)>;
    }
}

store_domain! {
    /// Templates, versions, parameters, presets and their schedules, and provisioner jobs.
    pub trait TemplateStore {
        /// Inserts a provisioner job in the state its timestamps describe.
        write fn insert_provisioner_job(&self, params: &InsertProvisionerJob<'_>) -> Result<ProvisionerJob>;

        /// The job with `id`; `NotFound` when absent.
        read fn get_provisioner_job_by_id(&self, id: &str) -> Result<ProvisionerJob>;

        /// The provisioner jobs with these ids, in no particular order.
        read fn get_provisioner_jobs_by_ids(&self, ids: &[String]) -> Result<Vec<ProvisionerJob>>;

        /// Inserts a template (its active version may be inserted later in the same transaction).
        write fn insert_template(&self, params: &InsertTemplate<'_>) -> Result<Template>;

        /// The template with `id`, deleted or not; `NotFound` when absent.
        read fn get_template_by_id(&self, id: &str) -> Result<Template>;

        /// How many templates exist, deleted ones included.
        read fn count_templates(&self) -> Result<i64>;

        /// Every template with its organization's and active version's names, by organization
        /// and template name; deleted ones only with `include_deleted`.
        read fn get_templates(&self, include_deleted: bool) -> Result<Vec<TemplateWithNames>>;

        /// The non-deleted template of an organization named `name`; `NotFound` when absent.
        read fn get_template_by_organization_and_name(&self, organization_id: &str, name: &str) -> Result<Template>;

        /// Promotes a version to the template's active version.
        write fn update_template_active_version(&self, template_id: &str, version_id: &str, updated_at: Timestamp) -> Result<()>;

        /// Soft-deletes or restores a template and sets its deprecation message ('' = none).
        write fn update_template_deleted_and_deprecated(&self, template_id: &str, deleted: bool, deprecated: &str, updated_at: Timestamp) -> Result<()>;

        /// Sets every settable field of a template; a name another template of the organization
        /// has is `UniqueViolation { templates_organization_id_name_idx }`.
        write fn update_template_meta(&self, template_id: &str, meta: &TemplateMeta<'_>, updated_at: Timestamp) -> Result<()>;

        /// Attaches a version made without a template to `template_id`.
        write fn update_template_version_template_id(&self, version_id: &str, template_id: &str) -> Result<()>;

        /// Marks a version's builds to fail or succeed (what its import found).
        write fn update_template_version_fail_builds(&self, version_id: &str, fail_builds: bool) -> Result<()>;

        /// Inserts a template version.
        write fn insert_template_version(&self, params: &InsertTemplateVersion<'_>) -> Result<TemplateVersion>;

        /// The version with `id`; `NotFound` when absent.
        read fn get_template_version_by_id(&self, id: &str) -> Result<TemplateVersion>;

        /// The template versions with these ids, in no particular order.
        read fn get_template_versions_by_ids(&self, ids: &[String]) -> Result<Vec<TemplateVersion>>;

        /// A template's versions, oldest first.
        read fn get_template_versions_by_template_id(&self, template_id: &str) -> Result<Vec<TemplateVersion>>;

        /// Declares a parameter of a version.
        write fn insert_template_version_parameter(&self, template_version_id: &str, name: &str, required: bool, default_value: &str) -> Result<()>;

        /// A version's parameters by name.
        read fn get_template_version_parameters(&self, template_version_id: &str) -> Result<Vec<TemplateVersionParameter>>;

        /// Inserts a preset.
        write fn insert_preset(&self, params: &InsertPreset<'_>) -> Result<Preset>;

        /// The preset with `id`; `NotFound` when absent.
        read fn get_preset_by_id(&self, id: &str) -> Result<Preset>;

        /// A version's presets by name.
        read fn get_presets_by_template_version_id(&self, template_version_id: &str) -> Result<Vec<Preset>>;

        /// Sets a parameter value of a preset.
        write fn insert_preset_parameter(&self, id: &str, preset_id: &str, name: &str, value: &str) -> Result<()>;

        /// Every preset parameter of a version's presets (callers filter by preset).
        read fn get_preset_parameters_by_template_version_id(&self, template_version_id: &str) -> Result<Vec<PresetParameter>>;

        /// Adds a prebuild schedule (cron, desired instances) to a preset.
        write fn insert_preset_prebuild_schedule(&self, id: &str, preset_id: &str, cron_expression: &str, desired_instances: i64) -> Result<()>;

        /// A preset's prebuild schedules.
        read fn get_preset_prebuild_schedules(&self, preset_id: &str) -> Result<Vec<PresetPrebuildSchedule>>;
    }
}

store_domain! {
    /// Workspaces, builds, resources, agents and the usage stats agents report.
    pub trait WorkspaceStore {
        /// Inserts a workspace; a duplicate name for the owner is `UniqueViolation { workspaces_owner_id_lower_idx }`.
        write fn insert_workspace(&self, params: &InsertWorkspace<'_>) -> Result<Workspace>;

        /// The workspace with `id`, deleted or not; `NotFound` when absent.
        read fn get_workspace_by_id(&self, id: &str) -> Result<Workspace>;

        /// One page of the non-deleted workspaces `params` selects, running ones first, then by
        /// owner username and name (upstream's order), with the number of all matches (0 when
        /// the page is empty, as upstream's window count).
        read fn get_workspaces_page(&self, params: &WorkspacePageParams<'_>) -> Result<(Vec<String>, i64)>;

        /// The workspaces with these ids (deleted or not), in no particular order.
        read fn get_workspaces_by_ids(&self, ids: &[String]) -> Result<Vec<Workspace>>;

        /// The latest build of each of these workspaces (none for a workspace without builds).
        read fn get_latest_workspace_builds(&self, workspace_ids: &[String]) -> Result<Vec<WorkspaceBuild>>;

        /// The build with `id`; `NotFound` when absent.
        read fn get_workspace_build_by_id(&self, id: &str) -> Result<WorkspaceBuild>;

        /// The resources of these provisioner jobs, in no particular order.
        read fn get_workspace_resources_by_job_ids(&self, job_ids: &[String]) -> Result<Vec<WorkspaceResource>>;

        /// The agents of these resources, in no particular order.
        read fn get_workspace_agents_by_resource_ids(&self, resource_ids: &[String]) -> Result<Vec<WorkspaceAgent>>;

        /// The non-deleted workspace of `owner_id` named `name` (case-insensitive, as the unique
        /// index); `NotFound` when absent.
        read fn get_workspace_by_owner_and_name(&self, owner_id: &str, name: &str) -> Result<Workspace>;

        /// The agents of a workspace's latest build, oldest first.
        read fn get_workspace_agents_by_workspace_id(&self, workspace_id: &str) -> Result<Vec<WorkspaceAgent>>;

        /// Non-deleted workspaces of a template, oldest first.
        read fn get_workspaces_by_template_id(&self, template_id: &str) -> Result<Vec<Workspace>>;

        /// Marks a workspace deleted (or not).
        write fn update_workspace_deleted(&self, id: &str, deleted: bool, updated_at: Timestamp) -> Result<()>;

        /// Sets the autostart schedule (`None` clears it) and the next start it gives;
        /// `NotFound` for an unknown workspace.
        write fn update_workspace_autostart(&self, id: &str, autostart_schedule: Option<&str>, next_start_at: Option<Timestamp>, updated_at: Timestamp) -> Result<()>;

        /// Renames a live workspace: `NotFound` for an unknown or deleted one, `UniqueViolation
        /// { workspaces_owner_id_lower_idx }` for a name the owner already has.
        write fn update_workspace_name(&self, id: &str, name: &str, updated_at: Timestamp) -> Result<()>;

        /// Sets the time to shutdown (`None`: no autostop); `NotFound` for an unknown workspace.
        write fn update_workspace_ttl(&self, id: &str, ttl_ms: Option<i64>, updated_at: Timestamp) -> Result<()>;

        /// Sets a build's deadline (`None`: no automatic stop); `NotFound` for an unknown build.
        write fn update_workspace_build_deadline(&self, build_id: &str, deadline: Option<Timestamp>) -> Result<()>;

        /// Inserts a workspace build.
        write fn insert_workspace_build(&self, params: &InsertWorkspaceBuild<'_>) -> Result<WorkspaceBuild>;

        /// A workspace's builds, newest first.
        read fn get_workspace_builds_by_workspace_id(&self, workspace_id: &str) -> Result<Vec<WorkspaceBuild>>;

        /// Records a parameter value of a build.
        write fn insert_workspace_build_parameter(&self, workspace_build_id: &str, name: &str, value: &str) -> Result<()>;

        /// A build's parameter values as (name, value), by name.
        read fn get_workspace_build_parameters(&self, workspace_build_id: &str) -> Result<Vec<(String, String)>>;

        /// Inserts a resource produced by a job.
        write fn insert_workspace_resource(&self, id: &str, job_id: &str, transition: WorkspaceTransition, created_at: Timestamp) -> Result<()>;

        /// Inserts an agent of a resource.
        write fn insert_workspace_agent(&self, params: &InsertWorkspaceAgent<'_>) -> Result<()>;

        /// Inserts agent stats (one statement prepared once for all rows).
        write fn insert_workspace_agent_stats(&self, stats: &[WorkspaceAgentStat]) -> Result<()>;

        /// Inserts app stats; a repeated (agent, session) extends that session.
        write fn insert_workspace_app_stats(&self, stats: &[WorkspaceAppStat]) -> Result<()>;

        /// The numbers of agent stats and app stats rows.
        read fn count_usage_stats(&self) -> Result<(i64, i64)>;

        /// Ready top-level agents of live workspaces whose latest build is a succeeded start,
        /// prebuilt (unclaimed) workspaces left out: what the demo's simulated activity reports on.
        read fn get_running_workspace_agents(&self) -> Result<Vec<RunningWorkspaceAgent>>;
    }
}

store_domain! {
    /// AI providers, their keys, and audit logs.
    pub trait AiProviderStore {
        /// Providers by name; soft-deleted ones only with `include_deleted`.
        read fn list_ai_providers(&self, include_deleted: bool) -> Result<Vec<AiProvider>>;

        /// Inserts a provider (enabled, not deleted); a used name (deleted rows included) is `UniqueViolation { ai_providers_name_key }`.
        write fn insert_ai_provider(&self, params: &InsertAiProvider<'_>) -> Result<AiProvider>;

        /// Inserts a bearer key of a provider.
        write fn insert_ai_provider_key(&self, id: &str, provider_id: &str, api_key: &str, created_at: Timestamp) -> Result<()>;

        /// Every provider's keys, oldest first within each provider.
        read fn list_ai_provider_keys(&self) -> Result<Vec<AiProviderKey>>;

        /// Soft-deletes the live provider `name` (deleted, disabled); `None` when there is none.
        write fn soft_delete_ai_provider(&self, name: &str, updated_at: Timestamp) -> Result<Option<AiProvider>>;

        /// Appends an audit entry.
        write fn insert_audit_log(&self, params: &InsertAuditLog<'_>) -> Result<()>;

        /// One page of the audit entries `filter` selects, newest first, and how many it
        /// selects in all (0 for an empty page, as upstream's window count).
        read fn get_audit_logs_page(&self, filter: &AuditLogFilter<'_>) -> Result<(Vec<AuditLog>, i64)>;

        /// Audit entries of a resource type, oldest first.
        read fn list_audit_logs(&self, resource_type: &str) -> Result<Vec<AuditLog>>;
    }
}

store_domain! {
    /// The template usage rollup and insights reads.
    pub trait RollupStore {
        /// (newest bucket start, earliest agent stat): the inputs of the rollup window.
        read fn get_rollup_window_inputs(&self) -> Result<(Option<Timestamp>, Option<Timestamp>)>;

        /// Hands each agent stat created in `[start, end)` to `visit` as it is read: the window
        /// holds hours of rows, and the rollup's memory must not grow with them. Call it inside
        /// a transaction (a transaction that runs again visits the rows again).
        read fn visit_agent_stats_for_rollup(&self, start: Timestamp, end: Timestamp, visit: &mut dyn FnMut(&RollupAgentStat<'_>)) -> Result<()>;

        /// Hands each app session overlapping `[start, end)`, with its workspace's template,
        /// to `visit` as it is read (as `visit_agent_stats_for_rollup`).
        read fn visit_app_stats_for_rollup(&self, start: Timestamp, end: Timestamp, visit: &mut dyn FnMut(&RollupAppStat<'_>)) -> Result<()>;

        /// Upserts rollup rows, skipping unchanged ones; returns the number written.
        write fn upsert_template_usage_stats(&self, rows: &[TemplateUsageStat]) -> Result<usize>;

        /// Rollup rows entirely inside `[start, end]` for the templates (empty: all).
        read fn get_template_usage_stats(&self, start: Timestamp, end: Timestamp, template_ids: &[String]) -> Result<Vec<TemplateUsageStat>>;
    }
}

store_domain! {
    /// The prebuilds snapshot (Q1-Q13 of upstream's reconciler) and prebuild writes.
    pub trait PrebuildsStore {
        /// Q1: presets with prebuilds configured, deleted templates included.
        read fn get_template_presets_with_prebuilds(&self) -> Result<Vec<PresetInfo>>;

        /// Q2: (preset id, cron, desired) of presets on active versions of live, non-deprecated templates.
        read fn get_active_preset_prebuild_schedules(&self) -> Result<Vec<(String, String, i64)>>;

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
        read fn count_pending_non_active_prebuilds(&self) -> Result<Vec<(String, i64)>>;

        /// Q7: presets in backoff (a recent attempt among the newest N failed since `lookback`).
        read fn get_presets_backoff(&self, lookback: Timestamp) -> Result<Vec<PresetBackoff>>;

        /// Q8: presets whose `hard_limit` newest attempts all failed.
        read fn get_presets_at_failure_limit(&self, hard_limit: i64) -> Result<Vec<String>>;

        /// Q11: membership status of `user_id` per organization with prebuild presets.
        read fn get_organizations_with_prebuild_status(&self, user_id: &str, group_name: &str) -> Result<Vec<OrganizationPrebuildStatus>>;

        /// Q13: lifetime created / failed / claimed prebuild counts per (template, preset, organization).
        read fn get_prebuild_metrics(&self) -> Result<Vec<PrebuildMetricsRow>>;

        /// Q6: cancels pending first prebuild builds of inactive versions of a preset; returns (job id, workspace id).
        write fn update_prebuild_provisioner_job_with_cancel(&self, preset_id: &str, now: Timestamp) -> Result<Vec<(String, String)>>;

        /// Q9: sets a preset's prebuild status.
        write fn update_preset_prebuild_status(&self, preset_id: &str, status: PrebuildStatus) -> Result<()>;

        /// Q10: invalidates the presets of a template's active version; returns their ids.
        write fn update_presets_last_invalidated_at(&self, template_id: &str, at: Timestamp) -> Result<Vec<String>>;

        /// Q12: claims the oldest ready prebuild of a preset; `None` when none is claimable.
        write fn claim_prebuilt_workspace(&self, claim: &ClaimPrebuild<'_>) -> Result<Option<(String, String)>>;

        /// Users who administer an organization's templates.
        read fn get_template_admins(&self, organization_id: &str) -> Result<Vec<String>>;

        /// Enqueues a notification for a user.
        write fn insert_notification_message(&self, id: &str, template: &str, user_id: &str, payload: &serde_json::Value, now: Timestamp) -> Result<()>;

        /// (notification template, user) of enqueued notifications, oldest first.
        read fn list_notification_messages(&self) -> Result<Vec<(String, String)>>;
    }
}

store_domain! {
    /// The echo provisioner's job queue.
    pub trait ProvisionerStore {
        /// Takes the oldest pending job for `worker_id`; never the same job twice, across processes too.
        write fn acquire_provisioner_job(&self, worker_id: &str, now: Timestamp) -> Result<Option<ProvisionerJob>>;

        /// Completes a job: succeeded, or failed with `error`.
        write fn complete_provisioner_job(&self, job_id: &str, now: Timestamp, error: Option<&str>) -> Result<()>;

        /// Touches `updated_at` of the unfinished jobs `worker_id` holds (the provisioner's
        /// heartbeat); returns how many.
        write fn heartbeat_provisioner_jobs(&self, worker_id: &str, now: Timestamp) -> Result<usize>;

        /// Puts started, unfinished jobs last updated before `updated_before` back to pending
        /// (of `worker_id` only, when given); returns how many.
        write fn requeue_provisioner_jobs(&self, worker_id: Option<&str>, updated_before: Timestamp, now: Timestamp) -> Result<usize>;

        /// Appends log lines to a job, in order, stamped `now`.
        write fn insert_provisioner_job_logs(&self, job_id: &str, now: Timestamp, logs: &[NewJobLog<'_>]) -> Result<()>;

        /// A job's log lines with an id above `after`, in id order.
        read fn get_provisioner_job_logs_after(&self, job_id: &str, after: i64) -> Result<Vec<ProvisionerJobLog>>;

        /// Marks an unfinished, uncanceled job canceled; a job no provisioner holds yet is
        /// completed too (canceled), a running one is left for its provisioner to finish
        /// (canceling). False when the job was finished or canceled already.
        write fn cancel_provisioner_job(&self, job_id: &str, now: Timestamp) -> Result<bool>;

        /// The IDs of jobs a provisioner has started and not finished (nor canceled), oldest first.
        read fn get_running_provisioner_job_ids(&self) -> Result<Vec<String>>;

        /// The build of a job: (build id, workspace id, transition, the version's fail_builds).
        read fn get_workspace_build_by_job_id(&self, job_id: &str) -> Result<Option<(String, String, WorkspaceTransition, bool)>>;
    }
}

store_domain! {
    /// API keys of the HTTP API: session keys and named tokens.
    pub trait ApiKeyStore {
        /// Inserts a key; a second token of one user with one name is
        /// `UniqueViolation { idx_api_key_name }`.
        write fn insert_api_key(&self, params: &InsertApiKey<'_>) -> Result<ApiKey>;

        /// The key with `id`, if any.
        read fn get_api_key_by_id(&self, id: &str) -> Result<Option<ApiKey>>;

        /// The user's token (login type `token`) named `name`, if any.
        read fn get_api_key_by_name(&self, user_id: &str, name: &str) -> Result<Option<ApiKey>>;

        /// Keys of `login_type` (of one user, or of all), newest first.
        read fn list_api_keys(&self, user_id: Option<&str>, login_type: LoginType) -> Result<Vec<ApiKey>>;

        /// Records a use of the key: `last_used`, and the expiry a sliding session moves.
        write fn update_api_key_usage(&self, id: &str, last_used: Timestamp, expires_at: Timestamp) -> Result<()>;

        /// Deletes the key; false when there was none.
        write fn delete_api_key(&self, id: &str) -> Result<bool>;
    }
}

store_domain! {
    /// Running an install for months: registered server replicas, and the purge
    /// service's bounded deletes (lock 4).
    pub trait MaintenanceStore {
        /// Registers (or re-registers) a server replica with a fresh heartbeat.
        write fn upsert_replica(&self, replica: &ReplicaRow) -> Result<()>;

        /// Moves the replica's heartbeat to `now`; false when its row is gone.
        write fn heartbeat_replica(&self, id: &str, now: Timestamp) -> Result<bool>;

        /// Deletes the replica's row (a clean shutdown).
        write fn delete_replica(&self, id: &str) -> Result<()>;

        /// Every registered replica, oldest start first.
        read fn list_replicas(&self) -> Result<Vec<ReplicaRow>>;

        /// Deletes replicas whose last heartbeat is before `before`; the number deleted.
        write fn delete_replicas_updated_before(&self, before: Timestamp) -> Result<u64>;

        /// Upstream's cutoff for raw agent stats: one day before the newest rollup bucket (180
        /// days before `now` without one), and no later than four hours after the oldest
        /// stat (one run's window). `None` when there are no stats.
        read fn get_agent_stats_purge_cutoff(&self, now: Timestamp) -> Result<Option<Timestamp>>;

        /// Deletes up to `limit` of the oldest rows `target` names that are older than
        /// `before`; the number deleted.
        write fn purge_rows(&self, target: PurgeTarget, before: Timestamp, limit: u32) -> Result<u64>;
    }
}

store_domain! {
    /// Uploaded files: the template archives a template import reads.
    pub trait FileStore {
        /// Inserts a file; a second upload of the same content by the same user is
        /// `UniqueViolation { files_hash_created_by_key }`.
        write fn insert_file(&self, file: &File) -> Result<()>;

        /// A file with its content.
        read fn get_file_by_id(&self, id: &str) -> Result<File>;

        /// The ID of the file `created_by` uploaded with this SHA-256, if any.
        read fn get_file_id_by_hash(&self, hash: &str, created_by: &str) -> Result<Option<String>>;
    }
}
