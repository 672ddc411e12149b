//! Running an install for months (SPEC §13): the purge service on the mock clock, one purger
//! at a time, registered replicas, online backups under load, restores.

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
    let raw = db.query_i64("SELECT COUNT(*) FROM workspace_agent_stats").unwrap();
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
        db.store.insert_notification_message(&coderlite::database::models::InsertNotificationMessage { id: &uuid::Uuid::new_v4().to_string(), notification_template_id: "t", user_id: &user.id, payload: &serde_json::json!({}), created_at: old }).unwrap();
        db.store.insert_notification_message(&coderlite::database::models::InsertNotificationMessage { id: &uuid::Uuid::new_v4().to_string(), notification_template_id: "t", user_id: &user.id, payload: &serde_json::json!({}), created_at: now }).unwrap();
        db.store.insert_telemetry_lock("boundary", now - chrono::Duration::days(2)).unwrap();
        db.store.insert_telemetry_lock("boundary", now).unwrap();
        let api = coderlite::identity::keys::issue_key(&db.store, &user, coderlite::database::models::LoginType::Token, Duration::from_secs(60), "t").unwrap();
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
        db.store.insert_telemetry_snapshot(&coderlite::database::models::InsertTelemetrySnapshot { event_type: "boundary", period_ending_at: later - chrono::Duration::days(31), replica_id: "r", snapshot: &serde_json::json!({}) }).unwrap();
        clock.set(later);
        db.store.insert_telemetry_snapshot(&coderlite::database::models::InsertTelemetrySnapshot { event_type: "boundary", period_ending_at: later, replica_id: "r", snapshot: &serde_json::json!({}) }).unwrap();
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
        let audit_ids: Vec<String> = audit_logs(&db.store, "template").into_iter().map(|a| a.id).collect();
        assert!(audit_ids.contains(&new_audit) && !audit_ids.contains(&old_audit), "{audit_ids:?}");
        assert_eq!(db.store.list_telemetry_snapshots(10).unwrap().len(), 1);
        let left: Vec<String> = db.store.list_replicas().unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(left, ["running"]);

        // Retention 0 keeps expired keys forever, as upstream.
        let kept = coderlite::identity::keys::issue_key(&db.store, &user, coderlite::database::models::LoginType::Token, Duration::from_secs(1), "k").unwrap();
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
            let kept = coderlite::database::sqlite::backup::keep_copies(path);
            assert_eq!(kept.len(), 1, "{kept:?}");
            let mut server = Server::start(&db, &[]);
            server.wait_for_message("coderlite server started", Duration::from_secs(30));
            assert!(!kept[0].exists(), "removed once a server started on the restore");
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
    assert_eq!(coderlite::database::sqlite::backup::keep_copies(&target).len(), 1, "the replaced database is kept");
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
                .insert_notification_message(&coderlite::database::models::InsertNotificationMessage {
                    id: &id,
                    notification_template_id: "t",
                    user_id: &user.id,
                    payload: &serde_json::json!({"pad": "x".repeat(500)}),
                    created_at: db.store.clock().now(),
                })
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
                tx.list_replicas()?;
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
            tx.list_replicas()
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
        assert!(String::from_utf8_lossy(&out.stderr).contains("is the database ("));
    }
    let out = coderlite(&db).args(["db", "restore"]).arg(&link).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("it is the database"));
    assert_eq!(db.query_i64("SELECT COUNT(*) FROM templates").unwrap(), before);
    assert_eq!(admin(&db, &["db", "check"])["integrity"], "ok");
}

fn sha256_of(path: &std::path::Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

/// While a server runs, `db backup` onto its `-wal`, `-shm` or `-journal` is refused, with
/// `--force`, through a symlink and by a relative path, and so is `db copy --to` one of
/// them; the server's commits after that survive a SIGKILL.
#[test]
fn a_backup_never_writes_over_a_live_servers_log() {
    let db = TestDb::with_fixtures(&["demo"]).unwrap();
    let path = db.path();
    let dir = path.parent().unwrap().to_owned();
    let mut server = Server::start(&db, &["--http-address", "127.0.0.1:0"]);
    server.wait_for_message("coderlite server started", Duration::from_secs(30));
    let wal = dir.join(format!("{}-wal", path.file_name().unwrap().to_str().unwrap()));
    assert!(wal.exists(), "the server keeps a write-ahead log");
    let link = dir.join("looks-harmless.db");
    std::os::unix::fs::symlink(&wal, &link).unwrap();
    let name = path.file_name().unwrap().to_str().unwrap().to_owned();
    let relative = format!("./{name}-wal");
    let wal_before = std::fs::metadata(&wal).unwrap();
    for dest in [
        wal.to_str().unwrap().to_owned(),
        format!("{}-shm", path.display()),
        format!("{}-journal", path.display()),
        link.to_str().unwrap().to_owned(),
        relative.clone(),
    ] {
        let out = coderlite(&db).current_dir(&dir).args(["db", "backup", "--force", &dest]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{dest}: {}", String::from_utf8_lossy(&out.stderr));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("choose another path (refused with or without --force)"), "{dest}: {stderr}");
    }
    let out = coderlite(&db)
        .current_dir(&dir)
        .args(["db", "copy", "--from"])
        .arg(&path)
        .args(["--to", &relative])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("write-ahead log"));
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&wal).unwrap().ino(), wal_before.ino(), "the log is the same file");
    // A commit after the refusals, then SIGKILL: the commit is in the log and survives.
    let token =
        coderlite(&db).args(["tokens", "create", "--user", "admin", "--name", "after-refusal"]).output().unwrap();
    assert!(token.status.success());
    let _ = server.child.kill();
    let _ = server.child.wait();
    let tokens = admin(&db, &["tokens", "list"]);
    assert!(tokens.as_array().unwrap().iter().any(|t| t["name"] == "after-refusal"), "{tokens}");
    assert_eq!(admin(&db, &["db", "check"])["integrity"], "ok");
}

