//! What every request passes before a handler sees it, and what every answer passes on its
//! way out: a bounded URI, a path and query that decode to text without NUL characters, error
//! answers in upstream's JSON envelope even where the framework answers itself (405, 408,
//! 413), and one DEBUG line per request.

use std::time::Instant;

use axum::body::Body;
use axum::body::HttpBody;
use axum::extract::MatchedPath;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header;
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::response::Response;

use crate::api::ApiError;

/// The longest request target (path and query) served; longer is 414. Upstream's clients
/// send IDs and short filters; 8 KiB is what common proxies allow.
pub const MAX_URI_BYTES: usize = 8 << 10;

/// Refuses a request whose target is too long, or whose path or query does not decode to
/// text without NUL characters: 414 or 400 in upstream's envelope, naming the path parameter
/// or query parameter at fault.
pub async fn check_request(request: Request, next: Next) -> Response {
    let template = request.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned());
    if let Err(error) = check_target(request.uri(), template.as_deref()) {
        return error.into_response();
    }
    next.run(request).await
}

fn check_target(uri: &axum::http::Uri, template: Option<&str>) -> Result<(), ApiError> {
    let target_len = uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    if target_len > MAX_URI_BYTES {
        return Err(ApiError::new(StatusCode::URI_TOO_LONG, "Request URI is too long.")
            .detail(format!("the limit is {MAX_URI_BYTES} bytes, this one has {target_len}")));
    }
    let segments: Vec<&str> = uri.path().split('/').collect();
    let names: Vec<&str> = template.map(|t| t.split('/').collect()).unwrap_or_default();
    for (i, raw) in segments.iter().enumerate() {
        let field = names
            .get(i)
            .and_then(|n| n.strip_prefix('{'))
            .and_then(|n| n.strip_suffix('}'))
            .map(|n| n.trim_start_matches('*'))
            .unwrap_or("path");
        let decoded = percent_encoding::percent_decode_str(raw).decode_utf8().map_err(|_| {
            ApiError::bad_request("Invalid URL path.").validation(field, "must be valid UTF-8 once percent-decoded")
        })?;
        if let Err(why) = crate::names::nul_free(&decoded) {
            return Err(ApiError::bad_request("Invalid URL path.").validation(field, why));
        }
    }
    for pair in uri.query().unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode_query_part(key).map_err(|why| query_error("query", why))?;
        let value = decode_query_part(value).map_err(|why| query_error(&key, why))?;
        crate::names::nul_free(&key).map_err(|why| query_error("query", why))?;
        crate::names::nul_free(&value).map_err(|why| query_error(&key, why))?;
    }
    Ok(())
}

/// A query key or value as `application/x-www-form-urlencoded` decodes it.
fn decode_query_part(text: &str) -> Result<String, String> {
    let plus_as_space = text.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| "must be valid UTF-8 once percent-decoded".to_owned())
}

fn query_error(field: &str, why: String) -> ApiError {
    ApiError::bad_request("Query parameters have invalid values.")
        .validation(field, format!("Query param {field:?} {why}"))
}

/// Gives an error answer the framework wrote without a body (405 from the router, 408 from
/// the timeout, 413 from a body limit) upstream's `{"message"}` envelope.
pub async fn envelope_bare_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.headers().contains_key(header::CONTENT_TYPE)
        || response.body().size_hint().exact() != Some(0)
    {
        return response;
    }
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => "Method not allowed.".to_owned(),
        StatusCode::REQUEST_TIMEOUT => "Request timed out.".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => "Request body is too large.".to_owned(),
        other => format!("{}.", other.canonical_reason().unwrap_or("Error")),
    };
    let mut answer = ApiError::new(status, message).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = response.headers().get(&name) {
            answer.headers_mut().insert(name, value.clone());
        }
    }
    answer
}

/// One DEBUG line per request: method, route template (never the query string, which may
/// hold a token, and never a body), status and time taken.
pub async fn log_request(request: Request<Body>, next: Next) -> Response {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return next.run(request).await;
    }
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::debug!(
        method = %method,
        route = route.as_deref().unwrap_or("(no route)"),
        status = response.status().as_u16(),
        took_ms = started.elapsed().as_secs_f64() * 1000.0,
        "http request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(target: &str, template: Option<&str>) -> Result<(), (String, String)> {
        let uri: axum::http::Uri = target.parse().unwrap();
        check_target(&uri, template).map_err(|e| {
            let v = e.validations.first().cloned().map(|v| (v.field, v.detail)).unwrap_or_default();
            (v.0, format!("{} {}", e.status.as_u16(), v.1))
        })
    }

    #[test]
    fn paths_and_queries_must_be_text_without_nul() {
        assert_eq!(check("/api/v2/users/alice?q=owner%3Ame&limit=5", Some("/api/v2/users/{user}")), Ok(()));
        let (field, why) = check("/api/v2/users/%00", Some("/api/v2/users/{user}")).unwrap_err();
        assert_eq!((field.as_str(), why.starts_with("400")), ("user", true));
        let (field, _) =
            check("/api/v2/users/me/keys/tokens/%ff%fe", Some("/api/v2/users/{user}/keys/tokens/{name}")).unwrap_err();
        assert_eq!(field, "name");
        let (field, why) = check("/api/v2/workspaces?q=%00", None).unwrap_err();
        assert_eq!(field, "q");
        assert!(why.contains("NUL"), "{why}");
        let (field, _) = check("/x?a%ff=1", None).unwrap_err();
        assert_eq!(field, "query");
        let long = format!("/api/v2/users?q={}", "a".repeat(MAX_URI_BYTES));
        assert!(check(&long, None).unwrap_err().1.starts_with("414"));
    }
}
