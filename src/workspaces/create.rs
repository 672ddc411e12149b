//! Creating a workspace for a user and building it, as upstream's API does: a preset with a
//! ready prebuild claims it; otherwise a new workspace and its first start build for the
//! provisioner. Each is one write transaction.

use crate::cron::WeeklySchedule;
use crate::database;
use crate::database::Store;
use crate::database::TxOptions;
use crate::database::in_tx;
use crate::database::models::InsertWorkspace;
use crate::database::models::JobStatus;
use crate::database::models::User;
use crate::database::models::WorkspaceBuild;
use crate::database::models::WorkspaceTransition;
use crate::names;
use crate::workspaces::builds;
use crate::workspaces::builds::BuildJob;
use crate::workspaces::builds::NewBuild;
use crate::workspaces::builds::insert_build;
use crate::workspaces::builds::next_build_of;
use crate::workspaces::claim::ClaimRequest;
use crate::workspaces::claim::claim_prebuilt_workspace;
use crate::workspaces::schedule::valid_ttl_ms;

/// Why a workspace could not be created or built.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("template {0:?} does not exist")]
    TemplateNotFound(String),
    #[error("template version {0:?} does not exist")]
    VersionNotFound(String),
    #[error("preset {0:?} is not a preset of the template version")]
    PresetNotFound(String),
    #[error("template {name:?} has been deprecated, and cannot be used to create a new workspace")]
    Deprecated { name: String, message: String },
    #[error("invalid workspace name {name:?}: {why}")]
    InvalidName { name: String, why: String },
    #[error("invalid autostart schedule: {0}")]
    InvalidAutostart(String),
    #[error("autostart is not allowed for workspaces using this template")]
    AutostartNotAllowed,
    #[error("invalid workspace time to shutdown: {0}")]
    InvalidTtl(String),
    #[error("user {username:?} already has a workspace named {name:?}")]
    NameTaken { username: String, name: String },
    #[error("required parameter {0:?} is not set")]
    MissingParameter(String),
    #[error("cannot {0} a deleted workspace")]
    Deleted(&'static str),
    #[error("a workspace build is already active")]
    BuildActive,
    #[error("user {username:?} is a system user; system users cannot claim or own workspaces")]
    SystemUser { username: String },
    #[error(transparent)]
    Database(#[from] database::Error),
}

/// The checks every creation (and claim) makes of its request, before any write: a valid
/// workspace name, an owner who is not a system user, and a parsable autostart schedule.
pub(crate) fn check_owner_name_and_schedule(
    store: &dyn Store,
    owner_id: &str,
    name: &str,
    autostart_schedule: Option<&str>,
) -> Result<(User, Option<WeeklySchedule>), WorkspaceError> {
    names::name_valid(name).map_err(|why| WorkspaceError::InvalidName { name: name.to_owned(), why })?;
    let owner = store.get_user_by_id(owner_id)?;
    if owner.is_system {
        return Err(WorkspaceError::SystemUser { username: owner.username });
    }
    let schedule = match autostart_schedule.filter(|s| !s.trim().is_empty()) {
        Some(raw) => Some(WeeklySchedule::parse(raw).map_err(WorkspaceError::InvalidAutostart)?),
        None => None,
    };
    Ok((owner, schedule))
}

/// What a user asks for (upstream's `CreateWorkspaceRequest`).
#[derive(Debug, Clone)]
pub struct CreateWorkspace<'a> {
    pub owner_id: &'a str,
    pub template_id: Option<&'a str>,
    pub template_version_id: Option<&'a str>,
    pub name: &'a str,
    pub autostart_schedule: Option<&'a str>,
    pub ttl_ms: Option<i64>,
    pub preset_id: Option<&'a str>,
    pub parameters: &'a [(String, String)],
}

/// The workspace created (or claimed) and its build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub workspace_id: String,
    pub build_id: String,
    /// A prebuilt workspace was claimed.
    pub claimed: bool,
}

