//! Multi-process behaviour and the CLI contract, with the built binary: leases held by other
//! processes, SIGKILLed holders, critical sections of two processes, schema refusal, and the
//! JSON shapes of SPEC §10. On both engines where the behaviour is not about SQLite's file.

use std::io::BufRead;
use std::io::BufReader;
use std::path::Path;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

use coderlite::clock::Clock;
use coderlite::clock::RealClock;
use coderlite::database::LockId;
use coderlite::database::prelude::*;
use coderlite::database::sqlite::binary_schema_version;
use coderlite::testing::TestDb;

use crate::support::Target;

const BIN: &str = env!("CARGO_BIN_EXE_coderlite");

fn coderlite(db: &(impl Target + ?Sized)) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--db").arg(db.db_arg()).env_remove("CODERLITE_DB").env_remove("CODERLITE_LOG");
    cmd
}

/// Starts `debug hold-lease` and waits until it reports the lease acquired.
fn spawn_lease_holder(db: &(impl Target + ?Sized), lock: LockId, ttl: &str, hold_for: &str) -> Child {
    let mut child = coderlite(db)
        .args(["debug", "hold-lease", "--lock", &lock.as_i64().to_string(), "--holder", "child/work"])
        .args(["--ttl", ttl, "--hold-for", hold_for])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "acquired");
    child
}

/// Checks that a log of "enter X"/"exit X" lines never has two sections open at once.
fn assert_sections_never_overlap(log: &Path) -> usize {
    let text = std::fs::read_to_string(log).unwrap();
    let mut open: Option<&str> = None;
    let mut sections = 0;
    for (n, line) in text.lines().enumerate() {
        let (event, who) = line.split_once(' ').unwrap();
        match (event, open) {
            ("enter", None) => open = Some(who),
            ("exit", Some(holder)) if holder == who => {
                open = None;
                sections += 1;
            }
            _ => panic!("line {}: {line:?} while {open:?} is inside", n + 1),
        }
    }
    assert!(open.is_none(), "log ends inside a section");
    sections
}

