//! Running an install for months (SPEC §13): the purge service on the mock clock, one purger
//! at a time, registered replicas, online backups under load, restores.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use chrono::Utc;
use coderlite::aiproviders::seed::NIL_UUID;
use coderlite::clock::Clock;
use coderlite::clock::MockClock;
use coderlite::clock::Timestamp;
use coderlite::database::AnyStore;
use coderlite::database::LockId;
use coderlite::database::models::InsertAuditLog;
use coderlite::database::models::PurgeTarget;
use coderlite::database::models::ReplicaRow;
use coderlite::database::models::TemplateUsageStat;
use coderlite::database::models::WorkspaceAgentStat;
use coderlite::database::prelude::*;
use coderlite::purge::PurgeConfig;
use coderlite::purge::purge_once;
use coderlite::rollup;
use coderlite::testing::EmptyDb;
use coderlite::testing::TestDb;
use coderlite::testing::TestEngine;
use coderlite::testing::fixtures;
use coderlite::wal::WalAction;
use coderlite::wal::check_once;
use serde_json::Value;

use crate::support::*;

const AGENTS: usize = 5;
const DAYS: i64 = 10;

/// A simulated install: five agents reporting every minute for `DAYS` days, the rollup every
/// hour, and (when `purge`) the purge every hour. Returns the store, the rollup's rows at the
/// end, and the raw agent stats left.
fn simulate(engine: &TestEngine, purge: bool) -> (TestDb, Vec<TemplateUsageStat>, i64) {
    let start = Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap();
    let clock = MockClock::new(start);
    let db = TestDb::create(engine, Arc::new(clock.clone())).unwrap();
    let t = fixtures::template(&db.store).build().unwrap();
    let agents: Vec<_> = (0..AGENTS)
        .map(|_| {
            let built = fixtures::workspace(&db.store, &t.template).build().unwrap();
            (built.workspace, built.agent_id.unwrap())
        })
        .collect();
    let config = PurgeConfig::default();
    let mut newest_bucket: Option<Timestamp> = None;
    for hour in 0..DAYS * 24 {
        let base = start + chrono::Duration::hours(hour);
        let rows: Vec<WorkspaceAgentStat> = (0..60)
            .flat_map(|minute| {
                agents.iter().enumerate().map(move |(i, (ws, agent))| WorkspaceAgentStat {
                    id: uuid::Uuid::new_v4().to_string(),
                    created_at: base + chrono::Duration::minutes(minute) + chrono::Duration::seconds(i as i64),
                    user_id: ws.owner_id.clone(),
                    agent_id: agent.clone(),
                    workspace_id: ws.id.clone(),
                    template_id: ws.template_id.clone(),
                    connection_count: 1,
                    connection_median_latency_ms: 10.0 + i as f64,
                    rx_bytes: 0,
                    tx_bytes: 0,
                    session_count_vscode: i64::from(minute % 2 == 0),
                    session_count_jetbrains: 0,
                    session_count_reconnecting_pty: 0,
                    session_count_ssh: 1,
                })
            })
            .collect();
        db.store.insert_workspace_agent_stats(&rows).unwrap();
        clock.set(base + chrono::Duration::hours(1));
        assert!(rollup::run_once(&db.store, "sim/rollup").unwrap().acquired);
        if purge {
            let report = purge_once(&db.store, "sim/purge", &config).unwrap().expect("the purge lease is free");
            assert!(report.longest_transaction < Duration::from_secs(5));
            let rows = db.store.get_template_usage_stats(start, clock.now(), &[]).unwrap();
            newest_bucket = rows.iter().map(|r| r.start_time).max();
            // Nothing the rollup still needs is gone: the oldest raw stat is no later than a
            // day before the newest bucket.
            if let (Some(bucket), Some(oldest)) = (newest_bucket, oldest_stat(&db)) {
                let keep_from = (bucket - chrono::Duration::days(1)).max(start);
                assert!(oldest <= keep_from, "deleted stats the rollup may still need: {oldest} vs {bucket}");
            }
        }
    }
    let _ = newest_bucket;
    let rows = db.store.get_template_usage_stats(start, clock.now(), &[]).unwrap();
    let (raw, _) = db.store.count_usage_stats().unwrap();
    (db, rows, raw)
}

