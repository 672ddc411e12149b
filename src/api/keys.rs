//! API keys: session keys (`POST /users/{user}/keys`) and named tokens with a lifetime.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::extract::RawQuery;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use axum::routing::post;
use serde::Deserialize;

use crate::api::Api;
use crate::api::ApiError;
use crate::api::ApiResult;
use crate::api::Req;
use crate::api::auth;
use crate::api::auth::Caller;
use crate::api::blocking;
use crate::api::ok;
use crate::api::read_json;
use crate::api::shapes;
use crate::api::state::HttpState;
use crate::api::users::resolve_user;
use crate::database::Error as DbError;
use crate::database::models::LoginType;
use crate::database::models::User;

pub(crate) fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/users/{user}/keys", post(create_session_key))
        .route("/users/{user}/keys/tokens", get(list_tokens).post(create_token))
        .route("/users/{user}/keys/tokens/{name}", get(get_token_by_name))
        .route("/users/{user}/keys/{id}", get(get_key).delete(delete_key))
}

/// The user whose keys the request is about: the caller, or anyone for an owner. Another
/// user's keys are not readable by others (404 on reads; `denied` on writes).
fn key_owner(api: &Api<'_>, caller: &Caller, param: &str) -> ApiResult<User> {
    key_owner_or(api, caller, param, ApiError::not_found)
}

fn key_owner_or(api: &Api<'_>, caller: &Caller, param: &str, denied: fn() -> ApiError) -> ApiResult<User> {
    // An unknown user is the same 400 as on every `{user}` path.
    let user = resolve_user(api, caller, param)?;
    if user.id != caller.user.id && !caller.roles.manage_all_keys() {
        return Err(denied());
    }
    Ok(user)
}

async fn create_session_key(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(user): Path<String>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        let user = key_owner_or(api, &caller, &user, ApiError::forbidden)?;
        let (token, _) = auth::create_key(api, &user, LoginType::Password, api.config.default_token_lifetime, "")?;
        ok(StatusCode::CREATED, &serde_json::json!({ "key": token }))
    })
    .await
}

#[derive(Deserialize)]
struct CreateTokenRequest {
    /// Nanoseconds, as Go's `time.Duration`; 0 or absent: the default lifetime.
    #[serde(default)]
    lifetime: i64,
    #[serde(default)]
    token_name: String,
    #[serde(default)]
    scope: String,
}

/// A token name as upstream's CLI picks one when none is given.
fn random_token_name() -> String {
    const LEFT: [&str; 8] = ["admiring", "brave", "clever", "eager", "focused", "gallant", "happy", "sleepy"];
    const RIGHT: [&str; 8] = ["turing", "hopper", "lovelace", "ritchie", "thompson", "knuth", "liskov", "kay"];
    let mut b = [0u8; 2];
    getrandom::fill(&mut b).expect("OS randomness");
    format!("{}_{}", LEFT[usize::from(b[0]) % 8], RIGHT[usize::from(b[1]) % 8])
}

/// Go's `time.Duration.String()` of whole hours/minutes/seconds (upstream's lifetime message).
fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    format!("{}h{}m{}s", secs / 3600, secs % 3600 / 60, secs % 60)
}

