//! coderlite as the server other test suites run against: `--ephemeral` servers with a ready
//! line that leave nothing behind, and the test controls (reset, snapshots, fixtures, the
//! virtual clock) used through HTTP only, as a test suite in another language would.

use std::time::Duration;
use std::time::Instant;

use coderlite::testing::TestEngine;
use coderlite::testing::TestServer;
use coderlite::testing::TestServerBuilder;
use serde_json::Value;
use serde_json::json;

/// A test server on `engine` (SQLite: a temporary file; PostgreSQL: a scratch database).
fn builder(engine: &TestEngine) -> TestServerBuilder {
    let b = TestServer::builder(env!("CARGO_BIN_EXE_coderlite")).env("CODERLITE_PASSWORD_HASH", "fast");
    match engine {
        TestEngine::Sqlite => b,
        TestEngine::Postgres { url } => b.postgres(url),
    }
}

/// Calls the server at `base` with `token`; answers (status, JSON body).
fn call(base: &str, method: &str, path: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let url = format!("{base}{path}");
    let answer = match body {
        Some(body) => agent
            .run(
                ureq::http::Request::builder()
                    .method(method)
                    .uri(&url)
                    .header("Coder-Session-Token", token)
                    .header("Content-Type", "application/json")
                    .body(body.to_string())
                    .unwrap(),
            )
            .unwrap(),
        None => agent
            .run(
                ureq::http::Request::builder()
                    .method(method)
                    .uri(&url)
                    .header("Coder-Session-Token", token)
                    .body(())
                    .unwrap(),
            )
            .unwrap(),
    };
    let status = answer.status().as_u16();
    let text = answer.into_body().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn control(server: &TestServer, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    call(server.url(), method, &format!("/api/coderlite/v1{path}"), server.token(), body.as_ref())
}

fn api(server: &TestServer, path: &str) -> Value {
    let (status, body) = call(server.url(), "GET", &format!("/api/v2{path}"), server.token(), None);
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn advance(server: &TestServer, by: &str) -> Value {
    let (status, body) = control(server, "POST", "/clock", Some(json!({ "advance": by })));
    assert_eq!(status, 200, "advance {by}: {body}");
    body
}

/// The IDs of the live workspaces of template `name`, sorted.
fn workspace_ids(server: &TestServer, template: &str) -> Vec<String> {
    let list = api(server, &format!("/workspaces?q=template:{template}"));
    let mut ids: Vec<String> =
        list["workspaces"].as_array().unwrap().iter().map(|w| w["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

#[test]
fn fifty_ephemeral_servers_start_serve_and_leave_nothing() {
    let mut ready_ms = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        let server = builder(&TestEngine::Sqlite).start().unwrap();
        ready_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        let ready = server.ready().clone();
        let dir = std::path::Path::new(&ready.db).parent().unwrap().to_owned();
        assert!(dir.is_dir(), "{ready:?}");
        assert_eq!(api(&server, "/users/me")["username"], "admin");
        let status = server.stop().unwrap();
        assert!(status.success(), "{status}");
        assert!(!dir.exists(), "the ephemeral database stayed: {}", dir.display());
        // The process is gone: its pid no longer answers signal 0.
        assert_ne!(unsafe { libc::kill(ready.pid as i32, 0) }, 0, "pid {} still runs", ready.pid);
    }
    ready_ms.sort_by(f64::total_cmp);
    eprintln!(
        "start to ready (debug build, whole process): median {:.1} ms, max {:.1} ms",
        ready_ms[ready_ms.len() / 2],
        ready_ms[ready_ms.len() - 1]
    );
}

contract_tests! {
    /// An ephemeral server stopped by SIGTERM removes its database: the SQLite file's
    /// directory, or the scratch database it made next to a PostgreSQL URL.
    fn an_ephemeral_server_drops_its_database_on_sigterm(engine) {
        let server = builder(engine).start().unwrap();
        let db = server.ready().db.clone();
        assert_eq!(api(&server, "/users/me")["username"], "admin");
        assert_eq!(unsafe { libc::kill(server.ready().pid as i32, libc::SIGTERM) }, 0);
        assert!(server.stop().unwrap().success());
        match engine {
            TestEngine::Sqlite => assert!(!std::path::Path::new(&db).exists()),
            TestEngine::Postgres { url } => {
                let name = db.rsplit('/').next().unwrap().split('?').next().unwrap().to_owned();
                assert!(name.starts_with("coderlite_ephemeral_"), "{db}");
                let left = coderlite::testing::query_i64(
                    &coderlite::database::Location::Postgres(url.clone()),
                    &format!("SELECT COUNT(*) FROM pg_database WHERE datname = '{name}'"),
                )
                .unwrap();
                assert_eq!(left, 0, "the scratch database {name} stayed");
            }
        }
    }

    /// Only the control API: a preset with a 1h TTL and a schedule is filled, its prebuild
    /// replaced once it expires; a failing preset backs off until its window passes; the
    /// rollup's next slot brings the loaded activity into insights. No sleeps.
    fn a_virtual_clock_drives_expiry_backoff_and_the_rollup(engine) {
        let server = builder(engine).virtual_clock().arg("--reconcile-interval").arg("10s").start().unwrap();
        let (status, clock) = control(&server, "GET", "/clock", None);
        assert_eq!((status, clock["mode"].as_str()), (200, Some("virtual")));
        let fixtures = json!({
            "users": [{ "username": "alice" }],
            "templates": [
                { "name": "web", "versions": [{ "name": "v1", "presets": [{
                    "name": "ttl", "desired_instances": 0, "invalidate_after_secs": 3600,
                    "scheduling_timezone": "UTC",
                    "schedules": [{ "cron": "* 0-23 * * *", "desired_instances": 1 }]
                }] }] },
                { "name": "broken", "versions": [{ "name": "v1", "fail_builds": true,
                    "presets": [{ "name": "fails", "desired_instances": 1 }] }] }
            ],
            "workspaces": [{ "template": "web", "owner": "alice", "name": "dev", "created_at": "now-3h" }],
            "agent_stats_series": [{ "workspace": "alice/dev", "from": "now-2h", "to": "now", "every": "30m",
                "connection_count": 1, "connection_median_latency_ms": 12.0, "session_count_ssh": 1 }]
        });
        let (status, loaded) = control(&server, "POST", "/fixtures", Some(fixtures));
        assert_eq!(status, 201, "{loaded}");
        assert_eq!(loaded["loaded"]["presets"], 2);
        assert!(loaded["ids"]["presets"]["web/v1/ttl"].is_string(), "{loaded}");
        assert!(loaded["ids"]["workspaces"]["alice/dev"].is_string(), "{loaded}");
        let dev = loaded["ids"]["workspaces"]["alice/dev"].as_str().unwrap().to_owned();

        // Insights before the rollup's next slot: the loaded activity is not counted yet.
        let now = chrono::DateTime::parse_from_rfc3339(clock["now"].as_str().unwrap()).unwrap();
        let hour = |t: chrono::DateTime<chrono::FixedOffset>| t.format("%Y-%m-%dT%H:00:00Z").to_string();
        // Upstream's rule: days start at midnight; a range ending today may end at this hour.
        let range = format!(
            "start_time={}T00:00:00Z&end_time={}",
            now.date_naive() - chrono::Duration::days(1),
            hour(now)
        );
        let before = api(&server, &format!("/insights/templates?{range}"));
        assert_eq!(before["report"]["active_users"], 0, "{before}");

        // 10s: the first cycle fills the preset (its schedule asks for one) and starts the
        // failing preset's first build; 2s later both builds are done.
        advance(&server, "15s");
        let first = workspace_ids(&server, "web").into_iter().filter(|id| *id != dev).collect::<Vec<_>>();
        assert_eq!(first.len(), 1, "one prebuild for the schedule's one instance");
        assert_eq!(workspace_ids(&server, "broken").len(), 1);
        // The failure backs off 15s from its build: the cycle at 20s waits, the one at 30s retries.
        advance(&server, "7s");
        assert_eq!(workspace_ids(&server, "broken").len(), 1, "still backing off");
        advance(&server, "10s");
        assert_eq!(workspace_ids(&server, "broken").len(), 2, "retried after the backoff window");

        // The rollup runs every 5m: its next slot counts alice's activity.
        advance(&server, "5m");
        let after = api(&server, &format!("/insights/templates?{range}"));
        assert_eq!(after["report"]["active_users"], 1, "{after}");

        // 61 minutes on, the prebuild is past its TTL: deleted and replaced.
        let moved = advance(&server, "61m");
        assert!(moved["ticks"].as_u64().unwrap() > 61 * 6, "every reconcile tick ran: {moved}");
        let now_ids = workspace_ids(&server, "web").into_iter().filter(|id| *id != dev).collect::<Vec<_>>();
        assert_eq!(now_ids.len(), 1, "{now_ids:?}");
        assert_ne!(now_ids, first, "the expired prebuild was replaced");

        // The clock never moves back; the wall clock refuses writes.
        let (status, body) = control(&server, "POST", "/clock", Some(json!({ "set": "2000-01-01T00:00:00Z" })));
        assert_eq!(status, 400, "{body}");
        let (status, _) = control(&server, "POST", "/clock", Some(json!({ "advance": "1m", "set": "2000-01-01T00:00:00Z" })));
        assert_eq!(status, 400);
    }

    /// Reset and snapshot restore bring back byte-identical answers for a fixed set of reads.
    fn reset_and_restore_bring_back_identical_answers(engine) {
        let server = builder(engine).virtual_clock().demo().start().unwrap();
        let reads = ["/users?limit=50", "/workspaces?limit=100", "/templates", "/organizations", "/users/roles"];
        let read_all = || reads.iter().map(|p| api(&server, p).to_string()).collect::<Vec<_>>();
        let at_start = read_all();
        let (status, body) = control(&server, "POST", "/snapshots", Some(json!({ "name": "at-start" })));
        assert_eq!((status, &body), (201, &json!({ "name": "at-start" })));

        // Change things: the clock moves (prebuilds, the rollup), fixtures add a template.
        advance(&server, "2m");
        let more = json!({ "templates": [{ "name": "extra", "versions": [{ "name": "v1",
            "presets": [{ "name": "one", "desired_instances": 1 }] }] }] });
        assert_eq!(control(&server, "POST", "/fixtures", Some(more)).0, 201);
        // Ends 1.5s after a reconcile tick (every 10s in demo mode), so the builds it started
        // (1s each) are done and nothing runs at the reset.
        advance(&server, "31.5s");
        let changed = read_all();
        assert_ne!(changed, at_start);
        assert_eq!(control(&server, "POST", "/snapshots", Some(json!({ "name": "changed" }))).0, 201);

        let (status, body) = control(&server, "POST", "/reset", None);
        assert_eq!(status, 200, "{body}");
        assert_eq!(read_all(), at_start, "reset brings back the state after start");
        let (status, body) = control(&server, "POST", "/snapshots/changed/restore", Some(json!({})));
        assert_eq!(status, 200, "{body}");
        assert_eq!(read_all(), changed);
        assert_eq!(control(&server, "POST", "/snapshots/at-start/restore", None).0, 200);
        assert_eq!(read_all(), at_start);
        let (status, body) = control(&server, "GET", "/snapshots", None);
        assert_eq!((status, &body["snapshots"]), (200, &json!(["at-start", "changed"])));
        let (status, body) = control(&server, "POST", "/snapshots/nope/restore", None);
        assert_eq!(status, 404, "{body}");
        let (status, body) = control(&server, "POST", "/snapshots", Some(json!({ "name": "bad name" })));
        assert_eq!((status, body["validations"][0]["field"].as_str()), (400, Some("name")));

        // A build job in flight: restore is refused unless forced.
        advance(&server, "10s");
        let (status, ws) = call(
            server.url(),
            "POST",
            "/api/v2/users/me/workspaces",
            server.token(),
            Some(&json!({ "name": "mine", "template_id": api(&server, "/organizations/coder/templates/docker")["id"],
                "rich_parameter_values": [{ "name": "cpu", "value": "2" }] })),
        );
        assert_eq!(status, 201, "{ws}");
        advance(&server, "1s"); // the provisioner picks the job up; it runs 1s in demo mode
        let (status, body) = control(&server, "POST", "/reset", None);
        assert_eq!(status, 409, "{body}");
        assert!(body["message"].as_str().unwrap().contains("build job"), "{body}");
        assert_eq!(control(&server, "POST", "/reset", Some(json!({ "force": true }))).0, 200);
        assert_eq!(read_all(), at_start);
    }
}

/// Without `--test-controls` every control route answers as an unknown path; with it, a
/// member is refused (403) and the wall clock refuses moves.
#[test]
fn controls_are_off_by_default_and_for_owners_only() {
    let plain = builder(&TestEngine::Sqlite).start().unwrap();
    let unknown = call(plain.url(), "POST", "/api/coderlite/v1/no-such-route", plain.token(), None);
    assert_eq!(unknown.0, 404);
    for (method, path) in [
        ("POST", "/reset"),
        ("GET", "/snapshots"),
        ("POST", "/snapshots"),
        ("POST", "/snapshots/x/restore"),
        ("POST", "/fixtures"),
        ("GET", "/clock"),
        ("POST", "/clock"),
    ] {
        let answer = call(plain.url(), method, &format!("/api/coderlite/v1{path}"), plain.token(), Some(&json!({})));
        assert_eq!(answer, unknown, "{method} {path}");
    }
    drop(plain);

    let server = builder(&TestEngine::Sqlite).test_controls().start().unwrap();
    let (status, _) = call(
        server.url(),
        "POST",
        "/api/v2/users",
        server.token(),
        Some(&json!({ "email": "m@example.com", "username": "member", "password": "a-long-password-1",
            "organization_ids": [api(&server, "/organizations/default")["id"]] })),
    );
    assert_eq!(status, 201);
    let (status, login) = call(
        server.url(),
        "POST",
        "/api/v2/users/login",
        "",
        Some(&json!({ "email": "m@example.com", "password": "a-long-password-1" })),
    );
    assert_eq!(status, 201, "{login}");
    let member = login["session_token"].as_str().unwrap();
    for (method, path) in [("POST", "/reset"), ("GET", "/clock"), ("GET", "/snapshots")] {
        let (status, _) = call(server.url(), method, &format!("/api/coderlite/v1{path}"), member, None);
        assert_eq!(status, 403, "{method} {path}");
    }
    let (status, body) = control(&server, "POST", "/clock", Some(json!({ "advance": "1m" })));
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("wall clock"), "{body}");
    let (status, body) = control(&server, "GET", "/clock", None);
    assert_eq!((status, body["mode"].as_str()), (200, Some("wall")));
    assert_eq!(control(&server, "POST", "/reset", None).0, 200);

    // A reconcile cycle in progress (another process holds its lease): a reset waits for it,
    // or with a short wait is refused; it never runs inside the cycle.
    use std::io::BufRead;
    let mut cycle = std::process::Command::new(env!("CARGO_BIN_EXE_coderlite"))
        .args(["--db", &server.ready().db, "debug", "hold-lease", "--lock", "7", "--holder", "a-cycle"])
        .args(["--ttl", "60s", "--hold-for", "1500ms"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(cycle.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "acquired");
    let held_since = Instant::now();
    let (status, body) = control(&server, "POST", "/reset", Some(json!({ "wait": "100ms" })));
    assert_eq!(status, 409, "{body}");
    assert!(body["message"].as_str().unwrap().contains("ReconcilePrebuilds"), "{body}");
    let (status, body) = control(&server, "POST", "/reset", None);
    assert_eq!(status, 200, "{body}");
    assert!(held_since.elapsed() >= Duration::from_millis(1400), "the reset waited for the cycle");
    assert!(cycle.wait().unwrap().success());
}
