//! Row types returned by the `Store`, and the enums stored as TEXT (each with `as_str` and
//! `FromStr`, the one place their spelling lives).

use std::fmt;
use std::str::FromStr;

use crate::clock::Timestamp;

/// Declares a TEXT-stored enum with its spellings.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            /// Every variant.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("unknown {} {other:?}", stringify!($name))),
                }
            }
        }
    };
}

text_enum! {
    /// The kind of a row in `locks`.
    LockKind {
        Transaction => "transaction",
        Lease => "lease",
    }
}

/// A committed row of the `locks` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRow {
    /// The stored number; a known one maps to `LockId::from_i64`.
    pub lock_id: i64,
    pub holder: String,
    pub kind: LockKind,
    pub acquired_at: Timestamp,
    /// Set for leases.
    pub expires_at: Option<Timestamp>,
}

/// The result of `check_integrity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrityReport {
    pub schema_version: i64,
    /// "ok", or the problems SQLite reported, joined with "; ".
    pub integrity: String,
    /// "ok", or the violations found, joined with "; ".
    pub foreign_keys: String,
}

impl IntegrityReport {
    pub fn is_ok(&self) -> bool {
        self.integrity == "ok" && self.foreign_keys == "ok"
    }
}

/// Parameters of `upsert_boundary_usage_stats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertBoundaryUsageStats<'a> {
    pub replica_id: &'a str,
    /// Unique IDs seen since the last flush: the unique counts of a newly inserted row.
    pub unique_workspaces_delta: i64,
    pub unique_users_delta: i64,
    /// Unique IDs seen this period: replace the unique counts of an existing row.
    pub unique_workspaces_count: i64,
    pub unique_users_count: i64,
    /// Requests since the last flush: added to the stored counts.
    pub allowed_requests: i64,
    pub denied_requests: i64,
}

/// Sums over `boundary_usage_stats` rows (each 0 when there are none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BoundaryUsageSummary {
    pub unique_workspaces: i64,
    pub unique_users: i64,
    pub allowed_requests: i64,
    pub denied_requests: i64,
}

/// A stored telemetry snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetrySnapshot {
    pub id: i64,
    pub event_type: String,
    pub period_ending_at: Timestamp,
    pub collected_at: Timestamp,
    pub replica_id: String,
    pub snapshot: serde_json::Value,
}

/// The prebuilds system user's fixed ID.
pub const PREBUILDS_SYSTEM_USER_ID: &str = "c42fdf75-3097-471c-8c33-fb52454d81c0";

text_enum! {
    /// `users.status`.
    UserStatus {
        Active => "active",
        Suspended => "suspended",
        Dormant => "dormant",
    }
}

text_enum! {
    /// `users.login_type`.
    LoginType {
        Password => "password",
        Github => "github",
        Oidc => "oidc",
        Token => "token",
        None => "none",
    }
}

/// A row of `organizations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub is_default: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Parameters of `insert_organization`.
#[derive(Debug, Clone)]
pub struct InsertOrganization<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub display_name: &'a str,
    pub description: &'a str,
    pub created_at: Timestamp,
}

/// A row of `users`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub username: String,
    pub name: String,
    pub status: UserStatus,
    pub login_type: LoginType,
    pub is_system: bool,
    pub deleted: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_seen_at: Timestamp,
    /// Site roles (`owner`, `template-admin`, `user-admin`, `auditor`); `member` is implicit.
    pub rbac_roles: Vec<String>,
    pub avatar_url: String,
}

/// Parameters of `insert_user` (never a system user: those come from migrations).
#[derive(Debug, Clone)]
pub struct InsertUser<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub username: &'a str,
    pub name: &'a str,
    pub status: UserStatus,
    pub login_type: LoginType,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
}

/// Parameters of `get_users`: a page after `after_username` (exclusive), ordered by username.
#[derive(Debug, Clone)]
pub struct GetUsersParams<'a> {
    pub include_system: bool,
    pub status: Option<UserStatus>,
    pub after_username: Option<&'a str>,
    /// 0 means no limit.
    pub limit: u32,
}

/// A row of `organization_members` with its user's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationMember {
    pub organization_id: String,
    pub user_id: String,
    pub username: String,
    pub roles: Vec<String>,
    pub created_at: Timestamp,
}

