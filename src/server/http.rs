//! The HTTP endpoint (`--http-address`): serves [`crate::api`]'s router (`/healthz`,
//! `/metrics` and upstream's `/api/v2`) on a small tokio runtime of its own (two workers;
//! store calls go to its blocking pool), so the rest of the server stays plain threads;
//! `stop` shuts down gracefully, letting requests in flight finish.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;

pub use crate::api::state::HttpState;
use crate::server::conn::ConnLimits;

/// The running endpoint; [`HttpServer::stop`] (or drop) stops it and joins its thread.
pub struct HttpServer {
    local_addr: Option<SocketAddr>,
    shutdown: Option<watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
    state: Arc<HttpState>,
}

impl HttpServer {
    /// Binds `addr` (`host:port`; port 0 picks a free one) and serves on a thread, with the
    /// default connection bounds.
    pub fn bind(addr: &str, state: Arc<HttpState>) -> io::Result<Self> {
        Self::bind_with(addr, state, ConnLimits::default())
    }

    /// [`HttpServer::bind`] with the given connection bounds.
    pub fn bind_with(addr: &str, state: Arc<HttpState>, limits: ConnLimits) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(32)
            .thread_name("http")
            .enable_io()
            .enable_time()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind(addr))?;
        let local_addr = listener.local_addr().ok();
        let (shutdown, stopped) = watch::channel(false);
        let app = crate::api::router(state.clone());
        let thread = std::thread::Builder::new().name("http".to_owned()).spawn(move || {
            runtime.block_on(crate::server::conn::serve(listener, app, limits, stopped, Duration::from_secs(5)));
            runtime.shutdown_timeout(Duration::from_secs(5));
        })?;
        Ok(Self { local_addr, shutdown: Some(shutdown), thread: Some(thread), state })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    pub fn stop(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            self.state.close_streams();
            let _ = shutdown.send(true);
        }
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
