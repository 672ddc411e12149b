//! Templates, their versions, presets and parameters. A member sees the templates of the
//! organizations it belongs to; owners, template admins and auditors see all.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::extract::RawQuery;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use crate::api::Api;
use crate::api::ApiError;
use crate::api::ApiResult;
use crate::api::Req;
use crate::api::auth;
use crate::api::auth::Caller;
use crate::api::authed;
use crate::api::blocking;
use crate::api::ok;
use crate::api::organizations::resolve_organization;
use crate::api::search;
use crate::api::shapes;
use crate::api::state::HttpState;
use crate::database::models::JobStatus;
use crate::database::models::TemplateVersion;
use crate::database::models::TemplateWithNames;

pub(crate) fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/templates", get(list_all))
        .route("/templates/examples", get(examples))
        .route("/organizations/{organization}/templates/examples", get(examples_in_org))
        .route("/organizations/{organization}/templates", get(list_in_org).post(create_template))
        .route("/organizations/{organization}/templates/{name}", get(get_in_org_by_name))
        .route("/templates/{template}", get(get_one).delete(delete_template).patch(patch_template))
        .route("/templates/{template}/versions", get(versions).patch(promote_version))
        .route("/templates/{template}/versions/{name}", get(version_by_name))
        .route("/templateversions/{version}", get(version))
        .route("/templateversions/{version}/logs", get(version_logs))
        .route("/organizations/{organization}/templateversions", axum::routing::post(create_version))
        .route("/templateversions/{version}/presets", get(presets))
        .route("/templateversions/{version}/rich-parameters", get(rich_parameters))
}

/// Upstream's `ParseUUIDParam`: a malformed id is 400 naming it.
pub(crate) fn uuid_param(value: &str) -> ApiResult<()> {
    uuid::Uuid::parse_str(value)
        .map(|_| ())
        .map_err(|e| ApiError::bad_request(format!("Invalid UUID {value:?}.")).detail(e.to_string()))
}

/// The templates (not deleted) the caller may read.
pub(crate) fn visible_templates(api: &Api<'_>, caller: &Caller) -> ApiResult<Vec<TemplateWithNames>> {
    let all = api.store.get_templates(false)?;
    if caller.roles.read_all_templates() {
        return Ok(all);
    }
    let mine = crate::api::users::organization_ids_of(api, &caller.user.id)?;
    Ok(all.into_iter().filter(|t| mine.contains(&t.template.organization_id)).collect())
}

/// The template `id` if the caller may read it (404 otherwise, as for a missing one).
pub(crate) fn visible_template(api: &Api<'_>, caller: &Caller, id: &str) -> ApiResult<TemplateWithNames> {
    uuid_param(id)?;
    visible_templates(api, caller)?.into_iter().find(|t| t.template.id == id).ok_or_else(ApiError::not_found)
}

fn list(api: &Api<'_>, caller: &Caller, req: &Req, organization_id: Option<&str>) -> ApiResult<Response> {
    let terms = search::parse(req.param("q").unwrap_or(""), "name")
        .map_err(|d| ApiError::bad_request("Invalid template search query.").validation("q", d))?;
    let mut include_deprecated = false;
    let (mut name, mut exact_name, mut org_filter) = (None, None, None);
    for (key, value) in terms {
        match key.as_str() {
            "name" => name = Some(value),
            "exact_name" => exact_name = Some(value),
            "deprecated" => include_deprecated = value == "true",
            "organization" => org_filter = Some(value),
            "deleted" => {}
            other => {
                return Err(ApiError::bad_request("Invalid template search query.")
                    .validation(other, format!("{other:?} is not a valid query param")));
            }
        }
    }
    let templates: Vec<shapes::Template> = visible_templates(api, caller)?
        .iter()
        .filter(|t| organization_id.is_none_or(|o| t.template.organization_id == o))
        .filter(|t| org_filter.as_deref().is_none_or(|o| t.template.organization_id == o || t.organization_name == o))
        .filter(|t| include_deprecated || t.template.deprecated.is_empty())
        .filter(|t| name.as_deref().is_none_or(|n| t.template.name.to_lowercase().contains(n)))
        .filter(|t| exact_name.as_deref().is_none_or(|n| t.template.name.to_lowercase() == n))
        .map(|t| shapes::Template::from_row(t, 0))
        .collect();
    ok(StatusCode::OK, &templates)
}

