//! Workspaces and builds: listing with upstream's `q` filters and pagination, lookups,
//! creation (claiming a ready prebuild when the preset has one) and start/stop/delete builds
//! through the provisioner. A member sees and builds its own workspaces; template admins read
//! all; owners do anything.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::extract::RawQuery;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use axum::routing::post;
use axum::routing::put;
use serde::Deserialize;

use crate::api::Api;
use crate::api::ApiError;
use crate::api::ApiResult;
use crate::api::Req;
use crate::api::auth;
use crate::api::auth::Caller;
use crate::api::authed;
use crate::api::blocking;
use crate::api::by_id;
use crate::api::ok;
use crate::api::pagination;
use crate::api::read_json;
use crate::api::search;
use crate::api::shapes;
use crate::api::state::HttpState;
use crate::api::templates::uuid_param;
use crate::api::users::resolve_user;
use crate::database::models::JobStatus;
use crate::database::models::Organization;
use crate::database::models::PREBUILDS_SYSTEM_USER_ID;
use crate::database::models::Page;
use crate::database::models::ProvisionerJob;
use crate::database::models::TemplateWithNames;
use crate::database::models::User;
use crate::database::models::Workspace;
use crate::database::models::WorkspaceAgent;
use crate::database::models::WorkspaceBuild;
use crate::database::models::WorkspacePageParams;
use crate::database::models::WorkspaceResource;
use crate::database::models::WorkspaceTransition;
use crate::workspaces::create::CreateWorkspace;
use crate::workspaces::create::WorkspaceError;

pub(crate) fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/workspaces", get(list))
        .route("/workspaces/{workspace}", get(get_one).patch(patch_workspace))
        .route("/workspaces/{workspace}/builds", get(list_builds).post(create_build))
        .route("/workspaces/{workspace}/autostart", put(put_autostart))
        .route("/workspaces/{workspace}/ttl", put(put_ttl))
        .route("/workspaces/{workspace}/extend", put(put_extend))
        .route("/workspaces/{workspace}/watch", get(watch))
        .route("/workspacebuilds/{build}", get(get_build))
        .route("/users/{user}/workspace/{name}", get(get_by_owner_and_name))
        .route("/users/{user}/workspaces", post(create))
        .route("/organizations/{organization}/members/{user}/workspaces", post(create_in_organization))
}

/// Everything the wire shapes of some workspaces and builds need beyond their rows, each
/// read in one batch.
struct Lookup {
    users: HashMap<String, User>,
    templates: HashMap<String, TemplateWithNames>,
    organizations: HashMap<String, Organization>,
    jobs: HashMap<String, ProvisionerJob>,
    version_names: HashMap<String, String>,
    resources: HashMap<String, Vec<WorkspaceResource>>,
    agents: HashMap<String, Vec<WorkspaceAgent>>,
    allow_renames: bool,
}

impl Lookup {
    fn load(api: &Api<'_>, workspaces: &[&Workspace], builds: &[&WorkspaceBuild]) -> ApiResult<Self> {
        let mut user_ids: Vec<String> = workspaces.iter().map(|w| w.owner_id.clone()).collect();
        user_ids.extend(builds.iter().map(|b| b.initiator_id.clone()));
        user_ids.sort();
        user_ids.dedup();
        let job_ids: Vec<String> = builds.iter().map(|b| b.job_id.clone()).collect();
        let mut version_ids: Vec<String> = builds.iter().map(|b| b.template_version_id.clone()).collect();
        version_ids.sort();
        version_ids.dedup();
        let resources = api.store.get_workspace_resources_by_job_ids(&job_ids)?;
        let resource_ids: Vec<String> = resources.iter().map(|r| r.id.clone()).collect();
        let agents = api.store.get_workspace_agents_by_resource_ids(&resource_ids)?;
        let mut resources_of: HashMap<String, Vec<WorkspaceResource>> = HashMap::new();
        for r in resources {
            resources_of.entry(r.job_id.clone()).or_default().push(r);
        }
        let mut agents_of: HashMap<String, Vec<WorkspaceAgent>> = HashMap::new();
        for a in agents {
            agents_of.entry(a.resource_id.clone()).or_default().push(a);
        }
        Ok(Self {
            users: by_id(api.store.get_users_by_ids(&user_ids)?, |u| &u.id),
            templates: api.store.get_templates(true)?.into_iter().map(|t| (t.template.id.clone(), t)).collect(),
            organizations: by_id(api.store.list_organizations()?, |o| &o.id),
            jobs: by_id(api.store.get_provisioner_jobs_by_ids(&job_ids)?, |j| &j.id),
            version_names: api
                .store
                .get_template_versions_by_ids(&version_ids)?
                .into_iter()
                .map(|v| (v.id, v.name))
                .collect(),
            resources: resources_of,
            agents: agents_of,
            allow_renames: api.config.allow_workspace_renames,
        })
    }

