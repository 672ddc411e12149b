//! `coderlite db copy` (SPEC §15 "Moving data"): round trips through each engine keep every
//! row of every table; a destination holding data is refused with nothing written.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use coderlite::clock::Clock;
use coderlite::clock::RealClock;
use coderlite::database::AnyStore;
use coderlite::database::Location;
use coderlite::database::OpenConfig;
use coderlite::database::copy::COPIED_TABLES;
use coderlite::database::copy::CopyValue;
use coderlite::database::models::PREBUILDS_SYSTEM_USER_ID;
use coderlite::database::models::UpsertBoundaryUsageStats;
use coderlite::database::prelude::*;
use coderlite::testing::EmptyDb;
use coderlite::testing::TestDb;
use coderlite::testing::TestEngine;
use coderlite::testing::fixtures;
use serde_json::Value;

use crate::support::*;

/// Every copied table's rows, each row's values in column order, rows sorted so that two
/// dumps of the same data line up.
fn dump(location: &Location) -> BTreeMap<String, Vec<Vec<CopyValue>>> {
    let mut config = OpenConfig::new(location.clone(), Arc::new(RealClock), "dump");
    config.create = false;
    let store = AnyStore::open(&config).unwrap();
    let mut source = store.copy_source().unwrap();
    let mut tables = BTreeMap::new();
    for table in COPIED_TABLES {
        let columns = source.columns(table).unwrap();
        let mut rows = Vec::new();
        source
            .read(table, &columns, &mut |batch| {
                rows.extend(batch.iter().cloned());
                Ok(())
            })
            .unwrap();
        rows.sort_by_key(|r| sort_key(r));
        tables.insert((*table).to_owned(), rows);
    }
    tables
}

/// A row's sort key: its values as text, JSON normalized (key order and spacing differ
/// between engines).
fn sort_key(row: &[CopyValue]) -> String {
    row.iter()
        .map(|v| match v {
            CopyValue::Text(t) if t.starts_with('{') || t.starts_with('[') => {
                serde_json::from_str::<Value>(t).map_or_else(|_| t.clone(), |j| j.to_string())
            }
            other => format!("{other:?}"),
        })
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

fn assert_same_rows(a: &BTreeMap<String, Vec<Vec<CopyValue>>>, b: &BTreeMap<String, Vec<Vec<CopyValue>>>) {
    for table in COPIED_TABLES {
        let (ra, rb) = (&a[*table], &b[*table]);
        assert_eq!(ra.len(), rb.len(), "{table}: row counts differ");
        for (x, y) in ra.iter().zip(rb) {
            assert!(
                x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.same_meaning(q)),
                "{table}: rows differ:\n{x:?}\n{y:?}"
            );
        }
    }
}

fn copy_cli(from: &dyn Target, to: &dyn Target) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_coderlite"))
        .args(["db", "copy", "-o", "json", "--from"])
        .arg(from.db_arg())
        .arg("--to")
        .arg(to.db_arg())
        .output()
        .unwrap()
}