fn oldest_stat(db: &TestDb) -> Option<Timestamp> {
    let sql = match db.engine() {
        coderlite::database::Engine::Sqlite => "SELECT COALESCE(MIN(created_at), 0) FROM workspace_agent_stats",
        coderlite::database::Engine::Postgres => {
            "SELECT COALESCE((extract(epoch FROM MIN(created_at)) * 1000000)::bigint, 0) FROM workspace_agent_stats"
        }
    };
    let micros = db.query_i64(sql).unwrap();
    (micros > 0).then(|| coderlite::clock::from_micros(micros))
}

/// The rows as comparable text with the ids blanked (ids differ between two databases), sorted.
fn without_ids(rows: Vec<TemplateUsageStat>) -> Vec<String> {
    let mut text: Vec<String> = rows
        .into_iter()
        .map(|mut r| {
            r.template_id = String::new();
            r.user_id = String::new();
            format!("{r:?}")
        })
        .collect();
    text.sort();
    text
}

contract_tests! {
    /// Ten simulated days of five agents reporting every minute: with the purge every hour the
    /// raw agent stats stay bounded (about a day behind the newest rollup bucket, plus one
    /// run's four-hour window), and the rollup's output is exactly the run without purge.
    fn purge_keeps_raw_stats_bounded_and_the_rollup_unchanged(engine) {
        let (_, with_purge, raw_left) = simulate(engine, true);
        let (_, without, raw_all) = simulate(engine, false);
        assert_eq!(raw_all, DAYS * 24 * 60 * AGENTS as i64);
        let per_hour = 60 * AGENTS as i64;
        assert!(raw_left <= per_hour * (24 + 4 + 2), "{raw_left} raw stats left");
        assert!(raw_left >= per_hour * 24, "kept at least the last day: {raw_left}");
        assert_eq!(with_purge.len(), without.len());
        assert_eq!(without_ids(with_purge), without_ids(without), "the rollup's output changed with the purge");
    }

    /// Two purgers at once: one holds lock 4, the other skips; each purge target's retention
    /// applies (old notifications, long-expired API keys, telemetry claims and snapshots,
    /// audit entries when configured, servers that stopped heartbeating).
    fn only_one_replica_purges_and_retention_applies(engine) {
        let now = Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap();
        let clock = MockClock::new(now);
        let db = TestDb::create(engine, Arc::new(clock.clone())).unwrap();
        let held = db.store.try_acquire_lease(LockId::DbPurge, "other/purge", Duration::from_secs(60)).unwrap().unwrap();
        assert!(purge_once(&db.store, "me/purge", &PurgeConfig::default()).unwrap().is_none());
        held.release().unwrap();

        let user = fixtures::user(&db.store).build().unwrap();
        let old = now - chrono::Duration::days(8);
        db.store.insert_notification_message(&uuid::Uuid::new_v4().to_string(), "t", &user.id, &serde_json::json!({}), old).unwrap();
        db.store.insert_notification_message(&uuid::Uuid::new_v4().to_string(), "t", &user.id, &serde_json::json!({}), now).unwrap();
        db.store.insert_telemetry_lock("boundary", now - chrono::Duration::days(2)).unwrap();
        db.store.insert_telemetry_lock("boundary", now).unwrap();
        let api = coderlite::api::auth::issue_key(&db.store, &user, coderlite::database::models::LoginType::Token, Duration::from_secs(60), "t").unwrap();
        // The key expired 10 days ago: past the 7-day retention.
        clock.set(now + chrono::Duration::days(10));
        let report = purge_once(&db.store, "me/purge", &PurgeConfig::default()).unwrap().unwrap();
        assert_eq!(report.rows(PurgeTarget::NotificationMessages), 2, "both are now older than a week");
        assert_eq!(report.rows(PurgeTarget::ExpiredApiKeys), 1);
        assert_eq!(report.rows(PurgeTarget::TelemetryLocks), 2);
        assert!(db.store.get_api_key_by_id(&api.1.id).unwrap().is_none());
        assert_eq!(report.rows(PurgeTarget::AuditLogs), 0, "audit entries are kept by default");
        assert_eq!(report.stale_replicas, 0);
        assert!(!report.lease_lost);

        // Audit entries past a configured retention, telemetry snapshots past theirs, and
        // servers whose heartbeat stopped go; the recent ones stay.
        let later = now + chrono::Duration::days(10);
        let audit = |id: &str, age_days: i64| {
            db.store
                .insert_audit_log(&InsertAuditLog {
                    id,
                    time: later - chrono::Duration::days(age_days),
                    user_id: &user.id,
                    organization_id: NIL_UUID,
                    resource_type: "template",
                    resource_id: NIL_UUID,
                    resource_target: "t",
                    action: "create",
                    diff: &serde_json::json!({}),
                    status_code: 200,
                })
                .unwrap()
        };
        let (old_audit, new_audit) = (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());
        audit(&old_audit, 40);
        audit(&new_audit, 1);
        // A snapshot's age is its collection time, the store clock's at insert.
        clock.set(later - chrono::Duration::days(31));
        db.store.insert_telemetry_snapshot("boundary", later - chrono::Duration::days(31), "r", &serde_json::json!({})).unwrap();
        clock.set(later);
        db.store.insert_telemetry_snapshot("boundary", later, "r", &serde_json::json!({})).unwrap();
        let replica = |id: &str, seconds_ago: i64| {
            let at = later - chrono::Duration::seconds(seconds_ago);
            db.store
                .upsert_replica(&ReplicaRow {
                    id: id.to_owned(),
                    hostname: "h".into(),
                    pid: 1,
                    version: "v".into(),
                    started_at: at,
                    updated_at: at,
                    stopped_at: None,
                })
                .unwrap()
        };
        replica("crashed", 60);
        replica("running", 2);
        let audit_30d = PurgeConfig { audit_logs_retention: Duration::from_secs(30 * 86_400), ..PurgeConfig::default() };
        let report = purge_once(&db.store, "me/purge", &audit_30d).unwrap().unwrap();
        assert_eq!(report.rows(PurgeTarget::AuditLogs), 1);
        assert_eq!(report.rows(PurgeTarget::TelemetrySnapshots), 1);
        assert_eq!(report.stale_replicas, 1);
        let audit_ids: Vec<String> = db.store.list_audit_logs("template").unwrap().into_iter().map(|a| a.id).collect();
        assert!(audit_ids.contains(&new_audit) && !audit_ids.contains(&old_audit), "{audit_ids:?}");
        assert_eq!(db.store.list_telemetry_snapshots(10).unwrap().len(), 1);
        let left: Vec<String> = db.store.list_replicas().unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(left, ["running"]);

        // Retention 0 keeps expired keys forever, as upstream.
        let kept = coderlite::api::auth::issue_key(&db.store, &user, coderlite::database::models::LoginType::Token, Duration::from_secs(1), "k").unwrap();
        clock.set(now + chrono::Duration::days(30));
        let keep = PurgeConfig { api_keys_retention: Duration::ZERO, ..PurgeConfig::default() };
        purge_once(&db.store, "me/purge", &keep).unwrap().unwrap();
        assert!(db.store.get_api_key_by_id(&kept.1.id).unwrap().is_some());
    }

    /// A restore registers in the same transaction that finds no server, and a server
    /// registering finds the restore: neither starts while the other holds the database.
    fn a_restore_and_a_server_never_hold_the_database_together(engine) {
        use coderlite::database::Error;
        use coderlite::replicas;
        let db = EmptyDb::create(engine).unwrap();
        let store = db.open(Arc::new(coderlite::clock::RealClock), "test").unwrap();
        let restore = replicas::register_restore(&store).unwrap();
        assert!(restore.starts_with(replicas::RESTORE_ID_PREFIX));
        let refused = replicas::register(&store, "server-1").unwrap_err();
        assert!(matches!(refused, Error::RestoreInProgress { ref replica, .. } if *replica == restore), "{refused}");
        let again = replicas::register_restore(&store).unwrap_err();
        assert!(matches!(again, Error::RestoreInProgress { .. }), "{again}");
        // A server process meets it at start, before serving anything.
        let out = coderlite(&db).args(["server", "--http-address", "127.0.0.1:0"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("a restore") && stderr.contains(&restore), "{stderr}");
        // The restore row is not a server: `replicas` shows it, not live.
        let listed = admin(&db, &["replicas"]);
        assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
        assert_eq!(listed[0]["live"], false);
        replicas::deregister(&store, &restore).unwrap();
        replicas::register(&store, "server-1").unwrap();
        let blocked = replicas::register_restore(&store).unwrap_err();
        assert!(matches!(blocked, Error::ServerRunning { ref replica, .. } if replica == "server-1"), "{blocked}");
        assert_eq!(store.list_replicas().unwrap().len(), 1, "a refused restore registers nothing");
    }

    /// A server registers itself, `replicas` lists it and `/healthz` counts it; a clean stop
    /// removes the row; a restore is refused while it runs.
    fn servers_register_and_a_restore_waits_for_them(engine) {
        let db = EmptyDb::create(engine).unwrap();
        let mut server = Server::start(&db, &["--http-address", "127.0.0.1:0"]);
        let started = server.wait_for_message("coderlite server started", Duration::from_secs(30));
        let listed = admin(&db, &["replicas"]);
        assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
        assert_eq!(listed[0]["id"], started["replica_id"]);
        assert_eq!(listed[0]["live"], true);
        assert_eq!(listed[0]["pid"], server.child.id());
        let (code, body) = http_get(started["http_address"].as_str().unwrap(), "/healthz");
        assert_eq!(code, 200);
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["replicas"], 1);
        if db.engine() == coderlite::database::Engine::Sqlite {
            let dir = tempfile::tempdir().unwrap();
            let backup = dir.path().join("b.db");
            let out = coderlite(&db).args(["db", "backup"]).arg(&backup).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let refused = coderlite(&db).args(["db", "restore"]).arg(&backup).output().unwrap();
            assert_eq!(refused.status.code(), Some(1));
            assert!(String::from_utf8_lossy(&refused.stderr).contains("a server is running on"));
            let (code, _, _) = server.terminate();
            assert_eq!(code, Some(0));
            let restored = coderlite(&db).args(["db", "restore"]).arg(&backup).output().unwrap();
            assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));
            // The replaced database is kept until the next successful start.
            let coderlite::database::Location::Sqlite(path) = db.location() else { unreachable!() };
            let mut kept = path.as_os_str().to_owned();
            kept.push(".before-restore");
            assert!(std::path::Path::new(&kept).exists());
            let mut server = Server::start(&db, &[]);
            server.wait_for_message("coderlite server started", Duration::from_secs(30));
            assert!(!std::path::Path::new(&kept).exists(), "removed once a server started on the restore");
            let (code, _, _) = server.terminate();
            assert_eq!(code, Some(0));
        } else {
            let (code, _, _) = server.terminate();
            assert_eq!(code, Some(0));
            let out = coderlite(&db).args(["db", "backup", "/tmp/never"]).output().unwrap();
            assert_eq!(out.status.code(), Some(1));
            assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
        }
        assert_eq!(admin(&db, &["replicas"]), serde_json::json!([]), "a clean stop deregisters");
    }
}

