//! codersdk's wire format: the JSON shapes upstream's server writes, field for field. Keys,
//! types, nesting and presence follow upstream's Go structs as its encoder emits them
//! (`omitempty` respected; pointers without it are `null`; slices it leaves nil are `null`);
//! zero values where coderlite holds no data. Conversions from rows are pure.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::Serializer;

use crate::clock::Timestamp;
use crate::database::models;
use crate::database::models::JobStatus;
use crate::database::models::WorkspaceTransition;
use crate::identity::roles;

/// A time as Go's `time.RFC3339Nano` writes it: UTC `Z`, trailing zeros of the fraction
/// trimmed.
pub fn go_time(t: Timestamp) -> String {
    let frac = format!("{:09}", t.timestamp_subsec_nanos());
    let frac = frac.trim_end_matches('0');
    let frac = if frac.is_empty() { String::new() } else { format!(".{frac}") };
    format!("{}{frac}Z", t.format("%Y-%m-%dT%H:%M:%S"))
}

pub(crate) fn ser_time<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&go_time(*t))
}

fn ser_opt_time<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&go_time(*t)),
        None => s.serialize_none(),
    }
}

/// The nil UUID, where upstream's struct holds a zero `uuid.UUID`.
pub const NIL_UUID: &str = "00000000-0000-0000-0000-000000000000";

// --- users, organizations, groups, keys -----------------------------------------------

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SlimRole {
    pub name: String,
    pub display_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub organization_id: String,
}

impl SlimRole {
    pub fn site(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            display_name: roles::display_name(name).to_owned(),
            organization_id: String::new(),
        }
    }
}

/// `codersdk.ReducedUser` (and the first part of `User`).
#[derive(Debug, Clone, Serialize)]
pub struct ReducedUser {
    pub id: String,
    pub username: String,
    pub avatar_url: String,
    pub name: String,
    pub email: String,
    #[serde(serialize_with = "ser_time")]
    pub created_at: Timestamp,
    #[serde(serialize_with = "ser_time")]
    pub updated_at: Timestamp,
    #[serde(serialize_with = "ser_time")]
    pub last_seen_at: Timestamp,
    pub status: String,
    pub login_type: String,
    pub theme_preference: String,
}

impl ReducedUser {
    pub fn from_user(u: &models::User) -> Self {
        Self {
            id: u.id.clone(),
            username: u.username.clone(),
            avatar_url: u.avatar_url.clone(),
            name: u.name.clone(),
            email: u.email.clone(),
            created_at: u.created_at,
            updated_at: u.updated_at,
            last_seen_at: u.last_seen_at,
            status: u.status.as_str().to_owned(),
            login_type: u.login_type.as_str().to_owned(),
            theme_preference: String::new(),
        }
    }
}

/// `codersdk.User`.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    #[serde(flatten)]
    pub reduced: ReducedUser,
    /// `null` in the list endpoint for a user without memberships (a nil Go slice there).
    pub organization_ids: Option<Vec<String>>,
    pub roles: Vec<SlimRole>,
}

impl User {
    pub fn from_user(u: &models::User, organization_ids: Option<Vec<String>>) -> Self {
        Self {
            reduced: ReducedUser::from_user(u),
            organization_ids,
            roles: u.rbac_roles.iter().map(|r| SlimRole::site(r)).collect(),
        }
    }
}

/// `codersdk.MinimalUser` as a template version's `created_by` carries it.
#[derive(Debug, Clone, Serialize)]
pub struct MinimalUser {
    pub id: String,
    pub username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub avatar_url: String,
}

/// `codersdk.Organization`.
#[derive(Debug, Clone, Serialize)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub icon: String,
    pub description: String,
    #[serde(serialize_with = "ser_time")]
    pub created_at: Timestamp,
    #[serde(serialize_with = "ser_time")]
    pub updated_at: Timestamp,
    pub is_default: bool,
}

impl Organization {
    pub fn from_row(o: &models::Organization) -> Self {
        Self {
            id: o.id.clone(),
            name: o.name.clone(),
            display_name: o.display_name.clone(),
            icon: String::new(),
            description: o.description.clone(),
            created_at: o.created_at,
            updated_at: o.updated_at,
            is_default: o.is_default,
        }
    }
}