/// A row of `groups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub organization_id: String,
    pub avatar_url: String,
    pub quota_allowance: i64,
}

/// Parameters of `insert_group`.
#[derive(Debug, Clone)]
pub struct InsertGroup<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub display_name: &'a str,
    pub organization_id: &'a str,
    pub avatar_url: &'a str,
    pub quota_allowance: i64,
}

/// A row of `group_members_expanded`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub user_id: String,
    pub user_username: String,
    pub user_email: String,
    pub user_is_system: bool,
    pub organization_id: String,
    pub group_id: String,
    pub group_name: String,
}

text_enum! {
    /// `provisioner_jobs.type`.
    ProvisionerJobType {
        TemplateVersionImport => "template_version_import",
        WorkspaceBuild => "workspace_build",
        TemplateVersionDryRun => "template_version_dry_run",
    }
}

text_enum! {
    /// `provisioner_jobs.job_status` (generated from the job's timestamps and error).
    JobStatus {
        Pending => "pending",
        Running => "running",
        Succeeded => "succeeded",
        Failed => "failed",
        Canceling => "canceling",
        Canceled => "canceled",
    }
}

text_enum! {
    /// `workspace_builds.transition`.
    WorkspaceTransition {
        Start => "start",
        Stop => "stop",
        Delete => "delete",
    }
}

text_enum! {
    /// `template_version_presets.prebuild_status`.
    PrebuildStatus {
        Healthy => "healthy",
        HardLimited => "hard_limited",
        ValidationFailed => "validation_failed",
    }
}

text_enum! {
    /// `workspace_agents.lifecycle_state`.
    AgentLifecycle {
        Created => "created",
        Starting => "starting",
        StartTimeout => "start_timeout",
        StartError => "start_error",
        Ready => "ready",
        ShuttingDown => "shutting_down",
        ShutdownTimeout => "shutdown_timeout",
        ShutdownError => "shutdown_error",
        Off => "off",
    }
}

/// Parameters of `insert_provisioner_job`. The state fields let fixtures insert jobs in any
/// state; the generated `job_status` follows from them.
#[derive(Debug, Clone)]
pub struct InsertProvisionerJob<'a> {
    pub id: &'a str,
    pub created_at: Timestamp,
    pub initiator_id: &'a str,
    pub organization_id: &'a str,
    pub job_type: ProvisionerJobType,
    pub input: &'a serde_json::Value,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub canceled_at: Option<Timestamp>,
    pub error: Option<&'a str>,
    pub worker_id: Option<&'a str>,
    /// The uploaded archive a template import reads.
    pub file_id: Option<&'a str>,
}

/// A row of `provisioner_jobs`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvisionerJob {
    pub id: String,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub canceled_at: Option<Timestamp>,
    pub error: Option<String>,
    pub worker_id: Option<String>,
    pub initiator_id: String,
    pub organization_id: String,
    pub job_type: ProvisionerJobType,
    pub input: serde_json::Value,
    pub job_status: JobStatus,
    pub file_id: Option<String>,
}

/// A log line of a provisioner job (upstream's `provisioner_job_logs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionerJobLog {
    pub id: i64,
    pub job_id: String,
    pub created_at: Timestamp,
    /// `provisioner_daemon` or `provisioner`.
    pub source: String,
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub level: String,
    pub stage: String,
    pub output: String,
}

/// A log line to append to a job (`insert_provisioner_job_logs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewJobLog<'a> {
    pub source: &'a str,
    pub level: &'a str,
    pub stage: &'a str,
    pub output: &'a str,
}

/// An uploaded file (a template archive), deduplicated per uploader by its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub id: String,
    /// Lowercase hex SHA-256 of `data`.
    pub hash: String,
    pub created_at: Timestamp,
    pub created_by: String,
    pub mimetype: String,
    pub data: Vec<u8>,
}

/// Parameters of `insert_template`.
#[derive(Debug, Clone)]
pub struct InsertTemplate<'a> {
    pub id: &'a str,
    pub organization_id: &'a str,
    pub name: &'a str,
    pub display_name: &'a str,
    pub created_at: Timestamp,
    pub created_by: Option<&'a str>,
    pub active_version_id: &'a str,
    /// '' means not deprecated.
    pub deprecated: &'a str,
    pub description: &'a str,
    pub icon: &'a str,
    pub scheduling: TemplateScheduling,
}

