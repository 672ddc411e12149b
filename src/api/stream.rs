//! Streamed answers: a response body fed by a channel (server-sent events), and upstream's
//! SSE frame format.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::Context;
use std::task::Poll;

use axum::body::Body;
use axum::body::Bytes;
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::http::header;
use axum::response::Response;
use http_body::Frame;
use serde::Serialize;
use tokio::sync::mpsc;

/// A body whose chunks come from a channel; it ends when the sender is dropped.
struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}

/// A `text/event-stream` answer with upstream's headers, and the sender its events go to.
pub fn event_stream() -> (Response, mpsc::Sender<Bytes>) {
    let (tx, rx) = mpsc::channel(16);
    let mut response = Response::new(Body::new(ChannelBody { rx }));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    headers.insert("X-Accel-Buffering", HeaderValue::from_static("no"));
    (response, tx)
}

/// One event as upstream's SSE sender writes it: `event: <type>`, then `data: <json>` (with
/// the JSON encoder's newline) when there is data, then a blank line.
pub fn sse_frame<T: Serialize>(event: &str, data: Option<&T>) -> Bytes {
    let mut frame = format!("event: {event}\n");
    if let Some(data) = data {
        let json = serde_json::to_string(data).unwrap_or_else(|_| "null".to_owned());
        frame.push_str(&format!("data: {}\n", crate::api::escape_html(&json)));
    }
    frame.push('\n');
    Bytes::from(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_upstreams() {
        assert_eq!(sse_frame::<()>("ping", None), "event: ping\n\n");
        assert_eq!(
            sse_frame("data", Some(&serde_json::json!({"a": "<b>"}))),
            "event: data\ndata: {\"a\":\"\\u003cb\\u003e\"}\n\n"
        );
    }
}
