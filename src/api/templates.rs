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
        .route("/organizations/{organization}/templates", get(list_in_org))
        .route("/organizations/{organization}/templates/{name}", get(get_in_org_by_name))
        .route("/templates/{template}", get(get_one).delete(delete_template))
        .route("/templates/{template}/versions", get(versions).patch(promote_version))
        .route("/templates/{template}/versions/{name}", get(version_by_name))
        .route("/templateversions/{version}", get(version))
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
        crate::api::message(StatusCode::OK, "Updated the active template version!")
    })
    .await
}
