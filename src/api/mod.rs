//! Upstream's `/api/v2` for what coderlite holds: the same paths, JSON shapes,
//! status codes and error envelope as upstream Coder, so its clients and their test suites
//! can run against a coderlite server.
//!
//! **API Boundary.** Each handler is an async shell around a synchronous function that runs
//! on tokio's blocking pool ([`blocking`]): it authenticates the caller ([`auth`]), checks
//! what the caller may do (the site roles of [`crate::identity::roles`]), calls the domain and the `Store`, and converts rows to
//! upstream's shapes ([`shapes`]). Errors are [`ApiError`]s, written as upstream's
//! `{"message", "detail", "validations"}`.
//!
//! Files: `auth.rs` (the caller, from the request's token),
//! `search.rs` (the `q` syntax, pure), `shapes.rs` (codersdk's wire format), `body.rs`
//! (reading what a handler left of a request body), and one file per
//! endpoint family (`users.rs`, `keys.rs`, `organizations.rs`, `templates.rs`,
//! `workspaces.rs`, `insights.rs`, `prebuilds.rs`, `general.rs`).

pub mod audit;
pub mod auth;
mod body;
mod builds;
mod control;
mod files;
mod general;
mod guard;
mod insights;
mod keys;
mod organizations;
mod prebuilds;
pub mod ratelimit;
pub mod search;
pub mod shapes;
pub mod state;
mod stream;
mod templates;
mod users;
mod workspaces;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::http::header;
use axum::response::IntoResponse;
use axum::response::Response;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::state::HttpState;
use crate::clock::Timestamp;
use crate::database::Error as DbError;
use crate::database::Store;

/// Request bodies beyond this are refused with 413.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// How long a request may take before it is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a test-control call may take: moving a virtual clock by a day runs some 100,000
/// service ticks.
pub const CONTROL_TIMEOUT: Duration = Duration::from_secs(600);

/// The version every response names in `X-Coder-Build-Version` (upstream's clients tell a
/// Coder deployment by that header) and `/buildinfo` reports.
pub const BUILD_VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"), "+coderlite");

/// The API's settings, as upstream's server flags.
#[derive(Debug, Clone, Copy)]
pub struct ApiConfig {
    /// Lifetime of a password login's session (upstream `--session-duration`, 24h).
    pub session_duration: Duration,
    /// Lifetime of a token created without one (`--default-token-lifetime`, 7 days).
    pub default_token_lifetime: Duration,
    /// The longest token lifetime allowed (`--max-token-lifetime`, about 100 years).
    pub max_token_lifetime: Duration,
    /// Password logins per minute per client address and path (upstream's 60; 0: off).
    pub login_rate_limit: u32,
    /// Whether owners may rename workspaces (upstream's `--allow-workspace-renames`, off).
    pub allow_workspace_renames: bool,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            session_duration: Duration::from_secs(24 * 3600),
            default_token_lifetime: Duration::from_secs(7 * 24 * 3600),
            max_token_lifetime: Duration::from_secs(876_600 * 3600),
            login_rate_limit: ratelimit::DEFAULT_LOGIN_RATE_LIMIT,
            allow_workspace_renames: false,
        }
    }
}

/// What a handler's synchronous part works with.
pub struct Api<'a> {
    pub store: &'a dyn Store,
    pub config: &'a ApiConfig,
}

impl Api<'_> {
    pub fn now(&self) -> Timestamp {
        self.store.clock().now()
    }
}

/// A request's headers and query, for authentication and parameters.
pub struct Req {
    pub headers: HeaderMap,
    pub query: Vec<(String, String)>,
}

impl Req {
    pub fn new(headers: HeaderMap, query: Option<String>) -> Self {
        let query = query
            .map(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(&q).unwrap_or_default())
            .unwrap_or_default();
        Self { headers, query }
    }

    /// The value of query parameter `name`, if given (the first, when repeated).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A handler takes the request's headers and query as one `Req`.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Req {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Req::new(parts.headers.clone(), parts.uri.query().map(str::to_owned)))
    }
}