    fn username(&self, id: &str) -> String {
        self.users.get(id).map(|u| u.username.clone()).unwrap_or_default()
    }

    fn build(&self, b: &WorkspaceBuild, workspace: &Workspace) -> ApiResult<shapes::WorkspaceBuild> {
        let job = self.jobs.get(&b.job_id).ok_or_else(|| ApiError::internal("Internal error.", "build job missing"))?;
        let mut resources: Vec<shapes::WorkspaceResource> = self
            .resources
            .get(&b.job_id)
            .map(|rs| {
                rs.iter()
                    .map(|r| shapes::WorkspaceResource {
                        id: r.id.clone(),
                        created_at: r.created_at,
                        job_id: r.job_id.clone(),
                        workspace_transition: r.transition.as_str().to_owned(),
                        resource_type: r.resource_type.clone(),
                        name: r.name.clone(),
                        hide: false,
                        icon: String::new(),
                        agents: self
                            .agents
                            .get(&r.id)
                            .map(|a| a.iter().map(shapes::WorkspaceAgent::from_row).collect())
                            .unwrap_or_default(),
                        daily_cost: 0,
                    })
                    .collect()
            })
            .unwrap_or_default();
        resources.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(shapes::WorkspaceBuild {
            id: b.id.clone(),
            created_at: b.created_at,
            updated_at: job.completed_at.or(job.started_at).unwrap_or(b.created_at),
            workspace_id: workspace.id.clone(),
            workspace_name: workspace.name.clone(),
            workspace_owner_id: workspace.owner_id.clone(),
            workspace_owner_name: self.username(&workspace.owner_id),
            workspace_owner_avatar_url: self
                .users
                .get(&workspace.owner_id)
                .map(|u| u.avatar_url.clone())
                .unwrap_or_default(),
            template_version_id: b.template_version_id.clone(),
            template_version_name: self.version_names.get(&b.template_version_id).cloned().unwrap_or_default(),
            build_number: b.build_number,
            transition: b.transition.as_str().to_owned(),
            initiator_id: b.initiator_id.clone(),
            initiator_name: self.username(&b.initiator_id),
            job: shapes::ProvisionerJob::from_row(job),
            reason: b.reason.clone(),
            resources,
            deadline: b.deadline,
            max_deadline: None,
            status: shapes::workspace_status(job.job_status, b.transition).to_owned(),
            daily_cost: 0,
            matched_provisioners: shapes::MatchedProvisioners { count: 0, available: 0, most_recently_seen: None },
            template_version_preset_id: b.template_version_preset_id.clone(),
        })
    }

    fn workspace(&self, w: &Workspace, latest: &WorkspaceBuild) -> ApiResult<shapes::Workspace> {
        let template = self.templates.get(&w.template_id);
        let build = self.build(latest, w)?;
        let failing: Vec<String> = build
            .resources
            .iter()
            .flat_map(|r| r.agents.iter())
            .filter(|a| a.parent_id.is_none() && !a.health.healthy && build.transition == "start")
            .map(|a| a.id.clone())
            .collect();
        Ok(shapes::Workspace {
            id: w.id.clone(),
            created_at: w.created_at,
            updated_at: w.updated_at,
            owner_id: w.owner_id.clone(),
            owner_name: self.username(&w.owner_id),
            owner_avatar_url: self.users.get(&w.owner_id).map(|u| u.avatar_url.clone()).unwrap_or_default(),
            organization_id: w.organization_id.clone(),
            organization_name: self.organizations.get(&w.organization_id).map(|o| o.name.clone()).unwrap_or_default(),
            template_id: w.template_id.clone(),
            template_name: template.map(|t| t.template.name.clone()).unwrap_or_default(),
            template_display_name: template.map(|t| t.template.display_name.clone()).unwrap_or_default(),
            template_icon: template.map(|t| t.template.icon.clone()).unwrap_or_default(),
            template_allow_user_cancel_workspace_jobs: template
                .is_some_and(|t| t.template.allow_user_cancel_workspace_jobs),
            template_active_version_id: template.map(|t| t.template.active_version_id.clone()).unwrap_or_default(),
            template_require_active_version: template.is_some_and(|t| t.template.require_active_version),
            template_use_classic_parameter_flow: false,
            outdated: template.is_some_and(|t| t.template.active_version_id != latest.template_version_id),
            latest_build: build,
            latest_app_status: None,
            name: w.name.clone(),
            autostart_schedule: w.autostart_schedule.clone(),
            ttl_ms: w.ttl_ms,
            last_used_at: w.last_used_at,
            deleting_at: w.deleting_at,
            dormant_at: w.dormant_at,
            health: shapes::WorkspaceHealth { healthy: failing.is_empty(), failing_agents: failing },
            automatic_updates: "never".to_owned(),
            allow_renames: self.allow_renames,
            favorite: false,
            next_start_at: w.next_start_at,
            is_prebuild: w.owner_id == PREBUILDS_SYSTEM_USER_ID,
            task_id: None,
        })
    }
}

