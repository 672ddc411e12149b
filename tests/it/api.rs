//! The HTTP API (SPEC §16) through a real HTTP client against a spawned `coderlite server`,
//! on both engines: every endpoint's success path and main error paths, each role's access,
//! token expiry and revocation, the wire shapes field by field, and no secret in the logs.

use std::collections::BTreeMap;
use std::time::Duration;

use coderlite::database::Engine;
use coderlite::database::models::PREBUILDS_SYSTEM_USER_ID;
use coderlite::testing::TestDb;
use serde_json::Value;
use serde_json::json;

use crate::support::api::*;
use crate::support::*;

/// The keys of a JSON object, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().cloned().collect();
    k.sort();
    k
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

/// The JSON types of an object's fields: "string", "number", "bool", "null", "array", "object".
fn types(v: &Value) -> BTreeMap<String, &'static str> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let t = match v {
                Value::Null => "null",
                Value::Bool(_) => "bool",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
            };
            (k.clone(), t)
        })
        .collect()
}

const USER_KEYS: &[&str] = &[
    "id",
    "username",
    "avatar_url",
    "name",
    "email",
    "created_at",
    "updated_at",
    "last_seen_at",
    "status",
    "login_type",
    "theme_preference",
    "organization_ids",
    "roles",
];

const TEMPLATE_KEYS: &[&str] = &[
    "id",
    "created_at",
    "updated_at",
    "organization_id",
    "organization_name",
    "organization_display_name",
    "organization_icon",
    "name",
    "display_name",
    "provisioner",
    "active_version_id",
    "active_user_count",
    "build_time_stats",
    "description",
    "deprecated",
    "deprecation_message",
    "icon",
    "default_ttl_ms",
    "activity_bump_ms",
    "autostop_requirement",
    "autostart_requirement",
    "created_by_id",
    "created_by_name",
    "allow_user_autostart",
    "allow_user_autostop",
    "allow_user_cancel_workspace_jobs",
    "failure_ttl_ms",
    "time_til_dormant_ms",
    "time_til_dormant_autodelete_ms",
    "require_active_version",
    "max_port_share_level",
    "cors_behavior",
    "use_classic_parameter_flow",
];

const WORKSPACE_KEYS: &[&str] = &[
    "id",
    "created_at",
    "updated_at",
    "owner_id",
    "owner_name",
    "owner_avatar_url",
    "organization_id",
    "organization_name",
    "template_id",
    "template_name",
    "template_display_name",
    "template_icon",
    "template_allow_user_cancel_workspace_jobs",
    "template_active_version_id",
    "template_require_active_version",
    "template_use_classic_parameter_flow",
    "latest_build",
    "latest_app_status",
    "outdated",
    "name",
    "last_used_at",
    "deleting_at",
    "dormant_at",
    "health",
    "automatic_updates",
    "allow_renames",
    "favorite",
    "next_start_at",
    "is_prebuild",
    "task_id",
];

const BUILD_KEYS: &[&str] = &[
    "id",
    "created_at",
    "updated_at",
    "workspace_id",
    "workspace_name",
    "workspace_owner_id",
    "workspace_owner_name",
    "template_version_id",
    "template_version_name",
    "build_number",
    "transition",
    "initiator_id",
    "initiator_name",
    "job",
    "reason",
    "resources",
    "deadline",
    "max_deadline",
    "status",
    "daily_cost",
    "matched_provisioners",
    "template_version_preset_id",
];

const JOB_KEYS: &[&str] = &[
    "id",
    "created_at",
    "status",
    "file_id",
    "tags",
    "queue_position",
    "queue_size",
    "organization_id",
    "initiator_id",
    "input",
    "type",
    "metadata",
    "logs_overflowed",
];

