//! Helpers shared by the tests that spawn the built binary: a server child with its JSON log
//! collected, admin commands, HTTP GETs, and queries on the database (either engine).
#![allow(dead_code)]

pub mod api;
#[macro_use]
pub mod contract;

use std::io::BufRead;
use std::io::BufReader;
use std::io::Read;
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

use coderlite::database::Engine;
use coderlite::database::Location;
use coderlite::database::models::PREBUILDS_SYSTEM_USER_ID;
use coderlite::testing::EmptyDb;
use coderlite::testing::TestDb;
use serde_json::Value;

/// A database test processes point at: a SQLite file or a PostgreSQL database.
pub trait Target {
    fn location(&self) -> Location;

    /// `--db` for a process.
    fn db_arg(&self) -> std::ffi::OsString {
        match self.location() {
            Location::Sqlite(path) => path.into_os_string(),
            Location::Postgres(url) => url.into(),
        }
    }

    fn engine(&self) -> Engine {
        self.location().engine()
    }
}

impl Target for Path {
    fn location(&self) -> Location {
        Location::Sqlite(self.to_owned())
    }
}

impl Target for std::path::PathBuf {
    fn location(&self) -> Location {
        Location::Sqlite(self.clone())
    }
}

impl Target for TestDb {
    fn location(&self) -> Location {
        TestDb::location(self)
    }
}

impl Target for EmptyDb {
    fn location(&self) -> Location {
        EmptyDb::location(self).clone()
    }
}

/// Intervals short enough for a test to watch every service work.
pub const FAST: &[&str] = &[
    "--reconcile-interval",
    "300ms",
    "--provisioner-delay",
    "100ms",
    "--rollup-interval",
    "1s",
    "--boundary-flush-interval",
    "200ms",
    "--telemetry-interval",
    "1s",
    "--agent-stats-interval",
    "200ms",
];

