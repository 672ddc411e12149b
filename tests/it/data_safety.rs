//! Data safety (SPEC §2.2, §13): SQLite's file locks are never dropped behind its back, so an
//! outside client can never delete the live WAL; concurrent first opens never report
//! "database is locked"; absurd durations are refused before anything runs; a dead service
//! takes the server down; a closed stderr never keeps the server up; a final flush that fails
//! says what it lost.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

use coderlite::boundaryusage::Tracker;
use coderlite::boundaryusage::run_flush_loop;
use coderlite::clock::Cancel;
use coderlite::clock::RealClock;
use coderlite::database::sqlite::SqliteStore;
use coderlite::database::sqlite::StoreConfig;
use coderlite::testing::TestDb;
use serde_json::Value;
use uuid::Uuid;

use crate::support::*;

/// Opens a plain SQLite connection with Python's `sqlite3` module (the system SQLite, as an
/// operator's script or the `sqlite3` shell would), reads, and closes it. That close is what
/// deletes the WAL when the closer believes it is the last user. (The SQLite bundled into
/// this test binary does not reproduce the loss; the system library does.)
fn outside_client_read(db: &Path) -> i64 {
    let script = "import sqlite3, sys\n\
                  c = sqlite3.connect(sys.argv[1])\n\
                  print(c.execute('SELECT COUNT(*) FROM workspace_agent_stats').fetchone()[0])\n\
                  c.close()\n";
    let out = Command::new("python3").args(["-c", script]).arg(db).output().expect("python3 runs the outside client");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Whether process `pid` has the database's WAL open although it was unlinked.
fn holds_deleted_wal(pid: u32) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok())
        .any(|target| target.to_string_lossy().ends_with("-wal (deleted)"))
}

fn wal_path(db: &Path) -> std::path::PathBuf {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    wal.into()
}

/// The scenario of the data-loss report: a server on a file it migrated itself, an outside
/// client opening and closing connections, a claim by the CLI meanwhile; the server's commits
/// stay visible, the WAL stays linked, and the claim survives a restart.
fn outside_client_scenario(db: &Path) {
    let server = Server::start_demo(db);
    let pid = server.child.id();
    wait_until_converged(db, Duration::from_secs(60));

    let mut seen = outside_client_read(db);
    for _ in 0..5 {
        assert!(wal_path(db).exists(), "an outside client's close deleted the live WAL");
        assert!(!holds_deleted_wal(pid), "the server writes into an unlinked WAL");
        seen = outside_client_read(db);
    }

    let status = admin(db, &["prebuilds", "status"]);
    let preset = buildable_active_presets(db, &status)
        .into_iter()
        .find(|p| p["eligible"].as_i64().unwrap() > 0)
        .expect("an eligible preset");
    let claim = admin(
        db,
        &["prebuilds", "claim", "--preset", preset["preset_id"].as_str().unwrap(), "--user", "alice", "--name", "kept"],
    );
    assert_eq!(claim["claimed"], true, "{claim}");

    // The server's later commits reach new readers (the simulated agents report every 200 ms).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now_seen = outside_client_read(db);
        assert!(!holds_deleted_wal(pid), "the server writes into an unlinked WAL");
        if now_seen > seen {
            break;
        }
        assert!(Instant::now() < deadline, "new readers stopped seeing the server's commits ({seen} agent stats)");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, _, log) = server.terminate();
    assert_eq!(code, Some(0), "{log:#?}");

    let restarted = Server::start_demo(db);
    let claimed = count(
        db,
        "SELECT COUNT(*) FROM workspaces w JOIN users u ON u.id = w.owner_id WHERE u.username = 'alice' AND w.name = 'kept'",
    );
    assert_eq!(claimed, 1, "the claim committed while the outside client ran is gone after the restart");
    let (code, _, _) = restarted.terminate();
    assert_eq!(code, Some(0));
}