/// What `update_template_meta` writes: every settable field of a template at once.
#[derive(Debug, Clone)]
pub struct TemplateMeta<'a> {
    pub name: &'a str,
    pub display_name: &'a str,
    pub description: &'a str,
    pub icon: &'a str,
    /// '' means not deprecated.
    pub deprecated: &'a str,
    pub scheduling: TemplateScheduling,
    pub allow_user_cancel_workspace_jobs: bool,
    pub require_active_version: bool,
}

/// A template's scheduling settings (upstream's template schedule); durations in
/// milliseconds, day bitmaps with Monday as bit 0 and Sunday as bit 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateScheduling {
    /// The TTL a workspace gets when its creator gives none; 0 = none.
    pub default_ttl_ms: i64,
    pub activity_bump_ms: i64,
    /// Days autostart may not run; 0 = every day allowed.
    pub autostart_block_days_of_week: u8,
    pub autostop_requirement_days_of_week: u8,
    pub autostop_requirement_weeks: i64,
    pub allow_user_autostart: bool,
    pub allow_user_autostop: bool,
    pub failure_ttl_ms: i64,
    pub time_til_dormant_ms: i64,
    pub time_til_dormant_autodelete_ms: i64,
}

impl TemplateScheduling {
    /// What a template created through upstream's API starts with.
    pub const DEFAULT: TemplateScheduling = TemplateScheduling {
        default_ttl_ms: 0,
        activity_bump_ms: 3_600_000,
        autostart_block_days_of_week: 0,
        autostop_requirement_days_of_week: 0,
        autostop_requirement_weeks: 0,
        allow_user_autostart: true,
        allow_user_autostop: true,
        failure_ttl_ms: 0,
        time_til_dormant_ms: 0,
        time_til_dormant_autodelete_ms: 0,
    };

    /// Whether autostart may run on `day`.
    pub fn autostart_allowed(&self, day: chrono::Weekday) -> bool {
        self.autostart_block_days_of_week & (1 << day.num_days_from_monday()) == 0
    }
}

/// A row of `templates`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub display_name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub created_by: Option<String>,
    pub deleted: bool,
    pub deprecated: String,
    pub active_version_id: String,
    pub description: String,
    pub icon: String,
    pub scheduling: TemplateScheduling,
    pub allow_user_cancel_workspace_jobs: bool,
    pub require_active_version: bool,
}

/// A template with the names a listing shows beside it (upstream's `template_with_names`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateWithNames {
    pub template: Template,
    pub organization_name: String,
    pub organization_display_name: String,
    pub active_version_name: String,
    /// The creator's username; `None` when unknown.
    pub created_by_username: Option<String>,
}

/// Parameters of `insert_template_version`.
#[derive(Debug, Clone)]
pub struct InsertTemplateVersion<'a> {
    pub id: &'a str,
    pub template_id: Option<&'a str>,
    pub organization_id: &'a str,
    pub name: &'a str,
    pub created_at: Timestamp,
    pub created_by: Option<&'a str>,
    pub job_id: &'a str,
    pub fail_builds: bool,
}

/// A row of `template_versions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateVersion {
    pub id: String,
    pub template_id: Option<String>,
    pub organization_id: String,
    pub name: String,
    pub created_at: Timestamp,
    pub job_id: String,
    pub fail_builds: bool,
}

/// A row of `template_version_parameters`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateVersionParameter {
    pub template_version_id: String,
    pub name: String,
    pub required: bool,
    pub default_value: String,
}

/// Parameters of `insert_preset`.
#[derive(Debug, Clone)]
pub struct InsertPreset<'a> {
    pub id: &'a str,
    pub template_version_id: &'a str,
    pub name: &'a str,
    pub created_at: Timestamp,
    /// None: the preset wants no prebuilds.
    pub desired_instances: Option<i64>,
    pub invalidate_after_secs: Option<i64>,
    pub scheduling_timezone: &'a str,
    pub is_default: bool,
}