/// `codersdk.OrganizationMemberWithUserData`.
#[derive(Debug, Clone, Serialize)]
pub struct OrganizationMemberWithUserData {
    pub username: String,
    pub name: String,
    pub avatar_url: String,
    pub email: String,
    pub global_roles: Vec<SlimRole>,
    pub user_id: String,
    pub organization_id: String,
    #[serde(serialize_with = "ser_time")]
    pub created_at: Timestamp,
    #[serde(serialize_with = "ser_time")]
    pub updated_at: Timestamp,
    pub roles: Vec<SlimRole>,
}

/// `codersdk.Group`.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub organization_id: String,
    pub members: Vec<ReducedUser>,
    pub total_member_count: i64,
    pub avatar_url: String,
    pub quota_allowance: i64,
    pub source: String,
    pub organization_name: String,
    pub organization_display_name: String,
}

/// One entry of an API key's `allow_list`.
#[derive(Debug, Clone, Serialize)]
pub struct AllowListTarget {
    #[serde(rename = "type")]
    pub target_type: String,
    pub id: String,
}

/// `codersdk.APIKey`.
#[derive(Debug, Clone, Serialize)]
pub struct ApiKey {
    pub id: String,
    pub user_id: String,
    #[serde(serialize_with = "ser_time")]
    pub last_used: Timestamp,
    #[serde(serialize_with = "ser_time")]
    pub expires_at: Timestamp,
    #[serde(serialize_with = "ser_time")]
    pub created_at: Timestamp,
    #[serde(serialize_with = "ser_time")]
    pub updated_at: Timestamp,
    pub login_type: String,
    pub scope: String,
    pub scopes: Vec<String>,
    pub token_name: String,
    pub lifetime_seconds: i64,
    pub allow_list: Vec<AllowListTarget>,
}

impl ApiKey {
    pub fn from_row(k: &models::ApiKey) -> Self {
        Self {
            id: k.id.clone(),
            user_id: k.user_id.clone(),
            last_used: k.last_used,
            expires_at: k.expires_at,
            created_at: k.created_at,
            updated_at: k.updated_at,
            login_type: k.login_type.as_str().to_owned(),
            scope: k.scope.clone(),
            scopes: vec![format!("coder:{}", k.scope)],
            token_name: k.token_name.clone(),
            lifetime_seconds: k.lifetime_seconds,
            allow_list: vec![AllowListTarget { target_type: "*".to_owned(), id: "*".to_owned() }],
        }
    }
}

/// `codersdk.APIKeyWithOwner`.
#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyWithOwner {
    #[serde(flatten)]
    pub key: ApiKey,
    pub username: String,
}

// --- templates --------------------------------------------------------------------------

const DAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

/// The days of a bitmap (Monday bit 0), in upstream's order.
pub fn days_of_week(bits: u8) -> Vec<String> {
    DAYS.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, d)| (*d).to_owned()).collect()
}

