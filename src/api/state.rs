//! What the HTTP endpoint answers from ([`HttpState`]), and its unauthenticated routes:
//! `/healthz` (200 once startup is done, with the schema version, uptime and live servers;
//! 503 before) and `/metrics` (Prometheus text).

use std::sync::Arc;
use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header;
use axum::response::IntoResponse;
use axum::response::Response;

use crate::api::ApiConfig;
use crate::api::ratelimit::RateLimiter;
use crate::database::SharedStore;
use crate::prebuilds::metrics::collect_metrics;
use crate::prebuilds::reconciler::ReconcilerConfig;
use crate::process::ProcessFigures;
use crate::testing::control::TestControls;

/// What the endpoints answer from. Created before startup; [`HttpState::mark_ready`] once
/// startup is done.
pub struct HttpState {
    started: Instant,
    replica_id: String,
    reconciler: ReconcilerConfig,
    pub(crate) api: ApiConfig,
    pub(crate) login_limiter: RateLimiter,
    ready: OnceLock<Ready>,
    test_controls: OnceLock<Arc<TestControls>>,
    /// Turns true when the server stops: streams (watch, followed logs) end at once instead
    /// of holding the shutdown up.
    streams_closed: tokio::sync::watch::Sender<bool>,
}

pub(crate) struct Ready {
    pub(crate) store: SharedStore,
    schema_version: i64,
}

impl HttpState {
    pub fn new(replica_id: String, reconciler: ReconcilerConfig) -> Self {
        Self::with_api(replica_id, reconciler, ApiConfig::default())
    }

    /// With the API's settings (token lifetimes).
    pub fn with_api(replica_id: String, reconciler: ReconcilerConfig, api: ApiConfig) -> Self {
        let login_limiter = RateLimiter::new(api.login_rate_limit);
        Self {
            started: Instant::now(),
            replica_id,
            reconciler,
            api,
            login_limiter,
            ready: OnceLock::new(),
            test_controls: OnceLock::new(),
            streams_closed: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Startup is done: `/healthz` answers 200, `/metrics` and the API read `store` from now on.
    pub fn mark_ready(&self, store: SharedStore, schema_version: i64) {
        let _ = self.ready.set(Ready { store, schema_version });
    }

    /// Serves the test controls under `/api/coderlite/v1` (`--test-controls`).
    pub fn enable_test_controls(&self, controls: Arc<TestControls>) {
        let _ = self.test_controls.set(controls);
    }

    /// The test controls, when the server has them.
    pub(crate) fn test_controls(&self) -> Option<Arc<TestControls>> {
        self.test_controls.get().cloned()
    }

    /// Ends every open stream (the server is stopping).
    pub fn close_streams(&self) {
        self.streams_closed.send_replace(true);
    }

    /// Resolves once [`Self::close_streams`] was called.
    pub(crate) async fn streams_closed(&self) {
        let mut rx = self.streams_closed.subscribe();
        let _ = rx.wait_for(|closed| *closed).await;
    }

    /// The store, once startup is done.
    pub(crate) fn store(&self) -> Option<&SharedStore> {
        self.ready.get().map(|r| &r.store)
    }

    fn healthz(&self) -> (u16, String) {
        let uptime = self.started.elapsed().as_secs_f64();
        match self.ready.get() {
            Some(ready) => {
                let now = ready.store.clock().now();
                let replicas =
                    ready.store.list_replicas().map(|rows| crate::replicas::live(&rows, now).len()).unwrap_or_default();
                (
                    200,
                    serde_json::json!({
                        "status": "ok",
                        "schema_version": ready.schema_version,
                        "uptime_seconds": uptime,
                        "replica_id": self.replica_id,
                        "replicas": replicas,
                    })
                    .to_string(),
                )
            }
            None => (503, serde_json::json!({ "status": "starting", "uptime_seconds": uptime }).to_string()),
        }
    }

    fn metrics(&self) -> (u16, String) {
        let mut text = String::new();
        let mut status = 200;
        match self.ready.get() {
            Some(ready) => match collect_metrics(&*ready.store, &self.reconciler) {
                Ok(m) => text.push_str(&m.render_prometheus()),
                Err(error) => {
                    tracing::warn!(%error, "collect prebuild metrics");
                    status = 500;
                }
            },
            None => status = 503,
        }
        if let Some(Ok(Some(wal))) = self.ready.get().map(|r| r.store.wal_status()) {
            text.push_str(&format!(
                "# HELP coderlite_sqlite_wal_bytes Size of the SQLite write-ahead log.\n\
                 # TYPE coderlite_sqlite_wal_bytes gauge\ncoderlite_sqlite_wal_bytes {}\n",
                wal.wal_bytes
            ));
            text.push_str(&format!(
                "# HELP coderlite_sqlite_memory_bytes Heap memory SQLite holds (page caches, statements).\n\
                 # TYPE coderlite_sqlite_memory_bytes gauge\ncoderlite_sqlite_memory_bytes {}\n",
                crate::database::sqlite::memory_used_bytes()
            ));
        }
        text.push_str(&ProcessFigures::read(self.started.elapsed()).render_prometheus());
        (status, text)
    }
}

pub(crate) async fn healthz(State(state): State<Arc<HttpState>>) -> Response {
    // Reads the store (the registered replicas): off the async workers.
    let answer = tokio::task::spawn_blocking(move || state.healthz()).await;
    let (status, body) = answer.unwrap_or_else(|_| (500, String::new()));
    text(status, body, "application/json")
}

pub(crate) async fn metrics(State(state): State<Arc<HttpState>>) -> Response {
    // Reads the store: off the async workers.
    let answer = tokio::task::spawn_blocking(move || state.metrics()).await;
    let (status, body) = answer.unwrap_or_else(|_| (500, String::new()));
    text(status, body, "text/plain; version=0.0.4")
}

fn text(status: u16, body: String, content_type: &'static str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}
