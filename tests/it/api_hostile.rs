//! The HTTP API attacked as a careless or hostile client would, on both engines: racing first
//! users, secrets in logs at every verbosity, an insights range of centuries, password
//! guessing, NUL, control characters and invalid UTF-8 in every route and text field, idle
//! and half-sent connections, and error answers the framework writes itself.

use std::io::Read;
use std::io::Write;
use std::net::SocketAddr;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::Barrier;
use std::time::Duration;
use std::time::Instant;

use coderlite::database::Engine;
use coderlite::testing::TestDb;
use serde_json::Value;
use serde_json::json;

use crate::support::api::*;
use crate::support::*;

/// A server on a fresh database (no user yet), its `/api/v2` base and its address.
fn start_fresh(db: &TestDb, extra: &[&str], env: &[(&str, &str)]) -> (Server, String, String) {
    let mut args = vec!["--http-address", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let mut env = env.to_vec();
    env.push(("CODERLITE_PASSWORD_HASH", "fast"));
    let mut server = Server::start_with_env(db, &args, &env);
    let started = server.wait_for_message("coderlite server started", Duration::from_secs(30));
    let addr = started["http_address"].as_str().unwrap().to_owned();
    (server, format!("http://{addr}/api/v2"), addr)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// `POST url` with a JSON body: (status, body).
fn post(agent: &ureq::Agent, url: &str, body: &Value) -> (u16, Value) {
    let res = agent.post(url).header("Content-Type", "application/json").send(body.to_string()).unwrap();
    let status = res.status().as_u16();
    let text = res.into_body().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// One raw HTTP/1.1 exchange from source address `from` (a loopback address of the caller's
/// choice), for what the client library will not send or bind: (status, headers, body).
fn raw_from(from: &str, addr: &str, request: &[u8]) -> (u16, String, String) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&format!("{from}:0").parse::<SocketAddr>().unwrap().into()).unwrap();
    socket.connect(&addr.parse::<SocketAddr>().unwrap().into()).unwrap();
    let mut stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (status, head.to_owned(), body.to_owned())
}

fn raw(addr: &str, request: &[u8]) -> (u16, String, String) {
    raw_from("127.0.0.1", addr, request)
}

fn login_request(addr: &str, email: &str, password: &str) -> Vec<u8> {
    let body = json!({"email": email, "password": password}).to_string();
    format!(
        "POST /api/v2/users/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The process's peak resident set (VmHWM), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// Row counts of every table an API write could touch: equal before and after means nothing
/// was written.
fn fingerprint(db: &TestDb) -> Vec<(&'static str, i64)> {
    [
        "users",
        "api_keys",
        "organization_members",
        "workspaces",
        "workspace_builds",
        "provisioner_jobs",
        "templates",
        "template_versions",
        "workspace_build_parameters",
    ]
    .into_iter()
    .map(|t| (t, db.query_i64(&format!("SELECT COUNT(*) FROM {t}")).unwrap()))
    .collect()
}

contract_tests! {
    /// 20 rounds of 12 concurrent `POST /users/first` on a database without users: one 201
    /// and eleven 409s with upstream's message each round, and one owner.
    fn racing_first_users_make_one_owner(engine) {
        let db = TestDb::on(engine).unwrap();
        let (_server, base, _) = start_fresh(&db, &[], &[]);
        let url = format!("{base}/users/first");
        for round in 0..20 {
            let barrier = Arc::new(Barrier::new(12));
            let handles: Vec<_> = (0..12)
                .map(|i| {
                    let (barrier, url) = (barrier.clone(), url.clone());
                    std::thread::spawn(move || {
                        let agent = agent();
                        let body = json!({"email": format!("o{i}@example.com"), "username": format!("owner{i}"),
                                          "password": "s3cret-pw"});
                        barrier.wait();
                        post(&agent, &url, &body)
                    })
                })
                .collect();
            let answers: Vec<(u16, Value)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            let created = answers.iter().filter(|(s, _)| *s == 201).count();
            assert_eq!(created, 1, "round {round}: {answers:?}");
            for (status, body) in answers.iter().filter(|(s, _)| *s != 201) {
                assert_eq!(*status, 409, "round {round}: {body}");
                assert_eq!(body["message"], "The initial user has already been created.");
            }
            let owners = db.query_i64("SELECT COUNT(*) FROM users WHERE NOT is_system").unwrap();
            assert_eq!(owners, 1, "round {round}");
            db.execute_sql(
                "DELETE FROM organization_members WHERE user_id IN (SELECT id FROM users WHERE NOT is_system);
                 DELETE FROM users WHERE NOT is_system;",
            )
            .unwrap();
        }
    }

    /// `setup`, `providers seed`, a server with API traffic and `tokens create`, all at
    /// `-vv`: no signing key, mesh key, provider key, API key secret or hash, password or
    /// password hash appears on stdout or stderr (except the token `tokens create` exists to
    /// print).
    fn no_secret_reaches_a_log_at_any_verbosity(engine) {
        let db = TestDb::on(engine).unwrap();
        let provider_key = "sk-live-PROVIDERSECRET0123456789";
        let ai_env = [
            ("CODER_AIBRIDGE_PROVIDER_0_TYPE", "openai"),
            ("CODER_AIBRIDGE_PROVIDER_0_NAME", "main"),
            ("CODER_AIBRIDGE_PROVIDER_0_KEY", provider_key),
        ];
        let mut logs = String::new();
        // (stdout, stderr) of a command that must succeed.
        let run = |args: &[&str]| {
            let out = coderlite(&db).arg("-vv").args(args).envs(ai_env).output().unwrap();
            assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
            (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
        };
        for args in [&["setup"][..], &["providers", "seed"][..]] {
            let (stdout, stderr) = run(args);
            logs.push_str(&stdout);
            logs.push_str(&stderr);
        }

        let password = "PASSWORD-do-not-log-42";
        let mut server = coderlite(&db)
            .args(["-vv", "server", "--http-address", "127.0.0.1:0"])
            .envs(ai_env)
            .env("CODERLITE_PASSWORD_HASH", "fast")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = server.stderr.take().unwrap();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut all = String::new();
            for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
                let Ok(line) = line else { break };
                if line.contains("coderlite server started")
                    && let Some(at) = line.split("http_address=").nth(1)
                {
                    let _ = addr_tx.send(at.split_whitespace().next().unwrap_or_default().trim_matches('"').to_owned());
                }
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        let addr = addr_rx.recv_timeout(Duration::from_secs(30)).expect("the server started");
        let base = format!("http://{addr}/api/v2");
        let agent = agent();
        let first = post(&agent, &format!("{base}/users/first"),
            &json!({"email": "o@example.com", "username": "owner", "password": password}));
        assert_eq!(first.0, 201, "{}", first.1);
        let login = post(&agent, &format!("{base}/users/login"), &json!({"email": "o@example.com", "password": password}));
        assert_eq!(login.0, 201);
        let session = login.1["session_token"].as_str().unwrap().to_owned();
        let me = agent.get(format!("{base}/users/me")).header("Coder-Session-Token", &session).call().unwrap();
        assert_eq!(me.status().as_u16(), 200);
        // A token in the query string: the request log names the route, never the query.
        let me = agent.get(format!("{base}/users/me?coder_session_token={session}")).call().unwrap();
        assert_eq!(me.status().as_u16(), 200);
        let created = agent
            .post(format!("{base}/users/me/keys/tokens"))
            .header("Coder-Session-Token", &session)
            .send(json!({"token_name": "ci"}).to_string())
            .unwrap();
        assert_eq!(created.status().as_u16(), 201);
        let api_token = serde_json::from_str::<Value>(&created.into_body().read_to_string().unwrap()).unwrap()["key"]
            .as_str()
            .unwrap()
            .to_owned();
        let wrong = post(&agent, &format!("{base}/users/login"), &json!({"email": "o@example.com", "password": "wrong-PASSWORD-x"}));
        assert_eq!(wrong.0, 401);
        let _ = std::process::Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
        assert!(server.wait().unwrap().success());
        logs.push_str(&reader.join().unwrap());
        let mut stdout = String::new();
        server.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
        logs.push_str(&stdout);
        let (printed_token, stderr) = run(&["tokens", "create", "--user", "owner"]);
        logs.push_str(&stderr);
        let printed_token = printed_token.trim().to_owned();
        assert_eq!(printed_token.len(), 33, "tokens create prints the token");
        assert!(logs.contains("http request"), "requests are logged at DEBUG");

        let hex_of = |column: &str, table: &str| match db.engine() {
            Engine::Sqlite => format!("SELECT lower(hex({column})) FROM {table}"),
            Engine::Postgres => format!("SELECT encode({column}, 'hex') FROM {table}"),
        };
        let mut secrets: Vec<(String, String)> = vec![
            ("provider key".into(), provider_key.into()),
            ("password".into(), password.into()),
            ("wrong password".into(), "wrong-PASSWORD-x".into()),
            ("session token secret".into(), session.split('-').nth(1).unwrap().into()),
            ("API token secret".into(), api_token.split('-').nth(1).unwrap().into()),
            ("printed token secret".into(), printed_token.split('-').nth(1).unwrap().into()),
        ];
        for key in ["app_signing_key", "oauth_signing_key", "derp_mesh_key"] {
            let value = db.query_text(&format!("SELECT value FROM site_configs WHERE key = '{key}'")).unwrap();
            assert!(value.len() >= 32, "{key}");
            secrets.push((key.into(), value));
        }
        let phc = db.query_text("SELECT hashed_password FROM users WHERE username = 'owner'").unwrap();
        secrets.push(("password hash".into(), phc.rsplit('$').next().unwrap().to_owned()));
        let secret_hash = db.query_text(&format!("{} LIMIT 1", hex_of("hashed_secret", "api_keys"))).unwrap();
        secrets.push(("API key hash".into(), secret_hash.clone()));
        // The bytes as a Debug list (`[12, 200, ...`), as a client library would print them.
        let bytes: Vec<String> =
            (0..8).map(|i| u8::from_str_radix(&secret_hash[2 * i..2 * i + 2], 16).unwrap().to_string()).collect();
        secrets.push(("API key hash bytes".into(), format!("[{}", bytes.join(", "))));
        for (what, secret) in &secrets {
            assert!(!logs.contains(secret.as_str()), "the {what} appears in the logs");
        }
    }

    /// An insights range of two thousand years answers 400 naming `start_time`, at once and
    /// without growing the server (50 requests; peak RSS stays under 100 MB).
    fn an_insights_range_of_centuries_is_refused(engine) {
        let e = env(engine);
        let path = "/insights/templates?start_time=0002-01-01T00:00:00Z&end_time=2026-12-04T00:00:00Z&interval=day";
        let mut slowest = Duration::ZERO;
        for _ in 0..50 {
            let started = Instant::now();
            let answer = e.get(path, &e.owner);
            slowest = slowest.max(started.elapsed());
            assert_eq!(answer.status, 400, "{}", answer.text);
            assert_eq!(answer.body["validations"][0]["field"], "start_time", "{}", answer.text);
            assert!(answer.text.len() < 1024);
        }
        let peak = peak_rss(e.server.child.id());
        eprintln!("insights range refusal: slowest of 50 {slowest:?}, server peak RSS {} MiB", peak >> 20);
        assert!(peak < 100 << 20, "peak RSS {peak}");
        // A year is still served.
        let today = chrono::Utc::now().date_naive();
        let year = format!("/insights/templates?start_time={}T00:00:00Z&end_time={today}T00:00:00Z&interval=day",
            today - chrono::Duration::days(366));
        assert_eq!(e.get(&year, &e.owner).status, 200);
    }

    /// 30 wrong logins from one address: 401 up to the limit, then upstream's 429; the right
    /// password from another address still logs in.
    fn password_guessing_is_rate_limited_per_address(engine) {
        let e = env_with(engine, &["--login-rate-limit", "10"]);
        let addr = e.base.trim_start_matches("http://").trim_end_matches("/api/v2").to_owned();
        let mut statuses = Vec::new();
        let mut limited_head = String::new();
        let mut limited_body = String::new();
        for _ in 0..30 {
            let (status, head, body) = raw(&addr, &login_request(&addr, "admin@coderlite.local", "wrong-password"));
            if status == 429 {
                limited_head = head;
                limited_body = body;
            }
            statuses.push(status);
        }
        assert!(statuses[..10].iter().all(|s| *s == 401), "{statuses:?}");
        assert!(statuses[10..].iter().all(|s| *s == 429), "{statuses:?}");
        let body: Value = serde_json::from_str(&limited_body).unwrap();
        assert_eq!(body["message"], "You've been rate limited for sending more than 10 requests in 1m0s.");
        assert!(limited_head.to_lowercase().contains("retry-after: 60"), "{limited_head}");
        let (right_here, _, _) = raw(&addr, &login_request(&addr, "admin@coderlite.local", "coderlite-demo"));
        assert_eq!(right_here, 429, "the limit counts the address, whatever the password");
        let (elsewhere, _, body) =
            raw_from("127.0.0.2", &addr, &login_request(&addr, "admin@coderlite.local", "coderlite-demo"));
        assert_eq!(elsewhere, 201, "{body}");
        // An unknown account answers as a wrong password does.
        let (unknown, _, body) =
            raw_from("127.0.0.3", &addr, &login_request(&addr, "nobody@coderlite.local", "coderlite-demo"));
        assert_eq!(unknown, 401, "{body}");
        assert!(body.contains("Incorrect email or password."));
    }

    /// Every route and text field with NUL, newline, ESC, a bidirectional override, invalid
    /// UTF-8 and 10,000 characters: never a 500, and a refused write writes nothing.
    fn bad_text_in_every_route_and_field_is_refused(engine) {
        let e = env(engine);
        let (_, member) = e.member("mallory");
        let docker = e.get("/templates", &e.owner).body.as_array().unwrap().iter()
            .find(|t| t["name"] == "docker").unwrap().clone();
        let template_id = docker["id"].as_str().unwrap().to_owned();
        let version_id = docker["active_version_id"].as_str().unwrap().to_owned();
        let workspace = e.get("/workspaces?q=owner:alice", &e.owner).body["workspaces"][0]["id"].as_str().unwrap().to_owned();
        let long = "x".repeat(10_000);
        let bad_texts: Vec<(&str, String)> = vec![
            ("NUL", "a\u{0}b".to_owned()),
            ("newline", "a\nb".to_owned()),
            ("ESC", "a\u{1b}[31mb".to_owned()),
            ("RTL override", "a\u{202e}b".to_owned()),
            ("10,000 characters", long.clone()),
        ];
        // Path and query: percent-encoded into every route with a parameter.
        let encoded: Vec<(&str, &str)> = vec![
            ("NUL", "a%00b"), ("newline", "a%0Ab"), ("ESC", "a%1Bb"), ("invalid UTF-8", "a%FF%FEb"),
            ("RTL override", "a%E2%80%AEb"),
        ];
        let routes = [
            "GET /users/{}", "DELETE /users/{}", "PUT /users/{}/status/suspend", "GET /users/{}/organizations",
            "GET /users/{}/keys/tokens", "POST /users/{}/keys/tokens", "GET /users/me/keys/tokens/{}",
            "GET /users/me/keys/{}", "DELETE /users/me/keys/{}", "GET /users/me/workspace/{}",
            "GET /users/{}/workspace/x", "GET /organizations/{}", "GET /organizations/{}/members",
            "GET /organizations/{}/templates", "GET /organizations/coder/templates/{}", "GET /templates/{}",
            "GET /templates/{}/versions", "GET /templateversions/{}", "GET /templateversions/{}/presets",
            "GET /workspaces/{}", "POST /workspaces/{}/builds", "GET /workspacebuilds/{}",
            "GET /workspaces?q={}", "GET /workspaces?q=owner:{}", "GET /workspaces?q=template:{}", "GET /users?q={}",
            "GET /users?after_id={}", "GET /users?limit={}", "GET /insights/templates?start_time={}&end_time={}",
            "GET /insights/user-activity?template_ids={}&start_time=x&end_time=y",
            "GET /organizations/{}/groups", "GET /templates/{}/versions/x", "GET /users/{}/keys/tokens/x",
            "POST /users/{}/keys", "PUT /users/{}/status/activate", "GET /templateversions/{}/rich-parameters",
            "GET /workspaces?q=name:{}", "GET /workspaces?q=status:{}", "GET /users?q=status:{}",
            "GET /insights/user-latency?start_time={}&end_time=x", "GET /workspaces/x?include_deleted={}",
        ];
        let before = fingerprint(&e.db);
        for route in routes {
            let (method, template) = route.split_once(' ').unwrap();
            for (what, text) in &encoded {
                for token in [&e.owner, &member] {
                    let path = template.replace("{}", text);
                    let body = json!({});
                    let answer = e.call(method, &path, Some(token), (method != "GET").then_some(&body));
                    assert!(answer.status < 500, "{method} {path} ({what}): {} {}", answer.status, answer.text);
                    if answer.status >= 400 {
                        assert!(answer.body["message"].is_string(), "{method} {path}: not upstream's envelope: {}", answer.text);
                    }
                }
            }
        }
        assert_eq!(fingerprint(&e.db), before, "a refused path or query wrote something");

        // JSON bodies: every text field of every write, each bad text in turn.
        let bodies: Vec<(&str, String, Value, &str)> = vec![
            ("POST", "/users/login".into(), json!({"email": "admin@coderlite.local", "password": "x"}), "email"),
            ("POST", "/users/login".into(), json!({"email": "admin@coderlite.local", "password": "x"}), "password"),
            ("POST", "/users/first".into(), json!({"email": "f@example.com", "username": "first", "password": "x"}), "username"),
            ("POST", "/users".into(), json!({"email": "n@example.com", "username": "newuser", "name": "New",
                "organization_ids": [shapes_nil()]}), "username"),
            ("POST", "/users".into(), json!({"email": "n@example.com", "username": "newuser", "name": "New",
                "organization_ids": [shapes_nil()]}), "email"),
            ("POST", "/users".into(), json!({"email": "n@example.com", "username": "newuser", "name": "New",
                "organization_ids": [shapes_nil()]}), "name"),
            ("POST", "/users/me/keys/tokens".into(), json!({"token_name": "ok"}), "token_name"),
            ("POST", "/users/me/keys/tokens".into(), json!({"token_name": "ok", "scope": "all"}), "scope"),
            ("POST", "/users/me/workspaces".into(), json!({"template_id": template_id, "name": "ws",
                "rich_parameter_values": [{"name": "cpu", "value": "4"}]}), "name"),
            ("POST", "/users/me/workspaces".into(), json!({"template_id": template_id, "name": "ws",
                "rich_parameter_values": [{"name": "cpu", "value": "4"}]}), "template_id"),
            ("POST", "/users/me/workspaces".into(), json!({"template_version_id": version_id, "name": "ws",
                "rich_parameter_values": [{"name": "cpu", "value": "4"}]}), "rich_parameter_values/0/value"),
            ("POST", "/users/me/workspaces".into(), json!({"template_id": template_id, "name": "ws",
                "rich_parameter_values": [{"name": "cpu", "value": "4"}], "autostart_schedule": "CRON_TZ=UTC 30 9 * * 1-5"}),
                "autostart_schedule"),
            ("POST", format!("/workspaces/{workspace}/builds"), json!({"transition": "stop"}), "transition"),
            ("PUT", "/prebuilds/settings".into(), json!({"reconciliation_paused": true}), "reconciliation_paused"),
        ];
        for (method, path, body, field) in &bodies {
            for (what, text) in &bad_texts {
                let mut body = body.clone();
                let pointer = format!("/{field}");
                *body.pointer_mut(&pointer).unwrap() = Value::String(text.clone());
                let before = fingerprint(&e.db);
                let answer = e.call(method, path, Some(&e.owner), Some(&body));
                assert!(answer.status < 500, "{method} {path} {field} ({what}): {} {}", answer.status, answer.text);
                // Rich parameter values may span lines (upstream's multi-line parameters);
                // every other text here must be refused.
                let may_pass = *field == "rich_parameter_values/0/value" && matches!(*what, "newline" | "ESC" | "RTL override" | "10,000 characters");
                if !may_pass {
                    assert!(answer.status >= 400, "{method} {path} {field} ({what}) was accepted: {}", answer.text);
                    assert_eq!(fingerprint(&e.db), before, "{method} {path} {field} ({what}) wrote something");
                }
            }
            // Invalid UTF-8 in a JSON body: 400, not JSON.
            let mut raw_body = body.to_string().into_bytes();
            raw_body.extend_from_slice(b" \xff");
            let res = e.agent.run(
                ureq::http::Request::builder().method(*method).uri(format!("{}{path}", e.base))
                    .header("Coder-Session-Token", &e.owner).body(raw_body).unwrap(),
            ).unwrap();
            assert_eq!(res.status().as_u16(), 400, "{method} {path} with invalid UTF-8");
        }
        let nul = e.post("/users/me/keys/tokens", &e.owner, json!({"token_name": "a\u{0}b"}));
        assert_eq!((nul.status, nul.body["validations"][0]["field"].as_str()), (400, Some("token_name")), "{}", nul.text);
        let param = e.post("/users/me/workspaces", &e.owner, json!({"template_id": template_id, "name": "ws",
            "rich_parameter_values": [{"name": "cpu", "value": "4\u{0}"}]}));
        assert_eq!(param.body["validations"][0]["field"], "rich_parameter_values[0].value", "{}", param.text);
    }

    /// 500 idle connections and 20 that sent half a request head are closed after their
    /// timeouts, while the server keeps answering.
    fn idle_and_half_sent_connections_are_closed(engine) {
        let db = TestDb::on(engine).unwrap();
        let (_server, _base, addr) = start_fresh(&db, &[
            "--http-idle-timeout", "1s", "--http-read-header-timeout", "1s", "--http-max-connections", "600",
        ], &[]);
        let opened = Instant::now();
        let mut idle: Vec<TcpStream> = (0..500).map(|_| TcpStream::connect(&addr).unwrap()).collect();
        let mut half: Vec<TcpStream> = (0..20)
            .map(|_| {
                let mut s = TcpStream::connect(&addr).unwrap();
                s.write_all(b"GET /api/v2/buildinfo HTTP/1.1\r\nHost: x\r\n").unwrap();
                s
            })
            .collect();
        // The server answers throughout.
        while opened.elapsed() < Duration::from_millis(1500) {
            let (status, body) = http_get(&addr, "/api/v2/buildinfo");
            assert_eq!(status, 200, "{body}");
            std::thread::sleep(Duration::from_millis(100));
        }
        for (i, s) in idle.iter_mut().chain(half.iter_mut()).enumerate() {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut buf = [0u8; 256];
            let closed = match s.read(&mut buf) {
                Ok(0) => true,
                Ok(_) => false,
                Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
            };
            assert!(closed, "connection {i} is still open");
        }
        assert!(opened.elapsed() < Duration::from_secs(10), "closed in {:?}", opened.elapsed());
        assert_eq!(http_get(&addr, "/api/v2/buildinfo").0, 200);
    }

    /// Error answers the framework writes (405, 414, 408's kin) and upstream's validation of
    /// cursors and searches, in upstream's JSON envelope.
    fn every_error_answer_is_upstreams_envelope(engine) {
        let e = env(engine);
        let addr = e.base.trim_start_matches("http://").trim_end_matches("/api/v2").to_owned();
        let not_allowed = e.call("PATCH", "/users/me", Some(&e.owner), None);
        assert_eq!(not_allowed.status, 405);
        assert_eq!(not_allowed.body["message"], "Method not allowed.", "{}", not_allowed.text);
        let long = e.get(&format!("/users?q={}", "a".repeat(10_000)), &e.owner);
        assert_eq!(long.status, 414);
        assert!(long.body["message"].is_string(), "{}", long.text);
        let (status, _, body) = raw(&addr, format!(
            "GET /api/v2/users/%ff%fe HTTP/1.1\r\nHost: {addr}\r\nCoder-Session-Token: {}\r\nConnection: close\r\n\r\n",
            e.owner).as_bytes());
        assert_eq!(status, 400);
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["validations"][0]["field"], "user");
        let cursor = e.get("/users?after_id=xyz", &e.owner);
        assert_eq!((cursor.status, cursor.body["validations"][0]["field"].as_str()), (400, Some("after_id")));
        let owner_id = e.get("/users/admin", &e.owner).body["id"].as_str().unwrap().to_owned();
        let after = e.get(&format!("/users?after_id={owner_id}"), &e.owner);
        assert_eq!(after.status, 200);
        assert!(after.body["users"].as_array().unwrap().iter().all(|u| u["username"] != "admin"));
        let ids = e.get("/workspaces?q=id:not-a-uuid", &e.owner);
        assert_eq!((ids.status, ids.body["validations"][0]["field"].as_str()), (400, Some("id")), "{}", ids.text);
        // Upstream trims an unbalanced quote and searches for what is left.
        assert_eq!(e.get("/users?q=%22", &e.owner).status, 200);
        for user in ["nobody", "prebuilds"] {
            let tokens = e.post(&format!("/users/{user}/keys/tokens"), &e.owner, json!({}));
            assert_eq!(tokens.status, 400, "{user}: {}", tokens.text);
        }
    }

    /// A user-admin cannot delete or suspend an owner; an owner can delete another owner
    /// but never the last active one.
    fn owners_are_protected_from_user_admins(engine) {
        let e = env(engine);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("roles.json");
        std::fs::write(&file, r#"{"users": [{"username": "uadmin", "roles": ["user-admin"]},
            {"username": "owner2", "roles": ["owner"]}]}"#).unwrap();
        let out = coderlite(&e.db).args(["fixtures", "load"]).arg(&file).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let uadmin = token_for(&e.db, "uadmin");
        let owner2 = token_for(&e.db, "owner2");
        let deleted = e.call("DELETE", "/users/admin", Some(&uadmin), None);
        assert_eq!(deleted.status, 403, "{}", deleted.text);
        let suspended = e.call("PUT", "/users/admin/status/suspend", Some(&uadmin), None);
        assert_eq!(suspended.status, 400, "{}", suspended.text);
        assert_eq!(e.get("/users/admin", &e.owner).body["status"], "active");
        // Another owner may remove an owner (upstream's rule), the last active one never.
        let removed = e.call("DELETE", "/users/owner2", Some(&e.owner), None);
        assert_eq!(removed.status, 200, "{}", removed.text);
        let _ = owner2;
        assert_eq!(e.db.query_i64("SELECT COUNT(*) FROM users WHERE username = 'admin' AND NOT deleted").unwrap(), 1);
        // A user-admin still manages members.
        let (_, _) = e.member("mallory");
        assert_eq!(e.call("PUT", "/users/mallory/status/suspend", Some(&uadmin), None).status, 200);
    }

    /// A member who names another organization's template answers as for a template that
    /// does not exist: nothing tells it that the template exists.
    fn an_unreadable_template_answers_as_a_missing_one(engine) {
        let e = env(engine);
        let (_, member) = e.member("mallory");
        let acme = e.get("/organizations/acme/templates", &e.owner).body[0].clone();
        let hidden = e.post("/users/me/workspaces", &member, json!({"template_id": acme["id"], "name": "ws"}));
        let missing_id = uuid::Uuid::new_v4().to_string();
        let missing = e.post("/users/me/workspaces", &member, json!({"template_id": missing_id, "name": "ws"}));
        assert_eq!(hidden.status, 400, "{}", hidden.text);
        assert_eq!(missing.status, 400, "{}", missing.text);
        assert_eq!(
            hidden.text.replace(acme["id"].as_str().unwrap(), "ID"),
            missing.text.replace(&missing_id, "ID"),
            "the same answer"
        );
        let by_version = e.post("/users/me/workspaces", &member,
            json!({"template_version_id": acme["active_version_id"], "name": "ws"}));
        assert_eq!(by_version.status, 400, "{}", by_version.text);
        assert!(by_version.body["message"].as_str().unwrap().starts_with("Template version"));
    }
}

/// The nil UUID: upstream maps it to the default organization.
fn shapes_nil() -> &'static str {
    "00000000-0000-0000-0000-000000000000"
}