/// `{"P50": ms | null, "P95": ms | null}` (`TransitionStats` has no JSON tags).
#[derive(Debug, Clone, Serialize)]
#[allow(non_snake_case)]
pub struct TransitionStats {
    pub P50: Option<i64>,
    pub P95: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AutostopRequirement {
    pub days_of_week: Vec<String>,
    pub weeks: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AutostartRequirement {
    pub days_of_week: Vec<String>,
}

/// `codersdk.Template`.
#[derive(Debug, Clone, Serialize)]
pub struct Template {
    pub id: String,
    #[serde(serialize_with = "ser_time")]
    pub created_at: Timestamp,
    #[serde(serialize_with = "ser_time")]
    pub updated_at: Timestamp,
    pub organization_id: String,
    pub organization_name: String,
    pub organization_display_name: String,
    pub organization_icon: String,
    pub name: String,
    pub display_name: String,
    pub provisioner: String,
    pub active_version_id: String,
    pub active_user_count: i64,
    pub build_time_stats: BTreeMap<String, TransitionStats>,
    pub description: String,
    pub deprecated: bool,
    pub deprecation_message: String,
    pub icon: String,
    pub default_ttl_ms: i64,
    pub activity_bump_ms: i64,
    pub autostop_requirement: AutostopRequirement,
    pub autostart_requirement: AutostartRequirement,
    pub created_by_id: String,
    pub created_by_name: String,
    pub allow_user_autostart: bool,
    pub allow_user_autostop: bool,
    pub allow_user_cancel_workspace_jobs: bool,
    pub failure_ttl_ms: i64,
    pub time_til_dormant_ms: i64,
    pub time_til_dormant_autodelete_ms: i64,
    pub require_active_version: bool,
    pub max_port_share_level: String,
    pub cors_behavior: String,
    pub use_classic_parameter_flow: bool,
}

impl Template {
    pub fn from_row(t: &models::TemplateWithNames, active_user_count: i64) -> Self {
        let s = &t.template.scheduling;
        let stats = || TransitionStats { P50: None, P95: None };
        Self {
            id: t.template.id.clone(),
            created_at: t.template.created_at,
            updated_at: t.template.updated_at,
            organization_id: t.template.organization_id.clone(),
            organization_name: t.organization_name.clone(),
            organization_display_name: t.organization_display_name.clone(),
            organization_icon: String::new(),
            name: t.template.name.clone(),
            display_name: t.template.display_name.clone(),
            // coderlite's only provisioner is the echo provisioner.
            provisioner: "echo".to_owned(),
            active_version_id: t.template.active_version_id.clone(),
            active_user_count,
            build_time_stats: [("start", stats()), ("stop", stats()), ("delete", stats())]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            description: t.template.description.clone(),
            deprecated: !t.template.deprecated.is_empty(),
            deprecation_message: t.template.deprecated.clone(),
            icon: t.template.icon.clone(),
            default_ttl_ms: s.default_ttl_ms,
            activity_bump_ms: s.activity_bump_ms,
            autostop_requirement: AutostopRequirement {
                days_of_week: days_of_week(s.autostop_requirement_days_of_week),
                weeks: s.autostop_requirement_weeks.max(1),
            },
            autostart_requirement: AutostartRequirement {
                days_of_week: days_of_week(!s.autostart_block_days_of_week & 0x7f),
            },
            created_by_id: t.template.created_by.clone().unwrap_or_else(|| NIL_UUID.to_owned()),
            created_by_name: t.created_by_username.clone().unwrap_or_default(),
            allow_user_autostart: s.allow_user_autostart,
            allow_user_autostop: s.allow_user_autostop,
            allow_user_cancel_workspace_jobs: t.template.allow_user_cancel_workspace_jobs,
            failure_ttl_ms: s.failure_ttl_ms,
            time_til_dormant_ms: s.time_til_dormant_ms,
            time_til_dormant_autodelete_ms: s.time_til_dormant_autodelete_ms,
            require_active_version: t.template.require_active_version,
            max_port_share_level: "owner".to_owned(),
            cors_behavior: "simple".to_owned(),
            use_classic_parameter_flow: false,
        }
    }
}

/// `codersdk.ProvisionerJob`'s `input`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ProvisionerJobInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_version_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace_build_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `codersdk.ProvisionerJobMetadata` (not filled for jobs embedded in builds and versions).
#[derive(Debug, Clone, Serialize)]
pub struct ProvisionerJobMetadata {
    pub template_version_name: String,
    pub template_id: String,
    pub template_name: String,
    pub template_display_name: String,
    pub template_icon: String,
}

/// `codersdk.ProvisionerJobLog` (no key is omitted).
#[derive(Debug, Clone, Serialize)]
pub struct ProvisionerJobLog {
    pub id: i64,
    #[serde(serialize_with = "ser_time")]
    pub created_at: Timestamp,
    pub log_source: String,
    pub log_level: String,
    pub stage: String,
    pub output: String,
}

impl ProvisionerJobLog {
    pub fn from_row(l: &models::ProvisionerJobLog) -> Self {
        Self {
            id: l.id,
            created_at: l.created_at,
            log_source: l.source.clone(),
            log_level: l.level.clone(),
            stage: l.stage.clone(),
            output: l.output.clone(),
        }
    }
}

/// `codersdk.ProvisionerJob`.
#[derive(Debug, Clone, Serialize)]
pub struct ProvisionerJob {
    pub id: String,
    #[serde(serialize_with = "ser_time")]
    pub created_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_opt_time")]
    pub started_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_opt_time")]
    pub completed_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_opt_time")]
    pub canceled_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    pub file_id: String,
    pub tags: BTreeMap<String, String>,
    pub queue_position: i64,
    pub queue_size: i64,
    pub organization_id: String,
    pub initiator_id: String,
    pub input: ProvisionerJobInput,
    #[serde(rename = "type")]
    pub job_type: String,
    pub metadata: ProvisionerJobMetadata,
    pub logs_overflowed: bool,
}

impl ProvisionerJob {
    pub fn from_row(j: &models::ProvisionerJob) -> Self {
        let input_id = |key: &str| j.input.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        Self {
            id: j.id.clone(),
            created_at: j.created_at,
            started_at: j.started_at,
            completed_at: j.completed_at,
            canceled_at: j.canceled_at,
            error: j.error.clone().unwrap_or_default(),
            status: j.job_status.as_str().to_owned(),
            // coderlite's provisioner workers are named, not UUIDs: a UUID is shown, else none.
            worker_id: j.worker_id.clone().filter(|w| uuid::Uuid::parse_str(w).is_ok()),
            file_id: j.file_id.clone().unwrap_or_else(|| NIL_UUID.to_owned()),
            tags: BTreeMap::from([
                ("scope".to_owned(), "organization".to_owned()),
                ("owner".to_owned(), String::new()),
            ]),
            queue_position: 0,
            queue_size: 0,
            organization_id: j.organization_id.clone(),
            initiator_id: j.initiator_id.clone(),
            input: ProvisionerJobInput {
                template_version_id: input_id("template_version_id"),
                workspace_build_id: input_id("workspace_build_id"),
                error: None,
            },
            job_type: j.job_type.as_str().to_owned(),
            metadata: ProvisionerJobMetadata {
                template_version_name: String::new(),
                template_id: NIL_UUID.to_owned(),
                template_name: String::new(),
                template_display_name: String::new(),
                template_icon: String::new(),
            },
            logs_overflowed: false,
        }
    }
}

/// `codersdk.TemplateVersion`.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateVersion {
    pub id: String,
    pub template_id: String,
    pub organization_id: String,
    #[serde(serialize_with = "ser_time")]
    pub created_at: Timestamp,
    #[serde(serialize_with = "ser_time")]
    pub updated_at: Timestamp,
    pub name: String,
    pub message: String,
    pub job: ProvisionerJob,
    pub readme: String,
    pub created_by: MinimalUser,
    pub archived: bool,
    pub has_external_agent: bool,
}

impl TemplateVersion {
    pub fn from_row(v: &models::TemplateVersion, job: &models::ProvisionerJob, created_by: MinimalUser) -> Self {
        Self {
            id: v.id.clone(),
            template_id: v.template_id.clone().unwrap_or_else(|| NIL_UUID.to_owned()),
            organization_id: v.organization_id.clone(),
            created_at: v.created_at,
            updated_at: v.created_at,
            name: v.name.clone(),
            message: String::new(),
            job: ProvisionerJob::from_row(job),
            readme: String::new(),
            created_by,
            archived: false,
            has_external_agent: false,
        }
    }
}

/// `codersdk.PresetParameter` (no JSON tags: PascalCase keys).
#[derive(Debug, Clone, Serialize)]
#[allow(non_snake_case)]
pub struct PresetParameter {
    pub Name: String,
    pub Value: String,
}

/// `codersdk.Preset` (no JSON tags: PascalCase keys; `Parameters` is `null` when none).
#[derive(Debug, Clone, Serialize)]
#[allow(non_snake_case)]
pub struct Preset {
    pub ID: String,
    pub Name: String,
    pub Parameters: Option<Vec<PresetParameter>>,
    pub Default: bool,
    pub DesiredPrebuildInstances: Option<i64>,
    pub Description: String,
    pub Icon: String,
}

/// `codersdk.TemplateVersionParameter`.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateVersionParameter {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub display_name: String,
    pub description: String,
    pub description_plaintext: String,
    #[serde(rename = "type")]
    pub param_type: String,
    pub form_type: String,
    pub mutable: bool,
    pub default_value: String,
    pub icon: String,
    pub options: Vec<serde_json::Value>,
    pub required: bool,
    pub ephemeral: bool,
}