/// The example templates a client offers to start from (upstream embeds its
/// `examples/templates`; coderlite answers a few with the same shape, each buildable with the
/// echo provisioner).
const EXAMPLES: &[(&str, &str, &str, &str, &[&str])] = &[
    (
        "docker",
        "Docker Containers",
        "Provision Docker containers as Coder workspaces",
        "/icon/docker.png",
        &["docker", "container"],
    ),
    (
        "kubernetes",
        "Kubernetes (Deployment)",
        "Provision Kubernetes Deployments as Coder workspaces",
        "/icon/k8s.png",
        &["kubernetes", "container"],
    ),
    (
        "aws-linux",
        "AWS EC2 (Linux)",
        "Provision AWS EC2 VMs as Coder workspaces",
        "/icon/aws.svg",
        &["vm", "linux", "aws", "persistent-vm"],
    ),
];

fn example_list() -> Vec<shapes::TemplateExample> {
    EXAMPLES
        .iter()
        .map(|(id, name, description, icon, tags)| shapes::TemplateExample {
            id: (*id).to_owned(),
            url: format!("https://github.com/coder/coder/tree/main/examples/templates/{id}"),
            name: (*name).to_owned(),
            description: (*description).to_owned(),
            icon: (*icon).to_owned(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            markdown: format!("# {name}\n\n{description}.\n"),
        })
        .collect()
}

/// `GET /templates/examples` (upstream's older path): any signed-in user.
async fn examples(State(s): State<Arc<HttpState>>, req: Req) -> Response {
    authed(s, req, move |_api, _req, _caller| ok(StatusCode::OK, &example_list())).await
}

/// `GET /organizations/{org}/templates/examples`: for an organization the caller can see.
async fn examples_in_org(State(s): State<Arc<HttpState>>, req: Req, Path(org): Path<String>) -> Response {
    authed(s, req, move |api, _req, caller| {
        resolve_organization(api, &caller, &org)?;
        ok(StatusCode::OK, &example_list())
    })
    .await
}

async fn list_all(State(s): State<Arc<HttpState>>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    blocking(s, move |api| {
        let req = Req::new(headers, q);
        let caller = auth::authenticate(api, &req)?;
        list(api, &caller, &req, None)
    })
    .await
}

async fn list_in_org(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(org): Path<String>,
) -> Response {
    blocking(s, move |api| {
        let req = Req::new(headers, q);
        let caller = auth::authenticate(api, &req)?;
        let org = resolve_organization(api, &caller, &org)?;
        list(api, &caller, &req, Some(&org.id))
    })
    .await
}

async fn get_in_org_by_name(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path((org, name)): Path<(String, String)>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        let org = resolve_organization(api, &caller, &org)?;
        let t = visible_templates(api, &caller)?
            .into_iter()
            .find(|t| t.template.organization_id == org.id && t.template.name.eq_ignore_ascii_case(&name))
            .ok_or_else(ApiError::not_found)?;
        ok(StatusCode::OK, &shapes::Template::from_row(&t, 0))
    })
    .await
}

async fn get_one(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(id): Path<String>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        ok(StatusCode::OK, &shapes::Template::from_row(&visible_template(api, &caller, &id)?, 0))
    })
    .await
}

