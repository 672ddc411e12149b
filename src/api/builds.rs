//! A build's job from the outside: `PATCH /workspacebuilds/{id}/cancel` and
//! `GET /workspacebuilds/{id}/logs` (JSON, or with `follow` a WebSocket of log lines until the
//! job ends, as upstream streams them).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::extract::State;
use axum::extract::ws::CloseFrame;
use axum::extract::ws::Message;
use axum::extract::ws::WebSocket;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use axum::routing::patch;

use crate::api::Api;
use crate::api::ApiError;
use crate::api::ApiResult;
use crate::api::Req;
use crate::api::auth;
use crate::api::authed;
use crate::api::blocking_value;
use crate::api::message;
use crate::api::ok;
use crate::api::shapes;
use crate::api::state::HttpState;
use crate::api::templates::uuid_param;
use crate::database::models::JobStatus;
use crate::database::models::WorkspaceBuild;
use crate::workspaces::builds::CancelError;

/// How often a follower looks for new log lines.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

pub(crate) fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/workspacebuilds/{build}/cancel", patch(cancel))
        .route("/workspacebuilds/{build}/logs", get(logs))
}

/// The build `id` if the caller may read its workspace (404 otherwise).
fn visible_build(api: &Api<'_>, caller: &auth::Caller, id: &str) -> ApiResult<WorkspaceBuild> {
    uuid_param(id)?;
    let build = api.store.get_workspace_build_by_id(id)?;
    let w = api.store.get_workspace_by_id(&build.workspace_id)?;
    if w.owner_id != caller.user.id && !caller.roles.read_all_workspaces() {
        return Err(ApiError::not_found());
    }
    Ok(build)
}

async fn cancel(State(s): State<Arc<HttpState>>, Path(id): Path<String>, req: Req) -> Response {
    authed(s, req, move |api, req, caller| {
        let build = visible_build(api, &caller, &id)?;
        let expect = match req.param("expect_status") {
            None | Some("") => None,
            Some("pending") => Some(JobStatus::Pending),
            Some("running") => Some(JobStatus::Running),
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "Invalid expect_status {other:?}. Only 'running' or 'pending' are allowed."
                )));
            }
        };
        let w = api.store.get_workspace_by_id(&build.workspace_id)?;
        if w.owner_id != caller.user.id && !caller.roles.update_all_workspaces() {
            return Err(ApiError::forbidden());
        }
        crate::workspaces::builds::cancel_build(api.store, &build.id, expect, caller.roles.owner).map_err(|e| {
            let text = e.to_string();
            match e {
                CancelError::NotAllowed => ApiError::new(StatusCode::FORBIDDEN, text),
                CancelError::Completed | CancelError::AlreadyCanceled => ApiError::bad_request(text),
                CancelError::NotExpected => ApiError::new(StatusCode::PRECONDITION_FAILED, text),
                CancelError::Database(e) => e.into(),
            }
        })?;
        crate::audit::record(
            api.store,
            &caller.user.id,
            &w.organization_id,
            "workspace_build",
            &build.id,
            &w.name,
            "write",
        )?;
        message(StatusCode::OK, "Job has been marked as canceled...")
    })
    .await
}

/// `after`: log lines with a greater id only (upstream's message when it is no integer).
fn after_param(req: &Req) -> ApiResult<i64> {
    match req.param("after") {
        None | Some("") => Ok(0),
        Some(v) => v.parse().map_err(|_| {
            ApiError::bad_request("Query param \"after\" must be an integer.").validation("after", "Must be an integer")
        }),
    }
}

async fn logs(
    State(s): State<Arc<HttpState>>,
    Path(id): Path<String>,
    req: Req,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    job_logs(s, req, ws, move |api, caller| Ok(visible_build(api, caller, &id)?.job_id)).await
}

/// A job's log lines as upstream answers them (build logs and template version logs): JSON
/// lines after `after`, or with `follow` a WebSocket. `job_of` finds the job the caller may
/// read.
pub(crate) async fn job_logs<F>(
    s: Arc<HttpState>,
    req: Req,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    job_of: F,
) -> Response
where
    F: FnOnce(&Api<'_>, &auth::Caller) -> ApiResult<String> + Send + 'static,
{
    // Upstream streams when `follow` is present at all, whatever its value.
    let follow = req.query.iter().any(|(k, _)| k == "follow");
    let checked = blocking_value(s.clone(), move |api| {
        let caller = auth::authenticate(api, &req)?;
        let job_id = job_of(api, &caller)?;
        let after = after_param(&req)?;
        let lines = api.store.get_provisioner_job_logs_after(&job_id, after)?;
        Ok((job_id, after, lines))
    })
    .await;
    let (job_id, after, lines) = match checked {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    if !follow {
        let lines: Vec<shapes::ProvisionerJobLog> = lines.iter().map(shapes::ProvisionerJobLog::from_row).collect();
        return ok(StatusCode::OK, &lines).unwrap_or_else(IntoResponse::into_response);
    }
    let Ok(ws) = ws else {
        return ApiError::bad_request("Failed to accept websocket.").into_response();
    };
    ws.on_upgrade(move |socket| follow_logs(s, socket, job_id, after))
}

/// Sends every log line after `after` as one JSON text message each, then new ones as they
/// are written, and closes with 1000 "done" once the job has ended and its last line is sent.
async fn follow_logs(s: Arc<HttpState>, mut socket: WebSocket, job_id: String, mut after: i64) {
    loop {
        let job = job_id.clone();
        let read = blocking_value(s.clone(), move |api| {
            // The job's state first: lines written before it ended are all read below.
            let ended = api.store.get_provisioner_job_by_id(&job)?.completed_at.is_some();
            Ok((ended, api.store.get_provisioner_job_logs_after(&job, after)?))
        })
        .await;
        let Ok((ended, lines)) = read else {
            let _ = socket.send(Message::Close(Some(CloseFrame { code: 1011, reason: "read logs".into() }))).await;
            return;
        };
        for line in &lines {
            after = line.id;
            let text = serde_json::to_string(&shapes::ProvisionerJobLog::from_row(line)).unwrap_or_default();
            if socket.send(Message::Text(text.into())).await.is_err() {
                return;
            }
        }
        if ended {
            let _ = socket.send(Message::Close(Some(CloseFrame { code: 1000, reason: "done".into() }))).await;
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
            _ = s.streams_closed() => {
                let _ = socket.send(Message::Close(Some(CloseFrame { code: 1001, reason: "server stopping".into() }))).await;
                return;
            }
        }
    }
}