#[test]
fn an_outside_client_never_deletes_the_live_wal_of_a_fresh_file() {
    let dir = tempfile::tempdir().unwrap();
    outside_client_scenario(&dir.path().join("fresh.db"));
}

#[test]
fn an_outside_client_never_deletes_the_live_wal_after_an_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("upgrade.db");
    let old = SqliteStore::open_at_version(StoreConfig::new(&db, Arc::new(RealClock), "old"), 6).unwrap();
    assert_eq!(coderlite::database::SystemStore::schema_version(&old).unwrap(), 6);
    drop(old);
    outside_client_scenario(&db);
    assert_eq!(admin(&db, &["db", "check"])["schema_version"], coderlite::database::sqlite::binary_schema_version());
}

contract_tests! {
    /// Setup, seed and servers started at once on one database all succeed and agree. On SQLite
    /// the file is new (first opens race); on PostgreSQL only `migrate`, `setup` and `server`
    /// create a schema, so the database is migrated first and the rest race on it.
    fn concurrent_first_opens_never_report_locked(engine) {
        let rounds = if *engine == coderlite::testing::TestEngine::Sqlite { 20 } else { 5 };
        for round in 0..rounds {
            let db = coderlite::testing::EmptyDb::create(engine).unwrap();
            if db.engine() == coderlite::database::Engine::Postgres {
                assert!(coderlite(&db).arg("migrate").output().unwrap().status.success());
            }
            let env = |cmd: &mut Command| {
                cmd.env("CODER_AIBRIDGE_OPENAI_KEY", "sk-concurrent-0123456789")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
            };
            let mut plain = Vec::new();
            let mut servers = Vec::new();
            for n in 0..8 {
                match n % 3 {
                    0 => {
                        let mut cmd = coderlite(&db);
                        env(cmd.args(["setup", "-o", "json"]));
                        plain.push(cmd.spawn().unwrap());
                    }
                    1 => {
                        let mut cmd = coderlite(&db);
                        env(cmd.args(["providers", "seed", "-o", "json"]));
                        plain.push(cmd.spawn().unwrap());
                    }
                    _ => servers.push(Server::start(&db, &[])),
                }
            }
            let mut deployment_ids = Vec::new();
            for child in plain {
                let out = child.wait_with_output().unwrap();
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert!(out.status.success(), "round {round}: {stderr}");
                assert!(!stderr.contains("locked") && !stderr.contains("busy"), "round {round}: {stderr}");
                let json: Value = serde_json::from_slice(&out.stdout).unwrap();
                if let Some(id) = json["deployment_id"].as_str() {
                    deployment_ids.push(id.to_owned());
                }
            }
            for mut server in servers {
                server.wait_for_message("coderlite server started", Duration::from_secs(30));
                let (code, _, log) = server.terminate();
                assert_eq!(code, Some(0), "round {round}: {log:#?}");
                assert_eq!(contention_or_errors(&log), Vec::<Value>::new(), "round {round}");
            }
            deployment_ids.dedup();
            assert_eq!(deployment_ids.len(), 1, "round {round}: {deployment_ids:?}");
            assert_eq!(count(&db, "SELECT COUNT(*) FROM site_configs WHERE key = 'deployment_id'"), 1);
            assert_eq!(count(&db, "SELECT COUNT(*) FROM ai_providers"), 1, "round {round}: one provider row");
        }
    }
}

