//! Request bodies a handler left unread: read to their end (up to a bound) before the answer
//! goes out.
//!
//! A refusal (413 over the limit, 401, 404) leaves the rest of the body in the socket. hyper
//! then closes the connection, and closing a socket with unread input makes the kernel send a
//! reset: a client that writes its whole body before reading its answer (curl, Python's
//! `requests`, ureq) gets "broken pipe" or "connection reset" instead of the refusal. Go's
//! client reads while it writes, so upstream's users rarely see this; coderlite's synchronous
//! clients would. Reading what is left lets every client see the answer; past
//! [`UNREAD_BODY_DRAIN_BYTES`] the server gives up and closes as before.

use std::pin::Pin;
use std::sync::Arc;
use std::task::Context;
use std::task::Poll;

use axum::body::Body;
use axum::body::Bytes;
use axum::body::HttpBody;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http_body::Frame;
use http_body::SizeHint;
use parking_lot::Mutex;

/// How much of an unread body the server still reads before it answers: 16 times the body
/// limit, a fraction of a second on any network a client would send 16 MiB over.
pub const UNREAD_BODY_DRAIN_BYTES: u64 = 16 << 20;

/// Where a body dropped before its end is handed back to [`read_unread_body`].
type Leftover = Arc<Mutex<Option<Body>>>;

/// The request body as handlers see it; hands the rest back when dropped before its end.
struct ReturnedOnDrop {
    inner: Option<Body>,
    leftover: Leftover,
}

impl HttpBody for ReturnedOnDrop {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match self.inner.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.as_ref().map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint)
    }
}

impl Drop for ReturnedOnDrop {
    fn drop(&mut self) {
        if let Some(body) = self.inner.take().filter(|body| !body.is_end_stream()) {
            *self.leftover.lock() = Some(body);
        }
    }
}

/// Middleware: runs the request, then reads whatever of its body the handler left unread
/// (at most [`UNREAD_BODY_DRAIN_BYTES`]) before the response is written.
pub async fn read_unread_body(request: Request, next: Next) -> Response {
    let leftover = Leftover::default();
    let request = request.map(|body| Body::new(ReturnedOnDrop { inner: Some(body), leftover: leftover.clone() }));
    let response = next.run(request).await;
    let unread = leftover.lock().take();
    if let Some(mut body) = unread {
        discard(&mut body, UNREAD_BODY_DRAIN_BYTES).await;
    }
    response
}

/// Reads and drops `body`'s frames until its end, an error, or more than `limit` bytes.
async fn discard(body: &mut Body, limit: u64) {
    let mut read = 0u64;
    while read <= limit {
        match std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, |data| data.len() as u64),
            Some(Err(_)) | None => return,
        }
    }
}