contract_tests! {
    /// SPEC §3.4 acceptance 1 across processes.
    fn lease_held_by_another_process_is_refused_at_once_then_free(engine) {
        let db = TestDb::on(engine).unwrap();
        let mut child = spawn_lease_holder(&db, LockId::DbRollup, "30s", "1500ms");
        let started = Instant::now();
        let refused = db.store.try_acquire_lease(LockId::DbRollup, "parent/rollup", Duration::from_secs(30)).unwrap();
        assert!(refused.is_none());
        assert!(started.elapsed() < Duration::from_millis(500), "refusal waited {:?}", started.elapsed());
        assert!(child.wait().unwrap().success());
        assert!(db.store.list_locks().unwrap().is_empty(), "the child released its lease on exit");
        let guard = db.store.try_acquire_lease(LockId::DbRollup, "third/rollup", Duration::from_secs(30)).unwrap();
        assert!(guard.is_some());
    }

    /// SPEC §3.4 acceptance 3: the holder is SIGKILLed; before the ttl nobody gets the lease,
    /// after it the next process does.
    fn lease_of_a_killed_process_is_taken_over_after_its_ttl(engine) {
        let db = TestDb::on(engine).unwrap();
        let mut child = spawn_lease_holder(&db, LockId::ReconcilePrebuilds, "2s", "60s");
        child.kill().unwrap(); // SIGKILL: no chance to release.
        child.wait().unwrap();
        let expires_at = db.store.list_locks().unwrap()[0].expires_at.unwrap();
        let mut refusals_before_expiry = 0;
        let deadline = Instant::now() + Duration::from_secs(10);
        let guard = loop {
            assert!(Instant::now() < deadline, "lease never became free");
            let attempt_at = RealClock.now();
            match db.store.try_acquire_lease(LockId::ReconcilePrebuilds, "successor", Duration::from_secs(30)).unwrap() {
                Some(guard) => {
                    assert!(attempt_at >= expires_at - chrono::Duration::milliseconds(1), "taken before expiry");
                    break guard;
                }
                None => {
                    assert!(attempt_at < expires_at + chrono::Duration::seconds(1), "refused long after expiry");
                    refusals_before_expiry += 1;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(refusals_before_expiry > 0);
        assert_eq!(db.store.list_locks().unwrap()[0].holder, "successor");
        guard.release().unwrap();
    }

    /// SPEC §3.4 acceptance 4 across processes: two processes loop over lease 7 with ~50 ms of
    /// work each time; their critical sections never overlap.
    fn lease_critical_sections_of_two_processes_never_overlap(engine) {
        let db = TestDb::on(engine).unwrap();
        let logs = tempfile::tempdir().unwrap();
        let log = logs.path().join("sections.log");
        let children: Vec<Child> = ["p1", "p2"]
            .iter()
            .map(|name| {
                coderlite(&db)
                    .args([
                        "debug",
                        "lease-loop",
                        "--lock",
                        "7",
                        "--holder",
                        name,
                        "--work",
                        "50ms",
                        "--duration",
                        "1500ms",
                    ])
                    .arg("--log")
                    .arg(&log)
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
        let sections = assert_sections_never_overlap(&log);
        assert!(sections >= 10, "only {sections} sections");
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("enter p1") && text.contains("enter p2"), "both processes got the lease");
    }

    /// Two processes hammer transaction lock 9; their critical sections never overlap.
    fn transaction_lock_sections_of_two_processes_never_overlap(engine) {
        let db = TestDb::on(engine).unwrap();
        let logs = tempfile::tempdir().unwrap();
        let log = logs.path().join("tx.log");
        let children: Vec<Child> = ["p1", "p2"]
            .iter()
            .map(|name| {
                coderlite(&db)
                    .args(["debug", "tx-lock-loop", "--lock", "9", "--holder", name, "--iterations", "300", "--log"])
                    .arg(&log)
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
        assert_eq!(assert_sections_never_overlap(&log), 600);
        assert!(db.store.list_locks().unwrap().is_empty());
    }

    fn schema_from_the_future_makes_the_cli_exit_1_naming_both_versions(engine) {
        let db = TestDb::on(engine).unwrap();
        db.execute_sql(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum)
             VALUES (999, 'from_the_future', '2030-01-01T00:00:00Z', '1')",
        )
        .unwrap();
        let out = coderlite(&db).arg("migrate").output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.starts_with("error: open database "), "{stderr}");
        assert!(stderr.contains("999"), "{stderr}");
        assert!(stderr.contains(&format!("this binary's schema version {}", binary_schema_version())), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

contract_tests! {
    /// Read commands refuse a database without coderlite's schema (a mistyped --db), naming
    /// it; `migrate` creates the schema; `db check` then reports it.
    fn only_migrate_creates_the_schema_and_db_check_reports_it(engine) {
        let fresh = coderlite::testing::EmptyDb::create(engine).unwrap();
        for command in [&["locks"][..], &["db", "check"][..], &["prebuilds", "status"][..]] {
            let out = coderlite(&fresh).args(command).output().unwrap();
            assert_eq!(out.status.code(), Some(1), "{command:?}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("no coderlite"), "{command:?}: {stderr}");
        }
        let out = coderlite(&fresh).args(["-o", "json", "migrate"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let out = coderlite(&fresh).args(["-o", "json", "db", "check"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let wal_bytes = value.as_object_mut().unwrap().remove("wal_bytes");
        // The WAL's size is SQLite's; PostgreSQL has no file to report.
        assert_eq!(wal_bytes.as_ref().is_some_and(|b| b.is_u64()), matches!(engine, coderlite::testing::TestEngine::Sqlite), "{wal_bytes:?}");
        assert_eq!(
            value,
            serde_json::json!({"schema_version": binary_schema_version(), "integrity": "ok", "foreign_keys": "ok"})
        );
    }
}

#[test]
fn migrate_and_db_check_print_the_json_shape() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dirs/coderlite.db");
    for command in [&["migrate"][..], &["db", "check"][..]] {
        let out = coderlite(&path).args(["-o", "json"]).args(command).output().unwrap();
        assert!(out.status.success(), "{command:?}: {}", String::from_utf8_lossy(&out.stderr));
        let mut value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        value.as_object_mut().unwrap().remove("wal_bytes");
        assert_eq!(
            value,
            serde_json::json!({
                "schema_version": binary_schema_version(),
                "integrity": "ok",
                "foreign_keys": "ok",
            })
        );
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
}

contract_tests! {
    fn locks_prints_leases_as_json(engine) {
        let db = TestDb::on(engine).unwrap();
        let _guard = db.store.try_acquire_lease(LockId::DbRollup, "r1/rollup", Duration::from_secs(60)).unwrap().unwrap();
        let out = coderlite(&db).args(["locks", "-o", "json"]).output().unwrap();
        assert!(out.status.success());
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let row = &value[0];
        assert_eq!(row["lock_id"], 3);
        assert_eq!(row["name"], "DbRollup");
        assert_eq!(row["kind"], "lease");
        assert_eq!(row["holder"], "r1/rollup");
        assert!(row["acquired_at"].as_str().unwrap().ends_with('Z'));
        assert!(row["expires_at"].as_str().is_some());
    }
}

#[test]
fn usage_errors_exit_2_and_runtime_errors_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN).arg("no-such-command").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let bad = dir.path().join("bad.db");
    std::fs::write(&bad, vec![b'x'; 4096]).unwrap();
    // (A file that is not a database is never touched: no permissions warning either.)
    let out = coderlite(&bad).arg("migrate").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim_end(), format!("error: open database {}: file is not a database", bad.display()));
}

/// PostgreSQL: `locks` shows the advisory locks held and awaited now, named by the holder's
/// replica ID (its connections' application_name) and transaction.
#[test]
fn locks_lists_advisory_locks_held_and_awaited_on_postgres() {
    let Some(engine) = crate::support::contract::postgres() else { return };
    let db = TestDb::on(&engine).unwrap();
    let holder = db.open_another("replica-a").unwrap();
    let waiter = db.open_another("replica-b").unwrap();
    let (taken_tx, taken) = std::sync::mpsc::channel();
    let (release_tx, release) = std::sync::mpsc::channel::<()>();
    let holding = std::thread::spawn(move || {
        coderlite::database::in_tx(&holder, coderlite::database::TxOptions::write("hold"), |tx| {
            tx.acquire_lock(LockId::BoundaryUsageStats)?;
            taken_tx.send(()).unwrap();
            release.recv().unwrap();
            Ok::<_, coderlite::database::Error>(())
        })
    });
    taken.recv().unwrap();
    let waiting = std::thread::spawn(move || {
        coderlite::database::in_tx(&waiter, coderlite::database::TxOptions::write("wait"), |tx| {
            tx.acquire_lock(LockId::BoundaryUsageStats)
        })
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let rows = loop {
        let out = coderlite(&db).args(["locks", "-o", "json"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        if rows.len() == 2 || Instant::now() > deadline {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let holders: Vec<&str> = rows.iter().map(|r| r["holder"].as_str().unwrap()).collect();
    assert_eq!(holders, ["replica-a", "replica-b (waiting)"], "{rows:?}");
    assert!(rows.iter().all(|r| r["lock_id"] == 9 && r["kind"] == "transaction"), "{rows:?}");
    release_tx.send(()).unwrap();
    holding.join().unwrap().unwrap();
    waiting.join().unwrap().unwrap();
    assert!(db.store.list_locks().unwrap().is_empty());
}