/// Runs an authenticated handler's synchronous part on the blocking pool: the caller is
/// authenticated first (401 otherwise), then `f` answers.
pub async fn authed<F>(state: Arc<HttpState>, req: Req, f: F) -> Response
where
    F: FnOnce(&Api<'_>, &Req, auth::Caller) -> ApiResult<Response> + Send + 'static,
{
    blocking(state, move |api| {
        let caller = auth::authenticate(api, &req)?;
        f(api, &req, caller)
    })
    .await
}

/// One entry of an error's `validations`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Validation {
    pub field: String,
    pub detail: String,
}

/// An error answer in upstream's envelope.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub detail: String,
    pub validations: Vec<Validation>,
}

/// The result of an API handler's synchronous part.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), detail: String::new(), validations: Vec::new() }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    pub fn validation(mut self, field: impl Into<String>, detail: impl Into<String>) -> Self {
        self.validations.push(Validation { field: field.into(), detail: detail.into() });
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// Upstream's answer for a missing resource and for one the caller may not read alike.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Resource not found or you do not have access to this resource")
    }

    /// Upstream's answer for an action the caller may not take on something it can see.
    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden.").detail(
            "You don't have permission to view this content. If you believe this is a mistake, please contact \
             your administrator or try signing in with different credentials.",
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    pub fn internal(message: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message).detail(detail.to_string())
    }
}

/// Store errors a handler does not map itself: a missing row is 404, a unique violation
/// 409, anything else 500.
impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match &e {
            DbError::NotFound { .. } => ApiError::not_found(),
            DbError::UniqueViolation { .. } => ApiError::conflict("Resource already exists.").detail(e.to_string()),
            DbError::SystemUser { .. } => ApiError::forbidden(),
            // Handlers refuse bad text first; should one slip through, it is still the
            // input's fault, and the engine's message is no business of the client.
            DbError::InvalidText { .. } => {
                ApiError::bad_request("Validation failed.").detail("a text value is not valid (NUL characters?)")
            }
            _ => ApiError::internal("An internal server error occurred.", e),
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    message: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    detail: &'a str,
    #[serde(skip_serializing_if = "<[Validation]>::is_empty")]
    validations: &'a [Validation],
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), message = %self.message, detail = %self.detail, "api error");
        }
        let body = ErrorBody { message: &self.message, detail: &self.detail, validations: &self.validations };
        json_response(self.status, &body)
    }
}

/// `value` as upstream writes JSON: compact, HTML characters escaped, a trailing newline.
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    let mut body = match serde_json::to_string(value) {
        Ok(text) => escape_html(&text),
        Err(e) => return ApiError::internal("Failed to encode the response.", e).into_response(),
    };
    body.push('\n');
    (status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body).into_response()
}