/// Restores in a row keep every replaced database (timestamped), until a server starts; a
/// restore leaves nothing beside its source, also a WAL-mode one in a read-only directory.
#[test]
fn restores_in_a_row_keep_every_original() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("t.db");
    let mut backups = Vec::new();
    for name in ["a", "b", "c"] {
        let src = dir.path().join(format!("{name}.db"));
        let out = coderlite(&src).args(["setup"]).output().unwrap();
        assert!(out.status.success());
        let out = coderlite(&src).args(["tokens", "create", "--user", "prebuilds"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let marker = format!("INSERT INTO site_configs (key, value) VALUES ('marker', '{name}')");
        coderlite::testing::execute_sql(&coderlite::database::Location::Sqlite(src.clone()), &marker).unwrap();
        backups.push(src);
    }
    // The target starts as a copy of A.
    let out = coderlite(&target).args(["db", "restore"]).arg(&backups[0]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let marker = |path: &std::path::Path| {
        coderlite::testing::query_text(
            &coderlite::database::Location::Sqlite(path.to_owned()),
            "SELECT value FROM site_configs WHERE key = 'marker'",
        )
        .unwrap()
    };
    for src in &backups[1..] {
        let out = coderlite(&target).args(["db", "restore"]).arg(src).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(!dir.path().join(format!("{}-wal", src.display())).exists());
    }
    let kept = coderlite::database::sqlite::backup::keep_copies(&target);
    assert_eq!(kept.iter().map(|k| marker(k)).collect::<Vec<_>>(), ["a", "b"], "{kept:?}");
    assert_eq!(marker(&target), "c");
    for src in &backups {
        for suffix in ["-wal", "-shm"] {
            let beside = std::path::PathBuf::from(format!("{}{suffix}", src.display()));
            assert!(!beside.exists(), "{} left beside the source", beside.display());
        }
    }
    let mut server = Server::start(&target, &[]);
    server.wait_for_message("coderlite server started", Duration::from_secs(30));
    assert!(kept.iter().all(|k| !k.exists()), "removed once a server started");
    let (code, _, _) = server.terminate();
    assert_eq!(code, Some(0));

    // A read-only source directory: read without writing anything there.
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let src = ro.join("s.db");
    std::fs::copy(&backups[1], &src).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let out = coderlite(&target).args(["db", "restore"]).arg(&src).output().unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_dir(&ro).unwrap().count(), 1, "nothing written beside a read-only source");
    // An unreadable source is named with the operating system's reason.
    let missing = dir.path().join("nope/s.db");
    let out = coderlite(&target).args(["db", "restore"]).arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
}

/// `db backup` killed at 20 random points (SIGKILL, SIGTERM, SIGINT) leaves no partial file
/// once the next backup to the same destination has run, and a backup into a directory that
/// does not exist names that directory.
#[test]
fn interrupted_backups_leave_no_partial_files() {
    let db = TestDb::with_fixtures(&["demo"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("b.db");
    let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    for round in 0..20 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let delay = Duration::from_micros((seed >> 33) % 60_000);
        let signal = ["KILL", "TERM", "INT"][round % 3];
        let mut child = coderlite(&db).args(["db", "backup", "--force"]).arg(&dest).spawn().unwrap();
        let pid = child.id();
        std::thread::sleep(delay);
        let _ = std::process::Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]).status();
        let _ = child.wait();
        if signal != "KILL" {
            // A caught signal removes the process's own temporary files at once (SIGKILL's
            // are swept by the next backup).
            let left: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().contains(&format!(".partial-{pid}")))
                .map(|e| e.path())
                .collect();
            assert!(left.is_empty(), "round {round} ({signal} after {delay:?}) left {left:?}");
        }
    }
    let out = coderlite(&db).args(["-o", "json", "db", "backup", "--force"]).arg(&dest).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "b.db")
        .collect();
    assert!(left.is_empty(), "left after the next backup: {left:?}");
    let missing_dir = dir.path().join("no/such/dir/b.db");
    let out = coderlite(&db).args(["db", "backup"]).arg(&missing_dir).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no/such/dir does not exist") && !stderr.contains(".partial-"), "{stderr}");
}

