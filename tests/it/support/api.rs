//! A spawned server's `/api/v2` through a real HTTP client: the server on a database with the
//! demo loaded, an owner's token, and calls that answer status, JSON body and headers.

use std::time::Duration;

use coderlite::testing::TestDb;
use coderlite::testing::TestEngine;
use serde_json::Value;
use serde_json::json;

use crate::support::*;

/// A server on a database with the demo loaded, its address and an owner's token.
pub struct Env {
    pub db: TestDb,
    pub server: Server,
    pub base: String,
    pub owner: String,
    pub agent: ureq::Agent,
}

/// What a call answered.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub headers: Vec<(String, String)>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

pub fn env_with(engine: &TestEngine, extra: &[&str]) -> Env {
    let db = TestDb::with_fixtures_on(engine, &["demo"]).unwrap();
    let mut args = vec!["--http-address", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let mut server = Server::start_with_env(&db, &args, &[("CODERLITE_PASSWORD_HASH", "fast")]);
    let started = server.wait_for_message("coderlite server started", Duration::from_secs(30));
    let base = format!("http://{}/api/v2", started["http_address"].as_str().unwrap());
    let owner = token_for(&db, "admin");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    Env { db, server, base, owner, agent }
}

pub fn env(engine: &TestEngine) -> Env {
    env_with(engine, &[])
}

/// A token for `user`, made by `coderlite tokens create`.
pub fn token_for(db: &TestDb, user: &str) -> String {
    let out = coderlite(db).args(["tokens", "create", "--user", user]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

impl Env {
    pub fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Answer {
        let url = format!("{}{path}", self.base);
        let mut req = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(t) = token {
            req = req.header("Coder-Session-Token", t);
        }
        let res = match body {
            Some(b) => {
                self.agent.run(req.header("Content-Type", "application/json").body(b.to_string()).unwrap()).unwrap()
            }
            None => self.agent.run(req.body(()).unwrap()).unwrap(),
        };
        let status = res.status().as_u16();
        let headers = res
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        let text = res.into_body().read_to_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, body, text, headers }
    }

    pub fn get(&self, path: &str, token: &str) -> Answer {
        self.call("GET", path, Some(token), None)
    }

    pub fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call("POST", path, Some(token), Some(&body))
    }

    /// A member of the default organization with a token (no site role).
    pub fn member(&self, username: &str) -> (String, String) {
        let org = self.get("/organizations/default", &self.owner).body["id"].as_str().unwrap().to_owned();
        let created = self.post(
            "/users",
            &self.owner,
            json!({"email": format!("{username}@example.com"), "username": username, "password": "s3cret-pw",
                   "user_status": "active", "organization_ids": [org]}),
        );
        assert_eq!(created.status, 201, "{}", created.text);
        (created.body["id"].as_str().unwrap().to_owned(), token_for(&self.db, username))
    }
}