/// Creates a workspace: a preset of the active version with a ready prebuild claims it (the
/// same workspace, now the user's, with the user's start build); otherwise a new workspace
/// and its first start build (pending, for the provisioner), with the preset's parameters,
/// the given ones and the version's defaults.
pub fn create_workspace(store: &dyn Store, req: &CreateWorkspace<'_>) -> Result<Created, WorkspaceError> {
    let (owner, schedule) = check_owner_name_and_schedule(store, req.owner_id, req.name, req.autostart_schedule)?;
    let (template, version) = match (req.template_version_id, req.template_id) {
        (Some(v), _) => {
            let version = store
                .get_template_version_by_id(v)
                .map_err(|e| if e.is_not_found() { WorkspaceError::VersionNotFound(v.to_owned()) } else { e.into() })?;
            let template_id =
                version.template_id.clone().ok_or_else(|| WorkspaceError::VersionNotFound(v.to_owned()))?;
            (store.get_template_by_id(&template_id)?, version)
        }
        (None, Some(t)) => {
            let template = store.get_template_by_id(t).map_err(|e| {
                if e.is_not_found() { WorkspaceError::TemplateNotFound(t.to_owned()) } else { e.into() }
            })?;
            let version = store.get_template_version_by_id(&template.active_version_id)?;
            (template, version)
        }
        (None, None) => return Err(WorkspaceError::TemplateNotFound(String::new())),
    };
    if template.deleted {
        return Err(WorkspaceError::TemplateNotFound(template.id));
    }
    if !template.deprecated.is_empty() {
        return Err(WorkspaceError::Deprecated { name: template.name, message: template.deprecated });
    }
    if let Some(preset_id) = req.preset_id {
        let preset = store.get_preset_by_id(preset_id).map_err(|e| {
            if e.is_not_found() { WorkspaceError::PresetNotFound(preset_id.to_owned()) } else { e.into() }
        })?;
        if preset.template_version_id != version.id {
            return Err(WorkspaceError::PresetNotFound(preset_id.to_owned()));
        }
        if version.id == template.active_version_id {
            let claim = ClaimRequest {
                preset_id,
                user_id: req.owner_id,
                name: req.name,
                autostart_schedule: req.autostart_schedule,
                ttl_ms: req.ttl_ms,
            };
            if let Some(claimed) = claim_prebuilt_workspace(store, &claim)? {
                return Ok(Created { workspace_id: claimed.workspace_id, build_id: claimed.build_id, claimed: true });
            }
        }
    }
    let ttl_ms = valid_ttl_ms(req.ttl_ms, &template.scheduling).map_err(WorkspaceError::InvalidTtl)?;
    in_tx(store, TxOptions::write("create workspace"), |tx| {
        let now = tx.clock().now();
        let workspace = tx
            .insert_workspace(&InsertWorkspace {
                id: &uuid::Uuid::new_v4().to_string(),
                created_at: now,
                owner_id: req.owner_id,
                organization_id: &template.organization_id,
                template_id: &template.id,
                name: req.name,
                last_used_at: now,
                autostart_schedule: schedule.as_ref().and(req.autostart_schedule),
                ttl_ms,
            })
            .map_err(|e| {
                if e.is_unique_violation_of("workspaces_owner_id_lower_idx") {
                    WorkspaceError::NameTaken { username: owner.username.clone(), name: req.name.to_owned() }
                } else {
                    e.into()
                }
            })?;
        let mut values: Vec<(String, String)> = Vec::new();
        if let Some(preset_id) = req.preset_id {
            for p in tx.get_preset_parameters_by_template_version_id(&version.id)? {
                if p.template_version_preset_id == preset_id {
                    values.push((p.name, p.value));
                }
            }
        }
        for (name, value) in req.parameters {
            values.retain(|(n, _)| n != name);
            values.push((name.clone(), value.clone()));
        }
        for param in tx.get_template_version_parameters(&version.id)? {
            if values.iter().any(|(n, _)| *n == param.name) {
                continue;
            }
            if param.required {
                return Err(WorkspaceError::MissingParameter(param.name));
            }
            values.push((param.name, param.default_value));
        }
        let build = insert_build(
            tx,
            &NewBuild {
                workspace: &workspace,
                template_version_id: &version.id,
                build_number: 1,
                transition: WorkspaceTransition::Start,
                template_version_preset_id: req.preset_id,
                initiator_id: req.owner_id,
                reason: "initiator",
                job_input: serde_json::Map::new(),
                job: BuildJob::Pending,
            },
        )?;
        for (name, value) in &values {
            tx.insert_workspace_build_parameter(&crate::database::models::InsertWorkspaceBuildParameter {
                workspace_build_id: &build.id,
                name,
                value,
            })?;
        }
        Ok(Created { workspace_id: workspace.id, build_id: build.id, claimed: false })
    })
}

/// Queues a build of `transition` for the workspace on its latest build's version (or
/// `template_version_id`), initiated by `initiator_id`, keeping the previous build's
/// parameters. Refused on a deleted workspace and while a build is still active.
pub fn start_build(
    store: &dyn Store,
    workspace_id: &str,
    transition: WorkspaceTransition,
    template_version_id: Option<&str>,
    initiator_id: &str,
) -> Result<WorkspaceBuild, WorkspaceError> {
    in_tx(store, TxOptions::write("create workspace build"), |tx| {
        let workspace = tx.get_workspace_by_id(workspace_id)?;
        if workspace.deleted {
            return Err(WorkspaceError::Deleted(transition.as_str()));
        }
        let previous = tx.get_workspace_builds_by_workspace_id(workspace_id)?.into_iter().next();
        if let Some(previous) = &previous {
            let job = tx.get_provisioner_job_by_id(&previous.job_id)?;
            if matches!(job.job_status, JobStatus::Pending | JobStatus::Running | JobStatus::Canceling) {
                return Err(WorkspaceError::BuildActive);
            }
        }
        let (version, number) = next_build_of(tx, &workspace)?;
        let version = match template_version_id {
            Some(v) => {
                let found = tx.get_template_version_by_id(v).map_err(|e| {
                    if e.is_not_found() { WorkspaceError::VersionNotFound(v.to_owned()) } else { e.into() }
                })?;
                if found.template_id.as_deref() != Some(workspace.template_id.as_str()) {
                    return Err(WorkspaceError::VersionNotFound(v.to_owned()));
                }
                found.id
            }
            None => version,
        };
        let build = insert_build(
            tx,
            &NewBuild {
                workspace: &workspace,
                template_version_id: &version,
                build_number: number,
                transition,
                template_version_preset_id: previous.as_ref().and_then(|b| b.template_version_preset_id.as_deref()),
                initiator_id,
                reason: "initiator",
                job_input: serde_json::Map::new(),
                job: BuildJob::Pending,
            },
        )?;
        if let Some(previous) = &previous {
            builds::copy_build_parameters(tx, &previous.id, &build.id)?;
        }
        Ok(build)
    })
}