/// Go's `json.Encoder` escapes `<`, `>` and `&` (upstream never turns it off).
pub(crate) fn escape_html(json: &str) -> String {
    json.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

/// A success answer: status and body.
pub fn ok<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> ApiResult<Response> {
    Ok(json_response(status, value))
}

/// The one message body (`{"message": ...}`) answers of upstream.
pub fn message(status: StatusCode, text: &str) -> ApiResult<Response> {
    ok(status, &serde_json::json!({ "message": text }))
}

/// Runs a handler's synchronous part on the blocking pool, once startup is done (503
/// before).
pub async fn blocking<F>(state: Arc<HttpState>, f: F) -> Response
where
    F: FnOnce(&Api<'_>) -> ApiResult<Response> + Send + 'static,
{
    blocking_value(state, f).await.unwrap_or_else(IntoResponse::into_response)
}

/// As [`blocking`], answering `f`'s value: for handlers that go on after the synchronous
/// part (streams).
pub async fn blocking_value<T, F>(state: Arc<HttpState>, f: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce(&Api<'_>) -> ApiResult<T> + Send + 'static,
{
    let answer = tokio::task::spawn_blocking(move || {
        let Some(store) = state.store() else {
            return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "The server is starting."));
        };
        let api = Api { store: &**store, config: &state.api };
        f(&api)
    })
    .await;
    answer.unwrap_or_else(|e| Err(ApiError::internal("An internal server error occurred.", e)))
}

/// Reads a JSON request body as upstream's `httpapi.Read` does: a body that is not JSON is
/// 400 "Request body must be valid JSON."; one over the limit is 413.
pub fn read_json<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> ApiResult<T> {
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(status, "Request body is too large.").detail(format!("the limit is {MAX_BODY_BYTES} bytes"))
        } else {
            ApiError::new(status, "Failed to read the request body.").detail(rejection.body_text())
        }
    })?;
    let parsed = serde_json::from_slice(&body).map_err(|e| {
        let detail = if body.is_empty() { "EOF".to_owned() } else { e.to_string() };
        ApiError::bad_request("Request body must be valid JSON.").detail(detail)
    })?;
    // JSON can carry NUL only as the escape `\u0000`: look for the field only then.
    if body.windows(6).any(|w| w == b"\\u0000")
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body)
        && let Some(field) = crate::names::first_nul_in_json(&value)
    {
        return Err(ApiError::bad_request("Validation failed.").validation(field, "must not contain NUL characters"));
    }
    Ok(parsed)
}

/// Every route the HTTP endpoint serves: `/healthz`, `/metrics` and `/api/v2`, with the
/// layers of [`with_layers`].
pub fn router(state: Arc<HttpState>) -> Router {
    with_layers(
        Router::new()
            .route("/healthz", axum::routing::get(state::healthz))
            .route("/metrics", axum::routing::get(state::metrics))
            .nest("/api/v2", routes())
            .nest("/api/coderlite/v1", control::routes())
            .with_state(state),
    )
}

/// Serves `/users/` as `/users`, as upstream's router serves a route with a trailing slash
/// (its `r.Route(..)` + `r.Get("/")`): a path ending in `/` (other than `/` itself) loses it
/// before routing. The query is kept.
pub fn trim_trailing_slash<B>(request: &mut axum::http::Request<B>) {
    let uri = request.uri();
    let path = uri.path();
    if path.len() <= 1 || !path.ends_with('/') {
        return;
    }
    let trimmed = path.trim_end_matches('/');
    let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
    let target = match uri.query() {
        Some(q) => format!("{trimmed}?{q}"),
        None => trimmed.to_owned(),
    };
    if let Ok(pq) = target.parse::<axum::http::uri::PathAndQuery>() {
        let mut parts = uri.clone().into_parts();
        parts.path_and_query = Some(pq);
        if let Ok(new) = axum::http::Uri::from_parts(parts) {
            *request.uri_mut() = new;
        }
    }
}

/// The `/api/v2` routes.
pub fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .merge(general::routes())
        .merge(users::routes())
        .merge(keys::routes())
        .merge(organizations::routes())
        .merge(templates::routes())
        .merge(workspaces::routes())
        .merge(builds::routes())
        .merge(files::routes())
        .merge(audit::routes())
        .merge(prebuilds::routes())
        .merge(insights::routes())
        .fallback(|| async {
            json_response(StatusCode::NOT_FOUND, &serde_json::json!({"message": "Route not found."}))
        })
}

/// Layers around every route, innermost first: the body limit (413 through [`read_json`]),
/// the checks of path and query ([`guard`]), reading what a handler or the checks left of the
/// body before answering ([`body`]), the request timeout (408), upstream's envelope for bare error
/// answers, the build version header upstream's clients look for, and the request log.
pub fn with_layers(router: Router) -> Router {
    router
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(guard::check_request))
        .layer(axum::middleware::from_fn(body::read_unread_body))
        .layer(axum::middleware::from_fn(time_limit))
        .layer(axum::middleware::map_response(guard::envelope_bare_errors))
        .layer(axum::middleware::map_response(add_build_version))
        .layer(axum::middleware::from_fn(guard::log_request))
}

