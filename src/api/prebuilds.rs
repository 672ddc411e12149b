//! `GET` and `PUT /prebuilds/settings`: pausing the prebuilds reconciler.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use crate::api::ApiError;
use crate::api::Req;
use crate::api::auth;
use crate::api::blocking;
use crate::api::ok;
use crate::api::read_json;
use crate::api::state::HttpState;
use crate::prebuilds::reconciler::is_paused;
use crate::prebuilds::reconciler::set_paused;

pub(crate) fn routes() -> Router<Arc<HttpState>> {
    Router::new().route("/prebuilds/settings", get(get_settings).put(put_settings))
}

async fn get_settings(State(s): State<Arc<HttpState>>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    blocking(s, move |api| {
        auth::authenticate(api, &Req::new(headers, q))?;
        let paused = is_paused(&api.store.get_prebuilds_settings()?);
        ok(StatusCode::OK, &serde_json::json!({ "reconciliation_paused": paused }))
    })
    .await
}

#[derive(Deserialize)]
struct PrebuildsSettings {
    #[serde(default)]
    reconciliation_paused: bool,
}

async fn put_settings(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        let req: PrebuildsSettings = read_json(body)?;
        if !caller.roles.update_deployment() {
            return Err(ApiError::forbidden());
        }
        if is_paused(&api.store.get_prebuilds_settings()?) == req.reconciliation_paused {
            return Ok(StatusCode::NOT_MODIFIED.into_response());
        }
        set_paused(api.store, req.reconciliation_paused)
            .map_err(|e| ApiError::internal("Failed to update prebuilds settings.", e))?;
        ok(StatusCode::OK, &serde_json::json!({ "reconciliation_paused": req.reconciliation_paused }))
    })
    .await
}
