//! Authentication as upstream does it: API keys `<10-char id>-<22-char secret>` (only a
//! SHA-256 of the secret is stored, compared in constant time), read from the
//! `coder_session_token` cookie, the query parameter of that name, the `Coder-Session-Token`
//! header or a bearer token. Keys, passwords and roles themselves are the identity domain's
//! ([`crate::identity`]). System users never authenticate.

use std::time::Duration;

use axum::http::StatusCode;
use subtle::ConstantTimeEq;

use crate::api::Api;
use crate::api::ApiError;
use crate::api::ApiResult;
use crate::api::Req;
use crate::clock::Timestamp;
use crate::database::models::ApiKey;
use crate::database::models::LoginType;
use crate::database::models::User;
use crate::database::models::UserStatus;
use crate::identity::keys::hash_secret;
use crate::identity::keys::issue_key;
use crate::identity::keys::parse_token;
use crate::identity::roles::Roles;

/// The cookie and query parameter that carry a session token.
pub const SESSION_COOKIE: &str = "coder_session_token";
/// The header that carries a session token.
pub const SESSION_HEADER: &str = "Coder-Session-Token";
/// Upstream's message for every 401 of the key middleware.
pub const SIGNED_OUT: &str = "You are signed out or your session has expired. Please sign in again to continue.";

/// The session token of a request: cookie, query parameter, header, then bearer.
pub fn token_from_request(req: &Req) -> Option<String> {
    let cookie = req.headers.get_all(axum::http::header::COOKIE).iter().find_map(|v| {
        v.to_str().ok()?.split(';').find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == SESSION_COOKIE && !v.is_empty()).then(|| v.to_owned())
        })
    });
    cookie
        .or_else(|| req.param(SESSION_COOKIE).filter(|v| !v.is_empty()).map(str::to_owned))
        .or_else(|| {
            req.headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty()).map(str::to_owned)
        })
        .or_else(|| {
            let auth = req.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
            let (scheme, token) = auth.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
        })
        .or_else(|| req.param("access_token").filter(|v| !v.is_empty()).map(str::to_owned))
}

/// Who is calling: the user, the key used, and the user's site roles.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub key: ApiKey,
    pub roles: Roles,
}

fn unauthorized(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, SIGNED_OUT).detail(detail)
}

/// A time as Go's `time.Time.String()` writes it (upstream's expiry message shows it).
pub fn go_time_string(t: Timestamp) -> String {
    let frac = format!("{:09}", t.timestamp_subsec_nanos());
    let frac = frac.trim_end_matches('0');
    let frac = if frac.is_empty() { String::new() } else { format!(".{frac}") };
    format!("{}{frac} +0000 UTC", t.format("%Y-%m-%d %H:%M:%S"))
}

/// Authenticates a request. Records the key's use at most once an hour, and slides a password
/// session's expiry forward as upstream does.
pub fn authenticate(api: &Api<'_>, req: &Req) -> ApiResult<Caller> {
    let token = token_from_request(req)
        .ok_or_else(|| unauthorized(format!("Cookie {SESSION_COOKIE:?} or query parameter must be provided.")))?;
    let (id, secret) = parse_token(&token).map_err(unauthorized)?;
    let key = api.store.get_api_key_by_id(id)?.ok_or_else(|| unauthorized("API key is invalid."))?;
    if !bool::from(key.hashed_secret.as_slice().ct_eq(&hash_secret(secret))) {
        return Err(unauthorized("API key secret is invalid."));
    }
    let now = api.now();
    if key.expires_at <= now {
        return Err(unauthorized(format!("API key expired at {:?}.", go_time_string(key.expires_at))));
    }
    let mut user = api.store.get_user_by_id(&key.user_id)?;
    if user.is_system || user.deleted {
        return Err(unauthorized("API key is invalid."));
    }
    match user.status {
        UserStatus::Active => {}
        UserStatus::Dormant => {
            user = api.store.update_user_status(&user.id, UserStatus::Active, now)?;
        }
        UserStatus::Suspended => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                format!(
                    "User is not active (status = {:?}). Contact an admin to reactivate your account.",
                    user.status.as_str()
                ),
            ));
        }
    }
    let hour = chrono::Duration::hours(1);
    let lifetime = chrono::Duration::seconds(key.lifetime_seconds);
    let mut expires_at = key.expires_at;
    if key.login_type == LoginType::Password && expires_at - now <= lifetime - hour {
        expires_at = now + lifetime;
    }
    if now - key.last_used > hour || expires_at != key.expires_at {
        api.store.update_api_key_usage(&key.id, now, expires_at)?;
    }
    let roles = Roles::from_names(&user.rbac_roles);
    Ok(Caller { user, key, roles })
}

/// [`issue_key`] for an API handler.
pub fn create_key(
    api: &Api<'_>,
    user: &User,
    login_type: LoginType,
    lifetime: Duration,
    token_name: &str,
) -> ApiResult<(String, ApiKey)> {
    Ok(issue_key(api.store, user, login_type, lifetime, token_name)?)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_token_comes_from_cookie_query_header_or_bearer_in_that_order() {
        let mut headers = HeaderMap::new();
        headers.insert(SESSION_HEADER, HeaderValue::from_static("from-header"));
        let req = Req::new(headers.clone(), Some("coder_session_token=from-query".into()));
        assert_eq!(token_from_request(&req).as_deref(), Some("from-query"));
        headers.insert("cookie", HeaderValue::from_static("a=b; coder_session_token=from-cookie"));
        let req = Req::new(headers, Some("coder_session_token=from-query".into()));
        assert_eq!(token_from_request(&req).as_deref(), Some("from-cookie"));
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer from-bearer"));
        assert_eq!(token_from_request(&Req::new(headers, None)).as_deref(), Some("from-bearer"));
        assert_eq!(token_from_request(&Req::new(HeaderMap::new(), None)), None);
    }

    #[test]
    fn times_print_as_go_prints_them() {
        let t = chrono::DateTime::parse_from_rfc3339("2024-01-02T03:04:05.123Z").unwrap().to_utc();
        assert_eq!(go_time_string(t), "2024-01-02 03:04:05.123 +0000 UTC");
        let t = chrono::DateTime::parse_from_rfc3339("2024-01-02T03:04:05Z").unwrap().to_utc();
        assert_eq!(go_time_string(t), "2024-01-02 03:04:05 +0000 UTC");
    }
}