/// Answers 408 when a request takes longer than [`REQUEST_TIMEOUT`], or for the test
/// controls (a clock move runs every service tick it passes) [`CONTROL_TIMEOUT`].
async fn time_limit(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let limit = if request.uri().path().starts_with("/api/coderlite/") { CONTROL_TIMEOUT } else { REQUEST_TIMEOUT };
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}

async fn add_build_version(mut response: Response) -> Response {
    response.headers_mut().insert("X-Coder-Build-Version", HeaderValue::from_static(BUILD_VERSION));
    response
}

/// Parses `limit` and `offset` as upstream's pagination (positive 32-bit integers; a
/// missing one is 0, and a limit of 0 means none).
pub fn pagination(req: &Req) -> ApiResult<(u32, u32)> {
    let mut error = ApiError::bad_request("Query parameters have invalid values.");
    let mut parse = |name: &str| -> u32 {
        match req.param(name) {
            None | Some("") => 0,
            Some(v) => match v.parse::<i32>() {
                Ok(n) if n >= 0 => n as u32,
                Ok(n) => {
                    error = error.clone().validation(
                        name,
                        format!("Query param {name:?} must be a valid 32-bit positive integer: {n} is negative"),
                    );
                    0
                }
                Err(e) => {
                    error = error
                        .clone()
                        .validation(name, format!("Query param {name:?} must be a valid 32-bit positive integer: {e}"));
                    0
                }
            },
        }
    };
    let (limit, offset) = (parse("limit"), parse("offset"));
    // `after_id` (a cursor: the page starts after this row) must be a UUID.
    if let Some(after) = req.param("after_id").filter(|v| !v.is_empty())
        && uuid::Uuid::parse_str(after).is_err()
    {
        error = error.validation("after_id", "Query param \"after_id\" must be a valid uuid");
    }
    if error.validations.is_empty() { Ok((limit, offset)) } else { Err(error) }
}

/// Rows keyed by id, for joining batches fetched by id lists.
pub fn by_id<T, F: Fn(&T) -> &str>(rows: Vec<T>, key: F) -> HashMap<String, T> {
    rows.into_iter().map(|r| (key(&r).to_owned(), r)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_escaped_as_go_does() {
        assert_eq!(escape_html(r#"{"a":"<b>&"}"#), r#"{"a":"\u003cb\u003e\u0026"}"#);
    }

    #[test]
    fn a_nul_in_a_body_is_named_by_its_json_path() {
        let body = br#"{"name":"ok","rich_parameter_values":[{"name":"a","value":"x\u0000y"}]}"#;
        let err = read_json::<serde_json::Value>(Ok(Bytes::from_static(body))).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.validations[0].field, "rich_parameter_values[0].value");
        // An escaped backslash before "u0000" is no NUL.
        let fine = br#"{"name":"a\\u0000"}"#;
        assert!(read_json::<serde_json::Value>(Ok(Bytes::from_static(fine))).is_ok());
    }

    #[test]
    fn a_trailing_slash_is_served_as_without() {
        let trimmed = |target: &str| {
            let mut r = axum::http::Request::builder().uri(target).body(()).unwrap();
            trim_trailing_slash(&mut r);
            r.uri().to_string()
        };
        assert_eq!(trimmed("/api/v2/users/"), "/api/v2/users");
        assert_eq!(trimmed("/api/v2/templates/x/versions/?limit=2"), "/api/v2/templates/x/versions?limit=2");
        assert_eq!(trimmed("/"), "/");
        assert_eq!(trimmed("/api/v2/users"), "/api/v2/users");
    }

    #[test]
    fn pagination_is_validated_as_upstream() {
        let req = Req::new(HeaderMap::new(), Some("limit=25&offset=50".into()));
        assert_eq!(pagination(&req).unwrap(), (25, 50));
        let req = Req::new(HeaderMap::new(), Some("limit=-1&offset=x&after_id=xyz".into()));
        let err = pagination(&req).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            err.validations.iter().map(|v| v.field.as_str()).collect::<Vec<_>>(),
            ["limit", "offset", "after_id"]
        );
    }
}