/// A database and its log readable by others are made 0600 (with a warning) and directories
/// coderlite creates are 0700 whatever the umask; a `-wal` from another database is refused
/// with both files unchanged.
#[test]
fn permissions_are_tightened_and_a_stray_log_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("open.db");
    let out = coderlite(&db).args(["setup"]).output().unwrap();
    assert!(out.status.success());
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = coderlite(&db).args(["setup"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(std::fs::metadata(&db).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(String::from_utf8_lossy(&out.stderr).contains("made the database file private"));

    let nested = dir.path().join("x/y/z.db");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("umask 000 && exec {} --db {} setup", env!("CARGO_BIN_EXE_coderlite"), nested.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for d in [dir.path().join("x"), dir.path().join("x/y")] {
        assert_eq!(std::fs::metadata(&d).unwrap().permissions().mode() & 0o777, 0o700, "{}", d.display());
    }

    // Another database's log beside this one: a write of the other database that was never
    // checkpointed (a copy of its log taken while its connection was open).
    let other = dir.path().join("other.db");
    let out = coderlite(&other).args(["setup"]).output().unwrap();
    assert!(out.status.success());
    let wal = dir.path().join("open.db-wal");
    let script = format!(
        "import shutil, sqlite3\n\
         c = sqlite3.connect({other:?})\n\
         c.execute('PRAGMA wal_autocheckpoint = 0')\n\
         c.execute(\"INSERT INTO site_configs (key, value) VALUES ('other', 'x')\")\n\
         c.commit()\n\
         shutil.copy({other:?} + '-wal', {wal:?})\n\
         c.close()\n",
        other = other.display().to_string(),
        wal = wal.display().to_string()
    );
    let out = std::process::Command::new("python3").arg("-c").arg(&script).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::metadata(&wal).unwrap().len() > 32);
    let before = (sha256_of(&db), sha256_of(&wal));
    for command in [&["setup"][..], &["tokens", "list"][..], &["server"][..]] {
        let out = coderlite(&db).arg("-v").args(command).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{command:?}: {}", String::from_utf8_lossy(&out.stderr));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("does not belong to it") && stderr.contains("open.db-wal"), "{stderr}");
    }
    assert_eq!((sha256_of(&db), sha256_of(&wal)), before, "both files untouched");
    // A server killed on a database leaves its log and index; a log copied over its own is
    // told by salts that disagree with the index.
    let crashed = dir.path().join("crashed.db");
    let mut server = Server::start(&crashed, &["--demo"]);
    server.wait_for_message("coderlite server started", Duration::from_secs(30));
    let _ = server.child.kill();
    let _ = server.child.wait();
    assert!(dir.path().join("crashed.db-shm").exists());
    std::fs::copy(&wal, dir.path().join("crashed.db-wal")).unwrap();
    let out = coderlite(&crashed).args(["setup"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("are not those the database's index recorded"), "{stderr}");
    // The killed server's own log is replayed as usual.
    let out = coderlite(&other).args(["db", "check"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The schema of a database as text: `pg_dump --schema-only`, or SQLite's `sqlite_master`.
fn schema_dump(db: &coderlite::testing::EmptyDb) -> String {
    match db.location() {
        coderlite::database::Location::Postgres(url) => {
            let out = std::process::Command::new("pg_dump")
                .args(["--schema-only", "--no-owner", "-d", url])
                .output()
                .unwrap();
            assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
            // pg_dump's \restrict lines carry a fresh random key each run.
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .filter(|l| !l.contains("restrict "))
                .collect::<Vec<_>>()
                .join("\n")
        }
        location => coderlite::testing::query_text(
            location,
            "SELECT COALESCE(group_concat(sql, ';'), '') FROM (SELECT sql FROM sqlite_master ORDER BY name)",
        )
        .unwrap(),
    }
}

contract_tests! {
    /// A first migration that meets objects of another application fails as a whole: the
    /// database is left as it was (the schema dump unchanged), and the error is one line
    /// naming the cause, never the migration's SQL. On PostgreSQL a table of a name coderlite
    /// creates is refused before anything runs, naming it.
    fn a_failed_first_migration_changes_nothing(engine) {
        for (setup, expect) in [
            ("CREATE TABLE users (id integer)", "users"),
            ("CREATE TABLE idx_api_key_name (x integer)", "idx_api_key_name"),
        ] {
            let db = coderlite::testing::EmptyDb::create(engine).unwrap();
            if let coderlite::database::Location::Sqlite(path) = db.location() {
                use std::os::unix::fs::OpenOptionsExt;
                std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).unwrap();
            }
            coderlite::testing::execute_sql(db.location(), setup).unwrap();
            let before = schema_dump(&db);
            let out = coderlite(&db).args(["setup"]).output().unwrap();
            assert_eq!(out.status.code(), Some(1), "{setup}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
            assert!(stderr.contains(expect) && !stderr.contains("CREATE TABLE"), "{stderr}");
            assert!(stderr.contains("already") || stderr.contains("would create"), "{stderr}");
            assert_eq!(schema_dump(&db), before, "{setup}: the schema changed");
        }
    }
}
