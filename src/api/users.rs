//! Users: the first user, login and logout, auth methods, listing, creation, deletion,
//! suspension and activation, and a user's organizations.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::extract::Path;
use axum::extract::RawQuery;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::http::Uri;
use axum::http::header;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use axum::routing::post;
use axum::routing::put;
use serde::Deserialize;

use crate::api::Api;
use crate::api::ApiError;
use crate::api::ApiResult;
use crate::api::Req;
use crate::api::auth;
use crate::api::auth::Caller;
use crate::api::authed;
use crate::api::blocking;
use crate::api::message;
use crate::api::ok;
use crate::api::pagination;
use crate::api::read_json;
use crate::api::search;
use crate::api::shapes;
use crate::api::state::HttpState;
use crate::database::Error as DbError;
use crate::database::models::GetUsersParams;
use crate::database::models::InsertUser;
use crate::database::models::LoginType;
use crate::database::models::User;
use crate::database::models::UserStatus;
use crate::identity::first_user::FirstUser;
use crate::identity::first_user::FirstUserError;
use crate::identity::first_user::create_first_user;

pub(crate) fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/users/first", get(get_first_user).post(post_first_user))
        .route("/users/login", post(login))
        .route("/users/logout", post(logout))
        .route("/users/authmethods", get(auth_methods))
        .route("/users", get(list_users).post(create_user))
        .route("/users/{user}", get(get_user).delete(delete_user))
        .route("/users/{user}/status/activate", put(activate_user))
        .route("/users/{user}/status/suspend", put(suspend_user))
        .route("/users/roles", get(site_roles))
        .route("/users/{user}/roles", put(put_roles))
        .route("/users/{user}/profile", put(put_profile))
        .route("/users/{user}/password", put(put_password))
        .route("/users/{user}/organizations", get(user_organizations))
}

/// The session cookie upstream sets at login (and clears at logout).
fn session_cookie(token: &str, max_age: Option<i64>) -> HeaderValue {
    let age = max_age.map(|a| format!("; Max-Age={a}")).unwrap_or_default();
    HeaderValue::from_str(&format!("{}={token}; Path=/; HttpOnly; SameSite=Lax{age}", auth::SESSION_COOKIE))
        .unwrap_or_else(|_| HeaderValue::from_static("coder_session_token=; Path=/"))
}

/// `validate:"required,email"`: something `@` something, no spaces.
pub(crate) fn valid_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !domain.is_empty() && !email.contains(char::is_whitespace) && !domain.contains('@')
        }
        None => false,
    }
}

/// Upstream's go-playground validation failure.
pub(crate) fn validation_failed(failures: Vec<(&str, &str, &str)>) -> ApiError {
    failures.into_iter().fold(ApiError::bad_request("Validation failed."), |e, (field, tag, value)| {
        e.validation(field, format!("Validation failed for tag {tag:?} with value: \"{value}\""))
    })
}

/// The `username` (`required,username`) and real-name (`user_real_name`) checks of user
/// creation and profile updates, added to `failures`; returns the name to store. Upstream
/// trims a real name; coderlite refuses one over 128 characters instead of cutting it, and one
/// that is not a single printable line.
fn check_username_and_name<'a>(failures: &mut Vec<(&str, &str, &'a str)>, username: &'a str, name: &'a str) -> String {
    if username.is_empty() {
        failures.push(("username", "required", ""));
    } else if crate::names::name_valid(username).is_err() {
        failures.push(("username", "username", username));
    }
    let trimmed = name.trim().to_owned();
    if crate::names::user_real_name_valid(&trimmed).is_err() {
        failures.push(("name", "user_real_name", name));
    }
    trimmed
}