/// A row of `template_version_presets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preset {
    pub id: String,
    pub template_version_id: String,
    pub name: String,
    pub created_at: Timestamp,
    pub desired_instances: Option<i64>,
    pub invalidate_after_secs: Option<i64>,
    pub scheduling_timezone: String,
    pub prebuild_status: PrebuildStatus,
    pub last_invalidated_at: Option<Timestamp>,
    pub is_default: bool,
}

/// A row of `template_version_preset_parameters`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresetParameter {
    pub id: String,
    pub template_version_preset_id: String,
    pub name: String,
    pub value: String,
}

/// A row of `template_version_preset_prebuild_schedules`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresetPrebuildSchedule {
    pub id: String,
    pub preset_id: String,
    pub cron_expression: String,
    pub desired_instances: i64,
}

/// Parameters of `insert_workspace`.
#[derive(Debug, Clone)]
pub struct InsertWorkspace<'a> {
    pub id: &'a str,
    pub created_at: Timestamp,
    pub owner_id: &'a str,
    pub organization_id: &'a str,
    pub template_id: &'a str,
    pub name: &'a str,
    pub last_used_at: Timestamp,
    pub autostart_schedule: Option<&'a str>,
    pub ttl_ms: Option<i64>,
}

/// A row of `workspaces`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub owner_id: String,
    pub organization_id: String,
    pub template_id: String,
    pub name: String,
    pub deleted: bool,
    pub last_used_at: Timestamp,
    pub autostart_schedule: Option<String>,
    pub ttl_ms: Option<i64>,
    pub next_start_at: Option<Timestamp>,
    pub dormant_at: Option<Timestamp>,
    pub deleting_at: Option<Timestamp>,
}

/// Parameters of `insert_workspace_build`.
#[derive(Debug, Clone)]
pub struct InsertWorkspaceBuild<'a> {
    pub id: &'a str,
    pub created_at: Timestamp,
    pub workspace_id: &'a str,
    pub template_version_id: &'a str,
    pub build_number: i64,
    pub transition: WorkspaceTransition,
    pub initiator_id: &'a str,
    pub job_id: &'a str,
    pub reason: &'a str,
    pub template_version_preset_id: Option<&'a str>,
}

/// A row of `workspace_builds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceBuild {
    pub id: String,
    pub created_at: Timestamp,
    pub workspace_id: String,
    pub template_version_id: String,
    pub build_number: i64,
    pub transition: WorkspaceTransition,
    pub initiator_id: String,
    pub job_id: String,
    pub reason: String,
    pub template_version_preset_id: Option<String>,
    /// When a started workspace stops on its own; `None`: no automatic stop.
    pub deadline: Option<Timestamp>,
}

/// Parameters of `insert_workspace_agent`.
#[derive(Debug, Clone)]
pub struct InsertWorkspaceAgent<'a> {
    pub id: &'a str,
    pub created_at: Timestamp,
    pub resource_id: &'a str,
    pub name: &'a str,
    pub lifecycle_state: AgentLifecycle,
    pub ready_at: Option<Timestamp>,
    pub parent_id: Option<&'a str>,
}

/// A row of `workspace_resources`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceResource {
    pub id: String,
    pub created_at: Timestamp,
    pub job_id: String,
    pub transition: WorkspaceTransition,
    pub resource_type: String,
    pub name: String,
}

/// A row of `workspace_agents`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceAgent {
    pub id: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub resource_id: String,
    pub name: String,
    pub lifecycle_state: AgentLifecycle,
    pub ready_at: Option<Timestamp>,
    pub parent_id: Option<String>,
}

/// A row of `workspace_agent_stats`.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkspaceAgentStat {
    pub id: String,
    pub created_at: Timestamp,
    pub user_id: String,
    pub agent_id: String,
    pub workspace_id: String,
    pub template_id: String,
    pub connection_count: i64,
    /// -1 when no latency was measured.
    pub connection_median_latency_ms: f64,
    pub rx_bytes: i64,
    pub tx_bytes: i64,
    pub session_count_vscode: i64,
    pub session_count_jetbrains: i64,
    pub session_count_reconnecting_pty: i64,
    pub session_count_ssh: i64,
}

