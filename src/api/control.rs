//! `/api/coderlite/v1`: the test controls of a server started with `--test-controls`
//! (reset, snapshots, fixtures, the virtual clock). Without the flag every route here
//! answers as an unknown path does; with it, only an owner may call them.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use axum::routing::post;
use serde::Deserialize;

use crate::api::ApiError;
use crate::api::ApiResult;
use crate::api::Req;
use crate::api::auth::Caller;
use crate::api::authed;
use crate::api::ok;
use crate::api::read_json;
use crate::api::state::HttpState;
use crate::clock::format_rfc3339;
use crate::testing::control::ClockTarget;
use crate::testing::control::ControlError;
use crate::testing::control::DEFAULT_WAIT;
use crate::testing::control::TestControls;

pub(crate) fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/reset", post(reset))
        .route("/snapshots", get(list_snapshots).post(save_snapshot))
        .route("/snapshots/{name}/restore", post(restore_snapshot))
        .route("/fixtures", post(load_fixtures))
        .route("/clock", get(get_clock).post(move_clock))
        .fallback(|| async { StatusCode::NOT_FOUND.into_response() })
}

/// Runs `f` with the controls, as an owner; an unknown path when the server has none.
async fn with_controls<F>(s: Arc<HttpState>, req: Req, f: F) -> Response
where
    F: FnOnce(&TestControls) -> ApiResult<Response> + Send + 'static,
{
    let Some(controls) = s.test_controls() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    authed(s, req, move |_, _, caller: Caller| {
        if !caller.roles.owner {
            return Err(ApiError::forbidden());
        }
        f(&controls)
    })
    .await
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        let message = e.to_string();
        match e {
            ControlError::Invalid(_) | ControlError::WallClock => ApiError::bad_request(message),
            ControlError::NoSuchSnapshot(_) => ApiError::new(StatusCode::NOT_FOUND, message),
            ControlError::Busy(_) => ApiError::conflict(message),
            ControlError::Failed(_) => ApiError::internal("A test control failed.", message),
        }
    }
}

/// `{"force", "wait"}` of a reset or restore; an empty body is all defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RestoreRequest {
    #[serde(default)]
    force: bool,
    /// A Go duration: how long to wait for a service cycle in progress.
    wait: Option<String>,
}

fn restore_request(body: Result<Bytes, BytesRejection>) -> ApiResult<(bool, Duration)> {
    let req: RestoreRequest = match &body {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => RestoreRequest::default(),
        _ => read_json(body)?,
    };
    let wait = match req.wait.as_deref() {
        None => DEFAULT_WAIT,
        Some(text) => crate::clock::parse_duration(text)
            .map_err(|why| ApiError::bad_request("Validation failed.").validation("wait", why))?,
    };
    Ok((req.force, wait))
}

async fn reset(State(s): State<Arc<HttpState>>, req: Req, body: Result<Bytes, BytesRejection>) -> Response {
    with_controls(s, req, move |controls| {
        let (force, wait) = restore_request(body)?;
        controls.reset(force, wait)?;
        crate::api::message(StatusCode::OK, "Reset to the state after start.")
    })
    .await
}

async fn list_snapshots(State(s): State<Arc<HttpState>>, req: Req) -> Response {
    with_controls(s, req, move |controls| {
        ok(StatusCode::OK, &serde_json::json!({ "snapshots": controls.snapshot_names() }))
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotRequest {
    name: String,
}

async fn save_snapshot(State(s): State<Arc<HttpState>>, req: Req, body: Result<Bytes, BytesRejection>) -> Response {
    with_controls(s, req, move |controls| {
        let req: SnapshotRequest = read_json(body)?;
        controls.save_snapshot(&req.name).map_err(|e| match e {
            ControlError::Invalid(why) => ApiError::bad_request("Validation failed.").validation("name", why),
            other => other.into(),
        })?;
        ok(StatusCode::CREATED, &serde_json::json!({ "name": req.name }))
    })
    .await
}

async fn restore_snapshot(
    State(s): State<Arc<HttpState>>,
    Path(name): Path<String>,
    req: Req,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    with_controls(s, req, move |controls| {
        let (force, wait) = restore_request(body)?;
        controls.restore_snapshot(&name, force, wait)?;
        crate::api::message(StatusCode::OK, &format!("Restored snapshot {name:?}."))
    })
    .await
}

async fn load_fixtures(State(s): State<Arc<HttpState>>, req: Req, body: Result<Bytes, BytesRejection>) -> Response {
    with_controls(s, req, move |controls| {
        // Checked as JSON first (NUL, syntax) with the API's messages; then as fixtures.
        let document: serde_json::Value = read_json(body)?;
        let text = document.to_string();
        let (summary, ids) = controls.load_fixtures(&text)?;
        ok(
            StatusCode::CREATED,
            &serde_json::json!({
                "loaded": {
                    "organizations": summary.organizations,
                    "users": summary.users,
                    "groups": summary.groups,
                    "templates": summary.templates,
                    "template_versions": summary.template_versions,
                    "presets": summary.presets,
                    "workspaces": summary.workspaces,
                    "agent_stats": summary.agent_stats,
                    "app_stats": summary.app_stats,
                },
                "ids": ids,
            }),
        )
    })
    .await
}

fn clock_answer(controls: &TestControls, ticks: Option<u64>) -> ApiResult<Response> {
    let (now, mode) = controls.clock();
    let mut answer = serde_json::json!({ "now": format_rfc3339(now), "mode": mode });
    if let Some(ticks) = ticks {
        answer["ticks"] = ticks.into();
    }
    ok(StatusCode::OK, &answer)
}

async fn get_clock(State(s): State<Arc<HttpState>>, req: Req) -> Response {
    with_controls(s, req, move |controls| clock_answer(controls, None)).await
}

/// `{"advance": "<Go duration>"}` or `{"set": "<RFC 3339>"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockRequest {
    advance: Option<String>,
    set: Option<String>,
}

async fn move_clock(State(s): State<Arc<HttpState>>, req: Req, body: Result<Bytes, BytesRejection>) -> Response {
    with_controls(s, req, move |controls| {
        let req: ClockRequest = read_json(body)?;
        let invalid = |field: &str, why: String| ApiError::bad_request("Validation failed.").validation(field, why);
        let target = match (req.advance, req.set) {
            (Some(by), None) => {
                ClockTarget::Advance(crate::clock::parse_duration(&by).map_err(|w| invalid("advance", w))?)
            }
            (None, Some(at)) => ClockTarget::Set(
                chrono::DateTime::parse_from_rfc3339(&at)
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .map_err(|e| invalid("set", format!("must be an RFC 3339 time: {e}")))?,
            ),
            _ => {
                return Err(ApiError::bad_request(
                    "Give exactly one of \"advance\" (a duration) or \"set\" (an RFC 3339 time).",
                ));
            }
        };
        let step = controls.move_clock(target)?;
        clock_answer(controls, Some(step.ticks))
    })
    .await
}