/// Resolves the `{user}` path parameter: `me`, a UUID or a username. Unknown, or not readable
/// by the caller, is upstream's 400.
pub(crate) fn resolve_user(api: &Api<'_>, caller: &Caller, param: &str) -> ApiResult<User> {
    if param.is_empty() {
        return Err(ApiError::bad_request("\"user\" must be provided."));
    }
    if param == "me" {
        return Ok(caller.user.clone());
    }
    let unknown = || {
        ApiError::bad_request("\"user\" must be an existing uuid or username.")
            .detail(format!("queried user={param:?}"))
    };
    let found = if uuid::Uuid::parse_str(param).is_ok() {
        api.store.get_user_by_id(param)
    } else {
        api.store.get_user_by_username(param)
    };
    let user = match found {
        Ok(u) if !u.deleted && !u.is_system => u,
        Ok(_) => return Err(unknown()),
        Err(e) if e.is_not_found() => return Err(unknown()),
        Err(e) => return Err(e.into()),
    };
    if user.id != caller.user.id && !caller.roles.read_all_users() {
        return Err(unknown());
    }
    Ok(user)
}

/// The organizations `user_id` belongs to (ids).
pub(crate) fn organization_ids_of(api: &Api<'_>, user_id: &str) -> ApiResult<Vec<String>> {
    let mut ids: Vec<String> = api
        .store
        .get_organization_members(None, true)?
        .into_iter()
        .filter(|m| m.user_id == user_id)
        .map(|m| m.organization_id)
        .collect();
    ids.sort();
    Ok(ids)
}

async fn get_first_user(State(s): State<Arc<HttpState>>) -> Response {
    blocking(s, move |api| {
        if api.store.get_user_count(false)? == 0 {
            message(StatusCode::NOT_FOUND, "The initial user has not been created!")
        } else {
            message(StatusCode::OK, "The initial user has already been created!")
        }
    })
    .await
}