/// The wire shapes of `versions`, with their jobs and creators read in one batch each.
fn render_versions(api: &Api<'_>, versions: &[TemplateVersion]) -> ApiResult<Vec<shapes::TemplateVersion>> {
    let job_ids: Vec<String> = versions.iter().map(|v| v.job_id.clone()).collect();
    let jobs = crate::api::by_id(api.store.get_provisioner_jobs_by_ids(&job_ids)?, |j| &j.id);
    let templates: HashMap<String, TemplateWithNames> =
        api.store.get_templates(true)?.into_iter().map(|t| (t.template.id.clone(), t)).collect();
    versions
        .iter()
        .map(|v| {
            let job =
                jobs.get(&v.job_id).ok_or_else(|| ApiError::internal("Internal error.", "version job missing"))?;
            let creator = v.template_id.as_deref().and_then(|t| templates.get(t));
            let created_by = shapes::MinimalUser {
                id: creator.and_then(|t| t.template.created_by.clone()).unwrap_or_else(|| shapes::NIL_UUID.to_owned()),
                username: creator.and_then(|t| t.created_by_username.clone()).unwrap_or_default(),
                avatar_url: String::new(),
            };
            Ok(shapes::TemplateVersion::from_row(v, job, created_by))
        })
        .collect()
}

/// The version `id` if the caller may read its template.
fn visible_version(api: &Api<'_>, caller: &Caller, id: &str) -> ApiResult<TemplateVersion> {
    uuid_param(id)?;
    let version = api.store.get_template_version_by_id(id)?;
    match version.template_id.as_deref() {
        Some(t) => visible_template(api, caller, t).map(|_| version),
        None if caller.roles.read_all_templates() => Ok(version),
        None => Err(ApiError::not_found()),
    }
}

async fn versions(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(id): Path<String>,
) -> Response {
    blocking(s, move |api| {
        let req = Req::new(headers, q);
        let caller = auth::authenticate(api, &req)?;
        let template = visible_template(api, &caller, &id)?;
        let (limit, offset) = crate::api::pagination(&req)?;
        let mut versions = api.store.get_template_versions_by_template_id(&template.template.id)?;
        versions.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        let page: Vec<TemplateVersion> = versions
            .into_iter()
            .skip(offset as usize)
            .take(if limit == 0 { usize::MAX } else { limit as usize })
            .collect();
        ok(StatusCode::OK, &render_versions(api, &page)?)
    })
    .await
}

async fn version_by_name(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path((id, name)): Path<(String, String)>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        let template = visible_template(api, &caller, &id)?;
        let version = api
            .store
            .get_template_versions_by_template_id(&template.template.id)?
            .into_iter()
            .find(|v| v.name == name)
            .ok_or_else(|| {
                ApiError::new(StatusCode::NOT_FOUND, format!("No template version found by name {name:?}."))
            })?;
        let rendered = render_versions(api, std::slice::from_ref(&version))?;
        ok(StatusCode::OK, &rendered[0])
    })
    .await
}

async fn version(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(id): Path<String>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        let version = visible_version(api, &caller, &id)?;
        let rendered = render_versions(api, std::slice::from_ref(&version))?;
        ok(StatusCode::OK, &rendered[0])
    })
    .await
}

async fn presets(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(id): Path<String>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        let version = visible_version(api, &caller, &id)?;
        let presets = api.store.get_presets_by_template_version_id(&version.id)?;
        let params = api.store.get_preset_parameters_by_template_version_id(&version.id)?;
        let body: Vec<shapes::Preset> = presets
            .iter()
            .map(|p| {
                let mine: Vec<shapes::PresetParameter> = params
                    .iter()
                    .filter(|x| x.template_version_preset_id == p.id)
                    .map(|x| shapes::PresetParameter { Name: x.name.clone(), Value: x.value.clone() })
                    .collect();
                shapes::Preset {
                    ID: p.id.clone(),
                    Name: p.name.clone(),
                    Parameters: (!mine.is_empty()).then_some(mine),
                    Default: p.is_default,
                    DesiredPrebuildInstances: p.desired_instances,
                    Description: String::new(),
                    Icon: String::new(),
                }
            })
            .collect();
        // Upstream writes a nil slice: `null` when the version has no presets.
        if body.is_empty() { ok(StatusCode::OK, &serde_json::Value::Null) } else { ok(StatusCode::OK, &body) }
    })
    .await
}

