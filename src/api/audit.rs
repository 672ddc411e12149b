//! `GET /audit`: the audit entries coderlite writes, newest first, with upstream's `q`
//! filters, validation messages and `{audit_logs, count}` answer. Owners and auditors only.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Serialize;

use crate::api::Api;
use crate::api::ApiError;
use crate::api::ApiResult;
use crate::api::Req;
use crate::api::auth::Caller;
use crate::api::authed;
use crate::api::ok;
use crate::api::pagination;
use crate::api::search;
use crate::api::shapes;
use crate::api::state::HttpState;
use crate::clock::Timestamp;
use crate::database::models::AuditLogFilter;
use crate::database::models::Page;

pub(crate) fn routes() -> Router<Arc<HttpState>> {
    Router::new().route("/audit", get(list))
}

/// Upstream's resource types and actions (its enums), for the `q` checks.
const RESOURCE_TYPES: &[&str] = &[
    "template",
    "template_version",
    "user",
    "workspace",
    "workspace_build",
    "git_ssh_key",
    "api_key",
    "group",
    "license",
    "convert_login",
    "health_settings",
    "notifications_settings",
    "workspace_proxy",
    "organization",
    "oauth2_provider_app",
    "oauth2_provider_app_secret",
    "custom_role",
    "organization_member",
    "notification_template",
    "idp_sync_settings_organization",
    "idp_sync_settings_group",
    "idp_sync_settings_role",
    "workspace_agent",
    "workspace_app",
    "ai_provider",
];
const ACTIONS: &[&str] = &[
    "create",
    "write",
    "delete",
    "start",
    "stop",
    "login",
    "logout",
    "register",
    "request_password_reset",
    "connect",
    "disconnect",
    "open",
    "close",
];
const BUILD_REASONS: &[&str] = &[
    "initiator",
    "autostart",
    "autostop",
    "dormancy",
    "dashboard",
    "cli",
    "ssh_connection",
    "vscode_connection",
    "jetbrains_connection",
];

/// The filter of a `q`, or upstream's 400 with a validation per bad element.
fn parse_filter(api: &Api<'_>, caller: &Caller, q: &str) -> ApiResult<Filter> {
    let terms = search::parse(q, "resource_type")
        .map_err(|d| ApiError::bad_request("Invalid audit search query.").validation("q", d))?;
    let mut f = Filter::default();
    let mut problems: Vec<(String, String)> = Vec::new();
    let uuid = |key: &str, v: &str, problems: &mut Vec<(String, String)>| {
        if uuid::Uuid::parse_str(v).is_err() {
            problems.push((key.to_owned(), format!("Query param {key:?} must be a valid uuid")));
        }
    };
    let one_of = |key: &str, v: &str, allowed: &[&str], problems: &mut Vec<(String, String)>| {
        if !allowed.contains(&v) {
            problems
                .push((key.to_owned(), format!("Query param {key:?} has invalid value: {v:?} is not a valid value")));
        }
    };
    let date = |key: &str, v: &str, problems: &mut Vec<(String, String)>| {
        chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|e| {
            problems
                .push((key.to_owned(), format!("Query param {key:?} must be a valid date format (2006-01-02): {e}")))
        })
    };
    for (key, value) in terms {
        match key.as_str() {
            "request_id" => {
                uuid(&key, &value, &mut problems);
                f.request_id = Some(value);
            }
            "resource_id" => {
                uuid(&key, &value, &mut problems);
                f.resource_id = Some(value);
            }
            "resource_target" => f.resource_target = Some(value),
            "resource_type" => {
                one_of(&key, &value, RESOURCE_TYPES, &mut problems);
                f.resource_type = Some(value);
            }
            "action" => {
                one_of(&key, &value, ACTIONS, &mut problems);
                f.action = Some(value);
            }
            "build_reason" => one_of(&key, &value, BUILD_REASONS, &mut problems),
            "username" => {
                f.user_id = Some(if value == "me" {
                    caller.user.id.clone()
                } else {
                    api.store.get_user_by_username(&value).map(|u| u.id).unwrap_or_default()
                })
            }
            "email" => {
                f.user_id = Some(api.store.get_user_by_email(&value).map(|u| u.id).unwrap_or_default());
            }
            "date_from" => {
                if let Ok(d) = date(&key, &value, &mut problems) {
                    f.time_from = d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
                }
            }
            "date_to" => {
                if let Ok(d) = date(&key, &value, &mut problems) {
                    f.time_to = d.and_hms_opt(23, 59, 59).map(|t| t.and_utc());
                }
            }
            "organization" => {
                let orgs = api.store.list_organizations()?;
                match orgs.into_iter().find(|o| o.id == value || o.name == value) {
                    Some(o) => f.organization_id = Some(o.id),
                    None => problems.push((
                        key.clone(),
                        format!(
                            "Query param \"organization\" has invalid value: organization {value:?} either does not \
                             exist, or you are unauthorized to view it"
                        ),
                    )),
                }
            }
            other => problems.push((other.to_owned(), format!("Query param {other:?} is not a valid query param"))),
        }
    }
    if problems.is_empty() {
        Ok(f)
    } else {
        Err(problems
            .into_iter()
            .fold(ApiError::bad_request("Invalid audit search query."), |e, (k, d)| e.validation(k, d)))
    }
}