/// The wire shapes of `workspaces`, in their order; a workspace without builds is left out.
fn render(api: &Api<'_>, workspaces: &[Workspace]) -> ApiResult<Vec<shapes::Workspace>> {
    let ids: Vec<String> = workspaces.iter().map(|w| w.id.clone()).collect();
    let builds: HashMap<String, WorkspaceBuild> =
        api.store.get_latest_workspace_builds(&ids)?.into_iter().map(|b| (b.workspace_id.clone(), b)).collect();
    let ws: Vec<&Workspace> = workspaces.iter().collect();
    let bs: Vec<&WorkspaceBuild> = builds.values().collect();
    let lookup = Lookup::load(api, &ws, &bs)?;
    workspaces.iter().filter_map(|w| builds.get(&w.id).map(|b| lookup.workspace(w, b))).collect()
}

fn render_one(api: &Api<'_>, w: &Workspace) -> ApiResult<shapes::Workspace> {
    render(api, std::slice::from_ref(w))?
        .pop()
        .ok_or_else(|| ApiError::internal("Internal error.", "workspace has no build"))
}

fn can_read(caller: &Caller, w: &Workspace) -> bool {
    w.owner_id == caller.user.id || caller.roles.read_all_workspaces()
}

/// The workspace `id` if the caller may read it (404 otherwise).
fn visible_workspace(api: &Api<'_>, caller: &Caller, id: &str) -> ApiResult<Workspace> {
    uuid_param(id)?;
    let w = api.store.get_workspace_by_id(id)?;
    if !can_read(caller, &w) {
        return Err(ApiError::not_found());
    }
    Ok(w)
}

/// The (job status, transition) a `status:` filter names (upstream's mapping).
fn status_filter(value: &str) -> Result<(JobStatus, Option<WorkspaceTransition>), String> {
    use WorkspaceTransition::*;
    Ok(match value {
        "starting" => (JobStatus::Running, Some(Start)),
        "stopping" => (JobStatus::Running, Some(Stop)),
        "deleting" => (JobStatus::Running, Some(Delete)),
        "running" | "started" => (JobStatus::Succeeded, Some(Start)),
        "stopped" => (JobStatus::Succeeded, Some(Stop)),
        "deleted" => (JobStatus::Succeeded, Some(Delete)),
        other => (other.parse().map_err(|_| format!("{other:?} is not a valid workspace status"))?, None),
    })
}