/// A SQLite database with rows in (nearly) every table: the demo after a few seconds of a
/// server with fast intervals and an AI provider seeded from the environment.
fn populated_sqlite() -> EmptyDb {
    let db = EmptyDb::create(&TestEngine::Sqlite).unwrap();
    let mut args = vec!["--demo"];
    args.extend_from_slice(FAST);
    let mut server = Server::start_with_env(&db, &args, &[("CODER_AIBRIDGE_OPENAI_KEY", "sk-copy-0123456789")]);
    server.wait_for_message("rollup done", Duration::from_secs(30));
    wait_until_converged(&db, Duration::from_secs(30));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while count(&db, "SELECT COUNT(*) FROM telemetry_snapshots") == 0 {
        assert!(std::time::Instant::now() < deadline, "no telemetry snapshot");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, _, _) = server.terminate();
    assert_eq!(code, Some(0));
    // A notification (the demo has no hard-limited preset), with nested JSON whose key order
    // jsonb changes.
    let store = AnyStore::open(&OpenConfig::new(db.location().clone(), Arc::new(RealClock), "populate")).unwrap();
    let payload = serde_json::json!({"zeta": 1, "alpha": {"b": [1, 2], "a": null}});
    let id = uuid::Uuid::new_v4().to_string();
    store
        .insert_notification_message(&coderlite::database::models::InsertNotificationMessage {
            id: &id,
            notification_template_id: "hard-limited",
            user_id: PREBUILDS_SYSTEM_USER_ID,
            payload: &payload,
            created_at: RealClock.now(),
        })
        .unwrap();
    // The telemetry snapshot resets boundary usage, so whether the server's last flush left a
    // row depends on timing; a stopped replica's row makes the table's content certain.
    store
        .upsert_boundary_usage_stats(&UpsertBoundaryUsageStats {
            replica_id: "stopped-replica",
            unique_workspaces_delta: 2,
            unique_users_delta: 1,
            unique_workspaces_count: 2,
            unique_users_count: 1,
            allowed_requests: 7,
            denied_requests: 3,
        })
        .unwrap();
    // An uploaded archive: bytes, and a user reference.
    let admin = store.get_user_by_username("admin").unwrap();
    store
        .insert_file(&coderlite::database::models::File {
            id: uuid::Uuid::new_v4().to_string(),
            hash: "00ff".repeat(16),
            created_at: RealClock.now(),
            created_by: admin.id,
            mimetype: "application/x-tar".to_owned(),
            data: vec![0, 1, 2, 254, 255],
        })
        .unwrap();
    // An API token: a secret hash (bytes) that must survive the trip.
    let out = coderlite(&db).args(["tokens", "create", "--user", "admin"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    db
}

contract_tests! {
    /// SQLite -> ENGINE -> ENGINE -> SQLite keeps every row of every table (and on SQLite,
    /// same-engine copies do too).
    fn a_round_trip_through_the_engine_keeps_every_row(engine) {
        let source = populated_sqlite();
        let before = dump(source.location());
        let filled: Vec<&str> = COPIED_TABLES.iter().copied().filter(|t| !before[*t].is_empty()).collect();
        assert_eq!(filled, COPIED_TABLES, "the source leaves tables empty");

        let middle = EmptyDb::create(engine).unwrap();
        let out = copy_cli(&source, &middle);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let copied: BTreeMap<String, u64> = report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["table"].as_str().unwrap().to_owned(), t["rows"].as_u64().unwrap()))
            .collect();
        for table in COPIED_TABLES {
            assert_eq!(copied[*table], before[*table].len() as u64, "{table}");
        }
        // Progress goes to stderr, one line per table with rows.
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("workspace_agent_stats: "), "{stderr}");

        let second = EmptyDb::create(engine).unwrap();
        let out = copy_cli(&middle, &second);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let back = EmptyDb::create(&TestEngine::Sqlite).unwrap();
        let out = copy_cli(&second, &back);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_same_rows(&before, &dump(back.location()));

        // The copy is a working install: the schema checks out and the data reads back.
        assert_eq!(admin(&second, &["db", "check"])["foreign_keys"], "ok");
        let status = admin(&second, &["prebuilds", "status"]);
        assert_eq!(status["presets"].as_array().unwrap().len(), 6, "{status}");
    }

    /// A destination holding anything beyond its migrations' rows is refused, and nothing is
    /// written to it.
    fn a_destination_with_data_is_refused_and_left_unchanged(engine) {
        let source = TestDb::with_fixtures(&["demo"]).unwrap();
        let target = TestDb::on(engine).unwrap();
        fixtures::template(&target.store).name("mine").build().unwrap();
        let before = dump(&target.location());
        let out = copy_cli(&source, &target);
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("holds data beyond what its migrations create"), "{stderr}");
        assert!(stderr.contains("templates (1)"), "{stderr}");
        assert_same_rows(&before, &dump(&target.location()));
        // The same database on both sides is refused too.
        let out = copy_cli(&target, &target);
        assert_eq!(out.status.code(), Some(1));
    }

    /// Every table of the schema is either copied or deliberately left out, so a migration
    /// that adds a table must say which.
    fn every_table_is_copied_or_named_as_not_copied(engine) {
        let db = TestDb::on(engine).unwrap();
        let sql = match db.engine() {
            coderlite::database::Engine::Sqlite => {
                "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name)"
            }
            coderlite::database::Engine::Postgres => {
                "SELECT string_agg(table_name::text, ',' ORDER BY table_name) FROM information_schema.tables
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            }
        };
        let tables = db.query_text(sql).unwrap();
        let known: Vec<&str> = COPIED_TABLES.iter().chain(coderlite::database::copy::NOT_COPIED_TABLES).copied().collect();
        for table in tables.split(',') {
            assert!(known.contains(&table), "table {table} is neither copied nor named as not copied");
        }
        for table in COPIED_TABLES {
            assert!(tables.split(',').any(|t| t == *table), "copied table {table} does not exist");
        }
    }

    /// A source holding a NUL character (an older coderlite accepted one in a token name) is
    /// refused naming table, row and column, and the destination is left as it was.
    fn a_nul_in_the_source_is_named_and_nothing_is_written(engine) {
        let source = TestDb::with_fixtures(&["demo"]).unwrap();
        let out = coderlite(&source).args(["tokens", "create", "--user", "admin", "--name", "ci", "-o", "json"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let id = serde_json::from_slice::<Value>(&out.stdout).unwrap()["id"].as_str().unwrap().to_owned();
        source.execute_sql(&format!("UPDATE api_keys SET token_name = 'bad' || char(0) || 'name' WHERE id = '{id}'")).unwrap();
        let target = TestDb::on(engine).unwrap();
        let before = dump(&target.location());
        let out = copy_cli(&source, &target);
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("table api_keys, row 1"), "{stderr}");
        assert!(stderr.contains(&format!("(id=\"{id}\"), column token_name holds a NUL character")), "{stderr}");
        assert_same_rows(&before, &dump(&target.location()));
    }
}