/// Runs the binary with `args` (and `env`), expecting a usage error (exit 2) that names `names`.
fn assert_usage_error(db: &Path, args: &[&str], env: &[(&str, &str)], names: &[&str]) {
    let mut cmd = coderlite(db);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
    for name in names {
        assert!(stderr.contains(name), "{args:?} {env:?}: {name} not named in {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn absurd_durations_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("never-created.db");
    for (flag, value) in [
        ("--reconcile-interval", "1000000000000h"),
        ("--boundary-flush-interval", "1000000000000h"),
        ("--telemetry-interval", "1000000000000h"),
        ("--agent-stats-interval", "1000000000000h"),
        ("--rollup-interval", "18446744073709551615s1s"),
        ("--rollup-interval", "5124095576030432h"),
        ("--provisioner-delay", "0s"),
    ] {
        assert_usage_error(&db, &["server", flag, value], &[], &[flag, "365d"]);
    }
    assert_usage_error(
        &db,
        &["server"],
        &[("CODER_WORKSPACE_PREBUILDS_RECONCILIATION_INTERVAL", "5x")],
        &["CODER_WORKSPACE_PREBUILDS_RECONCILIATION_INTERVAL", "5x"],
    );
    assert_usage_error(
        &db,
        &["server"],
        &[("CODERLITE_ROLLUP_INTERVAL", "400d")],
        &["CODERLITE_ROLLUP_INTERVAL", "365d"],
    );
    assert_usage_error(
        &db,
        &["debug", "hold-lease", "--lock", "3", "--holder", "h", "--ttl", "1000000000000h", "--hold-for", "1s"],
        &[],
        &["--ttl"],
    );
    assert!(!db.exists(), "a refused command created the database");
}

#[test]
fn a_panicking_service_takes_the_server_down() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("panic.db");
    let mut server = Server::start(&db, &["--fail-service", "reconciler"]);
    let status = server.wait_exit(Duration::from_secs(30));
    assert_eq!(status.code(), Some(1));
    std::thread::sleep(Duration::from_millis(100));
    let log = server.messages();
    let last = log.last().and_then(Value::as_str).unwrap_or_default().to_owned();
    assert!(last.starts_with("error: reconciler stopped: panicked"), "{log:#?}");
    // The other services stopped cleanly: nothing holds a lease.
    assert_eq!(admin(&db, &["locks"]), serde_json::json!([]));
}

#[test]
fn a_closed_stderr_never_keeps_the_server_up() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pipe.db");
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let mut child = coderlite(&db)
        .args(["server", "--demo", "--http-address", &addr])
        .args(FAST)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Whoever read the log went away: every log write from now on meets a closed pipe.
    drop(child.stderr.take());
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&addr).is_err() || http_get(&addr, "/healthz").0 != 200 {
        assert!(child.try_wait().unwrap().is_none(), "the server died");
        assert!(Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let every service log a few lines into the closed pipe.
    std::thread::sleep(Duration::from_secs(1));
    assert!(child.try_wait().unwrap().is_none(), "a log write to a closed pipe killed the server");
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("SIGTERM did not stop a server whose stderr is a closed pipe");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failed_final_flush_logs_what_is_lost() {
    let db = TestDb::with_config(|path| {
        let mut config = StoreConfig::new(path, Arc::new(RealClock), "flush");
        config.busy_timeout = Duration::from_millis(50);
        config
    })
    .unwrap();
    let tracker = Tracker::new();
    let (ws1, ws2, owner) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    tracker.track(ws1, owner, 3, 1);
    tracker.track(ws2, owner, 2, 0);
    // Another process holds the write lock past the busy timeout (a full disk acts alike).
    let blocker = rusqlite::Connection::open(db.path()).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();

    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
    let cancel = Cancel::new();
    cancel.cancel();
    let res = tracing::subscriber::with_default(subscriber, || {
        run_flush_loop(&tracker, &db.store, Arc::new(RealClock), "flush", Duration::from_secs(60), &cancel)
    });
    assert!(res.is_err(), "the failed final flush is reported");
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = log.lines().find(|l| l.contains("final boundary usage flush failed")).unwrap_or_else(|| panic!("{log}"));
    assert!(line.contains("ERROR"), "{line}");
    for field in ["allowed_requests=5", "denied_requests=1", "unique_workspaces=2", "unique_users=1"] {
        assert!(line.contains(field), "{field} missing: {line}");
    }
    blocker.execute_batch("ROLLBACK").unwrap();
}