async fn list(State(s): State<Arc<HttpState>>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    blocking(s, move |api| {
        let req = Req::new(headers, q);
        let caller = auth::authenticate(api, &req)?;
        let (limit, offset) = pagination(&req)?;
        let invalid = |detail: String| ApiError::bad_request("Invalid workspace search query.").validation("q", detail);
        let terms = search::parse(req.param("q").unwrap_or(""), "name").map_err(invalid)?;
        let mut params = WorkspacePageParams { limit, offset, ..Default::default() };
        let (mut owner_id, mut template_name, mut name, mut ids) = (None, None, None, None::<Vec<String>>);
        let mut unknown_owner = false;
        for (key, value) in terms {
            let (key, value) = match (key.as_str(), value.split_once('/')) {
                ("name", Some((owner, name))) => {
                    if name.contains('/') {
                        return Err(invalid(format!("Query element {value:?} can only contain 1 '/'")));
                    }
                    owner_id = resolve_owner(api, &caller, owner, &mut unknown_owner)?;
                    ("name".to_owned(), name.to_owned())
                }
                _ => (key, value),
            };
            match key.as_str() {
                "owner" => owner_id = resolve_owner(api, &caller, &value, &mut unknown_owner)?,
                "template" => template_name = Some(value),
                "name" => name = Some(value),
                "id" => {
                    let list: Vec<String> = value.split(',').map(str::to_owned).collect();
                    if let Some(bad) = list.iter().find(|id| uuid::Uuid::parse_str(id).is_err()) {
                        let why = uuid::Uuid::parse_str(bad).err().map(|e| e.to_string()).unwrap_or_default();
                        return Err(ApiError::bad_request("Invalid workspace search query.")
                            .validation("id", format!("Query param \"id\" has invalid values: {why}")));
                    }
                    ids = Some(list);
                }
                "status" => {
                    let (job, transition) = status_filter(&value).map_err(invalid)?;
                    params.job_status = Some(job);
                    params.transition = transition;
                }
                other => return Err(invalid(format!("{other:?} is not a valid query param"))),
            }
        }
        if unknown_owner {
            return ok(StatusCode::OK, &shapes::WorkspacesResponse { workspaces: Vec::new(), count: 0 });
        }
        let visible = (!caller.roles.read_all_workspaces()).then(|| caller.user.id.clone());
        params.owner_id = owner_id.as_deref();
        params.template_name = template_name.as_deref();
        params.name_contains = name.as_deref();
        params.ids = ids.as_deref();
        params.visible_owner_id = visible.as_deref();
        let Page { rows: page, count } = api.store.get_workspaces_page(&params)?;
        let rows = by_id(api.store.get_workspaces_by_ids(&page)?, |w| &w.id);
        let ordered: Vec<Workspace> = page.iter().filter_map(|id| rows.get(id).cloned()).collect();
        ok(StatusCode::OK, &shapes::WorkspacesResponse { workspaces: render(api, &ordered)?, count })
    })
    .await
}