#[derive(Deserialize)]
struct CreateFirstUserRequest {
    #[serde(default)]
    email: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

async fn post_first_user(State(s): State<Arc<HttpState>>, body: Result<Bytes, BytesRejection>) -> Response {
    blocking(s, move |api| {
        let req: CreateFirstUserRequest = read_json(body)?;
        let mut failures = Vec::new();
        if req.email.is_empty() {
            failures.push(("email", "required", req.email.as_str()));
        } else if !valid_email(&req.email) {
            failures.push(("email", "email", req.email.as_str()));
        }
        let name = check_username_and_name(&mut failures, &req.username, &req.name);
        if req.password.is_empty() {
            failures.push(("password", "required", ""));
        }
        if !failures.is_empty() {
            return Err(validation_failed(failures));
        }
        if api.store.get_user_count(false)? > 0 {
            return Err(ApiError::conflict("The initial user has already been created."));
        }
        // Hashing takes milliseconds: outside the write transaction.
        let hashed = crate::identity::password::hash_password(&req.password);
        let new = FirstUser { email: &req.email, username: &req.username, name: &name, hashed_password: &hashed };
        let (user_id, org_id) = create_first_user(api.store, &new).map_err(|e| match e {
            FirstUserError::AlreadyCreated => ApiError::conflict("The initial user has already been created."),
            FirstUserError::Taken => ApiError::conflict("User already exists."),
            FirstUserError::Database(e) => e.into(),
        })?;
        ok(StatusCode::CREATED, &serde_json::json!({ "user_id": user_id, "organization_id": org_id }))
    })
    .await
}

fn insert_user(
    api: &Api<'_>,
    email: &str,
    username: &str,
    name: &str,
    status: UserStatus,
    login_type: LoginType,
) -> ApiResult<User> {
    let now = api.now();
    api.store
        .insert_user(&InsertUser {
            id: &uuid::Uuid::new_v4().to_string(),
            email,
            username,
            name,
            status,
            login_type,
            created_at: now,
            last_seen_at: crate::clock::from_micros(0),
        })
        .map_err(|e| match e {
            DbError::UniqueViolation { .. } => ApiError::conflict("User already exists."),
            other => other.into(),
        })
}

#[derive(Deserialize)]
struct LoginRequest {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// Upstream's 429 of the login limit, with httprate's headers.
fn rate_limited(state: &HttpState, decision: &crate::api::ratelimit::Decision) -> Response {
    let mut response = ApiError::new(StatusCode::TOO_MANY_REQUESTS, state.login_limiter.message()).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(crate::api::ratelimit::WINDOW.as_secs()));
    add_rate_headers(state, decision, &mut response);
    response
}

fn add_rate_headers(state: &HttpState, decision: &crate::api::ratelimit::Decision, response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert("X-RateLimit-Limit", HeaderValue::from(decision.limit));
    headers.insert("X-RateLimit-Remaining", HeaderValue::from(decision.remaining));
    if let Some(store) = state.store() {
        let reset = store.clock().now() + chrono::Duration::from_std(decision.reset_in).unwrap_or_default();
        headers.insert("X-RateLimit-Reset", HeaderValue::from(reset.timestamp()));
    }
}

async fn login(
    State(s): State<Arc<HttpState>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // Per client address and path, before any work (upstream limits password logins against
    // brute force and hashing load alike).
    let decision = match peer {
        Some(Extension(ConnectInfo(addr))) if s.api.login_rate_limit > 0 => {
            let d = s.login_limiter.check(addr.ip(), uri.path(), std::time::Instant::now());
            if !d.allowed {
                return rate_limited(&s, &d);
            }
            Some(d)
        }
        _ => None,
    };
    let state = s.clone();
    let mut response = login_answer(s, body).await;
    if let Some(d) = decision {
        add_rate_headers(&state, &d, &mut response);
    }
    response
}

async fn login_answer(s: Arc<HttpState>, body: Result<Bytes, BytesRejection>) -> Response {
    blocking(s, move |api| {
        let req: LoginRequest = read_json(body)?;
        let mut failures = Vec::new();
        if req.email.is_empty() {
            failures.push(("email", "required", ""));
        } else if !valid_email(&req.email) {
            failures.push(("email", "email", req.email.as_str()));
        }
        if req.password.is_empty() {
            failures.push(("password", "required", ""));
        }
        if !failures.is_empty() {
            return Err(validation_failed(failures));
        }
        let incorrect = || ApiError::new(StatusCode::UNAUTHORIZED, "Incorrect email or password.");
        let user = match api.store.get_user_by_email(&req.email) {
            // System users never log in, whatever their row holds.
            Ok(u) if !u.is_system => Some(u),
            Ok(_) => None,
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        };
        let stored = match &user {
            Some(u) => Some(api.store.get_user_hashed_password(&u.id)?),
            None => None,
        };
        // An unknown account costs the same hash as a known one: timing tells nothing.
        let matches = crate::identity::password::verify_password_in_constant_work(&req.password, stored.as_deref());
        let Some(user) = user.filter(|_| matches) else {
            return Err(incorrect());
        };
        if user.login_type != LoginType::Password {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "Incorrect login type, attempting to use \"password\" but user is of login type {:?}",
                    user.login_type.as_str()
                ),
            ));
        }
        let user = match user.status {
            UserStatus::Suspended => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "Your account is suspended. Contact an admin to reactivate your account.",
                ));
            }
            UserStatus::Dormant => api.store.update_user_status(&user.id, UserStatus::Active, api.now())?,
            UserStatus::Active => user,
        };
        let (token, _) = auth::create_key(api, &user, LoginType::Password, api.config.session_duration, "")?;
        let mut response = ok(StatusCode::CREATED, &serde_json::json!({ "session_token": token }))?;
        response.headers_mut().insert(header::SET_COOKIE, session_cookie(&token, None));
        Ok(response)
    })
    .await
}

async fn logout(State(s): State<Arc<HttpState>>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        api.store.delete_api_key(&caller.key.id)?;
        let mut response = message(StatusCode::OK, "Logged out!")?;
        response.headers_mut().insert(header::SET_COOKIE, session_cookie("", Some(0)));
        Ok(response)
    })
    .await
}

async fn auth_methods(State(s): State<Arc<HttpState>>) -> Response {
    blocking(s, move |_| {
        ok(
            StatusCode::OK,
            &serde_json::json!({
                "password": { "enabled": true },
                "github": { "enabled": false, "default_provider_configured": false },
                "oidc": { "enabled": false, "signInText": "", "iconUrl": "" },
            }),
        )
    })
    .await
}