contract_tests! {
    /// Build info, the first user, login and logout, and the 401s of a signed-out caller.
    fn first_user_login_and_logout(engine) {
        let db = TestDb::on(engine).unwrap();
        let mut server =
            Server::start_with_env(&db, &["--http-address", "127.0.0.1:0"], &[("CODERLITE_PASSWORD_HASH", "fast")]);
        let started = server.wait_for_message("coderlite server started", Duration::from_secs(30));
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let e = Env {
            base: format!("http://{}/api/v2", started["http_address"].as_str().unwrap()),
            owner: String::new(),
            db,
            server,
            agent,
        };
        let info = e.call("GET", "/buildinfo", None, None);
        assert_eq!(info.status, 200);
        assert!(info.header("X-Coder-Build-Version").is_some(), "upstream's clients look for this header");
        assert_eq!(info.header("content-type"), Some("application/json; charset=utf-8"));
        assert!(info.text.ends_with('\n'), "Go's encoder ends the body with a newline");
        for key in ["external_url", "version", "dashboard_url", "telemetry", "workspace_proxy", "deployment_id"] {
            assert!(info.body.get(key).is_some(), "buildinfo without {key}");
        }
        assert_eq!(e.call("GET", "/users/first", None, None).status, 404);
        let methods = e.call("GET", "/users/authmethods", None, None);
        assert_eq!(methods.body["password"]["enabled"], true);
        assert_eq!(keys(&methods.body["oidc"]), sorted(&["enabled", "signInText", "iconUrl"]));

        let bad = e.call("POST", "/users/first", None, Some(&json!({"email": "nope", "username": "x y"})));
        assert_eq!(bad.status, 400, "{}", bad.text);
        assert_eq!(bad.body["message"], "Validation failed.");
        let fields: Vec<&str> = bad.body["validations"].as_array().unwrap().iter().map(|v| v["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["email", "username", "password"]);
        assert_eq!(
            bad.body["validations"][0]["detail"],
            "Validation failed for tag \"email\" with value: \"nope\""
        );
        let not_json = e.agent.post(format!("{}/users/first", e.base)).send("{not json").unwrap();
        assert_eq!(not_json.status().as_u16(), 400);

        let first = json!({"email": "root@example.com", "username": "root", "password": "correct horse battery"});
        let created = e.call("POST", "/users/first", None, Some(&first));
        assert_eq!(created.status, 201, "{}", created.text);
        assert_eq!(keys(&created.body), sorted(&["user_id", "organization_id"]));
        assert_eq!(e.call("POST", "/users/first", None, Some(&first)).status, 409);
        assert_eq!(e.call("GET", "/users/first", None, None).status, 200);

        let wrong = e.call("POST", "/users/login", None, Some(&json!({"email": "root@example.com", "password": "nope"})));
        assert_eq!((wrong.status, wrong.body["message"].as_str()), (401, Some("Incorrect email or password.")));
        // System users can never log in.
        let system = e.call("POST", "/users/login", None, Some(&json!({"email": "prebuilds@system", "password": ""})));
        assert_eq!(system.status, 400, "empty password is a validation error first");
        let system = e.call("POST", "/users/login", None, Some(&json!({"email": "prebuilds@system", "password": "x"})));
        assert_eq!(system.status, 401);
        let login = e.call(
            "POST",
            "/users/login",
            None,
            Some(&json!({"email": "ROOT@example.com", "password": "correct horse battery"})),
        );
        assert_eq!(login.status, 201, "{}", login.text);
        let token = login.body["session_token"].as_str().unwrap().to_owned();
        assert!(login.header("set-cookie").unwrap().starts_with("coder_session_token="));
        let me = e.get("/users/me", &token);
        assert_eq!(me.status, 200);
        assert_eq!(me.body["username"], "root");
        assert_eq!(me.body["roles"], json!([{"name": "owner", "display_name": "Owner"}]));

        let missing = e.call("GET", "/users/me", None, None);
        assert_eq!(missing.status, 401);
        assert_eq!(
            missing.body["message"],
            "You are signed out or your session has expired. Please sign in again to continue."
        );
        let malformed = e.get("/users/me", "not-a-token");
        assert_eq!(malformed.status, 401);
        assert!(malformed.body["detail"].as_str().unwrap().starts_with("Invalid API key format"));
        let (id, _) = token.split_once('-').unwrap();
        let wrong_secret = e.get("/users/me", &format!("{id}-{}", "x".repeat(22)));
        assert_eq!(wrong_secret.body["detail"], "API key secret is invalid.");

        let out = e.post("/users/logout", &token, json!({}));
        assert_eq!((out.status, out.body["message"].as_str()), (200, Some("Logged out!")));
        assert_eq!(e.get("/users/me", &token).body["detail"], "API key is invalid.");

        // Neither the password nor the token appears in the server's log.
        let (code, _, log) = e.server.terminate();
        assert_eq!(code, Some(0));
        let text = serde_json::to_string(&log).unwrap();
        assert!(!text.contains("correct horse") && !text.contains(&token), "a secret in the log");
    }

    /// Tokens: created by the CLI and the API, listed, fetched, revoked (next request 401),
    /// expired (401 naming the expiry); system users hold none.
    fn tokens_expire_and_revoke(engine) {
        let e = env(engine);
        assert_eq!(e.get("/users/me", &e.owner).status, 200);
        let created = e.post("/users/me/keys/tokens", &e.owner, json!({"token_name": "ci", "lifetime": 3_600_000_000_000i64}));
        assert_eq!(created.status, 201, "{}", created.text);
        let token = created.body["key"].as_str().unwrap().to_owned();
        assert_eq!(e.get("/users/me", &token).status, 200);
        let dup = e.post("/users/me/keys/tokens", &e.owner, json!({"token_name": "ci"}));
        assert_eq!(dup.status, 409, "{}", dup.text);
        assert_eq!(dup.body["validations"][0]["field"], "name");
        let bad = e.post("/users/me/keys/tokens", &e.owner, json!({"lifetime": -1}));
        assert_eq!(bad.status, 400);
        let long = e.post("/users/me/keys/tokens", &e.owner, json!({"lifetime": i64::MAX}));
        assert_eq!(long.body["detail"], "lifetime must be less than 876600h0m0s");

        let listed = e.get("/users/me/keys/tokens", &e.owner);
        assert_eq!(listed.status, 200);
        let names: Vec<&str> = listed.body.as_array().unwrap().iter().map(|k| k["token_name"].as_str().unwrap()).collect();
        assert!(names.contains(&"ci"), "{names:?}");
        let one = e.get("/users/me/keys/tokens/ci", &e.owner);
        assert_eq!(one.status, 200);
        assert_eq!(
            keys(&one.body),
            sorted(&["id", "user_id", "last_used", "expires_at", "created_at", "updated_at", "login_type", "scope",
                     "scopes", "token_name", "lifetime_seconds", "allow_list"])
        );
        assert_eq!((one.body["login_type"].as_str(), one.body["lifetime_seconds"].as_i64()), (Some("token"), Some(3600)));
        let id = token.split_once('-').unwrap().0;
        assert_eq!(e.get(&format!("/users/me/keys/{id}"), &e.owner).status, 200);

        // Revoked through the CLI: the next request is refused.
        let out = coderlite(&e.db).args(["tokens", "revoke", id]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(e.get("/users/me", &token).body["detail"], "API key is invalid.");
        assert_eq!(e.call("DELETE", &format!("/users/me/keys/{id}"), Some(&e.owner), None).status, 404);

        // Expiry: a token whose expiry has passed is refused on its next request.
        let expiring = e.post("/users/me/keys/tokens", &e.owner, json!({"token_name": "short"}));
        let token = expiring.body["key"].as_str().unwrap().to_owned();
        let id = token.split_once('-').unwrap().0.to_owned();
        let past = match e.db.engine() {
            Engine::Sqlite => format!("UPDATE api_keys SET expires_at = 1000000 WHERE id = '{id}'"),
            Engine::Postgres => format!("UPDATE api_keys SET expires_at = '1970-01-01T00:00:01Z' WHERE id = '{id}'"),
        };
        e.db.execute_sql(&past).unwrap();
        let expired = e.get("/users/me", &token);
        assert_eq!(expired.status, 401);
        assert_eq!(expired.body["detail"], "API key expired at \"1970-01-01 00:00:01 +0000 UTC\".");
        // Deleting a key through the API: 204, then gone.
        let another = e.post("/users/me/keys/tokens", &e.owner, json!({"token_name": "gone"}));
        let gone_id = another.body["key"].as_str().unwrap().split_once('-').unwrap().0.to_owned();
        assert_eq!(e.call("DELETE", &format!("/users/me/keys/{gone_id}"), Some(&e.owner), None).status, 204);
        // System users cannot hold tokens.
        let out = coderlite(&e.db).args(["tokens", "create", "--user", "prebuilds"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        // A member cannot read another user's tokens.
        let (_, member) = e.member("mallory");
        assert_eq!(e.get("/users/admin/keys/tokens", &member).status, 400, "admin is not readable to a member");
    }

    /// Users: listing with search and pagination, creation, conflicts, suspension and
    /// activation, deletion rules, and what a member may see and do.
    fn users_and_roles(engine) {
        let e = env(engine);
        let all = e.get("/users", &e.owner);
        assert_eq!(all.status, 200, "{}", all.text);
        assert_eq!(keys(&all.body), sorted(&["users", "count"]));
        assert_eq!(all.body["count"], 4, "system users are never listed");
        assert_eq!(keys(&all.body["users"][0]), sorted(USER_KEYS));
        let types_of = types(&all.body["users"][0]);
        assert_eq!((types_of["created_at"], types_of["roles"], types_of["organization_ids"]), ("string", "array", "array"));
        let page = e.get("/users?limit=2&offset=1", &e.owner);
        assert_eq!((page.body["users"].as_array().unwrap().len(), page.body["count"].as_i64()), (2, Some(4)));
        assert_eq!(e.get("/users?offset=100", &e.owner).body["count"], 0, "upstream's count of an empty page");
        let search = e.get("/users?q=ali", &e.owner);
        assert_eq!(search.body["users"][0]["username"], "alice");
        assert_eq!(e.get("/users?q=bogus:1", &e.owner).status, 400);
        assert_eq!(e.get("/users?limit=-1", &e.owner).status, 400);

        let (member_id, member) = e.member("mallory");
        let dup = e.post(
            "/users",
            &e.owner,
            json!({"email": "mallory@example.com", "username": "mallory2", "organization_ids": [shapes_nil()]}),
        );
        assert_eq!((dup.status, dup.body["message"].as_str()), (409, Some("User already exists.")));
        let no_org = e.post("/users", &e.owner, json!({"email": "x@example.com", "username": "x"}));
        assert_eq!(no_org.status, 400);
        assert_eq!(no_org.body["validations"][0]["field"], "organization_ids");

        // A member sees only itself and may not manage users.
        let mine = e.get("/users", &member);
        assert_eq!(mine.body["count"], 1);
        assert_eq!(e.get("/users/alice", &member).status, 400);
        let forbidden = e.post("/users", &member, json!({"email": "y@example.com", "username": "y", "organization_ids": [shapes_nil()]}));
        assert_eq!((forbidden.status, forbidden.body["message"].as_str()), (403, Some("You are not authorized to create users.")));
        assert_eq!(e.call("PUT", "/users/alice/status/suspend", Some(&member), None).status, 400);

        // Suspension: refused for oneself and for owners; a suspended user's token stops working.
        assert_eq!(e.call("PUT", "/users/me/status/suspend", Some(&e.owner), None).status, 400);
        let suspended = e.call("PUT", &format!("/users/{member_id}/status/suspend"), Some(&e.owner), None);
        assert_eq!((suspended.status, suspended.body["status"].as_str()), (200, Some("suspended")));
        assert_eq!(e.get("/users/me", &member).status, 401);
        let active = e.call("PUT", "/users/mallory/status/activate", Some(&e.owner), None);
        assert_eq!(active.body["status"], "active");
        assert_eq!(e.get("/users/me", &member).status, 200);

        // Deletion: not oneself, not a user with workspaces.
        assert_eq!(e.call("DELETE", "/users/me", Some(&e.owner), None).status, 403);
        assert_eq!(e.call("DELETE", "/users/alice", Some(&e.owner), None).status, 417);
        assert_eq!(e.call("DELETE", "/users/mallory", Some(&member), None).status, 403);
        let deleted = e.call("DELETE", "/users/mallory", Some(&e.owner), None);
        assert_eq!((deleted.status, deleted.body["message"].as_str()), (200, Some("User has been deleted!")));
        assert_eq!(e.get("/users/mallory", &e.owner).status, 400);
        // System users are never reachable.
        assert_eq!(e.get(&format!("/users/{PREBUILDS_SYSTEM_USER_ID}"), &e.owner).status, 400);
        let orgs = e.get("/users/alice/organizations", &e.owner);
        assert_eq!(orgs.body.as_array().unwrap().len(), 2);
    }

    /// Organizations, members and groups; a member sees only its own organizations.
    fn organizations_members_and_groups(engine) {
        let e = env(engine);
        let orgs = e.get("/organizations", &e.owner);
        assert_eq!(orgs.status, 200);
        assert_eq!(orgs.body.as_array().unwrap().len(), 2);
        assert_eq!(
            keys(&orgs.body[0]),
            sorted(&["id", "name", "display_name", "icon", "description", "created_at", "updated_at", "is_default"])
        );
        let default = e.get("/organizations/default", &e.owner);
        assert_eq!((default.body["name"].as_str(), default.body["is_default"].as_bool()), (Some("coder"), Some(true)));
        assert_eq!(e.get("/organizations/acme", &e.owner).body["name"], "acme");
        assert_eq!(e.get("/organizations/nope", &e.owner).status, 404);
        let members = e.get("/organizations/acme/members", &e.owner);
        assert_eq!(members.status, 200);
        assert_eq!(
            keys(&members.body[0]),
            sorted(&["username", "name", "avatar_url", "email", "global_roles", "user_id", "organization_id",
                     "created_at", "updated_at", "roles"])
        );
        let groups = e.get("/organizations/acme/groups", &e.owner);
        let names: Vec<&str> = groups.body.as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
        // By name; the prebuilds user's group appears once the reconciler has run.
        assert_eq!(names[0], "Everyone");
        assert!(names.contains(&"developers"), "{names:?}");
        let developers = groups.body.as_array().unwrap().iter().find(|g| g["name"] == "developers").unwrap();
        assert_eq!(developers["total_member_count"], 2);
        assert_eq!(developers["members"].as_array().unwrap().len(), 2);
        assert_eq!(developers["source"], "user");
        let everyone = &groups.body[0];
        assert_eq!(everyone["id"], everyone["organization_id"], "upstream's Everyone group has the org's id");

        let (_, member) = e.member("mallory");
        let visible = e.get("/organizations", &member);
        assert_eq!(visible.body.as_array().unwrap().len(), 1, "only the default organization");
        assert_eq!(e.get("/organizations/acme", &member).status, 404, "not 403: nothing leaks");
    }

    /// Templates, versions, presets (PascalCase keys), rich parameters; unreadable is 404,
    /// a malformed id 400.
    fn templates_versions_and_presets(engine) {
        let e = env(engine);
        let templates = e.get("/templates", &e.owner);
        assert_eq!(templates.status, 200);
        let list = templates.body.as_array().unwrap();
        assert_eq!(list.len(), 3);
        let docker = list.iter().find(|t| t["name"] == "docker").unwrap();
        assert_eq!(keys(docker), sorted(TEMPLATE_KEYS));
        assert_eq!(keys(&docker["build_time_stats"]), sorted(&["start", "stop", "delete"]));
        assert_eq!(keys(&docker["build_time_stats"]["start"]), sorted(&["P50", "P95"]));
        let id = docker["id"].as_str().unwrap();
        assert_eq!(e.get(&format!("/templates/{id}"), &e.owner).body["name"], "docker");
        assert_eq!(e.get("/templates/not-a-uuid", &e.owner).status, 400);
        assert_eq!(e.get(&format!("/templates/{}", uuid::Uuid::new_v4()), &e.owner).status, 404);
        assert_eq!(e.get("/organizations/coder/templates", &e.owner).body.as_array().unwrap().len(), 1);
        assert_eq!(e.get("/organizations/coder/templates/docker", &e.owner).body["id"], id);

        let versions = e.get(&format!("/templates/{id}/versions"), &e.owner);
        assert_eq!(versions.body.as_array().unwrap().len(), 2);
        let v2 = e.get(&format!("/templates/{id}/versions/v2"), &e.owner);
        assert_eq!(v2.status, 200);
        assert_eq!(
            keys(&v2.body),
            sorted(&["id", "template_id", "organization_id", "created_at", "updated_at", "name", "message", "job",
                     "readme", "created_by", "archived", "has_external_agent"])
        );
        assert_eq!(keys(&v2.body["job"]), sorted(&[JOB_KEYS, &["started_at", "completed_at"]].concat()));
        assert_eq!(e.get(&format!("/templates/{id}/versions/v9"), &e.owner).status, 404);
        let vid = v2.body["id"].as_str().unwrap();
        assert_eq!(e.get(&format!("/templateversions/{vid}"), &e.owner).body["name"], "v2");
        let presets = e.get(&format!("/templateversions/{vid}/presets"), &e.owner);
        assert_eq!(presets.status, 200);
        let small = presets.body.as_array().unwrap().iter().find(|p| p["Name"] == "small").unwrap();
        assert_eq!(keys(small), sorted(&["ID", "Name", "Parameters", "Default", "DesiredPrebuildInstances", "Description", "Icon"]));
        assert_eq!(small["DesiredPrebuildInstances"], 2);
        let params = e.get(&format!("/templateversions/{vid}/rich-parameters"), &e.owner);
        assert_eq!(params.status, 200);
        assert_eq!(params.body[0]["name"], "cpu");

        // A member of `coder` only sees `coder`'s templates.
        let (_, member) = e.member("mallory");
        let visible = e.get("/templates", &member);
        let names: Vec<&str> = visible.body.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["docker"]);
        let gpu = list.iter().find(|t| t["name"] == "gpu").unwrap()["id"].as_str().unwrap();
        assert_eq!(e.get(&format!("/templates/{gpu}"), &member).status, 404);
    }

    /// Workspaces: listing with `q` and pagination, lookups, a member's view, builds, and the
    /// conflict and error answers.
    fn workspaces_list_get_and_build(engine) {
        let e = env(engine);
        let all = e.get("/workspaces", &e.owner);
        assert_eq!(all.status, 200, "{}", all.text);
        assert_eq!(keys(&all.body), sorted(&["workspaces", "count"]));
        let n = all.body["count"].as_i64().unwrap();
        assert_eq!(n, all.body["workspaces"].as_array().unwrap().len() as i64);
        let w = &all.body["workspaces"][0];
        let mut expected = WORKSPACE_KEYS.to_vec();
        if w.get("autostart_schedule").is_some() {
            expected.push("autostart_schedule");
        }
        if w.get("ttl_ms").is_some() {
            expected.push("ttl_ms");
        }
        assert_eq!(keys(w), sorted(&expected));
        let build_keys = keys(&w["latest_build"]);
        let allowed = sorted(&[BUILD_KEYS, &["workspace_owner_avatar_url"]].concat());
        assert!(build_keys.iter().all(|k| allowed.contains(k)), "unexpected build keys: {build_keys:?}");
        for key in BUILD_KEYS {
            assert!(w["latest_build"].get(key).is_some(), "build without {key}");
        }
        assert!(w["latest_app_status"].is_null() && w["task_id"].is_null() && w["deleting_at"].is_null());
        assert_eq!(keys(&w["health"]), sorted(&["healthy", "failing_agents"]));

        let alice = e.get("/workspaces?q=owner:alice", &e.owner);
        assert!(alice.body["workspaces"].as_array().unwrap().iter().all(|w| w["owner_name"] == "alice"));
        let docker = e.get("/workspaces?q=template:docker", &e.owner);
        assert!(docker.body["workspaces"].as_array().unwrap().iter().all(|w| w["template_name"] == "docker"));
        // (The reconciler adds prebuilds meanwhile: count a stable subset.)
        let alice_n = alice.body["count"].as_i64().unwrap();
        let page = e.get("/workspaces?q=owner:alice&limit=1", &e.owner);
        assert_eq!((page.body["workspaces"].as_array().unwrap().len(), page.body["count"].as_i64()), (1, Some(alice_n)));
        assert_eq!(e.get("/workspaces?q=owner:nobody", &e.owner).body["count"], 0);
        assert_eq!(e.get("/workspaces?q=bogus:x", &e.owner).status, 400);

        let id = alice.body["workspaces"][0]["id"].as_str().unwrap().to_owned();
        let name = alice.body["workspaces"][0]["name"].as_str().unwrap().to_owned();
        assert_eq!(e.get(&format!("/workspaces/{id}"), &e.owner).body["id"], id.as_str());
        assert_eq!(e.get(&format!("/users/alice/workspace/{name}"), &e.owner).body["id"], id.as_str());
        assert_eq!(e.get("/users/alice/workspace/nope", &e.owner).status, 404);
        let build_id = e.get(&format!("/workspaces/{id}"), &e.owner).body["latest_build"]["id"].as_str().unwrap().to_owned();
        let build = e.get(&format!("/workspacebuilds/{build_id}"), &e.owner);
        assert_eq!(build.body["id"], build_id.as_str());

        // A member sees nothing of alice's, and cannot build it.
        let (_, member) = e.member("mallory");
        assert_eq!(e.get("/workspaces", &member).body["count"], 0);
        assert_eq!(e.get(&format!("/workspaces/{id}"), &member).status, 404);
        assert_eq!(e.get(&format!("/workspacebuilds/{build_id}"), &member).status, 404);
        assert_eq!(e.post(&format!("/workspaces/{id}/builds"), &member, json!({"transition": "stop"})).status, 404);

        // A stop build: 201, then a second is refused while the first is pending.
        let stop = e.post(&format!("/workspaces/{id}/builds"), &e.owner, json!({"transition": "stop"}));
        assert_eq!(stop.status, 201, "{}", stop.text);
        assert_eq!((stop.body["transition"].as_str(), stop.body["status"].as_str()), (Some("stop"), Some("pending")));
        let again = e.post(&format!("/workspaces/{id}/builds"), &e.owner, json!({"transition": "start"}));
        assert_eq!((again.status, again.body["message"].as_str()), (409, Some("A workspace build is already active.")));
        assert_eq!(e.post(&format!("/workspaces/{id}/builds"), &e.owner, json!({"transition": "jump"})).status, 400);
        assert_eq!(e.post(&format!("/workspaces/{id}/builds"), &e.owner, json!({})).status, 400);
    }

    /// Creating a workspace from a preset with a ready prebuild claims it: the same ID, now
    /// the caller's, with the caller's start build; the reconciler replaces it.
    fn creating_from_a_preset_claims_a_prebuild(engine) {
        let e = env_with(engine, FAST);
        wait_until_converged(&e.db, Duration::from_secs(60));
        let templates = e.get("/templates", &e.owner);
        let docker = templates.body.as_array().unwrap().iter().find(|t| t["name"] == "docker").unwrap().clone();
        let version = docker["active_version_id"].as_str().unwrap();
        let presets = e.get(&format!("/templateversions/{version}/presets"), &e.owner);
        let small = presets.body.as_array().unwrap().iter().find(|p| p["Name"] == "small").unwrap()["ID"].as_str().unwrap().to_owned();
        let prebuilds = e.get("/workspaces?q=owner:prebuilds", &e.owner);
        assert_eq!(prebuilds.status, 200);
        let prebuild_ids: Vec<String> = prebuilds.body["workspaces"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["latest_build"]["template_version_preset_id"] == small.as_str())
            .map(|w| w["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(prebuild_ids.len(), 2, "{}", prebuilds.text);
        assert!(prebuilds.body["workspaces"][0]["is_prebuild"].as_bool().unwrap());

        let created = e.post(
            "/users/me/workspaces",
            &e.owner,
            json!({"template_id": docker["id"], "name": "mine", "template_version_preset_id": small}),
        );
        assert_eq!(created.status, 201, "{}", created.text);
        let id = created.body["id"].as_str().unwrap();
        assert!(prebuild_ids.iter().any(|p| p == id), "the workspace is a claimed prebuild");
        assert_eq!(created.body["owner_name"], "admin");
        assert_eq!(created.body["is_prebuild"], false);
        assert_eq!(created.body["latest_build"]["initiator_name"], "admin");
        assert_eq!(created.body["latest_build"]["transition"], "start");
        let conflict = e.post(
            "/users/me/workspaces",
            &e.owner,
            json!({"template_id": docker["id"], "name": "mine"}),
        );
        assert_eq!(conflict.status, 409, "{}", conflict.text);
        assert_eq!(conflict.body["validations"][0]["field"], "name");
        // Without a preset: a new workspace built by the provisioner.
        let fresh = e.post("/users/me/workspaces", &e.owner, json!({"template_id": docker["id"], "name": "fresh",
            "rich_parameter_values": [{"name": "cpu", "value": "4"}]}));
        assert_eq!(fresh.status, 201, "{}", fresh.text);
        assert!(!prebuild_ids.iter().any(|p| fresh.body["id"] == p.as_str()));
        let bad_name = e.post("/users/me/workspaces", &e.owner, json!({"template_id": docker["id"], "name": "bad name!"}));
        assert_eq!(bad_name.status, 400);
        // The reconciler replaces the claimed prebuild.
        wait_until_converged(&e.db, Duration::from_secs(60));
    }

    /// Error answers common to every route: 404 for an unknown route, 413 for a body over
    /// 1 MiB, 400 for a body that is not JSON. A client that writes its whole body before
    /// reading (as this one does) gets the answer, not a reset connection: the server reads
    /// what the handler left unread before it answers.
    fn common_error_answers(engine) {
        let e = env(engine);
        let route = e.get("/no/such/route", &e.owner);
        assert_eq!((route.status, route.body["message"].as_str()), (404, Some("Route not found.")));
        // 8 MiB: far more than the kernel's socket buffers take up for a server that stopped
        // reading at 1 MiB.
        let huge = json!({"name": "x".repeat(8 << 20)});
        let too_large = e.post("/users/me/workspaces", &e.owner, huge.clone());
        assert_eq!(too_large.status, 413, "{}", too_large.text);
        assert!(too_large.body["message"].is_string());
        let unrouted = e.post("/no/such/route", &e.owner, huge.clone());
        assert_eq!(unrouted.status, 404, "{}", unrouted.text);
        let anonymous = e.call("POST", "/users/me/workspaces", None, Some(&huge));
        assert_eq!(anonymous.status, 401, "{}", anonymous.text);
        let not_json = e.agent.post(format!("{}/users/me/workspaces", e.base)).header("Coder-Session-Token", &e.owner).send("{").unwrap();
        assert_eq!(not_json.status().as_u16(), 400);
    }

    /// Prebuild settings: read by anyone signed in, changed by an owner (304 when unchanged),
    /// 403 for a member.
    fn prebuild_settings(engine) {
        let e = env(engine);
        assert_eq!(e.get("/prebuilds/settings", &e.owner).body, json!({"reconciliation_paused": false}));
        let paused = e.call("PUT", "/prebuilds/settings", Some(&e.owner), Some(&json!({"reconciliation_paused": true})));
        assert_eq!((paused.status, paused.body.clone()), (200, json!({"reconciliation_paused": true})));
        let same = e.call("PUT", "/prebuilds/settings", Some(&e.owner), Some(&json!({"reconciliation_paused": true})));
        assert_eq!(same.status, 304);
        let out = coderlite(&e.db).args(["prebuilds", "status", "-o", "json"]).output().unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["paused"], true);
        let (_, member) = e.member("mallory");
        assert_eq!(e.get("/prebuilds/settings", &member).status, 200);
        let denied = e.call("PUT", "/prebuilds/settings", Some(&member), Some(&json!({"reconciliation_paused": false})));
        assert_eq!(denied.status, 403);
    }

    /// Paths with a trailing slash are served as without (upstream's router does); a
    /// workspace's builds list newest first with upstream's paging and `since`; the example
    /// templates answer upstream's shape; interval reports cover the whole range even without
    /// usage.
    fn client_paths_upstream_serves(engine) {
        let e = env(engine);
        let users = e.get("/users/", &e.owner);
        assert_eq!(users.status, 200, "{}", users.text);
        assert!(users.body["count"].as_i64().unwrap() > 0);
        let docker = e.get("/templates/", &e.owner).body.as_array().unwrap().iter()
            .find(|t| t["name"] == "docker").unwrap().clone();
        let versions = e.get(&format!("/templates/{}/versions/", docker["id"].as_str().unwrap()), &e.owner);
        assert_eq!(versions.status, 200, "{}", versions.text);
        assert_eq!(e.get("/workspaces/?limit=1", &e.owner).body["workspaces"].as_array().unwrap().len(), 1);

        let ws = e.get("/workspaces?q=owner:alice", &e.owner).body["workspaces"][0].clone();
        let id = ws["id"].as_str().unwrap();
        let stop = e.post(&format!("/workspaces/{id}/builds"), &e.owner, json!({"transition": "stop"}));
        assert_eq!(stop.status, 201, "{}", stop.text);
        let builds = e.get(&format!("/workspaces/{id}/builds"), &e.owner);
        assert_eq!(builds.status, 200, "{}", builds.text);
        let list = builds.body.as_array().unwrap();
        assert!(list.len() >= 2);
        assert_eq!(list[0]["id"], stop.body["id"], "newest first");
        assert_eq!(keys(&list[0]), keys(&stop.body));
        let numbers: Vec<i64> = list.iter().map(|b| b["build_number"].as_i64().unwrap()).collect();
        assert!(numbers.windows(2).all(|w| w[0] > w[1]), "{numbers:?}");
        let first = e.get(&format!("/workspaces/{id}/builds?limit=1"), &e.owner).body;
        assert_eq!(first.as_array().unwrap().len(), 1);
        let after = e.get(&format!("/workspaces/{id}/builds?after_id={}", list[0]["id"].as_str().unwrap()), &e.owner).body;
        assert_eq!(after.as_array().unwrap().len(), list.len() - 1);
        let since = list[0]["created_at"].as_str().unwrap();
        let none = e.get(&format!("/workspaces/{id}/builds?since={since}"), &e.owner).body;
        assert_eq!(none, json!([]), "only builds created after `since`");
        assert_eq!(e.get(&format!("/workspaces/{id}/builds?since=yesterday"), &e.owner).status, 400);
        let (_, member) = e.member("mallory");
        assert_eq!(e.get(&format!("/workspaces/{id}/builds"), &member).status, 404);

        for path in ["/templates/examples", "/organizations/coder/templates/examples"] {
            let examples = e.get(path, &member);
            assert_eq!(examples.status, 200, "{path}: {}", examples.text);
            let first = &examples.body[0];
            assert_eq!(keys(first), sorted(&["id", "url", "name", "description", "icon", "tags", "markdown"]));
        }
        assert_eq!(e.get("/organizations/acme/templates/examples", &member).status, 404);

        // A range without usage: every day is reported, with no users.
        let today = chrono::Utc::now().date_naive();
        let old_end = today - chrono::Duration::days(300);
        let report = e.get(
            &format!("/insights/templates?start_time={}T00:00:00Z&end_time={old_end}T00:00:00Z&interval=day",
                old_end - chrono::Duration::days(3)),
            &e.owner,
        );
        assert_eq!(report.status, 200, "{}", report.text);
        let intervals = report.body["interval_reports"].as_array().unwrap();
        assert_eq!(intervals.len(), 3);
        assert!(intervals.iter().all(|i| i["active_users"] == 0 && i["template_ids"] == json!([])));
    }

    /// Site roles: listed with who may assign them; changed by an owner only, never one's
    /// own, never away from the last active owner. Profiles and passwords: one's own (with
    /// the old password), or another's as a user manager.
    fn roles_profiles_and_passwords(engine) {
        let e = env(engine);
        let (mallory_id, mallory) = e.member("mallory");
        let roles = e.get("/users/roles", &e.owner);
        assert_eq!(roles.status, 200, "{}", roles.text);
        let names: Vec<&str> = roles.body.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["owner", "template-admin", "user-admin", "auditor"]);
        assert!(roles.body[0]["assignable"].as_bool().unwrap());
        assert_eq!(e.get("/users/roles", &mallory).body[0]["assignable"], false);

        let put = |path: &str, token: &str, body: Value| e.call("PUT", path, Some(token), Some(&body));
        let granted = put("/users/mallory/roles", &e.owner, json!({"roles": ["template-admin", "member"]}));
        assert_eq!(granted.status, 200, "{}", granted.text);
        assert_eq!(granted.body["roles"][0]["name"], "template-admin");
        assert_eq!(put("/users/me/roles", &e.owner, json!({"roles": []})).body["message"], "You cannot change your own roles.");
        assert_eq!(put("/users/mallory/roles", &e.owner, json!({"roles": ["root"]})).status, 400);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("u.json");
        std::fs::write(&file, r#"{"users": [{"username": "uadmin", "roles": ["user-admin"]}]}"#).unwrap();
        let out = coderlite(&e.db).args(["fixtures", "load"]).arg(&file).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let uadmin = token_for(&e.db, "uadmin");
        assert_eq!(put("/users/mallory/roles", &uadmin, json!({"roles": ["owner"]})).status, 403);
        assert_eq!(put("/users/admin/roles", &uadmin, json!({"roles": []})).status, 403, "a user-admin cannot demote an owner");
        assert_eq!(e.get("/users/admin", &e.owner).body["roles"][0]["name"], "owner");

        let renamed = put("/users/mallory/profile", &mallory, json!({"username": "mal", "name": "Mal Lory"}));
        assert_eq!(renamed.status, 200, "{}", renamed.text);
        assert_eq!((renamed.body["username"].as_str(), renamed.body["name"].as_str()), (Some("mal"), Some("Mal Lory")));
        assert_eq!(put("/users/mal/profile", &mallory, json!({"username": "admin"})).status, 409);
        assert_eq!(put("/users/mal/profile", &mallory, json!({"username": "bad name"})).status, 400);
        assert_eq!(put("/users/admin/profile", &uadmin, json!({"username": "x"})).status, 403);

        let wrong = put("/users/me/password", &mallory, json!({"old_password": "nope", "password": "n3w-secret"}));
        assert_eq!((wrong.status, wrong.body["validations"][0]["field"].as_str()), (400, Some("old_password")));
        let changed = put("/users/me/password", &mallory, json!({"old_password": "s3cret-pw", "password": "n3w-secret"}));
        assert_eq!(changed.status, 204, "{}", changed.text);
        let login = e.call("POST", "/users/login", None, Some(&json!({"email": "mallory@example.com", "password": "n3w-secret"})));
        assert_eq!(login.status, 201, "{}", login.text);
        assert_eq!(put(&format!("/users/{mallory_id}/password"), &uadmin, json!({"password": "reset-1"})).status, 204);
        assert_eq!(put("/users/admin/password", &uadmin, json!({"password": "x"})).status, 403);
    }

    /// A workspace's owner sets and clears its autostart schedule and its time to shutdown,
    /// with upstream's validation; others get 404 (or 403 when they can read it).
    fn workspace_autostart_and_ttl(engine) {
        let e = env(engine);
        let alice = token_for(&e.db, "alice");
        let ws = e.get("/workspaces?q=owner:alice", &e.owner).body["workspaces"][0].clone();
        let id = ws["id"].as_str().unwrap();
        let put = |path: &str, token: &str, body: Value| e.call("PUT", path, Some(token), Some(&body));
        let set = put(&format!("/workspaces/{id}/autostart"), &alice, json!({"schedule": "CRON_TZ=UTC 30 9 * * 1-5"}));
        assert_eq!(set.status, 204, "{}", set.text);
        let w = e.get(&format!("/workspaces/{id}"), &alice).body;
        assert_eq!(w["autostart_schedule"], "CRON_TZ=UTC 30 9 * * 1-5");
        assert!(w["next_start_at"].is_string(), "{w}");
        let bad = put(&format!("/workspaces/{id}/autostart"), &alice, json!({"schedule": "every morning"}));
        assert_eq!((bad.status, bad.body["validations"][0]["field"].as_str()), (400, Some("schedule")), "{}", bad.text);
        assert_eq!(put(&format!("/workspaces/{id}/autostart"), &alice, json!({"schedule": null})).status, 204);
        let w = e.get(&format!("/workspaces/{id}"), &alice).body;
        assert!(w.get("autostart_schedule").is_none_or(Value::is_null), "{w}");
        assert!(w["next_start_at"].is_null());

        assert_eq!(put(&format!("/workspaces/{id}/ttl"), &alice, json!({"ttl_ms": 3_600_000})).status, 204);
        assert_eq!(e.get(&format!("/workspaces/{id}"), &alice).body["ttl_ms"], 3_600_000);
        let short = put(&format!("/workspaces/{id}/ttl"), &alice, json!({"ttl_ms": 30_000}));
        assert_eq!((short.status, short.body["validations"][0]["field"].as_str()), (400, Some("ttl_ms")));
        assert_eq!(e.get(&format!("/workspaces/{id}"), &alice).body["ttl_ms"], 3_600_000, "a refusal changes nothing");

        let (_, member) = e.member("mallory");
        assert_eq!(put(&format!("/workspaces/{id}/ttl"), &member, json!({"ttl_ms": 3_600_000})).status, 404);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.json");
        std::fs::write(&file, r#"{"users": [{"username": "tadmin", "roles": ["template-admin"]}]}"#).unwrap();
        assert!(coderlite(&e.db).args(["fixtures", "load"]).arg(&file).output().unwrap().status.success());
        let tadmin = token_for(&e.db, "tadmin");
        assert_eq!(put(&format!("/workspaces/{id}/ttl"), &tadmin, json!({"ttl_ms": 3_600_000})).status, 403);
        assert_eq!(put(&format!("/workspaces/{id}/ttl"), &e.owner, json!({"ttl_ms": 7_200_000})).status, 204);
        // Null turns autostop off: the template's default is not applied (as upstream).
        assert_eq!(put(&format!("/workspaces/{id}/ttl"), &alice, json!({"ttl_ms": null})).status, 204);
        assert!(e.get(&format!("/workspaces/{id}"), &alice).body["ttl_ms"].is_null());
        assert_eq!(short.body["message"], "Error updating workspace time until shutdown.");
    }

    /// Renames are refused unless the deployment allows them (upstream's default); allowed,
    /// a workspace takes a new valid name that its owner does not use yet.
    fn workspace_renames_follow_the_deployment_setting(engine) {
        let e = env(engine);
        let ws = e.get("/workspaces?q=owner:alice", &e.owner).body["workspaces"][0].clone();
        let id = ws["id"].as_str().unwrap().to_owned();
        assert_eq!(ws["allow_renames"], false);
        let refused = e.call("PATCH", &format!("/workspaces/{id}"), Some(&e.owner), Some(&json!({"name": "renamed"})));
        assert_eq!((refused.status, refused.body["message"].as_str()), (400, Some("Workspace renames are not allowed.")));
        assert_eq!(e.call("PATCH", &format!("/workspaces/{id}"), Some(&e.owner), Some(&json!({}))).status, 204);
        drop(e);

        let e = env_with(engine, &["--allow-workspace-renames"]);
        let alice = token_for(&e.db, "alice");
        let ws = e.get("/workspaces?q=owner:alice", &alice).body["workspaces"][0].clone();
        let id = ws["id"].as_str().unwrap().to_owned();
        assert_eq!(ws["allow_renames"], true);
        let patch = |body: Value| e.call("PATCH", &format!("/workspaces/{id}"), Some(&alice), Some(&body));
        assert_eq!(patch(json!({"name": "renamed"})).status, 204);
        assert_eq!(e.get(&format!("/workspaces/{id}"), &alice).body["name"], "renamed");
        assert_eq!(patch(json!({"name": "bad name!"})).status, 400);
        let created = e.post("/users/me/workspaces", &alice,
            json!({"template_id": ws["template_id"], "name": "other", "rich_parameter_values": [{"name": "cpu", "value": "2"}]}));
        assert_eq!(created.status, 201, "{}", created.text);
        let taken = patch(json!({"name": "OTHER"}));
        assert_eq!((taken.status, taken.body["validations"][0]["field"].as_str()), (409, Some("name")), "{}", taken.text);
    }

    /// Template admins promote a version whose import succeeded and delete a template
    /// without workspaces; a template in use is refused with upstream's message.
    fn templates_promote_and_delete(engine) {
        let e = env(engine);
        let docker = e.get("/templates", &e.owner).body.as_array().unwrap().iter()
            .find(|t| t["name"] == "docker").unwrap().clone();
        let id = docker["id"].as_str().unwrap();
        let versions = e.get(&format!("/templates/{id}/versions"), &e.owner).body;
        let v1 = versions.as_array().unwrap().iter().find(|v| v["name"] == "v1").unwrap()["id"].as_str().unwrap().to_owned();
        let patch = |path: &str, token: &str, body: Value| e.call("PATCH", path, Some(token), Some(&body));
        let (_, member) = e.member("mallory");
        assert_eq!(patch(&format!("/templates/{id}/versions"), &member, json!({"id": v1})).status, 403);
        let promoted = patch(&format!("/templates/{id}/versions"), &e.owner, json!({"id": v1}));
        assert_eq!((promoted.status, promoted.body["message"].as_str()), (200, Some("Updated the active template version!")));
        assert_eq!(e.get(&format!("/templates/{id}"), &e.owner).body["active_version_id"], v1.as_str());
        let other = e.get("/organizations/acme/templates", &e.owner).body[0]["active_version_id"].as_str().unwrap().to_owned();
        assert_eq!(patch(&format!("/templates/{id}/versions"), &e.owner, json!({"id": other})).status, 400);
        let unknown = uuid::Uuid::new_v4().to_string();
        assert_eq!(patch(&format!("/templates/{id}/versions"), &e.owner, json!({"id": unknown})).status, 404);

        let in_use = e.call("DELETE", &format!("/templates/{id}"), Some(&e.owner), None);
        assert_eq!(in_use.status, 400);
        assert_eq!(in_use.body["message"], "All workspaces must be deleted before a template can be removed.");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.json");
        std::fs::write(&file, r#"{"templates": [{"organization": "coder", "name": "spare", "versions": [{"name": "v1"}]}]}"#).unwrap();
        let out = coderlite(&e.db).args(["fixtures", "load"]).arg(&file).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let spare = e.get("/organizations/coder/templates/spare", &e.owner).body["id"].as_str().unwrap().to_owned();
        assert_eq!(e.call("DELETE", &format!("/templates/{spare}"), Some(&member), None).status, 403);
        let deleted = e.call("DELETE", &format!("/templates/{spare}"), Some(&e.owner), None);
        assert_eq!((deleted.status, deleted.body["message"].as_str()), (200, Some("Template has been deleted!")));
        assert_eq!(e.get(&format!("/templates/{spare}"), &e.owner).status, 404);
    }

    /// Insights from the rollup's rows, with upstream's time-range validation; a member gets
    /// 404.
    fn insights(engine) {
        let e = env(engine);
        // The server's own first rollup may hold the lease: run one until it is this one.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let out = coderlite(&e.db).arg("rollup").output().unwrap();
            assert!(out.status.success());
            if !String::from_utf8_lossy(&out.stdout).contains("not run") {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the rollup lease was never free");
            std::thread::sleep(Duration::from_millis(100));
        }
        let today = chrono::Utc::now().date_naive();
        let start = format!("{}T00:00:00Z", today - chrono::Duration::days(7));
        let end = format!("{today}T00:00:00Z");
        let report = e.get(&format!("/insights/templates?start_time={start}&end_time={end}&interval=day"), &e.owner);
        assert_eq!(report.status, 200, "{}", report.text);
        assert_eq!(
            keys(&report.body["report"]),
            sorted(&["start_time", "end_time", "template_ids", "active_users", "apps_usage", "parameters_usage"])
        );
        let slugs: Vec<&str> = report.body["report"]["apps_usage"].as_array().unwrap().iter().take(5).map(|a| a["slug"].as_str().unwrap()).collect();
        assert_eq!(slugs, ["vscode", "jetbrains", "reconnecting-pty", "ssh", "sftp"]);
        assert!(report.body["report"]["active_users"].as_i64().unwrap() > 0);
        assert!(!report.body["interval_reports"].as_array().unwrap().is_empty());
        let activity = e.get(&format!("/insights/user-activity?start_time={start}&end_time={end}"), &e.owner);
        assert_eq!(keys(&activity.body["report"]), sorted(&["start_time", "end_time", "template_ids", "users"]));
        let latency = e.get(&format!("/insights/user-latency?start_time={start}&end_time={end}"), &e.owner);
        let user = &latency.body["report"]["users"][0];
        assert_eq!(keys(&user["latency_ms"]), sorted(&["p50", "p95"]));

        let bad = e.get(&format!("/insights/templates?start_time={today}T03:00:00Z&end_time={end}"), &e.owner);
        assert_eq!(bad.status, 400);
        assert_eq!(bad.body["validations"][0]["field"], "start_time");
        assert_eq!(e.get(&format!("/insights/templates?start_time={start}"), &e.owner).status, 400);
        let (_, member) = e.member("mallory");
        assert_eq!(e.get(&format!("/insights/templates?start_time={start}&end_time={end}"), &member).status, 404);
    }

    /// Each site role's reach: template admins read every workspace but build only their own,
    /// auditors read templates and insights but no workspace, user admins manage users but
    /// see only their organizations' templates.
    fn each_site_role_reaches_what_upstream_grants(engine) {
        let e = env(engine);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("roles.json");
        std::fs::write(
            &file,
            r#"{"users": [
                {"username": "tadmin", "roles": ["template-admin"]},
                {"username": "audit", "roles": ["auditor"]},
                {"username": "uadmin", "roles": ["user-admin"]}
            ]}"#,
        )
        .unwrap();
        let out = coderlite(&e.db).args(["fixtures", "load"]).arg(&file).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let (tadmin, audit, uadmin) = (token_for(&e.db, "tadmin"), token_for(&e.db, "audit"), token_for(&e.db, "uadmin"));
        let alice_ws = e.get("/workspaces?q=owner:alice", &e.owner).body["workspaces"][0]["id"].as_str().unwrap().to_owned();

        assert!(e.get("/workspaces", &tadmin).body["count"].as_i64().unwrap() > 0);
        assert_eq!(e.get(&format!("/workspaces/{alice_ws}"), &tadmin).status, 200);
        let build = e.post(&format!("/workspaces/{alice_ws}/builds"), &tadmin, json!({"transition": "stop"}));
        assert_eq!(build.status, 403, "{}", build.text);
        assert_eq!(e.get("/templates", &tadmin).body.as_array().unwrap().len(), 3);

        assert_eq!(e.get("/workspaces", &audit).body["count"], 0);
        assert_eq!(e.get(&format!("/workspaces/{alice_ws}"), &audit).status, 404);
        assert_eq!(e.get("/templates", &audit).body.as_array().unwrap().len(), 3);
        assert_eq!(e.get("/users", &audit).body["count"], 7);
        let forbidden = e.post("/users", &audit, json!({"email": "z@example.com", "username": "z", "organization_ids": [shapes_nil()]}));
        assert_eq!(forbidden.status, 403);

        let created = e.post("/users", &uadmin, json!({"email": "z@example.com", "username": "z", "organization_ids": [shapes_nil()]}));
        assert_eq!(created.status, 201, "{}", created.text);
        assert_eq!(created.body["status"], "dormant", "upstream's default status");
        assert_eq!(e.get("/templates", &uadmin).body.as_array().unwrap().len(), 1, "only its organization's");
        assert_eq!(e.call("PUT", "/users/prebuilds/status/suspend", Some(&uadmin), None).status, 400);
        assert_eq!(e.call("PUT", "/prebuilds/settings", Some(&uadmin), Some(&json!({"reconciliation_paused": true}))).status, 403);
    }

    /// Every read endpoint's body against upstream's wire format, table-driven: the keys
    /// always present, and those present only when set (`omitempty`).
    fn response_shapes_match_upstreams_wire_format(engine) {
        let e = env(engine);
        let template = e.get("/templates", &e.owner).body.as_array().unwrap().iter().find(|t| t["name"] == "docker").unwrap().clone();
        let workspace = e.get("/workspaces?q=owner:alice", &e.owner).body["workspaces"][0].clone();
        let token = e.post("/users/me/keys/tokens", &e.owner, json!({"token_name": "shapes"}));
        assert_eq!(token.status, 201);
        let org_keys: &[&str] = &["id", "name", "display_name", "icon", "description", "created_at", "updated_at", "is_default"];
        let version_keys: &[&str] = &["id", "template_id", "organization_id", "created_at", "updated_at", "name", "message",
            "job", "readme", "created_by", "archived", "has_external_agent"];
        let key_keys: &[&str] = &["id", "user_id", "last_used", "expires_at", "created_at", "updated_at", "login_type",
            "scope", "scopes", "token_name", "lifetime_seconds", "allow_list"];
        let rows: Vec<(String, &str, Vec<&str>, Vec<&str>)> = vec![
            ("/buildinfo".into(), "", vec!["external_url", "version", "dashboard_url", "telemetry", "workspace_proxy",
                "agent_api_version", "provisioner_api_version", "upgrade_message", "deployment_id", "webpush_public_key"], vec![]),
            ("/users/me".into(), "", USER_KEYS.to_vec(), vec![]),
            ("/users".into(), "/users/0", USER_KEYS.to_vec(), vec![]),
            ("/organizations/default".into(), "", org_keys.to_vec(), vec![]),
            ("/users/me/organizations".into(), "/0", org_keys.to_vec(), vec![]),
            (format!("/templates/{}", template["id"].as_str().unwrap()), "", TEMPLATE_KEYS.to_vec(), vec![]),
            (format!("/templates/{}", template["id"].as_str().unwrap()), "/autostop_requirement", vec!["days_of_week", "weeks"], vec![]),
            (format!("/templateversions/{}", template["active_version_id"].as_str().unwrap()), "", version_keys.to_vec(), vec![]),
            (format!("/templateversions/{}", template["active_version_id"].as_str().unwrap()), "/job", JOB_KEYS.to_vec(),
                vec!["started_at", "completed_at", "canceled_at", "error", "worker_id"]),
            (format!("/templateversions/{}", template["active_version_id"].as_str().unwrap()), "/job/metadata",
                vec!["template_version_name", "template_id", "template_name", "template_display_name", "template_icon"], vec![]),
            (format!("/templateversions/{}/rich-parameters", template["active_version_id"].as_str().unwrap()), "/0",
                vec!["name", "description", "description_plaintext", "type", "form_type", "mutable", "default_value", "icon",
                     "options", "required", "ephemeral"], vec!["display_name"]),
            (format!("/workspaces/{}", workspace["id"].as_str().unwrap()), "", WORKSPACE_KEYS.to_vec(), vec!["autostart_schedule", "ttl_ms"]),
            (format!("/workspaces/{}", workspace["id"].as_str().unwrap()), "/latest_build", BUILD_KEYS.to_vec(), vec!["workspace_owner_avatar_url"]),
            (format!("/workspaces/{}", workspace["id"].as_str().unwrap()), "/latest_build/resources/0",
                vec!["id", "created_at", "job_id", "workspace_transition", "type", "name", "hide", "icon", "daily_cost"], vec!["agents", "metadata"]),
            (format!("/workspaces/{}", workspace["id"].as_str().unwrap()), "/latest_build/matched_provisioners",
                vec!["count", "available", "most_recently_seen"], vec![]),
            (format!("/workspacebuilds/{}", workspace["latest_build"]["id"].as_str().unwrap()), "", BUILD_KEYS.to_vec(), vec!["workspace_owner_avatar_url"]),
            ("/users/me/keys/tokens/shapes".into(), "", key_keys.to_vec(), vec![]),
            ("/users/me/keys/tokens".into(), "/0", [key_keys, &["username"]].concat(), vec![]),
            ("/prebuilds/settings".into(), "", vec!["reconciliation_paused"], vec![]),
            ("/audit".into(), "", vec!["audit_logs", "count"], vec![]),
            ("/audit?q=resource_type:api_key".into(), "/audit_logs/0", vec!["id", "request_id", "time", "ip", "user_agent",
                "resource_type", "resource_id", "resource_target", "resource_icon", "action", "diff", "status_code",
                "additional_fields", "description", "resource_link", "is_deleted", "organization_id", "user"], vec!["organization"]),
            ("/audit?q=resource_type:api_key".into(), "/audit_logs/0/user", USER_KEYS.to_vec(), vec![]),
        ];
        for (path, pointer, required, optional) in rows {
            let answer = e.get(&path, &e.owner);
            assert_eq!(answer.status, 200, "{path}: {}", answer.text);
            let value = answer.body.pointer(pointer).unwrap_or_else(|| panic!("{path}: nothing at {pointer:?}"));
            let found = keys(value);
            for key in &required {
                assert!(found.contains(&(*key).to_owned()), "{path}{pointer}: no {key:?} in {found:?}");
            }
            for key in &found {
                assert!(
                    required.contains(&key.as_str()) || optional.contains(&key.as_str()),
                    "{path}{pointer}: {key:?} is not in upstream's shape"
                );
            }
        }
        // Types that clients decode strictly.
        let w = e.get(&format!("/workspaces/{}", workspace["id"].as_str().unwrap()), &e.owner).body;
        let t = types(&w);
        assert_eq!((t["next_start_at"], t["latest_app_status"], t["task_id"], t["outdated"]), ("null", "null", "null", "bool"));
        assert_eq!(types(&w["latest_build"])["build_number"], "number");
        let presets = e.get(&format!("/templateversions/{}/presets", template["active_version_id"].as_str().unwrap()), &e.owner).body;
        let custom = presets.as_array().unwrap().iter().find(|p| p["Name"] == "custom").unwrap();
        assert!(custom["DesiredPrebuildInstances"].is_null(), "a pointer: null when unset");
    }
}

/// The nil UUID: upstream maps it to the default organization.
fn shapes_nil() -> &'static str {
    "00000000-0000-0000-0000-000000000000"
}