/// The owner an `owner:` filter names (`me`, or a username); an unknown one matches nothing.
fn resolve_owner(api: &Api<'_>, caller: &Caller, value: &str, unknown: &mut bool) -> ApiResult<Option<String>> {
    if value == "me" {
        return Ok(Some(caller.user.id.clone()));
    }
    match api.store.get_user_by_username(value) {
        Ok(u) => Ok(Some(u.id)),
        Err(e) if e.is_not_found() => {
            *unknown = true;
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

fn include_deleted(req: &Req) -> ApiResult<bool> {
    match req.param("include_deleted") {
        None | Some("") | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => {
            Err(ApiError::bad_request(format!("Invalid boolean value {other:?} for \"include_deleted\" query param."))
                .validation("deleted", format!("Must be a valid boolean, not {other:?}")))
        }
    }
}

fn answer_workspace(api: &Api<'_>, req: &Req, w: &Workspace) -> ApiResult<Response> {
    if w.deleted && !include_deleted(req)? {
        return Err(ApiError::new(
            StatusCode::GONE,
            format!(
                "Workspace {:?} was deleted, you can view this workspace by specifying '?deleted=true' and trying again.",
                w.id
            ),
        ));
    }
    ok(StatusCode::OK, &render_one(api, w)?)
}

async fn get_one(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(id): Path<String>,
) -> Response {
    blocking(s, move |api| {
        let req = Req::new(headers, q);
        let caller = auth::authenticate(api, &req)?;
        let w = visible_workspace(api, &caller, &id)?;
        answer_workspace(api, &req, &w)
    })
    .await
}

async fn get_by_owner_and_name(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path((user, name)): Path<(String, String)>,
) -> Response {
    blocking(s, move |api| {
        let req = Req::new(headers, q);
        let caller = auth::authenticate(api, &req)?;
        let owner = resolve_user(api, &caller, &user)?;
        let w = api.store.get_workspace_by_owner_and_name(&owner.id, &name)?;
        if !can_read(&caller, &w) {
            return Err(ApiError::not_found());
        }
        answer_workspace(api, &req, &w)
    })
    .await
}

#[derive(Deserialize)]
struct ParameterValue {
    name: String,
    value: String,
}

#[derive(Deserialize)]
struct CreateWorkspaceRequest {
    #[serde(default)]
    template_id: Option<String>,
    #[serde(default)]
    template_version_id: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    autostart_schedule: Option<String>,
    #[serde(default)]
    ttl_ms: Option<i64>,
    #[serde(default)]
    rich_parameter_values: Vec<ParameterValue>,
    #[serde(default)]
    template_version_preset_id: Option<String>,
}

fn workspace_error(e: WorkspaceError) -> ApiError {
    match e {
        WorkspaceError::TemplateNotFound(t) => ApiError::bad_request(format!("Template {t:?} doesn't exist."))
            .validation("template_id", "template not found"),
        WorkspaceError::VersionNotFound(v) => ApiError::bad_request(format!("Template version {v:?} doesn't exist."))
            .validation("template_version_id", "template not found"),
        WorkspaceError::PresetNotFound(p) => ApiError::bad_request(format!("Preset {p:?} doesn't exist."))
            .validation("template_version_preset_id", "preset not found for the template version"),
        WorkspaceError::Deprecated { name, message } => ApiError::bad_request(format!(
            "Template {name:?} has been deprecated, and cannot be used to create a new workspace."
        ))
        .detail(message),
        WorkspaceError::InvalidName { name, .. } => {
            crate::api::users::validation_failed(vec![("name", "workspace_name", name.as_str())])
        }
        WorkspaceError::AutostartNotAllowed => {
            let why = "Autostart is not allowed for workspaces using this template.";
            ApiError::bad_request(why).validation("schedule", why)
        }
        WorkspaceError::InvalidAutostart(why) => {
            ApiError::bad_request("Invalid Autostart Schedule.").validation("schedule", why)
        }
        WorkspaceError::InvalidTtl(why) => {
            ApiError::bad_request("Invalid Workspace Time to Shutdown.").validation("ttl_ms", why)
        }
        WorkspaceError::NameTaken { name, .. } => ApiError::conflict(format!("Workspace {name:?} already exists."))
            .validation("name", "This value is already in use and should be unique."),
        WorkspaceError::MissingParameter(name) => {
            ApiError::bad_request("Unable to build workspace with unsupported parameters")
                .detail(format!("required parameter {name:?} is not set"))
                .validation(name, "Required parameter not provided")
        }
        WorkspaceError::Deleted(t) => ApiError::conflict(format!("Cannot {t} a deleted workspace!"))
            .detail("This workspace has been deleted and cannot be modified."),
        WorkspaceError::BuildActive => ApiError::conflict("A workspace build is already active."),
        WorkspaceError::SystemUser { .. } => ApiError::forbidden(),
        WorkspaceError::Database(e) => e.into(),
    }
}

/// Upstream's older path for creating a workspace (`POST /users/{user}/workspaces` is the
/// newer): the same request, rules and answer; the template names the organization.
async fn create_in_organization(
    state: State<Arc<HttpState>>,
    headers: HeaderMap,
    query: RawQuery,
    Path((_organization, user)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    create(state, headers, query, Path(user), body).await
}

async fn create(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(user): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        let owner = resolve_user(api, &caller, &user)?;
        let req: CreateWorkspaceRequest = read_json(body)?;
        if req.name.is_empty() {
            return Err(crate::api::users::validation_failed(vec![("name", "required", "")]));
        }
        if owner.id != caller.user.id && !caller.roles.create_workspaces_for_others() {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "Unauthorized to create workspace."));
        }
        // A template the caller may not read answers as a missing one (upstream's
        // `Is404Error`): nothing tells a member that another organization's template exists.
        let template_id = match (&req.template_version_id, &req.template_id) {
            (Some(v), _) => {
                uuid_param(v)?;
                api.store.get_template_version_by_id(v).ok().and_then(|v| v.template_id)
            }
            (None, Some(t)) => {
                uuid_param(t)?;
                Some(t.clone())
            }
            (None, None) => {
                return Err(ApiError::bad_request("Either template_id or template_version_id must be set.")
                    .validation("template_id", "required"));
            }
        };
        if let Some(t) = &template_id
            && !crate::api::templates::visible_templates(api, &caller)?.iter().any(|x| &x.template.id == t)
        {
            return Err(workspace_error(match &req.template_version_id {
                Some(v) => WorkspaceError::VersionNotFound(v.clone()),
                None => WorkspaceError::TemplateNotFound(t.clone()),
            }));
        }
        let parameters: Vec<(String, String)> =
            req.rich_parameter_values.iter().map(|p| (p.name.clone(), p.value.clone())).collect();
        let created = crate::workspaces::create::create_workspace(
            api.store,
            &CreateWorkspace {
                owner_id: &owner.id,
                template_id: req.template_id.as_deref(),
                template_version_id: req.template_version_id.as_deref(),
                name: &req.name,
                autostart_schedule: req.autostart_schedule.as_deref(),
                ttl_ms: req.ttl_ms,
                preset_id: req.template_version_preset_id.as_deref(),
                parameters: &parameters,
            },
        )
        .map_err(workspace_error)?;
        let w = api.store.get_workspace_by_id(&created.workspace_id)?;
        crate::audit::record(api.store, &caller.user.id, &w.organization_id, "workspace", &w.id, &w.name, "create")?;
        ok(StatusCode::CREATED, &render_one(api, &w)?)
    })
    .await
}