async fn rich_parameters(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(id): Path<String>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        let version = visible_version(api, &caller, &id)?;
        let job = api.store.get_provisioner_job_by_id(&version.job_id)?;
        if !matches!(job.job_status, JobStatus::Succeeded | JobStatus::Failed | JobStatus::Canceled) {
            return Err(ApiError::new(StatusCode::TOO_EARLY, "Template version job has not finished"));
        }
        let params: Vec<shapes::TemplateVersionParameter> = api
            .store
            .get_template_version_parameters(&version.id)?
            .iter()
            .map(shapes::TemplateVersionParameter::from_row)
            .collect();
        ok(StatusCode::OK, &params)
    })
    .await
}
/// The template `id` if the caller may change it: 404 when it may not even read it, 403 when
/// it may read but not manage templates.
fn manageable_template(api: &Api<'_>, caller: &Caller, id: &str) -> ApiResult<TemplateWithNames> {
    let t = visible_template(api, caller, id)?;
    if !caller.roles.manage_templates() {
        return Err(ApiError::forbidden());
    }
    Ok(t)
}

/// `DELETE /templates/{id}`: refused (400, upstream's message) while the template has live
/// workspaces, prebuilt ones included.
async fn delete_template(State(s): State<Arc<HttpState>>, req: Req, Path(id): Path<String>) -> Response {
    authed(s, req, move |api, _req, caller| {
        let t = manageable_template(api, &caller, &id)?;
        let in_use = api.store.get_workspaces_by_template_id(&t.template.id)?.iter().any(|w| !w.deleted);
        if in_use {
            return Err(ApiError::bad_request("All workspaces must be deleted before a template can be removed."));
        }
        api.store.update_template_deleted_and_deprecated(&t.template.id, true, &t.template.deprecated, api.now())?;
        crate::audit::record(
            api.store,
            &caller.user.id,
            &t.template.organization_id,
            "template",
            &t.template.id,
            &t.template.name,
            "delete",
        )?;
        crate::api::message(StatusCode::OK, "Template has been deleted!")
    })
    .await
}

#[derive(serde::Deserialize)]
struct PromoteVersion {
    #[serde(default)]
    id: String,
}

/// `PATCH /templates/{id}/versions` (`{"id": version}`): makes a version of the template
/// whose import succeeded its active version.
async fn promote_version(
    State(s): State<Arc<HttpState>>,
    req: Req,
    Path(id): Path<String>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    authed(s, req, move |api, _req, caller| {
        let t = manageable_template(api, &caller, &id)?;
        let body: PromoteVersion = crate::api::read_json(body)?;
        if uuid::Uuid::parse_str(&body.id).is_err() {
            return Err(crate::api::users::validation_failed(vec![("id", "required", body.id.as_str())]));
        }
        let version = match api.store.get_template_version_by_id(&body.id) {
            Ok(v) => v,
            Err(e) if e.is_not_found() => {
                return Err(ApiError::new(StatusCode::NOT_FOUND, "Template version not found."));
            }
            Err(e) => return Err(e.into()),
        };
        if version.template_id.as_deref() != Some(t.template.id.as_str()) {
            return Err(ApiError::bad_request(
                "The provided template version doesn't belong to the specified template.",
            ));
        }
        let job = api.store.get_provisioner_job_by_id(&version.job_id)?;
        if job.job_status != JobStatus::Succeeded {
            return Err(ApiError::bad_request(
                "The provided template version has not finished importing successfully.",
            ));
        }
        api.store.update_template_active_version(&t.template.id, &version.id, api.now())?;
        crate::audit::record(
            api.store,
            &caller.user.id,
            &t.template.organization_id,
            "template",
            &t.template.id,
            &t.template.name,
            "write",
        )?;
        crate::api::message(StatusCode::OK, "Updated the active template version!")
    })
    .await
}

