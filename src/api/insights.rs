//! Insights from the template usage rollup: templates, user activity, user latency, with
//! upstream's validation of the time range.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::extract::RawQuery;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use chrono::DateTime;
use chrono::FixedOffset;
use serde_json::json;

use crate::api::Api;
use crate::api::ApiError;
use crate::api::ApiResult;
use crate::api::Req;
use crate::api::auth;
use crate::api::blocking;
use crate::api::ok;
use crate::api::shapes::go_time;
use crate::api::state::HttpState;
use crate::clock::Timestamp;
use crate::database::models::TemplateUsageStat;
use crate::rollup::insights;

pub(crate) fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/insights/templates", get(templates))
        .route("/insights/user-activity", get(user_activity))
        .route("/insights/user-latency", get(user_latency))
}

/// A time in the offset the client gave its `start_time` (upstream answers in it).
fn in_offset(t: Timestamp, offset: FixedOffset) -> String {
    let local = t.with_timezone(&offset);
    if offset.local_minus_utc() == 0 { go_time(t) } else { local.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true) }
}

/// The validated request: range, the client's offset, template ids, and the rows in range.
struct Range {
    start: Timestamp,
    end: Timestamp,
    offset: FixedOffset,
    rows: Vec<TemplateUsageStat>,
}

fn invalid(field: &str, detail: impl Into<String>) -> ApiError {
    ApiError::bad_request("Query parameter has invalid value.").validation(field, detail)
}

fn read_range(api: &Api<'_>, req: &Req, allowed: &[&str]) -> ApiResult<Range> {
    for (k, _) in &req.query {
        if !allowed.contains(&k.as_str()) && k != auth::SESSION_COOKIE {
            return Err(ApiError::bad_request("Query parameters have invalid values.")
                .validation(k.clone(), format!("{k:?} is not a valid query param")));
        }
    }
    let start = req.param("start_time").unwrap_or("");
    let end = req.param("end_time").unwrap_or("");
    if start.is_empty() {
        return Err(ApiError::bad_request("Query parameters have invalid values.")
            .validation("start_time", "Query param \"start_time\" is required and cannot be empty"));
    }
    if end.is_empty() {
        return Err(ApiError::bad_request("Query parameters have invalid values.")
            .validation("end_time", "Query param \"end_time\" is required and cannot be empty"));
    }
    let (start_t, end_t) = insights::parse_insights_time_range(api.now(), start, end).map_err(|e| {
        let field = if e.0.starts_with("query param \"end_time\"") { "end_time" } else { "start_time" };
        invalid(field, e.0.replacen("query param", "Query param", 1))
    })?;
    let offset =
        DateTime::parse_from_rfc3339(start).map(|t| *t.offset()).unwrap_or(FixedOffset::east_opt(0).expect("UTC"));
    let mut template_ids = Vec::new();
    if let Some(list) = req.param("template_ids").filter(|l| !l.is_empty()) {
        for id in list.split(',') {
            if uuid::Uuid::parse_str(id).is_err() {
                return Err(ApiError::bad_request("Query parameters have invalid values.").validation(
                    "template_ids",
                    format!("Query param \"template_ids\" has invalid value {id:?}: must be a valid uuid"),
                ));
            }
            template_ids.push(id.to_owned());
        }
    }
    let rows = api.store.get_template_usage_stats(start_t, end_t, &template_ids)?;
    Ok(Range { start: start_t, end: end_t, offset, rows })
}

fn authorize(req: &Req, api: &Api<'_>) -> ApiResult<()> {
    let caller = auth::authenticate(api, req)?;
    if !caller.roles.view_insights() {
        return Err(ApiError::not_found());
    }
    Ok(())
}

fn template_ids(rows: &[TemplateUsageStat]) -> Vec<String> {
    rows.iter().map(|r| r.template_id.clone()).collect::<BTreeSet<_>>().into_iter().collect()
}