/// 20 backups taken while a demo server runs at fast intervals each pass their checks, and a
/// server on a restored copy converges.
#[test]
fn backups_under_load_are_consistent_and_restore_to_a_working_install() {
    let db = EmptyDb::create(&TestEngine::Sqlite).unwrap();
    let server = Server::start_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    let mut last = None;
    for i in 0..20 {
        let dest = dir.path().join(format!("backup-{i}.db"));
        let out = coderlite(&db).args(["-o", "json", "db", "backup"]).arg(&dest).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let check = admin(&dest, &["db", "check"]);
        assert_eq!((check["integrity"].as_str(), check["foreign_keys"].as_str()), (Some("ok"), Some("ok")), "{check}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777, 0o600);
        last = Some(dest);
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, _, _) = server.terminate();
    assert_eq!(code, Some(0));
    // An existing destination is refused without --force.
    let last = last.unwrap();
    let out = coderlite(&db).args(["db", "backup"]).arg(&last).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    // Restore into a new file, then a server on it converges.
    let target = dir.path().join("restored.db");
    let out = coderlite(&target).args(["db", "restore"]).arg(&last).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let server = Server::start_demo(&target);
    wait_until_converged(&target, Duration::from_secs(60));
    let (code, _, _) = server.terminate();
    assert_eq!(code, Some(0));
}

/// A backup that runs out of room (a file-size limit) fails cleanly: exit 1, no destination,
/// no partial file.
#[test]
fn a_backup_that_runs_out_of_room_leaves_nothing() {
    let db = TestDb::with_fixtures(&["demo"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("full.db");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -f 64; exec {} --db \"$DB\" db backup \"$DEST\"", env!("CARGO_BIN_EXE_coderlite")))
        .env("DB", db.path())
        .env("DEST", &dest)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    // It failed writing the copy (not earlier, opening the source).
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("back up to") && stderr.contains("vacuum into"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// An older backup (schema 10) is restored as it is and migrated at the next start; a
/// backup from a newer binary is refused.
#[test]
fn an_older_backup_is_migrated_at_the_next_start_and_a_newer_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.db");
    let config = coderlite::database::sqlite::StoreConfig::new(&old, Arc::new(coderlite::clock::RealClock), "t");
    drop(coderlite::database::sqlite::SqliteStore::open_at_version(config, 10).unwrap());
    let target = dir.path().join("target.db");
    let out = coderlite(&target).args(["setup"]).output().unwrap();
    assert!(out.status.success());
    let out = coderlite(&target).args(["-o", "json", "db", "restore"]).arg(&old).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema_version"], 10);
    assert!(dir.path().join("target.db.before-restore").exists(), "the replaced database is kept");
    let check = admin(&target, &["db", "check"]);
    assert_eq!(check["schema_version"], coderlite::database::sqlite::binary_schema_version(), "migrated when opened");

    let newer = dir.path().join("newer.db");
    let out = coderlite(&newer).args(["setup"]).output().unwrap();
    assert!(out.status.success());
    let raw = AnyStore::open(&coderlite::database::OpenConfig::new(
        coderlite::database::Location::Sqlite(newer.clone()),
        Arc::new(coderlite::clock::RealClock),
        "t",
    ))
    .unwrap();
    drop(raw);
    coderlite::testing::execute_sql(
        &coderlite::database::Location::Sqlite(newer.clone()),
        "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES (999, 'future', 'x', '1')",
    )
    .unwrap();
    let refused = coderlite(&target).args(["db", "restore"]).arg(&newer).output().unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("999"), "{}", String::from_utf8_lossy(&refused.stderr));
}

/// The WAL check: a passive checkpoint each time; a truncate only once the log was idle
/// between two checks and no reader holds frames back.
#[test]
fn the_wal_is_truncated_once_idle_and_never_under_a_reader() {
    let db = TestDb::on(&TestEngine::Sqlite).unwrap();
    let user = fixtures::user(&db.store).build().unwrap();
    let write = |n: usize| {
        for _ in 0..n {
            let id = uuid::Uuid::new_v4().to_string();
            db.store
                .insert_notification_message(
                    &id,
                    "t",
                    &user.id,
                    &serde_json::json!({"pad": "x".repeat(500)}),
                    db.store.clock().now(),
                )
                .unwrap();
        }
    };
    write(200);
    let mut previous = None;
    assert_eq!(check_once(&db.store, &mut previous).unwrap(), Some(WalAction::Nothing), "nothing to compare with yet");
    assert!(db.store.wal_status().unwrap().unwrap().wal_bytes > 0);

    // A reader mid-snapshot while more writes arrive: its frames cannot be checkpointed, so no
    // truncate however often the check runs.
    let (reading, read) = std::sync::mpsc::channel();
    let (done, finish) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|scope| {
        let store = &db.store;
        scope.spawn(move || {
            coderlite::database::in_tx(store, coderlite::database::TxOptions::read("wal-test reader"), |tx| {
                tx.count_usage_stats()?;
                reading.send(()).unwrap();
                finish.recv().unwrap();
                Ok::<_, coderlite::database::Error>(())
            })
            .unwrap();
        });
        read.recv().unwrap();
        write(50);
        for _ in 0..3 {
            assert_eq!(
                check_once(&db.store, &mut previous).unwrap(),
                Some(WalAction::Nothing),
                "a reader holds frames"
            );
        }
        assert!(db.store.wal_status().unwrap().unwrap().wal_bytes > 0);
        done.send(()).unwrap();
    });
    // Writes since the last check: not idle yet.
    write(10);
    assert_eq!(check_once(&db.store, &mut previous).unwrap(), Some(WalAction::Nothing));
    // Idle since the previous check: truncated to nothing.
    assert_eq!(check_once(&db.store, &mut previous).unwrap(), Some(WalAction::Truncate));
    assert_eq!(db.store.wal_status().unwrap().unwrap().wal_bytes, 0);
    // And the data is all there.
    write(1);
    assert_eq!(db.query_i64("SELECT COUNT(*) FROM notification_messages").unwrap(), 261);
}