impl TemplateVersionParameter {
    pub fn from_row(p: &models::TemplateVersionParameter) -> Self {
        Self {
            name: p.name.clone(),
            display_name: String::new(),
            description: String::new(),
            description_plaintext: String::new(),
            param_type: "string".to_owned(),
            form_type: "input".to_owned(),
            mutable: false,
            default_value: p.default_value.clone(),
            icon: String::new(),
            options: Vec::new(),
            required: p.required,
            ephemeral: false,
        }
    }
}

// --- workspaces -------------------------------------------------------------------------

/// A workspace's status from its latest build (upstream's `ConvertWorkspaceStatus`).
pub fn workspace_status(job: JobStatus, transition: WorkspaceTransition) -> &'static str {
    use JobStatus::*;
    use WorkspaceTransition::*;
    match (job, transition) {
        (Pending, _) => "pending",
        (Running, Start) => "starting",
        (Running, Stop) => "stopping",
        (Running, Delete) => "deleting",
        (Succeeded, Start) => "running",
        (Succeeded, Stop) => "stopped",
        (Succeeded, Delete) => "deleted",
        (Canceling, _) => "canceling",
        (Canceled, _) => "canceled",
        (Failed, _) => "failed",
    }
}

/// `codersdk.WorkspaceAgentHealth`.
#[derive(Debug, Clone, Serialize)]
pub struct AgentHealth {
    pub healthy: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// `codersdk.WorkspaceAgent` (coderlite's echo agents: no connection, apps or scripts).
#[derive(Debug, Clone, Serialize)]
pub struct WorkspaceAgent {
    pub id: String,
    pub parent_id: Option<String>,
    #[serde(serialize_with = "ser_time")]
    pub created_at: Timestamp,
    #[serde(serialize_with = "ser_time")]
    pub updated_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_opt_time")]
    pub ready_at: Option<Timestamp>,
    pub status: String,
    pub lifecycle_state: String,
    pub name: String,
    pub resource_id: String,
    pub architecture: String,
    pub environment_variables: Option<BTreeMap<String, String>>,
    pub operating_system: String,
    pub logs_length: i64,
    pub logs_overflowed: bool,
    pub version: String,
    pub api_version: String,
    pub apps: Vec<serde_json::Value>,
    pub connection_timeout_seconds: i64,
    pub troubleshooting_url: String,
    pub subsystems: Vec<String>,
    pub health: AgentHealth,
    pub display_apps: Vec<String>,
    pub log_sources: Vec<serde_json::Value>,
    pub scripts: Vec<serde_json::Value>,
    pub startup_script_behavior: String,
}

impl WorkspaceAgent {
    pub fn from_row(a: &models::WorkspaceAgent) -> Self {
        let ready = a.lifecycle_state == models::AgentLifecycle::Ready;
        Self {
            id: a.id.clone(),
            parent_id: a.parent_id.clone(),
            created_at: a.created_at,
            updated_at: a.updated_at,
            ready_at: a.ready_at,
            // The echo provisioner's agents report their lifecycle; none ever dials in.
            status: if ready { "connected" } else { "connecting" }.to_owned(),
            lifecycle_state: a.lifecycle_state.as_str().to_owned(),
            name: a.name.clone(),
            resource_id: a.resource_id.clone(),
            architecture: "amd64".to_owned(),
            environment_variables: None,
            operating_system: "linux".to_owned(),
            logs_length: 0,
            logs_overflowed: false,
            version: String::new(),
            api_version: String::new(),
            apps: Vec::new(),
            connection_timeout_seconds: 120,
            troubleshooting_url: String::new(),
            subsystems: Vec::new(),
            health: AgentHealth {
                healthy: ready,
                reason: if ready { String::new() } else { "agent is taking too long to connect".to_owned() },
            },
            display_apps: Vec::new(),
            log_sources: Vec::new(),
            scripts: Vec::new(),
            startup_script_behavior: "non-blocking".to_owned(),
        }
    }
}

/// `codersdk.WorkspaceResource`.
#[derive(Debug, Clone, Serialize)]
pub struct WorkspaceResource {
    pub id: String,
    #[serde(serialize_with = "ser_time")]
    pub created_at: Timestamp,
    pub job_id: String,
    pub workspace_transition: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub name: String,
    pub hide: bool,
    pub icon: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<WorkspaceAgent>,
    pub daily_cost: i64,
}

/// `codersdk.MatchedProvisioners`.
#[derive(Debug, Clone, Serialize)]
pub struct MatchedProvisioners {
    pub count: i64,
    pub available: i64,
    pub most_recently_seen: Option<String>,
}

/// `codersdk.WorkspaceBuild`.
#[derive(Debug, Clone, Serialize)]
pub struct WorkspaceBuild {
    pub id: String,
    #[serde(serialize_with = "ser_time")]
    pub created_at: Timestamp,
    #[serde(serialize_with = "ser_time")]
    pub updated_at: Timestamp,
    pub workspace_id: String,
    pub workspace_name: String,
    pub workspace_owner_id: String,
    pub workspace_owner_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub workspace_owner_avatar_url: String,
    pub template_version_id: String,
    pub template_version_name: String,
    pub build_number: i64,
    pub transition: String,
    pub initiator_id: String,
    pub initiator_name: String,
    pub job: ProvisionerJob,
    pub reason: String,
    pub resources: Vec<WorkspaceResource>,
    #[serde(serialize_with = "ser_opt_time")]
    pub deadline: Option<Timestamp>,
    #[serde(serialize_with = "ser_opt_time")]
    pub max_deadline: Option<Timestamp>,
    pub status: String,
    pub daily_cost: i64,
    pub matched_provisioners: MatchedProvisioners,
    pub template_version_preset_id: Option<String>,
}

/// `codersdk.WorkspaceHealth`.
#[derive(Debug, Clone, Serialize)]
pub struct WorkspaceHealth {
    pub healthy: bool,
    pub failing_agents: Vec<String>,
}

/// `codersdk.Workspace`.
#[derive(Debug, Clone, Serialize)]
pub struct Workspace {
    pub id: String,
    #[serde(serialize_with = "ser_time")]
    pub created_at: Timestamp,
    #[serde(serialize_with = "ser_time")]
    pub updated_at: Timestamp,
    pub owner_id: String,
    pub owner_name: String,
    pub owner_avatar_url: String,
    pub organization_id: String,
    pub organization_name: String,
    pub template_id: String,
    pub template_name: String,
    pub template_display_name: String,
    pub template_icon: String,
    pub template_allow_user_cancel_workspace_jobs: bool,
    pub template_active_version_id: String,
    pub template_require_active_version: bool,
    pub template_use_classic_parameter_flow: bool,
    pub latest_build: WorkspaceBuild,
    pub latest_app_status: Option<serde_json::Value>,
    pub outdated: bool,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autostart_schedule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<i64>,
    #[serde(serialize_with = "ser_time")]
    pub last_used_at: Timestamp,
    #[serde(serialize_with = "ser_opt_time")]
    pub deleting_at: Option<Timestamp>,
    #[serde(serialize_with = "ser_opt_time")]
    pub dormant_at: Option<Timestamp>,
    pub health: WorkspaceHealth,
    pub automatic_updates: String,
    pub allow_renames: bool,
    pub favorite: bool,
    #[serde(serialize_with = "ser_opt_time")]
    pub next_start_at: Option<Timestamp>,
    pub is_prebuild: bool,
    pub task_id: Option<String>,
}

/// `codersdk.WorkspacesResponse`.
#[derive(Debug, Clone, Serialize)]
pub struct WorkspacesResponse {
    pub workspaces: Vec<Workspace>,
    pub count: i64,
}

/// codersdk's `TemplateExample`.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateExample {
    pub id: String,
    pub url: String,
    pub name: String,
    pub description: String,
    pub icon: String,
    pub tags: Vec<String>,
    pub markdown: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_nano_with_trailing_zeros_trimmed() {
        let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        assert_eq!(go_time(t("2024-05-01T10:11:12.123456Z")), "2024-05-01T10:11:12.123456Z");
        assert_eq!(go_time(t("2024-05-01T10:11:12.120Z")), "2024-05-01T10:11:12.12Z");
        assert_eq!(go_time(t("2024-05-01T10:11:12Z")), "2024-05-01T10:11:12Z");
    }

    #[test]
    fn status_follows_upstreams_table() {
        assert_eq!(workspace_status(JobStatus::Succeeded, WorkspaceTransition::Start), "running");
        assert_eq!(workspace_status(JobStatus::Running, WorkspaceTransition::Delete), "deleting");
        assert_eq!(workspace_status(JobStatus::Pending, WorkspaceTransition::Stop), "pending");
        assert_eq!(workspace_status(JobStatus::Failed, WorkspaceTransition::Start), "failed");
    }

    #[test]
    fn days_bitmaps_are_named_in_upstreams_order() {
        assert_eq!(days_of_week(0b1000001), ["monday", "sunday"]);
        assert!(days_of_week(0).is_empty());
    }
}
