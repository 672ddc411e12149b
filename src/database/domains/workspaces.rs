//! Workspaces, builds, resources, agents and usage stats: `WorkspaceStore` and its rows.

use crate::clock::Timestamp;
use crate::database::Result;
use crate::database::domains::provisioner::JobStatus;
use crate::database::models::Page;

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
        read fn get_workspaces_page(&self, params: &WorkspacePageParams<'_>) -> Result<Page<String>>;

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
        write fn insert_workspace_build_parameter(&self, params: &InsertWorkspaceBuildParameter<'_>) -> Result<()>;

        /// A build's parameter values, by name.
        read fn get_workspace_build_parameters(&self, workspace_build_id: &str) -> Result<Vec<WorkspaceBuildParameter>>;

        /// Inserts a resource produced by a job.
        write fn insert_workspace_resource(&self, params: &InsertWorkspaceResource<'_>) -> Result<()>;

        /// Inserts an agent of a resource.
        write fn insert_workspace_agent(&self, params: &InsertWorkspaceAgent<'_>) -> Result<()>;

        /// Inserts agent stats (one statement prepared once for all rows).
        write fn insert_workspace_agent_stats(&self, stats: &[WorkspaceAgentStat]) -> Result<()>;

        /// Inserts app stats; a repeated (agent, session) extends that session.
        write fn insert_workspace_app_stats(&self, stats: &[WorkspaceAppStat]) -> Result<()>;


        /// Ready top-level agents of live workspaces whose latest build is a succeeded start,
        /// prebuilt (unclaimed) workspaces left out: what the demo's simulated activity reports on.
        read fn get_running_workspace_agents(&self) -> Result<Vec<RunningWorkspaceAgent>>;
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

/// A ready agent of a running, non-prebuilt workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningWorkspaceAgent {
    pub workspace_id: String,
    pub owner_id: String,
    pub template_id: String,
    pub agent_id: String,
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

/// A parameter value of a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceBuildParameter {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct InsertWorkspaceBuildParameter<'a> {
    pub workspace_build_id: &'a str,
    pub name: &'a str,
    pub value: &'a str,
}

#[derive(Debug, Clone)]
pub struct InsertWorkspaceResource<'a> {
    pub id: &'a str,
    pub job_id: &'a str,
    pub transition: WorkspaceTransition,
    pub created_at: Timestamp,
}
