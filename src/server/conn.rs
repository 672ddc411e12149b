//! The HTTP connection loop: hyper's HTTP/1 server on each accepted connection, with the
//! bounds `axum::serve` does not offer.
//!
//! - At most `max_connections` connections at once: the loop stops accepting while that many
//!   are open, so further clients wait in the kernel's backlog instead of exhausting file
//!   descriptors.
//! - A request head (request line and headers) must arrive within `read_header_timeout` of its
//!   first byte; a client that sends half a head and stalls is disconnected.
//! - A keep-alive connection with no request for `idle_timeout` is closed (gracefully: hyper
//!   closes it between requests).
//!
//! Each request gets the peer's address as axum's `ConnectInfo<SocketAddr>` (the login rate
//! limit is per client address).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Context;
use std::task::Poll;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use parking_lot::Mutex;
use tokio::io::AsyncRead;
use tokio::io::AsyncWrite;
use tokio::io::ReadBuf;
use tokio::net::TcpListener;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::sync::Semaphore;
use tokio::sync::watch;
use tokio::time::Instant;
use tower::ServiceExt;

/// The connection bounds, from the server's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// How long a request head may take from its first byte (`--http-read-header-timeout`).
    pub read_header_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request
    /// (`--http-idle-timeout`).
    pub idle_timeout: Duration,
    /// Connections served at once (`--http-max-connections`).
    pub max_connections: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self {
            read_header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
        }
    }
}

/// Where a connection is between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No request in progress since this instant.
    Idle(Instant),
    /// A request head began arriving at this instant.
    Head(Instant),
    /// A request is being answered.
    Busy,
}

/// What the watchdog decides for a connection at an instant. Pure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Nothing to do until this instant (`None`: until the phase changes).
    WaitUntil(Option<Instant>),
    /// Idle too long: close between requests.
    CloseIdle,
    /// A head took too long: drop the connection.
    DropSlowHead,
}

fn verdict(phase: Phase, now: Instant, limits: &ConnLimits) -> Verdict {
    match phase {
        Phase::Idle(since) if now >= since + limits.idle_timeout => Verdict::CloseIdle,
        Phase::Idle(since) => Verdict::WaitUntil(Some(since + limits.idle_timeout)),
        Phase::Head(since) if now >= since + limits.read_header_timeout => Verdict::DropSlowHead,
        Phase::Head(since) => Verdict::WaitUntil(Some(since + limits.read_header_timeout)),
        Phase::Busy => Verdict::WaitUntil(None),
    }
}

/// A connection's phase, shared by its socket wrapper, its service and its watchdog.
struct ConnState {
    phase: Mutex<Phase>,
    changed: Notify,
}

impl ConnState {
    fn set(&self, phase: Phase) {
        *self.phase.lock() = phase;
        self.changed.notify_one();
    }
}

/// The socket, noting when the first byte of a request head arrives.
struct Tracked {
    stream: TcpStream,
    state: Arc<ConnState>,
}

impl AsyncRead for Tracked {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let res = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            let mut phase = this.state.phase.lock();
            if matches!(*phase, Phase::Idle(_)) {
                *phase = Phase::Head(Instant::now());
                drop(phase);
                this.state.changed.notify_one();
            }
        }
        res
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Accepts and serves connections on `listener` until `shutdown` turns true, then lets open
/// connections finish their request in progress (at most `drain` long).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    mut shutdown: watch::Receiver<bool>,
    drain: Duration,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(error) => {
                    // Out of descriptors or a connection reset before accept: wait a moment.
                    tracing::debug!(%error, "accept");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            serve_connection(stream, peer, app, limits, shutdown).await;
            drop(permit);
        });
    }
    // Every slot back: every connection has ended.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(drain, slots.acquire_many(all)).await;
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ConnLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let state = Arc::new(ConnState { phase: Mutex::new(Phase::Idle(Instant::now())), changed: Notify::new() });
    let io = hyper_util::rt::TokioIo::new(Tracked { stream, state: state.clone() });
    let service_state = state.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        let app = app.clone();
        let state = service_state.clone();
        state.set(Phase::Busy);
        request.extensions_mut().insert(ConnectInfo(peer));
        crate::api::trim_trailing_slash(&mut request);
        async move {
            let response = app.oneshot(request.map(axum::body::Body::new)).await;
            state.set(Phase::Idle(Instant::now()));
            response.map_err(|never: Infallible| match never {})
        }
    });
    // With upgrades: a followed build log is a WebSocket.
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service).with_upgrades();
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        let now = Instant::now();
        let wake = match verdict(*state.phase.lock(), now, &limits) {
            Verdict::WaitUntil(at) => at,
            Verdict::CloseIdle => {
                if !closing {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                None
            }
            Verdict::DropSlowHead => {
                tracing::debug!(peer = %peer, "request head not received in time; closing the connection");
                return;
            }
        };
        let sleep = async {
            match wake {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!(peer = %peer, %error, "connection ended");
                }
                return;
            }
            _ = sleep => {}
            _ = state.changed.notified() => {}
            _ = shutdown.wait_for(|stop| *stop), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_and_slow_heads_are_timed_from_their_start() {
        let limits = ConnLimits {
            read_header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1,
        };
        let t0 = Instant::now();
        let s = Duration::from_secs;
        assert_eq!(verdict(Phase::Idle(t0), t0 + s(59), &limits), Verdict::WaitUntil(Some(t0 + s(60))));
        assert_eq!(verdict(Phase::Idle(t0), t0 + s(60), &limits), Verdict::CloseIdle);
        assert_eq!(verdict(Phase::Head(t0), t0 + s(9), &limits), Verdict::WaitUntil(Some(t0 + s(10))));
        assert_eq!(verdict(Phase::Head(t0), t0 + s(10), &limits), Verdict::DropSlowHead);
        // A request in progress is bounded by the request timeout, not by these.
        assert_eq!(verdict(Phase::Busy, t0 + s(3600), &limits), Verdict::WaitUntil(None));
    }
}
