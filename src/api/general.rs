//! `GET /buildinfo` (no authentication).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use crate::api::BUILD_VERSION;
use crate::api::blocking;
use crate::api::ok;
use crate::api::state::HttpState;
use crate::deployment::DEPLOYMENT_ID_KEY;

pub(crate) fn routes() -> Router<Arc<HttpState>> {
    Router::new().route("/buildinfo", get(build_info))
}

async fn build_info(State(s): State<Arc<HttpState>>) -> Response {
    blocking(s, move |api| {
        let deployment_id = api.store.get_site_config(DEPLOYMENT_ID_KEY)?.unwrap_or_default();
        ok(
            StatusCode::OK,
            &serde_json::json!({
                "external_url": "https://github.com/coder/coder",
                "version": BUILD_VERSION,
                "dashboard_url": "",
                "telemetry": false,
                "workspace_proxy": false,
                "agent_api_version": "2.0",
                "provisioner_api_version": "1.0",
                "upgrade_message": "",
                "deployment_id": deployment_id,
                "webpush_public_key": "",
            }),
        )
    })
    .await
}
