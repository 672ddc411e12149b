//! The optional HTTP endpoint (`--http-address`): `/healthz` and `/metrics`.
//!
//! tiny_http serves it: a small, synchronous server with few dependencies and no async
//! runtime. Two read-only endpoints polled by a probe and a scraper need nothing more, and
//! the rest of the server is plain threads too.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::Instant;

use tiny_http::Header;
use tiny_http::Method;
use tiny_http::Request;
use tiny_http::Response;

use crate::database::SharedStore;
use crate::prebuilds::metrics::collect_metrics;
use crate::prebuilds::reconciler::ReconcilerConfig;
use crate::server::process::ProcessFigures;

/// What the endpoints answer from. Created before startup; [`HttpState::mark_ready`] once
/// startup is done.
pub struct HttpState {
    started: Instant,
    replica_id: String,
    reconciler: ReconcilerConfig,
    ready: OnceLock<Ready>,
}

struct Ready {
    store: SharedStore,
    schema_version: i64,
}

impl HttpState {
    pub fn new(replica_id: String, reconciler: ReconcilerConfig) -> Self {
        Self { started: Instant::now(), replica_id, reconciler, ready: OnceLock::new() }
    }

    /// Startup is done: `/healthz` answers 200 and `/metrics` reads `store` from now on.
    pub fn mark_ready(&self, store: SharedStore, schema_version: i64) {
        let _ = self.ready.set(Ready { store, schema_version });
    }

    fn healthz(&self) -> (u16, String) {
        let uptime = self.started.elapsed().as_secs_f64();
        match self.ready.get() {
            Some(ready) => (
                200,
                serde_json::json!({
                    "status": "ok",
                    "schema_version": ready.schema_version,
                    "uptime_seconds": uptime,
                    "replica_id": self.replica_id,
                })
                .to_string(),
            ),
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
        text.push_str(&ProcessFigures::read(self.started.elapsed()).render_prometheus());
        (status, text)
    }
}

/// The running endpoint; [`HttpServer::stop`] (or drop) stops it and joins its thread.
pub struct HttpServer {
    server: Arc<tiny_http::Server>,
    local_addr: Option<SocketAddr>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Binds `addr` (`host:port`; port 0 picks a free one) and serves on a thread.
    pub fn bind(addr: &str, state: Arc<HttpState>) -> io::Result<Self> {
        let server = Arc::new(tiny_http::Server::http(addr).map_err(io::Error::other)?);
        let local_addr = server.server_addr().to_ip();
        let thread = {
            let server = server.clone();
            std::thread::Builder::new().name("http".to_owned()).spawn(move || {
                for request in server.incoming_requests() {
                    respond(&state, request);
                }
            })?
        };
        Ok(Self { server, local_addr, thread: Some(thread) })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    pub fn stop(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.shut();
    }
}

fn respond(state: &HttpState, request: Request) {
    let path = request.url().split('?').next().unwrap_or_default().to_owned();
    let (status, body, content_type) = match (request.method(), path.as_str()) {
        (Method::Get, "/healthz") => {
            let (status, body) = state.healthz();
            (status, body, "application/json")
        }
        (Method::Get, "/metrics") => {
            let (status, body) = state.metrics();
            (status, body, "text/plain; version=0.0.4")
        }
        (_, "/healthz" | "/metrics") => (405, "method not allowed\n".to_owned(), "text/plain"),
        _ => (404, "not found\n".to_owned(), "text/plain"),
    };
    let header = Header::from_bytes("Content-Type", content_type).expect("static header is valid");
    let response = Response::from_string(body).with_status_code(status).with_header(header);
    if let Err(error) = request.respond(response) {
        tracing::debug!(%error, path, "write http response");
    }
}