pub fn coderlite(db: &(impl Target + ?Sized)) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_coderlite"));
    cmd.arg("--db").arg(db.db_arg());
    for var in [
        "CODER_WORKSPACE_PREBUILDS_RECONCILIATION_INTERVAL",
        "CODERLITE_PROVISIONER_DELAY",
        "CODERLITE_ROLLUP_INTERVAL",
        "CODERLITE_BOUNDARY_FLUSH_INTERVAL",
        "CODERLITE_TELEMETRY_INTERVAL",
        "CODERLITE_AGENT_STATS_INTERVAL",
        "CODERLITE_REPLICA_ID",
        "CODERLITE_HTTP_ADDRESS",
        "CODERLITE_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs an admin command with `-o json`; it must succeed.
pub fn admin(db: &(impl Target + ?Sized), args: &[&str]) -> Value {
    let out = coderlite(db).args(args).args(["-o", "json"]).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// A server child process whose JSON log lines are collected.
pub struct Server {
    pub child: Child,
    log: Arc<Mutex<Vec<Value>>>,
}

impl Server {
    pub fn start(db: &(impl Target + ?Sized), extra: &[&str]) -> Self {
        Self::start_with_env(db, extra, &[])
    }

    /// [`Server::start`] with environment variables set for the server.
    pub fn start_with_env(db: &(impl Target + ?Sized), extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = coderlite(db)
            .envs(env.iter().copied())
            .args(["--log-format", "json", "server"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let value = serde_json::from_str(&line).unwrap_or(Value::String(line));
                sink.lock().unwrap().push(value);
            }
        });
        Self { child, log }
    }

    /// A `--demo` server with the FAST intervals, once it has logged that it started.
    pub fn start_demo(db: &(impl Target + ?Sized)) -> Self {
        let mut args = vec!["--demo"];
        args.extend_from_slice(FAST);
        let mut server = Self::start(db, &args);
        server.wait_for_message("coderlite server started", Duration::from_secs(30));
        server
    }

    pub fn messages(&self) -> Vec<Value> {
        self.log.lock().unwrap().clone()
    }

    /// The fields of the first log line with `message`, waiting up to `timeout`.
    pub fn wait_for_message(&mut self, message: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.messages().into_iter().find(|l| l["fields"]["message"] == message) {
                return line["fields"].clone();
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("server exited with {status} before logging {message:?}: {:#?}", self.messages());
            }
            assert!(Instant::now() < deadline, "no {message:?} within {timeout:?}: {:#?}", self.messages());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill").args([&format!("-{name}"), &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, failing after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not exit within {timeout:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGTERM and returns the exit code and how long the exit took.
    pub fn terminate(mut self) -> (Option<i32>, Duration, Vec<Value>) {
        let started = Instant::now();
        self.signal("TERM");
        let status = self.wait_exit(Duration::from_secs(30));
        let took = started.elapsed();
        // Let the reader thread drain the last lines.
        std::thread::sleep(Duration::from_millis(100));
        (status.code(), took, self.messages())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Log lines at ERROR, and WARN lines that speak of lock contention.
pub fn contention_or_errors(log: &[Value]) -> Vec<Value> {
    log.iter()
        .filter(|l| {
            let text = l.to_string().to_lowercase();
            l["level"] == "ERROR"
                || text.contains("locked")
                || text.contains("busy")
                || text.contains("lock not available")
        })
        .cloned()
        .collect()
}

/// `GET path` on `addr`: (status code, body).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

/// Presets on active versions that can build (the demo also has a version set to fail).
pub fn buildable_active_presets(db: &(impl Target + ?Sized), status: &Value) -> Vec<Value> {
    status["presets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            let failing = count(
                db,
                &format!(
                    "SELECT COUNT(*) FROM template_version_presets p
                     JOIN template_versions tv ON tv.id = p.template_version_id
                     WHERE tv.fail_builds = true AND p.id = '{}'",
                    p["preset_id"].as_str().unwrap()
                ),
            );
            p["active"] == true && failing == 0
        })
        .cloned()
        .collect()
}

/// Live (not deleted) prebuilt workspaces of `preset_id` by its latest build.
pub fn live_prebuilds_of_preset(db: &(impl Target + ?Sized), preset_id: &str) -> i64 {
    count(
        db,
        &format!(
            "SELECT COUNT(*) FROM workspaces w
             JOIN workspace_builds wb ON wb.workspace_id = w.id
              AND wb.build_number = (SELECT MAX(b.build_number) FROM workspace_builds b WHERE b.workspace_id = w.id)
             WHERE w.owner_id = '{PREBUILDS_SYSTEM_USER_ID}' AND w.deleted = false
               AND wb.template_version_preset_id = '{preset_id}'"
        ),
    )
}

/// Whether every buildable active preset has exactly its desired prebuilds, all running and
/// ready, and nothing in progress.
pub fn converged(db: &(impl Target + ?Sized)) -> bool {
    let status = admin(db, &["prebuilds", "status"]);
    let presets = buildable_active_presets(db, &status);
    !presets.is_empty()
        && presets.iter().all(|p| {
            let desired = p["desired"].as_i64().unwrap();
            p["running"] == desired
                && p["eligible"] == desired
                && p["starting"] == 0
                && live_prebuilds_of_preset(db, p["preset_id"].as_str().unwrap()) == desired
        })
}

pub fn wait_until_converged(db: &(impl Target + ?Sized), timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while !converged(db) {
        assert!(
            Instant::now() < deadline,
            "prebuilds did not converge within {timeout:?}: {:#}",
            admin(db, &["prebuilds", "status"])
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn count(db: &(impl Target + ?Sized), sql: &str) -> i64 {
    coderlite::testing::query_i64(&db.location(), sql).unwrap()
}

/// No job provisioned twice: every completed start build has exactly one resource, and no
/// job is left half-done.
pub fn assert_each_job_provisioned_once(db: &(impl Target + ?Sized)) {
    let doubled = count(
        db,
        "SELECT COUNT(*) FROM (SELECT job_id FROM workspace_resources GROUP BY job_id HAVING COUNT(*) > 1) d",
    );
    assert_eq!(doubled, 0, "jobs provisioned more than once");
    let missing = count(
        db,
        "SELECT COUNT(*) FROM workspace_builds wb JOIN provisioner_jobs pj ON pj.id = wb.job_id
         WHERE wb.transition = 'start' AND pj.job_status = 'succeeded'
           AND NOT EXISTS (SELECT 1 FROM workspace_resources r WHERE r.job_id = pj.id)",
    );
    assert_eq!(missing, 0, "succeeded start jobs without their resource");
}

/// Every audit entry of a resource type, newest first (the API's audit log query, unpaged).
pub fn audit_logs(
    store: &(impl coderlite::database::AuditStore + ?Sized),
    resource_type: &str,
) -> Vec<coderlite::database::models::AuditLog> {
    let filter =
        coderlite::database::models::AuditLogFilter { resource_type: Some(resource_type), ..Default::default() };
    store.get_audit_logs_page(&filter).unwrap().rows
}