/// `autostop_requirement` as upstream sends it.
#[derive(Debug, Default, serde::Deserialize)]
struct AutostopRequirementBody {
    #[serde(default)]
    days_of_week: Vec<String>,
    #[serde(default)]
    weeks: i64,
}

/// `autostart_requirement` as upstream sends it.
#[derive(Debug, Default, serde::Deserialize)]
struct AutostartRequirementBody {
    #[serde(default)]
    days_of_week: Vec<String>,
}

/// The settings both `CreateTemplateRequest` and `UpdateTemplateMeta` carry (other keys
/// upstream has, such as port sharing or CORS, are accepted and ignored).
#[derive(Debug, Default, serde::Deserialize)]
struct SettingsBody {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    icon: String,
    default_ttl_ms: Option<i64>,
    activity_bump_ms: Option<i64>,
    autostop_requirement: Option<AutostopRequirementBody>,
    autostart_requirement: Option<AutostartRequirementBody>,
    allow_user_autostart: Option<bool>,
    allow_user_autostop: Option<bool>,
    allow_user_cancel_workspace_jobs: Option<bool>,
    failure_ttl_ms: Option<i64>,
    /// Create's name for the dormancy TTL (upstream's `dormant_ttl_ms`) ...
    dormant_ttl_ms: Option<i64>,
    /// ... and update's.
    time_til_dormant_ms: Option<i64>,
    delete_ttl_ms: Option<i64>,
    time_til_dormant_autodelete_ms: Option<i64>,
    #[serde(default)]
    require_active_version: bool,
}

impl SettingsBody {
    fn settings(self) -> crate::templates::TemplateSettings {
        crate::templates::TemplateSettings {
            display_name: self.display_name,
            description: self.description,
            icon: self.icon,
            default_ttl_ms: self.default_ttl_ms,
            activity_bump_ms: self.activity_bump_ms,
            autostop_requirement: self
                .autostop_requirement
                .map(|r| crate::templates::AutostopRequirement { days_of_week: r.days_of_week, weeks: r.weeks }),
            autostart_days: self.autostart_requirement.map(|r| r.days_of_week),
            allow_user_autostart: self.allow_user_autostart,
            allow_user_autostop: self.allow_user_autostop,
            allow_user_cancel_workspace_jobs: self.allow_user_cancel_workspace_jobs,
            failure_ttl_ms: self.failure_ttl_ms,
            time_til_dormant_ms: self.dormant_ttl_ms.or(self.time_til_dormant_ms),
            time_til_dormant_autodelete_ms: self.delete_ttl_ms.or(self.time_til_dormant_autodelete_ms),
            require_active_version: self.require_active_version,
        }
    }
}

#[derive(Debug, serde::Deserialize)]
struct CreateTemplateBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    template_version_id: String,
    #[serde(flatten)]
    settings: SettingsBody,
}

/// The checks upstream's validator runs on a template's name, display name and description.
fn check_texts(name: Option<&str>, settings: &SettingsBody) -> ApiResult<()> {
    let mut failures = Vec::new();
    if let Some(name) = name {
        if name.is_empty() {
            failures.push(("name", "required", name));
        } else if crate::names::name_valid(name).is_err() {
            failures.push(("name", "template_name", name));
        }
    }
    if crate::names::display_name_valid(&settings.display_name).is_err() {
        failures.push(("display_name", "template_display_name", settings.display_name.as_str()));
    }
    if settings.description.chars().count() > 128 {
        failures.push(("description", "lt", settings.description.as_str()));
    }
    if failures.is_empty() { Ok(()) } else { Err(crate::api::users::validation_failed(failures)) }
}