/// The last connection to close removes the `-wal` and `-shm`: a store dropped right after
/// its first read (r2d2 opened that reader on its worker thread a moment before) leaves
/// neither behind, so an admin command run with no server leaves the bare file. Before the
/// readers were waited for, 1 run in 6 of `migrate` on a loaded machine left both.
#[test]
fn a_closed_store_leaves_no_wal_or_shm_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("closed.db");
    let sidecar = |suffix: &str| dir.path().join(format!("closed.db{suffix}"));
    for round in 0..40 {
        let config = coderlite::database::sqlite::StoreConfig::new(&path, Arc::new(coderlite::clock::RealClock), "t");
        let store = coderlite::database::sqlite::SqliteStore::open(config).unwrap();
        let read = coderlite::database::in_tx(&store, coderlite::database::TxOptions::read("close test"), |tx| {
            tx.count_usage_stats()
        });
        read.unwrap();
        drop(store);
        for suffix in ["-wal", "-shm"] {
            assert!(!sidecar(suffix).exists(), "round {round}: {suffix} left behind after the store closed");
        }
    }
}

/// `db backup --force` onto the database itself, named another way (a `.` component, a
/// symlink), is refused, as is a restore from it; the database stays as it was.
#[test]
fn a_backup_onto_the_database_itself_is_refused() {
    let db = TestDb::with_fixtures(&["demo"]).unwrap();
    let path = db.path();
    let dotted = path.parent().unwrap().join(".").join(path.file_name().unwrap());
    let link = path.with_extension("link");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let before = db.query_i64("SELECT COUNT(*) FROM templates").unwrap();
    for dest in [&dotted, &link] {
        let out = coderlite(&db).args(["db", "backup", "--force"]).arg(dest).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stderr).contains("is the database itself"));
    }
    let out = coderlite(&db).args(["db", "restore"]).arg(&link).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is the database itself"));
    assert_eq!(db.query_i64("SELECT COUNT(*) FROM templates").unwrap(), before);
    assert_eq!(admin(&db, &["db", "check"])["integrity"], "ok");
}