async fn list_users(State(s): State<Arc<HttpState>>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    blocking(s, move |api| {
        let req = Req::new(headers, q);
        let caller = auth::authenticate(api, &req)?;
        let (limit, offset) = pagination(&req)?;
        let terms = search::parse(req.param("q").unwrap_or(""), "search")
            .map_err(|d| ApiError::bad_request("Invalid user search query.").validation("q", d))?;
        let mut search_term = None;
        let mut statuses: Vec<UserStatus> = Vec::new();
        let mut roles: Vec<String> = Vec::new();
        for (key, value) in terms {
            match key.as_str() {
                "search" => search_term = Some(value),
                "status" => {
                    for v in value.split(',') {
                        statuses.push(v.parse().map_err(|_| {
                            ApiError::bad_request("Invalid user search query.").validation(
                                "status",
                                format!("Query param \"status\" has invalid values: {v:?} is not a valid value"),
                            )
                        })?);
                    }
                }
                "role" => roles.extend(value.split(',').map(str::to_owned)),
                other => {
                    return Err(ApiError::bad_request("Invalid user search query.")
                        .validation(other, format!("{other:?} is not a valid query param")));
                }
            }
        }
        let mut users: Vec<User> = api
            .store
            .get_users(&GetUsersParams { include_system: false, status: None, after_username: None, limit: 0 })?
            .into_iter()
            .filter(|u| caller.roles.read_all_users() || u.id == caller.user.id)
            .filter(|u| statuses.is_empty() || statuses.contains(&u.status))
            .filter(|u| {
                roles.is_empty()
                    || roles.iter().any(|r| r == "member")
                    || roles.iter().any(|r| u.rbac_roles.contains(r))
            })
            .filter(|u| {
                search_term
                    .as_deref()
                    .is_none_or(|t| u.username.to_lowercase().contains(t) || u.email.to_lowercase().contains(t))
            })
            .collect();
        users.sort_by_key(|u| u.username.to_lowercase());
        // A cursor: the page starts after that user (none after an unknown one, as upstream's
        // comparison with a missing row matches nothing).
        if let Some(after) = req.param("after_id").filter(|v| !v.is_empty()) {
            users = match users.iter().position(|u| u.id == after) {
                Some(i) => users.split_off(i + 1),
                None => Vec::new(),
            };
        }
        let count = users.len() as i64;
        let page: Vec<User> = users
            .into_iter()
            .skip(offset as usize)
            .take(if limit == 0 { usize::MAX } else { limit as usize })
            .collect();
        let members = api.store.get_organization_members(None, false)?;
        let body: Vec<shapes::User> = page
            .iter()
            .map(|u| {
                let mut ids: Vec<String> =
                    members.iter().filter(|m| m.user_id == u.id).map(|m| m.organization_id.clone()).collect();
                ids.sort();
                // A nil Go slice in the list handler: `null` without memberships.
                shapes::User::from_user(u, (!ids.is_empty()).then_some(ids))
            })
            .collect();
        let count = if body.is_empty() { 0 } else { count };
        ok(StatusCode::OK, &serde_json::json!({ "users": body, "count": count }))
    })
    .await
}

#[derive(Deserialize)]
struct CreateUserRequest {
    #[serde(default)]
    email: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    login_type: String,
    #[serde(default)]
    user_status: Option<String>,
    #[serde(default)]
    organization_ids: Vec<String>,
    #[serde(default)]
    organization_id: Option<String>,
}