/// A template error in upstream's words; `invalid` is the message of a settings refusal.
fn template_error(e: crate::templates::TemplateError, invalid: &str) -> ApiError {
    use crate::templates::TemplateError;
    let text = e.to_string();
    match e {
        TemplateError::Invalid(problems) => problems
            .into_iter()
            .fold(ApiError::bad_request(invalid), |err, (field, detail)| err.validation(field, detail)),
        TemplateError::NameTaken(_) => {
            ApiError::conflict(text).validation("name", "This value is already in use and should be unique.")
        }
        TemplateError::VersionNotFound(_) => ApiError::new(StatusCode::NOT_FOUND, text)
            .validation("template_version_id", "Template version does not exist"),
        TemplateError::VersionAttached(_) => ApiError::bad_request(text)
            .validation("template_version_id", "Template version is already part of a template"),
        TemplateError::Database(e) => e.into(),
    }
}

/// The wire shape of template `id` as it is now.
fn template_answer(api: &Api<'_>, id: &str, status: StatusCode) -> ApiResult<Response> {
    let t = api.store.get_templates(true)?.into_iter().find(|t| t.template.id == id).ok_or_else(ApiError::not_found)?;
    ok(status, &shapes::Template::from_row(&t, 0))
}

/// `POST /organizations/{org}/templates`: a template around a version made without one
/// (201, as upstream's handler answers).
async fn create_template(
    State(s): State<Arc<HttpState>>,
    req: Req,
    Path(org): Path<String>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    authed(s, req, move |api, _req, caller| {
        let org = resolve_organization(api, &caller, &org)?;
        let body: CreateTemplateBody = crate::api::read_json(body)?;
        if !caller.roles.manage_templates() {
            return Err(ApiError::forbidden());
        }
        check_texts(Some(&body.name), &body.settings)?;
        if uuid::Uuid::parse_str(&body.template_version_id).is_err() {
            return Err(crate::api::users::validation_failed(vec![(
                "template_version_id",
                "required",
                &body.template_version_id,
            )]));
        }
        let t = crate::templates::create_template(
            api.store,
            &org.id,
            &body.name,
            &body.template_version_id,
            &caller.user.id,
            &body.settings.settings(),
        )
        .map_err(|e| template_error(e, "Invalid create template request."))?;
        crate::audit::record(api.store, &caller.user.id, &t.organization_id, "template", &t.id, &t.name, "create")?;
        template_answer(api, &t.id, StatusCode::CREATED)
    })
    .await
}

#[derive(Debug, serde::Deserialize)]
struct UpdateTemplateBody {
    #[serde(default)]
    name: String,
    /// `null` or absent keeps the message; "" un-deprecates.
    deprecation_message: Option<String>,
    #[serde(flatten)]
    settings: SettingsBody,
}

/// `PATCH /templates/{id}`: 200 with the template, or 304 with no body when nothing changes.
async fn patch_template(
    State(s): State<Arc<HttpState>>,
    req: Req,
    Path(id): Path<String>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    authed(s, req, move |api, _req, caller| {
        let t = manageable_template(api, &caller, &id)?;
        let body: UpdateTemplateBody = crate::api::read_json(body)?;
        check_texts((!body.name.is_empty()).then_some(body.name.as_str()), &body.settings)?;
        let deprecation = body.deprecation_message.clone();
        let updated = crate::templates::update_meta(
            api.store,
            &t.template.id,
            &body.name,
            &body.settings.settings(),
            deprecation.as_deref(),
        )
        .map_err(|e| template_error(e, "Invalid request to update template metadata!"))?;
        let Some(updated) = updated else {
            return Ok(axum::response::IntoResponse::into_response(StatusCode::NOT_MODIFIED));
        };
        crate::audit::record(
            api.store,
            &caller.user.id,
            &updated.organization_id,
            "template",
            &updated.id,
            &updated.name,
            "write",
        )?;
        template_answer(api, &updated.id, StatusCode::OK)
    })
    .await
}