async fn templates(State(s): State<Arc<HttpState>>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    blocking(s, move |api| {
        let req = Req::new(headers, q);
        authorize(&req, api)?;
        let range = read_range(api, &req, &["start_time", "end_time", "template_ids", "interval", "sections"])?;
        let interval = req.param("interval").unwrap_or("");
        if !matches!(interval, "" | "day" | "week") {
            return Err(invalid("interval", "must be one of [day week]"));
        }
        let sections: Vec<&str> = match req.param("sections").filter(|s| !s.is_empty()) {
            Some(list) => list.split(',').collect(),
            None => vec!["interval_reports", "report"],
        };
        if let Some(bad) = sections.iter().find(|s| !matches!(**s, "interval_reports" | "report")) {
            let _ = bad;
            return Err(invalid("sections", "must be one of [interval_reports report]"));
        }
        let report_interval = insights::parse_report_interval(range.start, range.end, interval)
            .map_err(|e| ApiError::bad_request(e.0))?;
        let mut body = serde_json::Map::new();
        if sections.contains(&"report") {
            let t = insights::template_insights(&range.rows);
            let builtin = |slug: &str, name: &str, icon: &str, seconds: i64, ids: &[String]| {
                json!({"template_ids": ids, "type": "builtin", "display_name": name, "slug": slug, "icon": icon,
                       "seconds": seconds, "times_used": 0})
            };
            let mut apps = vec![
                builtin("vscode", "Visual Studio Code", "/icon/code.svg", t.vscode_seconds, &t.vscode_template_ids),
                builtin("jetbrains", "JetBrains", "/icon/intellij.svg", t.jetbrains_seconds, &t.jetbrains_template_ids),
                builtin(
                    "reconnecting-pty",
                    "Web Terminal",
                    "/icon/terminal.svg",
                    t.reconnecting_pty_seconds,
                    &t.reconnecting_pty_template_ids,
                ),
                builtin("ssh", "SSH", "/icon/terminal.svg", t.ssh_seconds, &t.ssh_template_ids),
                builtin("sftp", "SFTP", "/icon/terminal.svg", t.sftp_seconds, &t.sftp_template_ids),
            ];
            for app in insights::app_insights(&range.rows).into_iter().filter(|a| a.is_app) {
                apps.push(json!({"template_ids": app.template_ids, "type": "app", "display_name": app.app_name,
                                 "slug": app.app_name, "icon": "", "seconds": app.usage_seconds, "times_used": 0}));
            }
            body.insert(
                "report".to_owned(),
                json!({
                    "start_time": in_offset(range.start, range.offset),
                    "end_time": in_offset(range.end, range.offset),
                    "template_ids": t.template_ids,
                    "active_users": t.active_users,
                    "apps_usage": apps,
                    "parameters_usage": [],
                }),
            );
        }
        if sections.contains(&"interval_reports") && !interval.is_empty() {
            let reports: Vec<serde_json::Value> =
                insights::insights_by_interval(&range.rows, range.start, range.end, report_interval.days())
                    .into_iter()
                    .map(|i| {
                        json!({"start_time": in_offset(i.start_time, range.offset),
                               "end_time": in_offset(i.end_time, range.offset),
                               "template_ids": i.template_ids, "interval": interval, "active_users": i.active_users})
                    })
                    .collect();
            // Every interval of the range, also those without usage (`omitempty` drops only
            // an empty list: a range of no length).
            if !reports.is_empty() {
                body.insert("interval_reports".to_owned(), json!(reports));
            }
        }
        ok(StatusCode::OK, &body)
    })
    .await
}

/// The users of `rows`' user ids: (username, avatar_url).
fn user_names(api: &Api<'_>, ids: Vec<String>) -> ApiResult<std::collections::HashMap<String, (String, String)>> {
    Ok(api.store.get_users_by_ids(&ids)?.into_iter().map(|u| (u.id, (u.username, u.avatar_url))).collect())
}

async fn user_activity(State(s): State<Arc<HttpState>>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    blocking(s, move |api| {
        let req = Req::new(headers, q);
        authorize(&req, api)?;
        let range = read_range(api, &req, &["start_time", "end_time", "template_ids"])?;
        let activity = insights::user_activity(&range.rows);
        let names = user_names(api, activity.iter().map(|a| a.user_id.clone()).collect())?;
        let users: Vec<serde_json::Value> = activity
            .iter()
            .map(|a| {
                let (username, avatar) = names.get(&a.user_id).cloned().unwrap_or_default();
                json!({"template_ids": a.template_ids, "user_id": a.user_id, "username": username,
                       "avatar_url": avatar, "seconds": a.usage_seconds})
            })
            .collect();
        ok(
            StatusCode::OK,
            &json!({"report": {"start_time": in_offset(range.start, range.offset),
                               "end_time": in_offset(range.end, range.offset),
                               "template_ids": template_ids(&range.rows), "users": users}}),
        )
    })
    .await
}

async fn user_latency(State(s): State<Arc<HttpState>>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    blocking(s, move |api| {
        let req = Req::new(headers, q);
        authorize(&req, api)?;
        let range = read_range(api, &req, &["start_time", "end_time", "template_ids"])?;
        let latency = insights::user_latency(&range.rows);
        let names = user_names(api, latency.iter().map(|a| a.user_id.clone()).collect())?;
        let users: Vec<serde_json::Value> = latency
            .iter()
            .map(|l| {
                let (username, avatar) = names.get(&l.user_id).cloned().unwrap_or_default();
                json!({"template_ids": l.template_ids, "user_id": l.user_id, "username": username,
                       "avatar_url": avatar, "latency_ms": {"p50": l.p50_ms, "p95": l.p95_ms}})
            })
            .collect();
        ok(
            StatusCode::OK,
            &json!({"report": {"start_time": in_offset(range.start, range.offset),
                               "end_time": in_offset(range.end, range.offset),
                               "template_ids": template_ids(&range.rows), "users": users}}),
        )
    })
    .await
}
