//! Deployment setup (SPEC §5, reference/platform.md §4.4) against the real store, in process
//! and as concurrent `coderlite setup` processes.

use std::collections::HashSet;
use std::process::Command;
use std::sync::Arc;

use coderlite::clock::RealClock;
use coderlite::database::Engine;
use coderlite::database::Error;
use coderlite::database::prelude::*;
use coderlite::deployment::APP_SIGNING_KEY_KEY;
use coderlite::deployment::DEPLOYMENT_ID_KEY;
use coderlite::deployment::DERP_MESH_KEY_KEY;
use coderlite::deployment::OAUTH_SIGNING_KEY_KEY;
use coderlite::deployment::SetupError;
use coderlite::deployment::setup_deployment;
use coderlite::testing::EmptyDb;
use coderlite::testing::TestDb;

/// Tells whether anything was committed to `site_configs` between two readings: SQLite's
/// `data_version` (of one observing connection, bumped by every other connection's commit),
/// PostgreSQL's row versions (`xmin` changes with every insert or update).
enum WriteObserver {
    Sqlite(rusqlite::Connection),
    Postgres,
}

impl WriteObserver {
    fn new(db: &TestDb) -> Self {
        match db.engine() {
            Engine::Sqlite => WriteObserver::Sqlite(rusqlite::Connection::open(db.path()).unwrap()),
            Engine::Postgres => WriteObserver::Postgres,
        }
    }

    fn reading(&self, db: &TestDb) -> i64 {
        match self {
            WriteObserver::Sqlite(conn) => conn.query_row("PRAGMA data_version", [], |r| r.get(0)).unwrap(),
            WriteObserver::Postgres => db
                .query_i64(
                    "SELECT (COUNT(*) * 1000000000 + COALESCE(SUM(xmin::text::bigint), 0))::bigint FROM site_configs",
                )
                .unwrap(),
        }
    }
}