async fn create_user(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        let req: CreateUserRequest = read_json(body)?;
        if !caller.roles.manage_users() {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "You are not authorized to create users."));
        }
        let mut failures = Vec::new();
        if req.email.is_empty() {
            failures.push(("email", "required", ""));
        } else if !valid_email(&req.email) {
            failures.push(("email", "email", req.email.as_str()));
        }
        let name = check_username_and_name(&mut failures, &req.username, &req.name);
        if !failures.is_empty() {
            return Err(validation_failed(failures));
        }
        let login_type = match req.login_type.as_str() {
            "" | "password" => LoginType::Password,
            "none" => LoginType::None,
            other => {
                return Err(ApiError::bad_request(format!(
                    "Unsupported login type {other:?} for manually creating new users."
                )));
            }
        };
        if login_type != LoginType::Password && !req.password.is_empty() {
            return Err(ApiError::bad_request(format!(
                "Password cannot be set for non-password ({:?}) authentication.",
                login_type.as_str()
            )));
        }
        let mut org_ids = req.organization_ids.clone();
        org_ids.extend(req.organization_id.clone());
        if org_ids.is_empty() {
            return Err(ApiError::bad_request(
                "No organization specified to place the user as a member of. It is required to specify at least one \
                 organization id to place the user in.",
            )
            .detail("required at least 1 value for the array 'organization_ids'")
            .validation("organization_ids", "Missing values, this cannot be empty"));
        }
        let default_org = api.store.get_default_organization()?;
        let mut orgs = Vec::new();
        for id in &org_ids {
            let id = if id == shapes::NIL_UUID { default_org.id.clone() } else { id.clone() };
            match api.store.get_organization_by_id(&id) {
                Ok(o) => orgs.push(o),
                Err(e) if e.is_not_found() => {
                    return Err(ApiError::new(
                        StatusCode::NOT_FOUND,
                        format!("Organization does not exist with the provided id {id:?}."),
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let status = match req.user_status.as_deref() {
            None | Some("") => UserStatus::Dormant,
            Some(s) => s.parse().map_err(|_| validation_failed(vec![("user_status", "oneof", s)]))?,
        };
        let user = insert_user(api, &req.email, &req.username, &name, status, login_type)?;
        if !req.password.is_empty() {
            api.store.update_user_hashed_password(
                &user.id,
                &crate::identity::password::hash_password(&req.password),
                api.now(),
            )?;
        }
        for org in &orgs {
            api.store.insert_organization_member(&crate::database::models::InsertOrganizationMember {
                organization_id: &org.id,
                user_id: &user.id,
                roles: &[],
                created_at: api.now(),
            })?;
        }
        let mut ids: Vec<String> = orgs.iter().map(|o| o.id.clone()).collect();
        ids.sort();
        ids.dedup();
        crate::audit::record(
            api.store,
            &caller.user.id,
            crate::api::shapes::NIL_UUID,
            "user",
            &user.id,
            &user.username,
            "create",
        )?;
        ok(StatusCode::CREATED, &shapes::User::from_user(&user, Some(ids)))
    })
    .await
}

async fn get_user(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(user): Path<String>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        let user = resolve_user(api, &caller, &user)?;
        let ids = organization_ids_of(api, &user.id)?;
        ok(StatusCode::OK, &shapes::User::from_user(&user, Some(ids)))
    })
    .await
}

async fn delete_user(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(user): Path<String>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        let user = resolve_user(api, &caller, &user)?;
        if !caller.roles.manage_users() {
            return Err(ApiError::forbidden());
        }
        if user.id == caller.user.id {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "You cannot delete yourself!"));
        }
        protect_owner(api, &caller, &user, "delete")?;
        let owned = api.store.get_workspaces_page(&crate::database::models::WorkspacePageParams {
            owner_id: Some(&user.id),
            limit: 1,
            ..Default::default()
        })?;
        if owned.count > 0 {
            return Err(ApiError::new(
                StatusCode::EXPECTATION_FAILED,
                "You cannot delete a user that has workspaces. Delete their workspaces and try again!",
            ));
        }
        api.store.delete_user(&user.id, api.now())?;
        crate::audit::record(
            api.store,
            &caller.user.id,
            crate::api::shapes::NIL_UUID,
            "user",
            &user.id,
            &user.username,
            "delete",
        )?;
        message(StatusCode::OK, "User has been deleted!")
    })
    .await
}

/// Owners are managed only by owners, and the last active owner stays: refuses `action` on
/// `user` otherwise (403 for a caller who may not, 400 for the last owner).
fn protect_owner(api: &Api<'_>, caller: &Caller, user: &User, action: &str) -> ApiResult<()> {
    let target = crate::identity::roles::Roles::from_names(&user.rbac_roles);
    if !caller.roles.manage_user(&target) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("You cannot {action} a user with the \"owner\" role: only an owner can."),
        ));
    }
    if target.owner && user.status == UserStatus::Active {
        let active_owners = api
            .store
            .get_users(&GetUsersParams {
                include_system: false,
                status: Some(UserStatus::Active),
                after_username: None,
                limit: 0,
            })?
            .iter()
            .filter(|u| u.rbac_roles.iter().any(|r| r == "owner"))
            .count();
        if active_owners <= 1 {
            return Err(ApiError::bad_request(format!(
                "You cannot {action} the last active owner: the deployment would have no owner left."
            )));
        }
    }
    Ok(())
}

