//! Authentication as upstream does it: API keys `<10-char id>-<22-char secret>` (only a
//! SHA-256 of the secret is stored, compared in constant time), read from the
//! `coder_session_token` cookie, the query parameter of that name, the `Coder-Session-Token`
//! header or a bearer token; passwords hashed with Argon2id. System users never authenticate.

use std::sync::OnceLock;
use std::time::Duration;

use argon2::Argon2;
use argon2::PasswordHash;
use argon2::PasswordHasher;
use argon2::PasswordVerifier;
use argon2::password_hash::SaltString;
use axum::http::StatusCode;
use sha2::Digest;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::api::Api;
use crate::api::ApiError;
use crate::api::ApiResult;
use crate::api::Req;
use crate::api::rbac::Roles;
use crate::clock::Timestamp;
use crate::database;
use crate::database::Store;
use crate::database::models::ApiKey;
use crate::database::models::InsertApiKey;
use crate::database::models::LoginType;
use crate::database::models::User;
use crate::database::models::UserStatus;

/// The cookie and query parameter that carry a session token.
pub const SESSION_COOKIE: &str = "coder_session_token";
/// The header that carries a session token.
pub const SESSION_HEADER: &str = "Coder-Session-Token";
/// Upstream's message for every 401 of the key middleware.
pub const SIGNED_OUT: &str = "You are signed out or your session has expired. Please sign in again to continue.";

const ID_LEN: usize = 10;
const SECRET_LEN: usize = 22;
const CHARSET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` characters drawn uniformly from upstream's alphanumeric charset.
fn random_string(n: usize) -> String {
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        getrandom::fill(&mut buf).expect("OS randomness");
        // 248 = 4 × 62: bytes at or above it would bias the draw.
        for b in buf.iter().filter(|b| **b < 248) {
            if out.len() == n {
                break;
            }
            out.push(CHARSET[usize::from(*b) % 62] as char);
        }
    }
    out
}

/// A new key's id and secret.
pub fn generate_key() -> (String, String) {
    (random_string(ID_LEN), random_string(SECRET_LEN))
}

/// What is stored of a secret.
pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Splits a token into id and secret, with upstream's reasons for a malformed one.
pub fn parse_token(token: &str) -> Result<(&str, &str), String> {
    let parts: Vec<&str> = token.split('-').collect();
    if parts.len() != 2 {
        return Err(format!(
            "Invalid API key format: incorrect amount of API key parts, expected 2 got {}",
            parts.len()
        ));
    }
    let (id, secret) = (parts[0], parts[1]);
    if id.len() != ID_LEN {
        return Err(format!("Invalid API key format: invalid API key ID length, expected {ID_LEN} got {}", id.len()));
    }
    if secret.len() != SECRET_LEN {
        return Err(format!(
            "Invalid API key format: invalid API key secret length, expected {SECRET_LEN} got {}",
            secret.len()
        ));
    }
    Ok((id, secret))
}

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

/// Creates a key for `user`: returns the token (shown once) and the stored row. System users
/// cannot hold keys (`SystemUser`). The API and the CLI's `tokens create` both issue keys here.
pub fn issue_key(
    store: &dyn Store,
    user: &User,
    login_type: LoginType,
    lifetime: Duration,
    token_name: &str,
) -> database::Result<(String, ApiKey)> {
    if user.is_system {
        return Err(database::Error::SystemUser { op: "create api key", user_id: user.id.clone() });
    }
    let now = store.clock().now();
    let (id, secret) = generate_key();
    let lifetime_seconds = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
    let key = store.insert_api_key(&InsertApiKey {
        id: &id,
        hashed_secret: &hash_secret(&secret),
        user_id: &user.id,
        expires_at: crate::clock::add_duration(now, lifetime),
        created_at: now,
        login_type,
        lifetime_seconds,
        token_name,
    })?;
    Ok((format!("{id}-{secret}"), key))
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

/// Argon2id with the parameters the process was told to use: OWASP's minimum by default;
/// `CODERLITE_PASSWORD_HASH=fast` (test suites only: a fast hash is cheap to brute-force)
/// makes hashing take microseconds. Verification reads the parameters from the stored hash,
/// so both kinds verify either way.
fn hasher() -> &'static Argon2<'static> {
    static HASHER: OnceLock<Argon2<'static>> = OnceLock::new();
    HASHER.get_or_init(|| {
        let fast = std::env::var("CODERLITE_PASSWORD_HASH").is_ok_and(|v| v == "fast");
        let params = if fast { argon2::Params::new(8, 1, 1, None) } else { argon2::Params::new(19 * 1024, 2, 1, None) }
            .expect("valid argon2 parameters");
        Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
    })
}

/// The PHC string of `password` with a fresh salt.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("OS randomness");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    hasher().hash_password(password.as_bytes(), &salt).expect("argon2 hashes any password").to_string()
}

/// Whether `password` matches `stored`, doing the work of one hash check whatever `stored`
/// is: without a stored hash (unknown account, or one without a password) it checks against
/// a dummy hash and answers false, so the answer's timing does not reveal which accounts
/// exist.
pub fn verify_password_in_constant_work(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    match stored.filter(|s| PasswordHash::new(s).is_ok()) {
        Some(stored) => verify_password(password, stored),
        None => {
            let dummy = DUMMY.get_or_init(|| hash_password("coderlite-no-such-account"));
            let _ = verify_password(password, dummy);
            false
        }
    }
}

/// Whether `password` matches the stored PHC string (false for an empty or unreadable one).
pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(hash) => Argon2::default().verify_password(password.as_bytes(), &hash).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn keys_have_upstreams_format() {
        let (id, secret) = generate_key();
        assert_eq!((id.len(), secret.len()), (10, 22));
        assert!(id.chars().chain(secret.chars()).all(|c| c.is_ascii_alphanumeric()));
        let token = format!("{id}-{secret}");
        assert_eq!(parse_token(&token).unwrap(), (id.as_str(), secret.as_str()));
        assert_eq!(
            parse_token("a-b-c").unwrap_err(),
            "Invalid API key format: incorrect amount of API key parts, expected 2 got 3"
        );
        assert_eq!(
            parse_token("short-0123456789012345678901").unwrap_err(),
            "Invalid API key format: invalid API key ID length, expected 10 got 5"
        );
        assert_eq!(hash_secret("x").len(), 32);
    }

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
    fn passwords_verify_and_wrong_ones_do_not() {
        let stored = hash_password("correct horse");
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &stored));
        assert!(!verify_password("wrong", &stored));
        assert!(!verify_password("", ""));
    }

    #[test]
    fn times_print_as_go_prints_them() {
        let t = chrono::DateTime::parse_from_rfc3339("2024-01-02T03:04:05.123Z").unwrap().to_utc();
        assert_eq!(go_time_string(t), "2024-01-02 03:04:05.123 +0000 UTC");
        let t = chrono::DateTime::parse_from_rfc3339("2024-01-02T03:04:05Z").unwrap().to_utc();
        assert_eq!(go_time_string(t), "2024-01-02 03:04:05 +0000 UTC");
    }
}