#[derive(Deserialize)]
struct CreateBuildRequest {
    #[serde(default)]
    transition: String,
    #[serde(default)]
    template_version_id: Option<String>,
    #[serde(default)]
    orphan: bool,
}

async fn create_build(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        let w = visible_workspace(api, &caller, &id)?;
        let req: CreateBuildRequest = read_json(body)?;
        let transition: WorkspaceTransition = match req.transition.as_str() {
            "" => return Err(crate::api::users::validation_failed(vec![("transition", "required", "")])),
            t => t.parse().map_err(|_| ApiError::bad_request(format!("Transition {t:?} not supported.")))?,
        };
        if req.orphan && transition != WorkspaceTransition::Delete {
            return Err(ApiError::bad_request("Orphan is only permitted when deleting a workspace."));
        }
        if w.owner_id != caller.user.id && !caller.roles.update_all_workspaces() {
            let action = if transition == WorkspaceTransition::Delete { "delete" } else { "update" };
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("You do not have permission to {action} this workspace."),
            ));
        }
        if let Some(v) = &req.template_version_id {
            uuid_param(v)?;
        }
        let build = crate::workspaces::create::start_build(
            api.store,
            &w.id,
            transition,
            req.template_version_id.as_deref(),
            &caller.user.id,
        )
        .map_err(|e| match e {
            WorkspaceError::VersionNotFound(_) => ApiError::bad_request("template version does not exist"),
            other => workspace_error(other),
        })?;
        crate::audit::record(
            api.store,
            &caller.user.id,
            &w.organization_id,
            "workspace_build",
            &build.id,
            &w.name,
            transition.as_str(),
        )?;
        let lookup = Lookup::load(api, &[&w], &[&build])?;
        ok(StatusCode::CREATED, &lookup.build(&build, &w)?)
    })
    .await
}

/// The workspace `id` if the caller may change its settings: 404 when it may not even read
/// it, 403 when it may read but not change it.
fn changeable_workspace(api: &Api<'_>, caller: &Caller, id: &str) -> ApiResult<Workspace> {
    let w = visible_workspace(api, caller, id)?;
    if w.owner_id != caller.user.id && !caller.roles.update_all_workspaces() {
        return Err(ApiError::forbidden());
    }
    Ok(w)
}

#[derive(Deserialize)]
struct UpdateAutostart {
    #[serde(default)]
    schedule: Option<String>,
}

#[derive(Deserialize)]
struct UpdateWorkspace {
    #[serde(default)]
    name: String,
}