fn set_status(api: &Api<'_>, caller: &Caller, param: &str, status: UserStatus) -> ApiResult<Response> {
    let user = resolve_user(api, caller, param)?;
    if !caller.roles.manage_users() {
        return Err(ApiError::forbidden());
    }
    if status == UserStatus::Suspended {
        if user.id == caller.user.id {
            return Err(ApiError::bad_request("You cannot suspend yourself."));
        }
        if user.rbac_roles.iter().any(|r| r == "owner") {
            return Err(ApiError::bad_request(
                "You cannot suspend a user with the \"owner\" role. You must remove the role first.",
            ));
        }
    }
    let updated = api.store.update_user_status(&user.id, status, api.now()).map_err(|e| {
        ApiError::internal(format!("Internal error updating user's status to {:?}.", status.as_str()), e)
    })?;
    user_written(api, caller, &updated)
}

/// Records a change of user `updated` by `caller` and answers the user as it is now.
fn user_written(api: &Api<'_>, caller: &Caller, updated: &User) -> ApiResult<Response> {
    crate::audit::record(
        api.store,
        &caller.user.id,
        shapes::NIL_UUID,
        "user",
        &updated.id,
        &updated.username,
        "write",
    )?;
    ok(StatusCode::OK, &shapes::User::from_user(updated, Some(organization_ids_of(api, &updated.id)?)))
}

async fn activate_user(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(user): Path<String>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        set_status(api, &caller, &user, UserStatus::Active)
    })
    .await
}

async fn suspend_user(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(user): Path<String>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        set_status(api, &caller, &user, UserStatus::Suspended)
    })
    .await
}

async fn user_organizations(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(user): Path<String>,
) -> Response {
    blocking(s, move |api| {
        let caller = auth::authenticate(api, &Req::new(headers, q))?;
        let user = resolve_user(api, &caller, &user)?;
        let ids = organization_ids_of(api, &user.id)?;
        let visible = crate::api::organizations::visible_organizations(api, &caller)?;
        let orgs: Vec<shapes::Organization> =
            visible.iter().filter(|o| ids.contains(&o.id)).map(shapes::Organization::from_row).collect();
        ok(StatusCode::OK, &orgs)
    })
    .await
}

/// `GET /users/roles`: the site roles, each with whether the caller may assign it (upstream's
/// `AssignableRoles`; coderlite does not model upstream's permission lists, so they are empty).
async fn site_roles(State(s): State<Arc<HttpState>>, req: Req) -> Response {
    authed(s, req, move |_api, _req, caller| {
        let roles: Vec<serde_json::Value> = crate::identity::roles::SITE_ROLES
            .iter()
            .filter(|(name, _)| crate::identity::roles::is_assignable(name))
            .map(|(name, display)| {
                serde_json::json!({
                    "name": name,
                    "display_name": display,
                    "site_permissions": [],
                    "organization_permissions": [],
                    "user_permissions": [],
                    "assignable": caller.roles.owner,
                    "built_in": true,
                })
            })
            .collect();
        ok(StatusCode::OK, &roles)
    })
    .await
}

#[derive(Deserialize)]
struct UpdateRoles {
    #[serde(default)]
    roles: Vec<String>,
}