fn is_hex_of_len(text: &str, n_bytes: usize) -> bool {
    text.len() == n_bytes * 2 && text.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

contract_tests! {
    /// Scenarios 1, 2 and 7: the first start creates every value (the mesh key although no DERP
    /// server runs); the second reads them back and commits no change.
    fn first_start_creates_values_and_second_start_writes_nothing(engine) {
        let db = TestDb::create(engine, Arc::new(RealClock)).unwrap();
        let first = setup_deployment(&db.store).unwrap();
        assert!(uuid::Uuid::parse_str(&first.deployment_id).is_ok());
        assert!(is_hex_of_len(first.mesh_key.expose(), 32));
        assert!(is_hex_of_len(first.app_signing_key.expose(), 96));
        assert!(is_hex_of_len(first.oauth_signing_key.expose(), 32));
        assert_eq!(db.store.get_site_config(DERP_MESH_KEY_KEY).unwrap().as_deref(), Some(first.mesh_key.expose()));

        let observer = WriteObserver::new(&db);
        let before = observer.reading(&db);
        let second = setup_deployment(&db.store).unwrap();
        assert_eq!(observer.reading(&db), before, "the second start committed a change");
        assert_eq!(second.deployment_id, first.deployment_id);
        assert_eq!(second.mesh_key, first.mesh_key);
        assert_eq!(second.app_signing_key, first.app_signing_key);
        assert_eq!(second.oauth_signing_key, first.oauth_signing_key);
    }

    /// Scenario 4: a bad stored app signing key is replaced; a good one is kept.
    fn bad_app_signing_key_is_replaced(engine) {
        let db = TestDb::create(engine, Arc::new(RealClock)).unwrap();
        for bad in ["zz".to_owned(), "ab".repeat(95), "ZZ".repeat(96)] {
            db.store.upsert_site_config(APP_SIGNING_KEY_KEY, &bad).unwrap();
            let setup = setup_deployment(&db.store).unwrap();
            assert_ne!(setup.app_signing_key.expose(), bad);
            assert!(is_hex_of_len(setup.app_signing_key.expose(), 96));
            assert_eq!(
                db.store.get_site_config(APP_SIGNING_KEY_KEY).unwrap().as_deref(),
                Some(setup.app_signing_key.expose())
            );
        }
        let good = "0f".repeat(96);
        db.store.upsert_site_config(APP_SIGNING_KEY_KEY, &good).unwrap();
        assert_eq!(setup_deployment(&db.store).unwrap().app_signing_key.expose(), good);
    }

    fn stored_mesh_key_is_used_as_stored_and_an_empty_one_is_an_error(engine) {
        let db = TestDb::create(engine, Arc::new(RealClock)).unwrap();
        db.store.insert_site_config(DERP_MESH_KEY_KEY, "legacy-32-char-alphanumeric-key0").unwrap();
        assert_eq!(setup_deployment(&db.store).unwrap().mesh_key.expose(), "legacy-32-char-alphanumeric-key0");

        let db = TestDb::create(engine, Arc::new(RealClock)).unwrap();
        db.store.insert_site_config(DERP_MESH_KEY_KEY, "").unwrap();
        let err = setup_deployment(&db.store).unwrap_err();
        assert!(matches!(err, SetupError::EmptyMeshKey));
        assert_eq!(err.to_string(), "get DERP mesh key: mesh key is empty");
    }

    /// Scenario 5: an OAuth signing key of 32 zero bytes (or the wrong length) stops startup;
    /// one that is not hex at all is replaced.
    fn zero_or_wrong_length_oauth_signing_key_is_a_startup_error(engine) {
        let db = TestDb::create(engine, Arc::new(RealClock)).unwrap();
        db.store.upsert_site_config(OAUTH_SIGNING_KEY_KEY, &"00".repeat(32)).unwrap();
        let err = setup_deployment(&db.store).unwrap_err();
        assert_eq!(err.to_string(), "get oauth signing key: stored key is all zeros");
        db.store.upsert_site_config(OAUTH_SIGNING_KEY_KEY, &"ab".repeat(16)).unwrap();
        assert_eq!(
            setup_deployment(&db.store).unwrap_err().to_string(),
            "get oauth signing key: stored key is not 32 bytes"
        );
        // Nothing of the failed step was written: the deployment ID is still absent.
        assert_eq!(db.store.get_site_config(DEPLOYMENT_ID_KEY).unwrap(), None);
        db.store.upsert_site_config(OAUTH_SIGNING_KEY_KEY, "not hex").unwrap();
        let setup = setup_deployment(&db.store).unwrap();
        assert!(is_hex_of_len(setup.oauth_signing_key.expose(), 32));
    }

    /// Scenarios 8 and 9: insert-only keys refuse a second insert; upsert keys overwrite; the
    /// JSON settings getters answer '{}' on an empty database.
    fn insert_only_and_upsert_keys(engine) {
        let db = TestDb::create(engine, Arc::new(RealClock)).unwrap();
                assert_eq!(db.store.get_prebuilds_settings().unwrap(), "{}");
        db.store.upsert_site_config("health_settings", r#"{"dismissed_healthchecks":["DERP"]}"#).unwrap();
        assert_eq!(
            db.store.get_site_config("health_settings").unwrap().as_deref(),
            Some(r#"{"dismissed_healthchecks":["DERP"]}"#)
        );
        setup_deployment(&db.store).unwrap();
        let err = db.store.insert_site_config(DEPLOYMENT_ID_KEY, "another").unwrap_err();
        assert!(err.is_unique_violation_of("site_configs_key_key"), "{err:?}");
        assert!(matches!(db.store.insert_site_config(DERP_MESH_KEY_KEY, "x"), Err(Error::UniqueViolation { .. })));
        db.store.upsert_site_config("logo_url", "a").unwrap();
        db.store.upsert_site_config("logo_url", "b").unwrap();
        assert_eq!(db.store.get_site_config("logo_url").unwrap().as_deref(), Some("b"));
    }

    /// Scenario 3 as processes: eight `coderlite setup` at once on one fresh file all succeed
    /// with the same values, and exactly one row per key exists.
    fn eight_setup_processes_at_once_agree(engine) {
        let fresh = EmptyDb::create(engine).unwrap();
        let children: Vec<_> = (0..8)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_coderlite"))
                    .arg("--db")
                    .arg(fresh.db_arg())
                    .args(["setup", "-o", "json"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut outputs = HashSet::new();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["providers_seeded"], 0);
            assert_eq!(v["mesh_key_fingerprint"].as_str().unwrap().len(), 8);
            outputs.insert((v["deployment_id"].to_string(), v["mesh_key_fingerprint"].to_string()));
        }
        assert_eq!(outputs.len(), 1, "processes disagree: {outputs:?}");
        let store = fresh.open(Arc::new(RealClock), "check").unwrap();
        for key in [APP_SIGNING_KEY_KEY, DEPLOYMENT_ID_KEY, DERP_MESH_KEY_KEY, OAUTH_SIGNING_KEY_KEY] {
            assert!(store.get_site_config(key).unwrap().is_some(), "{key}");
        }
        // The values the processes printed are the stored ones (one row per key is the
        // table's unique key, site_configs_key_key).
        let deployment_id = store.get_site_config(DEPLOYMENT_ID_KEY).unwrap().unwrap();
        assert_eq!(outputs.iter().next().unwrap().0, format!("{deployment_id:?}"));
    }
}

/// A second `coderlite setup` process leaves the file's bytes exactly as they were.
#[test]
fn second_setup_process_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fresh.db");
    let setup = || {
        let out = Command::new(env!("CARGO_BIN_EXE_coderlite")).arg("--db").arg(&path).arg("setup").output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let first = setup();
    let snapshot = || {
        let wal = dir.path().join("fresh.db-wal");
        (std::fs::read(&path).unwrap(), std::fs::read(&wal).unwrap_or_default())
    };
    let before = snapshot();
    let second = setup();
    assert_eq!(first, second);
    assert!(snapshot() == before, "the second setup changed the database files");
    let raw = rusqlite::Connection::open(&path).unwrap();
    for key in [DERP_MESH_KEY_KEY, APP_SIGNING_KEY_KEY, OAUTH_SIGNING_KEY_KEY] {
        let value: String =
            raw.query_row("SELECT value FROM site_configs WHERE key = ?1", [key], |r| r.get(0)).unwrap();
        assert!(!first.contains(&value[..16]), "{key} is printed");
    }
}