/// A row of `workspace_app_stats` (id assigned on insert).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceAppStat {
    pub user_id: String,
    pub workspace_id: String,
    pub agent_id: String,
    /// `terminal` marks the web terminal.
    pub access_method: String,
    pub slug_or_port: String,
    pub session_id: String,
    pub session_started_at: Timestamp,
    pub session_ended_at: Timestamp,
    pub requests: i64,
}

text_enum! {
    /// `ai_providers.type`.
    AiProviderType {
        Openai => "openai",
        Anthropic => "anthropic",
    }
}

/// A row of `ai_providers`. `settings` may hold secrets: never print it.
#[derive(Clone, PartialEq, Eq)]
pub struct AiProvider {
    pub id: String,
    pub provider_type: AiProviderType,
    pub name: String,
    pub display_name: String,
    pub enabled: bool,
    pub deleted: bool,
    pub base_url: String,
    pub settings: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl fmt::Debug for AiProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AiProvider")
            .field("id", &self.id)
            .field("type", &self.provider_type)
            .field("name", &self.name)
            .field("enabled", &self.enabled)
            .field("deleted", &self.deleted)
            .field("base_url", &self.base_url)
            .field("settings", &self.settings.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Parameters of `insert_ai_provider`.
#[derive(Clone)]
pub struct InsertAiProvider<'a> {
    pub id: &'a str,
    pub provider_type: AiProviderType,
    pub name: &'a str,
    pub display_name: &'a str,
    pub base_url: &'a str,
    pub settings: Option<&'a str>,
    pub created_at: Timestamp,
}

/// A row of `ai_provider_keys`. `api_key` is a secret: never print it.
#[derive(Clone, PartialEq, Eq)]
pub struct AiProviderKey {
    pub id: String,
    pub provider_id: String,
    pub api_key: String,
    pub created_at: Timestamp,
}

impl fmt::Debug for AiProviderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AiProviderKey").field("id", &self.id).field("provider_id", &self.provider_id).finish()
    }
}

/// Parameters of `insert_audit_log`.
#[derive(Debug, Clone)]
pub struct InsertAuditLog<'a> {
    pub id: &'a str,
    pub time: Timestamp,
    pub user_id: &'a str,
    pub organization_id: &'a str,
    pub resource_type: &'a str,
    pub resource_id: &'a str,
    pub resource_target: &'a str,
    pub action: &'a str,
    pub diff: &'a serde_json::Value,
    pub status_code: i64,
}

/// A row of `audit_logs`.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditLog {
    pub id: String,
    pub time: Timestamp,
    pub user_id: String,
    pub resource_type: String,
    pub resource_id: String,
    pub resource_target: String,
    pub action: String,
    pub diff: serde_json::Value,
    pub organization_id: String,
    pub status_code: i64,
}

/// What `get_audit_logs_page` selects (every `Some` must match) and which page.
#[derive(Debug, Clone, Default)]
pub struct AuditLogFilter<'a> {
    pub resource_type: Option<&'a str>,
    pub resource_id: Option<&'a str>,
    pub resource_target: Option<&'a str>,
    pub action: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub organization_id: Option<&'a str>,
    /// Entries at or after this time.
    pub time_from: Option<Timestamp>,
    /// Entries at or before this time.
    pub time_to: Option<Timestamp>,
    /// 0: all.
    pub limit: u32,
    pub offset: u32,
}

/// A row of `template_usage_stats`.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateUsageStat {
    pub start_time: Timestamp,
    pub end_time: Timestamp,
    pub template_id: String,
    pub user_id: String,
    pub median_latency_ms: Option<f64>,
    pub usage_mins: i64,
    pub ssh_mins: i64,
    pub sftp_mins: i64,
    pub reconnecting_pty_mins: i64,
    pub vscode_mins: i64,
    pub jetbrains_mins: i64,
    /// Keys sorted (a BTreeMap); `None` when there was no app usage.
    pub app_usage_mins: Option<std::collections::BTreeMap<String, i64>>,
}

/// An agent stats row as the rollup reads it, borrowed from the row being read (the rollup
/// window holds hours of rows; they are visited one at a time, never collected).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RollupAgentStat<'a> {
    pub created_at: Timestamp,
    pub template_id: &'a str,
    pub user_id: &'a str,
    pub connection_count: i64,
    pub connection_median_latency_ms: f64,
    pub session_count_ssh: i64,
    pub session_count_reconnecting_pty: i64,
    pub session_count_vscode: i64,
    pub session_count_jetbrains: i64,
}

