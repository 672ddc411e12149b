//! Organizations, their members and their groups.

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
use crate::api::blocking;
use crate::api::ok;
use crate::api::shapes;
use crate::api::state::HttpState;
use crate::database::models::Organization;

pub(crate) fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/organizations", get(list))
        .route("/organizations/{organization}", get(get_one))
        .route("/organizations/{organization}/members", get(members))
        .route("/organizations/{organization}/groups", get(groups))
}

/// The organizations the caller may read: all for the site roles that read organizations,
/// else those the caller belongs to.
pub(crate) fn visible_organizations(api: &Api<'_>, caller: &Caller) -> ApiResult<Vec<Organization>> {
    let all = api.store.list_organizations()?;
    if caller.roles.read_all_organizations() {
        return Ok(all);
    }
    let mine = crate::api::users::organization_ids_of(api, &caller.user.id)?;
    Ok(all.into_iter().filter(|o| mine.contains(&o.id)).collect())
}

/// Resolves the `{organization}` path parameter: `default`, the nil UUID (the default
/// organization, as upstream), a UUID or a name. Unknown or unreadable is 404.
pub(crate) fn resolve_organization(api: &Api<'_>, caller: &Caller, param: &str) -> ApiResult<Organization> {
    if param.is_empty() {
        return Err(ApiError::bad_request("\"organization\" must be provided."));
    }
    let visible = visible_organizations(api, caller)?;
    let found = visible.into_iter().find(|o| {
        (param == "default" || param == shapes::NIL_UUID) && o.is_default || o.id == param || o.name == param
    });
    found.ok_or_else(ApiError::not_found)
}

async fn list(State(s): State<Arc<HttpState>>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        let orgs: Vec<shapes::Organization> =
            visible_organizations(api, &caller)?.iter().map(shapes::Organization::from_row).collect();
        ok(StatusCode::OK, &orgs)
    })
    .await
}

async fn get_one(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(org): Path<String>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        ok(StatusCode::OK, &shapes::Organization::from_row(&resolve_organization(api, &caller, &org)?))
    })
    .await
}

async fn members(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(org): Path<String>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        let org = resolve_organization(api, &caller, &org)?;
        let members = api.store.get_organization_members(Some(&org.id), false)?;
        let ids: Vec<String> = members.iter().map(|m| m.user_id.clone()).collect();
        let users = crate::api::by_id(api.store.get_users_by_ids(&ids)?, |u| &u.id);
        let body: Vec<shapes::OrganizationMemberWithUserData> = members
            .iter()
            .filter_map(|m| {
                let u = users.get(&m.user_id)?;
                Some(shapes::OrganizationMemberWithUserData {
                    username: u.username.clone(),
                    name: u.name.clone(),
                    avatar_url: u.avatar_url.clone(),
                    email: u.email.clone(),
                    global_roles: u.rbac_roles.iter().map(|r| shapes::SlimRole::site(r)).collect(),
                    user_id: m.user_id.clone(),
                    organization_id: m.organization_id.clone(),
                    created_at: m.created_at,
                    updated_at: m.created_at,
                    roles: m
                        .roles
                        .iter()
                        .map(|r| shapes::SlimRole {
                            name: r.clone(),
                            display_name: if r == "organization-admin" { "Organization Admin" } else { "" }.to_owned(),
                            organization_id: m.organization_id.clone(),
                        })
                        .collect(),
                })
            })
            .collect();
        ok(StatusCode::OK, &body)
    })
    .await
}

async fn groups(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(org): Path<String>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        let org = resolve_organization(api, &caller, &org)?;
        let group_rows = api.store.get_groups_by_organization_id(&org.id)?;
        let expanded = api.store.get_group_members_by_organization_id(&org.id, false)?;
        let mut member_ids: Vec<String> = expanded.iter().map(|m| m.user_id.clone()).collect();
        member_ids.sort();
        member_ids.dedup();
        let users = crate::api::by_id(api.store.get_users_by_ids(&member_ids)?, |u| &u.id);
        let mut members_of: HashMap<&str, Vec<shapes::ReducedUser>> = HashMap::new();
        for m in &expanded {
            if let Some(u) = users.get(&m.user_id) {
                members_of.entry(m.group_id.as_str()).or_default().push(shapes::ReducedUser::from_user(u));
            }
        }
        let body: Vec<shapes::Group> = group_rows
            .iter()
            .map(|g| {
                let members = members_of.get(g.id.as_str()).cloned().unwrap_or_default();
                shapes::Group {
                    id: g.id.clone(),
                    name: g.name.clone(),
                    display_name: g.display_name.clone(),
                    organization_id: g.organization_id.clone(),
                    total_member_count: members.len() as i64,
                    members,
                    avatar_url: g.avatar_url.clone(),
                    quota_allowance: g.quota_allowance,
                    source: "user".to_owned(),
                    organization_name: org.name.clone(),
                    organization_display_name: org.display_name.clone(),
                }
            })
            .collect();
        ok(StatusCode::OK, &body)
    })
    .await
}