/// `PUT /users/{user}/roles`: replaces a user's site roles. As upstream: never one's own
/// roles (checked before the body is read); only an owner grants or takes away a site role;
/// and the last active owner keeps the role.
async fn put_roles(
    State(s): State<Arc<HttpState>>,
    req: Req,
    Path(user): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    authed(s, req, move |api, _req, caller| {
        let user = resolve_user(api, &caller, &user)?;
        if user.id == caller.user.id {
            return Err(ApiError::bad_request("You cannot change your own roles."));
        }
        if !caller.roles.manage_users() {
            return Err(ApiError::forbidden());
        }
        let req: UpdateRoles = read_json(body)?;
        let mut requested: Vec<String> = req.roles.into_iter().filter(|r| r != "member").collect();
        requested.sort();
        requested.dedup();
        use crate::identity::roles::RoleChangeRefusal;
        match crate::identity::roles::check_role_change(&caller.roles, &user.rbac_roles, &requested) {
            Ok(()) => {}
            Err(RoleChangeRefusal::NotSupported(role)) => {
                return Err(ApiError::bad_request(format!("{role:?} is not a supported role"))
                    .validation("roles", format!("{role:?} is not a supported role")));
            }
            Err(RoleChangeRefusal::NotPermitted(role)) => {
                return Err(ApiError::forbidden().detail(format!("not authorized to assign role {role:?}")));
            }
        }
        if user.rbac_roles.iter().any(|r| r == "owner") && !requested.iter().any(|r| r == "owner") {
            protect_owner(api, &caller, &user, "demote")?;
        }
        let updated = api.store.update_user_roles(&user.id, &requested, api.now())?;
        user_written(api, &caller, &updated)
    })
    .await
}

#[derive(Deserialize)]
struct UpdateProfile {
    #[serde(default)]
    username: String,
    #[serde(default)]
    name: String,
}

/// `PUT /users/{user}/profile`: username and name, by the user or a user manager.
async fn put_profile(
    State(s): State<Arc<HttpState>>,
    req: Req,
    Path(user): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    authed(s, req, move |api, _req, caller| {
        let user = resolve_user(api, &caller, &user)?;
        let target = crate::identity::roles::Roles::from_names(&user.rbac_roles);
        if user.id != caller.user.id && !caller.roles.manage_user(&target) {
            return Err(ApiError::forbidden());
        }
        let req: UpdateProfile = read_json(body)?;
        let mut failures = Vec::new();
        let name = check_username_and_name(&mut failures, &req.username, &req.name);
        if !failures.is_empty() {
            return Err(validation_failed(failures));
        }
        let updated = api
            .store
            .update_user_profile(&crate::database::models::UpdateUserProfile {
                id: &user.id,
                username: &req.username,
                name: &name,
                updated_at: api.now(),
            })
            .map_err(|e| match e {
                DbError::UniqueViolation { .. } => ApiError::conflict("A user with this username already exists.")
                    .validation("username", "This value is already in use and should be unique."),
                other => other.into(),
            })?;
        user_written(api, &caller, &updated)
    })
    .await
}

#[derive(Deserialize)]
struct UpdatePassword {
    #[serde(default)]
    old_password: String,
    #[serde(default)]
    password: String,
}

/// `PUT /users/{user}/password`: one's own with the old password, or another's as a user
/// manager (an owner's only as an owner). 204.
async fn put_password(
    State(s): State<Arc<HttpState>>,
    req: Req,
    Path(user): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    authed(s, req, move |api, _req, caller| {
        let user = resolve_user(api, &caller, &user)?;
        let own = user.id == caller.user.id;
        let target = crate::identity::roles::Roles::from_names(&user.rbac_roles);
        if !own && !caller.roles.manage_user(&target) {
            return Err(ApiError::forbidden());
        }
        let req: UpdatePassword = read_json(body)?;
        if req.password.is_empty() {
            return Err(validation_failed(vec![("password", "required", "")]));
        }
        if user.login_type != LoginType::Password {
            return Err(ApiError::bad_request("Users without password login type cannot change their password."));
        }
        if own {
            let stored = api.store.get_user_hashed_password(&user.id)?;
            if !crate::identity::password::verify_password_in_constant_work(&req.old_password, Some(&stored)) {
                return Err(ApiError::bad_request("Old password is incorrect.")
                    .validation("old_password", "Old password is incorrect."));
            }
        }
        let hashed = crate::identity::password::hash_password(&req.password);
        api.store.update_user_hashed_password(&user.id, &hashed, api.now())?;
        crate::audit::record(
            api.store,
            &caller.user.id,
            crate::api::shapes::NIL_UUID,
            "user",
            &user.id,
            &user.username,
            "write",
        )?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_loosely_as_a_validator_would() {
        assert!(valid_email("a@b.c"));
        assert!(!valid_email("not-an-email"));
        assert!(!valid_email("a b@c"));
        assert!(!valid_email("@c"));
        assert!(!valid_email("a@"));
    }
}