/// `PATCH /workspaces/{id}` (`{"name"}`): renames, where the deployment allows renames
/// (`--allow-workspace-renames`, as upstream; 400 otherwise). No name or the same one: 204,
/// nothing changed.
async fn patch_workspace(
    State(s): State<Arc<HttpState>>,
    req: Req,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    authed(s, req, move |api, _req, caller| {
        let w = changeable_workspace(api, &caller, &id)?;
        let req: UpdateWorkspace = read_json(body)?;
        if req.name.is_empty() || req.name == w.name {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        if !api.config.allow_workspace_renames {
            return Err(ApiError::bad_request("Workspace renames are not allowed."));
        }
        crate::workspaces::settings::rename(api.store, &w.id, &req.name).map_err(|e| match e {
            WorkspaceError::Deleted(_) => ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("Workspace {:?} is deleted and cannot be updated.", w.name),
            ),
            other => workspace_error(other),
        })?;
        crate::audit::record(api.store, &caller.user.id, &w.organization_id, "workspace", &w.id, &w.name, "write")?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

/// `PUT /workspaces/{id}/autostart`: `{"schedule": "CRON_TZ=... 30 9 * * 1-5"}`, or null
/// to clear it. 204.
async fn put_autostart(
    State(s): State<Arc<HttpState>>,
    req: Req,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    authed(s, req, move |api, _req, caller| {
        let w = changeable_workspace(api, &caller, &id)?;
        let req: UpdateAutostart = read_json(body)?;
        crate::workspaces::settings::set_autostart(api.store, &w.id, req.schedule.as_deref())
            .map_err(workspace_error)?;
        crate::audit::record(api.store, &caller.user.id, &w.organization_id, "workspace", &w.id, &w.name, "write")?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

#[derive(Deserialize)]
struct UpdateTtl {
    #[serde(default)]
    ttl_ms: Option<i64>,
}

/// `PUT /workspaces/{id}/ttl`: `{"ttl_ms": n}` (upstream's bounds), or null or 0 for no
/// autostop (as upstream, the template's default is not applied here). 204.
async fn put_ttl(
    State(s): State<Arc<HttpState>>,
    req: Req,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    authed(s, req, move |api, _req, caller| {
        let w = changeable_workspace(api, &caller, &id)?;
        let req: UpdateTtl = read_json(body)?;
        crate::workspaces::settings::set_ttl(api.store, &w.id, req.ttl_ms).map_err(|e| match e {
            WorkspaceError::InvalidTtl(why) => {
                ApiError::bad_request("Error updating workspace time until shutdown.").validation("ttl_ms", why)
            }
            other => workspace_error(other),
        })?;
        crate::audit::record(api.store, &caller.user.id, &w.organization_id, "workspace", &w.id, &w.name, "write")?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

#[derive(Deserialize)]
struct ExtendRequest {
    #[serde(default)]
    deadline: Option<String>,
}

/// Moves a started workspace's deadline (upstream's messages sit in `message`, not in
/// validations).
async fn put_extend(
    State(s): State<Arc<HttpState>>,
    req: Req,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    use crate::workspaces::settings::ExtendError;
    authed(s, req, move |api, _req, caller| {
        let w = changeable_workspace(api, &caller, &id)?;
        let req: ExtendRequest = read_json(body)?;
        let deadline = match req.deadline.as_deref().map(chrono::DateTime::parse_from_rfc3339) {
            Some(Ok(t)) if t.timestamp() > 0 => t.with_timezone(&chrono::Utc),
            _ => return Err(crate::api::users::validation_failed(vec![("deadline", "required", "")])),
        };
        crate::workspaces::settings::extend_deadline(api.store, &w.id, deadline).map_err(|e| {
            let text = e.to_string();
            match e {
                ExtendError::NotStarted(_) | ExtendError::StillBuilding | ExtendError::Manual => {
                    ApiError::conflict(text)
                }
                ExtendError::TooEarly(_) => ApiError::bad_request(text),
                ExtendError::Database(e) => e.into(),
            }
        })?;
        let at = crate::clock::truncate_to_micros(deadline).format("%Y-%m-%dT%H:%M:%SZ");
        crate::audit::record(api.store, &caller.user.id, &w.organization_id, "workspace", &w.id, &w.name, "write")?;
        crate::api::message(StatusCode::OK, &format!("Deadline updated to {at}."))
    })
    .await
}

/// How often a watcher looks for a change (on SQLite a data-generation read; the workspace
/// is rendered again only when something changed).
const WATCH_POLL: std::time::Duration = std::time::Duration::from_millis(250);
/// Upstream's keep-alive ping interval.
const WATCH_PING: std::time::Duration = std::time::Duration::from_secs(15);

/// `GET /workspaces/{id}/watch`: server-sent events as upstream sends them: a `ping` once
/// connected, the workspace as a `data` event at once and on every change, a `ping` every 15
/// s, an `error` event (and the end) when it can no longer be read.
async fn watch(State(s): State<Arc<HttpState>>, req: Req, Path(id): Path<String>) -> Response {
    use crate::api::stream::sse_frame;
    let checked = crate::api::blocking_value(s.clone(), move |api| {
        let caller = auth::authenticate(api, &req)?;
        Ok(visible_workspace(api, &caller, &id)?.id)
    })
    .await;
    let id = match checked {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let (response, events) = crate::api::stream::event_stream();
    tokio::spawn(async move {
        if events.send(sse_frame::<()>("ping", None)).await.is_err() {
            return;
        }
        let (mut last, mut seen_generation, mut pinged) = (String::new(), None, std::time::Instant::now());
        loop {
            let (id, known) = (id.clone(), seen_generation);
            let read = crate::api::blocking_value(s.clone(), move |api| {
                let generation = api.store.get_prebuilds_data_generation()?;
                if generation.is_some() && generation == known {
                    return Ok((generation, None));
                }
                let w = api.store.get_workspace_by_id(&id)?;
                Ok((generation, Some(render_one(api, &w)?)))
            })
            .await;
            match read {
                Ok((generation, Some(workspace))) => {
                    seen_generation = generation;
                    let json = serde_json::to_string(&workspace).unwrap_or_default();
                    if json != last {
                        last = json;
                        if events.send(sse_frame("data", Some(&workspace))).await.is_err() {
                            return;
                        }
                    }
                }
                Ok((_, None)) => {}
                Err(e) => {
                    let body =
                        serde_json::json!({ "message": "Internal error fetching workspace.", "detail": e.message });
                    let _ = events.send(sse_frame("error", Some(&body))).await;
                    return;
                }
            }
            if pinged.elapsed() >= WATCH_PING {
                pinged = std::time::Instant::now();
                if events.send(sse_frame::<()>("ping", None)).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(WATCH_POLL) => {}
                _ = events.closed() => return,
                _ = s.streams_closed() => return,
            }
        }
    });
    response
}

/// A workspace's builds, newest first, as upstream pages them: `limit`/`offset`, `after_id`
/// (the page starts after that build) and `since` (builds created after that time).
async fn list_builds(State(s): State<Arc<HttpState>>, req: Req, Path(id): Path<String>) -> Response {
    authed(s, req, move |api, req, caller| {
        let w = visible_workspace(api, &caller, &id)?;
        let (limit, offset) = pagination(req)?;
        let since = match req.param("since").filter(|v| !v.is_empty()) {
            Some(text) => Some(chrono::DateTime::parse_from_rfc3339(text).map_err(|e| {
                ApiError::bad_request("Query parameters have invalid values.").validation(
                    "since",
                    format!(
                        "Query param \"since\" must be a valid date format (2006-01-02T15:04:05.999999999Z07:00): {e}"
                    ),
                )
            })?),
            None => None,
        };
        let mut builds = api.store.get_workspace_builds_by_workspace_id(&w.id)?;
        if let Some(since) = since {
            builds.retain(|b| b.created_at > since);
        }
        if let Some(after) = req.param("after_id").filter(|v| !v.is_empty()) {
            builds = match builds.iter().position(|b| b.id == after) {
                Some(i) => builds.split_off(i + 1),
                None => Vec::new(),
            };
        }
        let take = if limit == 0 { usize::MAX } else { limit as usize };
        let page: Vec<WorkspaceBuild> = builds.into_iter().skip(offset as usize).take(take).collect();
        let refs: Vec<&WorkspaceBuild> = page.iter().collect();
        let lookup = Lookup::load(api, &[&w], &refs)?;
        let body = page.iter().map(|b| lookup.build(b, &w)).collect::<ApiResult<Vec<_>>>()?;
        ok(StatusCode::OK, &body)
    })
    .await
}

async fn get_build(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(id): Path<String>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        uuid_param(&id)?;
        let build = api.store.get_workspace_build_by_id(&id)?;
        let w = api.store.get_workspace_by_id(&build.workspace_id)?;
        if !can_read(&caller, &w) {
            return Err(ApiError::not_found());
        }
        let lookup = Lookup::load(api, &[&w], &[&build])?;
        ok(StatusCode::OK, &lookup.build(&build, &w)?)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_filters_map_as_upstream() {
        assert_eq!(status_filter("running").unwrap(), (JobStatus::Succeeded, Some(WorkspaceTransition::Start)));
        assert_eq!(status_filter("stopping").unwrap(), (JobStatus::Running, Some(WorkspaceTransition::Stop)));
        assert_eq!(status_filter("failed").unwrap(), (JobStatus::Failed, None));
        assert!(status_filter("bogus").is_err());
    }
}