async fn create_token(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(user): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        let user = key_owner_or(api, &caller, &user, ApiError::forbidden)?;
        let req: CreateTokenRequest = read_json(body)?;
        let invalid =
            |detail: String| ApiError::bad_request("Failed to validate create API key request.").detail(detail);
        let lifetime = match req.lifetime {
            0 => api.config.default_token_lifetime,
            n if n < 0 => return Err(invalid("lifetime must be positive number greater than 0".to_owned())),
            n => Duration::from_nanos(n as u64),
        };
        if lifetime.as_secs() == 0 {
            return Err(invalid("lifetime must be positive number greater than 0".to_owned()));
        }
        if lifetime > api.config.max_token_lifetime {
            return Err(invalid(format!("lifetime must be less than {}", go_duration(api.config.max_token_lifetime))));
        }
        if !matches!(req.scope.as_str(), "" | "all" | "coder:all") {
            return Err(ApiError::bad_request("Failed to create API key.")
                .detail(format!("invalid or unsupported API key scope: {:?}", req.scope)));
        }
        if let Err(why) = crate::names::token_name_valid(&req.token_name) {
            return Err(ApiError::bad_request("Failed to validate create API key request.")
                .detail(format!("token name {why}"))
                .validation("token_name", why));
        }
        let name = if req.token_name.is_empty() { random_token_name() } else { req.token_name.clone() };
        let (token, _) = auth::create_key(api, &user, LoginType::Token, lifetime, &name).map_err(|e| {
            if e.status == StatusCode::CONFLICT {
                ApiError::conflict(format!("A token with name {name:?} already exists."))
                    .validation("name", "This value is already in use and should be unique.")
            } else {
                e
            }
        })?;
        crate::audit::record(
            api.store,
            &caller.user.id,
            crate::api::shapes::NIL_UUID,
            "api_key",
            crate::api::shapes::NIL_UUID,
            &name,
            "create",
        )?;
        ok(StatusCode::CREATED, &serde_json::json!({ "key": token }))
    })
    .await
}

async fn list_tokens(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(user): Path<String>,
) -> Response {
    blocking(s, move |api| {
        let req = Req::new(headers, q);
        let caller = auth::authenticate(api, &req)?;
        let user = key_owner(api, &caller, &user)?;
        let all = req.param("include_all") == Some("true") && caller.roles.manage_all_keys();
        let keys = api.store.list_api_keys((!all).then_some(user.id.as_str()), LoginType::Token)?;
        let mut owner_ids: Vec<String> = keys.iter().map(|k| k.user_id.clone()).collect();
        owner_ids.sort();
        owner_ids.dedup();
        let owners = crate::api::by_id(api.store.get_users_by_ids(&owner_ids)?, |u| &u.id);
        let body: Vec<shapes::ApiKeyWithOwner> = keys
            .iter()
            .map(|k| shapes::ApiKeyWithOwner {
                key: shapes::ApiKey::from_row(k),
                username: owners.get(&k.user_id).map(|u| u.username.clone()).unwrap_or_default(),
            })
            .collect();
        // Upstream builds this list from a nil slice: `null` when there are none.
        if body.is_empty() { ok(StatusCode::OK, &serde_json::Value::Null) } else { ok(StatusCode::OK, &body) }
    })
    .await
}

async fn get_token_by_name(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path((user, name)): Path<(String, String)>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        let user = key_owner(api, &caller, &user)?;
        let key = api.store.get_api_key_by_name(&user.id, &name)?.ok_or_else(ApiError::not_found)?;
        ok(StatusCode::OK, &shapes::ApiKey::from_row(&key))
    })
    .await
}

async fn get_key(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path((user, id)): Path<(String, String)>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        let user = key_owner(api, &caller, &user)?;
        let key = api.store.get_api_key_by_id(&id)?.filter(|k| k.user_id == user.id).ok_or_else(ApiError::not_found)?;
        ok(StatusCode::OK, &shapes::ApiKey::from_row(&key))
    })
    .await
}

async fn delete_key(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path((user, id)): Path<(String, String)>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        let user = key_owner(api, &caller, &user)?;
        match api.store.get_api_key_by_id(&id)? {
            Some(k) if k.user_id == user.id => {
                api.store
                    .delete_api_key(&id)
                    .map_err(|e: DbError| ApiError::internal("Internal error deleting API key.", e))?;
                crate::audit::record(
                    api.store,
                    &caller.user.id,
                    crate::api::shapes::NIL_UUID,
                    "api_key",
                    crate::api::shapes::NIL_UUID,
                    &k.token_name,
                    "delete",
                )?;
                Ok(StatusCode::NO_CONTENT.into_response())
            }
            _ => Err(ApiError::not_found()),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_go_prints_them() {
        assert_eq!(go_duration(Duration::from_secs(876_600 * 3600)), "876600h0m0s");
        assert_eq!(go_duration(Duration::from_secs(3725)), "1h2m5s");
    }
}