async fn version_logs(
    State(s): State<Arc<HttpState>>,
    Path(id): Path<String>,
    req: Req,
    ws: Result<axum::extract::ws::WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    crate::api::builds::job_logs(s, req, ws, move |api, caller| Ok(visible_version(api, caller, &id)?.job_id)).await
}

/// `CreateTemplateVersionRequest` (the keys coderlite reads; `tags` and
/// `user_variable_values` are accepted and ignored).
#[derive(Debug, serde::Deserialize)]
struct CreateVersionBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    template_id: Option<String>,
    #[serde(default)]
    storage_method: String,
    #[serde(default)]
    file_id: Option<String>,
    #[serde(default)]
    example_id: Option<String>,
    #[serde(default)]
    provisioner: String,
}

/// `POST /organizations/{org}/templateversions`: a version whose import job reads an uploaded
/// archive with the echo provisioner (201 with the version, its job pending).
async fn create_version(
    State(s): State<Arc<HttpState>>,
    req: Req,
    Path(org): Path<String>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    use crate::templates::import::VersionError;
    authed(s, req, move |api, _req, caller| {
        let org = resolve_organization(api, &caller, &org)?;
        let body: CreateVersionBody = crate::api::read_json(body)?;
        if !caller.roles.manage_templates() {
            return Err(ApiError::forbidden());
        }
        let mut failures = Vec::new();
        if body.storage_method != "file" {
            failures.push((
                "storage_method",
                if body.storage_method.is_empty() { "required" } else { "oneof" },
                body.storage_method.as_str(),
            ));
        }
        if body.provisioner.is_empty() {
            failures.push(("provisioner", "required", ""));
        } else if body.provisioner != "echo" && body.provisioner != "terraform" {
            failures.push(("provisioner", "oneof", body.provisioner.as_str()));
        }
        if !body.name.is_empty() && crate::names::name_valid(&body.name).is_err() {
            failures.push(("name", "template_version_name", body.name.as_str()));
        }
        if body.file_id.is_none() && body.example_id.is_none() {
            failures.push(("file_id", "required_without", ""));
        }
        if !failures.is_empty() {
            return Err(crate::api::users::validation_failed(failures));
        }
        if body.provisioner == "terraform" {
            return Err(ApiError::bad_request("coderlite runs only the echo provisioner.")
                .validation("provisioner", "use \"echo\" (the archive's coderlite.json describes the version)"));
        }
        if body.file_id.is_some() && body.example_id.is_some() {
            return Err(ApiError::bad_request("You cannot specify both an example_id and a file_id."));
        }
        let Some(file_id) = body.file_id.as_deref() else {
            return Err(ApiError::bad_request("Example not found."));
        };
        if let Some(t) = &body.template_id {
            uuid_param(t)?;
        }
        let name = if body.name.is_empty() {
            format!("version-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
        } else {
            body.name.clone()
        };
        let file_ok = uuid::Uuid::parse_str(file_id).is_ok();
        let version = if file_ok {
            crate::templates::import::create_version(
                api.store,
                &org.id,
                body.template_id.as_deref(),
                &name,
                file_id,
                &caller.user.id,
            )
        } else {
            Err(VersionError::FileNotFound)
        }
        .map_err(|e| {
            let text = e.to_string();
            match e {
                VersionError::TemplateNotFound | VersionError::FileNotFound => {
                    ApiError::new(StatusCode::NOT_FOUND, text)
                }
                VersionError::NameTaken(_) => {
                    ApiError::conflict(text).validation("name", "This value is already in use and should be unique.")
                }
                VersionError::Database(e) => e.into(),
            }
        })?;
        crate::audit::record(
            api.store,
            &caller.user.id,
            &org.id,
            "template_version",
            &version.id,
            &version.name,
            "create",
        )?;
        let rendered = render_versions(api, std::slice::from_ref(&version))?;
        ok(StatusCode::CREATED, &rendered[0])
    })
    .await
}