#[derive(Default)]
struct Filter {
    request_id: Option<String>,
    resource_type: Option<String>,
    resource_id: Option<String>,
    resource_target: Option<String>,
    action: Option<String>,
    user_id: Option<String>,
    organization_id: Option<String>,
    time_from: Option<Timestamp>,
    time_to: Option<Timestamp>,
}

/// `codersdk.AuditLog`.
#[derive(Serialize)]
struct AuditLog {
    id: String,
    request_id: String,
    #[serde(serialize_with = "shapes::ser_time")]
    time: Timestamp,
    ip: String,
    user_agent: String,
    resource_type: String,
    resource_id: String,
    resource_target: String,
    resource_icon: String,
    action: String,
    diff: serde_json::Value,
    status_code: i64,
    additional_fields: serde_json::Value,
    description: String,
    resource_link: String,
    is_deleted: bool,
    organization_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    organization: Option<AuditOrganization>,
    user: Option<shapes::User>,
}

#[derive(Serialize)]
struct AuditOrganization {
    id: String,
    name: String,
    display_name: String,
    icon: String,
}

/// Upstream's description template: `{user} created template {target}`.
fn description(action: &str, resource_type: &str) -> String {
    let verb = match action {
        "create" => "created",
        "write" => "updated",
        "delete" => "deleted",
        "start" => "started",
        "stop" => "stopped",
        other => other,
    };
    format!("{{user}} {verb} {} {{target}}", resource_type.replace('_', " "))
}

async fn list(State(s): State<Arc<HttpState>>, req: Req) -> Response {
    authed(s, req, move |api, req, caller| {
        if !caller.roles.read_audit_logs() {
            return Err(ApiError::forbidden());
        }
        let (limit, offset) = pagination(req)?;
        let f = parse_filter(api, &caller, req.param("q").unwrap_or(""))?;
        if f.request_id.is_some() {
            // coderlite keeps no request IDs: no entry matches one.
            return ok(StatusCode::OK, &serde_json::json!({ "audit_logs": [], "count": 0 }));
        }
        let Page { rows, count } = api.store.get_audit_logs_page(&AuditLogFilter {
            resource_type: f.resource_type.as_deref(),
            resource_id: f.resource_id.as_deref(),
            resource_target: f.resource_target.as_deref(),
            action: f.action.as_deref(),
            user_id: f.user_id.as_deref(),
            organization_id: f.organization_id.as_deref(),
            time_from: f.time_from,
            time_to: f.time_to,
            limit,
            offset,
        })?;
        let mut user_ids: Vec<String> = rows.iter().map(|r| r.user_id.clone()).collect();
        user_ids.sort();
        user_ids.dedup();
        let users: HashMap<String, crate::database::models::User> =
            api.store.get_users_by_ids(&user_ids)?.into_iter().map(|u| (u.id.clone(), u)).collect();
        let orgs: HashMap<String, crate::database::models::Organization> =
            api.store.list_organizations()?.into_iter().map(|o| (o.id.clone(), o)).collect();
        let logs: Vec<AuditLog> = rows
            .into_iter()
            .map(|r| AuditLog {
                request_id: shapes::NIL_UUID.to_owned(),
                time: r.time,
                ip: String::new(),
                user_agent: String::new(),
                description: description(&r.action, &r.resource_type),
                resource_icon: String::new(),
                status_code: r.status_code,
                additional_fields: serde_json::json!({}),
                resource_link: String::new(),
                is_deleted: false,
                organization: orgs.get(&r.organization_id).map(|o| AuditOrganization {
                    id: o.id.clone(),
                    name: o.name.clone(),
                    display_name: o.display_name.clone(),
                    icon: String::new(),
                }),
                user: users.get(&r.user_id).map(|u| shapes::User::from_user(u, None)),
                id: r.id,
                resource_type: r.resource_type,
                resource_id: r.resource_id,
                resource_target: r.resource_target,
                action: r.action,
                diff: r.diff,
                organization_id: r.organization_id,
            })
            .collect();
        ok(StatusCode::OK, &serde_json::json!({ "audit_logs": logs, "count": count }))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_read_as_upstreams() {
        assert_eq!(description("create", "template_version"), "{user} created template version {target}");
        assert_eq!(description("write", "template"), "{user} updated template {target}");
    }
}