/// An app session as the rollup reads it (template from the workspace), borrowed from the
/// row being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollupAppStat<'a> {
    pub template_id: &'a str,
    pub user_id: &'a str,
    pub access_method: &'a str,
    pub slug_or_port: &'a str,
    pub session_started_at: Timestamp,
    pub session_ended_at: Timestamp,
}

// --- prebuilds snapshot rows ---------------------------------

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

/// A ready agent of a running, non-prebuilt workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningWorkspaceAgent {
    pub workspace_id: String,
    pub owner_id: String,
    pub template_id: String,
    pub agent_id: String,
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

/// A row of `api_keys`: the key's id in clear, a SHA-256 of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub hashed_secret: Vec<u8>,
    pub user_id: String,
    pub last_used: Timestamp,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub login_type: LoginType,
    pub lifetime_seconds: i64,
    pub token_name: String,
    pub scope: String,
}

/// Parameters of `insert_api_key`.
#[derive(Debug, Clone)]
pub struct InsertApiKey<'a> {
    pub id: &'a str,
    pub hashed_secret: &'a [u8],
    pub user_id: &'a str,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    pub login_type: LoginType,
    pub lifetime_seconds: i64,
    pub token_name: &'a str,
}

/// The filters of a workspace listing (upstream's `GetWorkspaces`): each `Some` narrows it.
#[derive(Debug, Clone, Default)]
pub struct WorkspacePageParams<'a> {
    pub owner_id: Option<&'a str>,
    /// Exact, case-insensitive.
    pub template_name: Option<&'a str>,
    /// Substring, case-insensitive.
    pub name_contains: Option<&'a str>,
    pub ids: Option<&'a [String]>,
    /// The latest build's job status, and its transition when the status filter names one.
    pub job_status: Option<JobStatus>,
    pub transition: Option<WorkspaceTransition>,
    /// Only workspaces of this owner are visible to the caller (a member's view).
    pub visible_owner_id: Option<&'a str>,
    pub offset: u32,
    /// 0 means no limit.
    pub limit: u32,
}

/// A row of `replicas`: a running server, as upstream's replicas register themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaRow {
    pub id: String,
    pub hostname: String,
    pub pid: i64,
    pub version: String,
    pub started_at: Timestamp,
    /// The last heartbeat.
    pub updated_at: Timestamp,
    pub stopped_at: Option<Timestamp>,
}

/// What one purge delete removes (upstream's dbpurge steps, and coderlite's own tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PurgeTarget {
    /// Raw agent stats created before the cutoff.
    AgentStats,
    /// Notification messages not updated since the cutoff.
    NotificationMessages,
    /// API keys expired before the cutoff.
    ExpiredApiKeys,
    /// Telemetry period claims ending before the cutoff.
    TelemetryLocks,
    /// Collected telemetry snapshots older than the cutoff (coderlite's own table).
    TelemetrySnapshots,
    /// Audit entries of connection events (connect, disconnect, open, close) before the cutoff.
    AuditConnectionEvents,
    /// Other audit entries before the cutoff.
    AuditLogs,
}

impl PurgeTarget {
    /// The name in logs and `db purge` output (upstream's record types where it has one).
    pub fn as_str(self) -> &'static str {
        match self {
            PurgeTarget::AgentStats => "workspace_agent_stats",
            PurgeTarget::NotificationMessages => "notification_messages",
            PurgeTarget::ExpiredApiKeys => "expired_api_keys",
            PurgeTarget::TelemetryLocks => "telemetry_locks",
            PurgeTarget::TelemetrySnapshots => "telemetry_snapshots",
            PurgeTarget::AuditConnectionEvents => "audit_log_connection_events",
            PurgeTarget::AuditLogs => "audit_logs",
        }
    }
}

/// SQLite's write-ahead log after a checkpoint (or a look at it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalStatus {
    /// The `-wal` file's size.
    pub wal_bytes: u64,
    /// A checkpoint could not finish: a reader or writer held it back.
    pub busy: bool,
    /// Frames in the log, and how many of them are in the database file now.
    pub frames: i64,
    pub checkpointed: i64,
}
