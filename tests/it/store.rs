//! The `Store` contract on both engines (SQLite temp files, PostgreSQL test databases):
//! transactions, typed errors, transaction locks and leases (SPEC §2, §3.4, §15), in one
//! process. Multi-process cases live in `tests/processes.rs`; the file-level SQLite cases
//! (permissions, corrupt files, `synchronous`) are at the end.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;
use std::time::Instant;

use chrono::TimeZone;
use chrono::Utc;
use coderlite::clock::Clock;
use coderlite::clock::MockClock;
use coderlite::database::AnyStore;
use coderlite::database::Error;
use coderlite::database::LockId;
use coderlite::database::TxOptions;
use coderlite::database::in_tx;
use coderlite::database::models::LockKind;
use coderlite::database::prelude::*;
use coderlite::database::sqlite::SqliteStore;
use coderlite::database::sqlite::StoreConfig;
use coderlite::database::sqlite::Synchronous;
use coderlite::database::sqlite::binary_schema_version;
use coderlite::testing::TestDb;
use coderlite::testing::TestEngine;

fn mock_clock() -> MockClock {
    MockClock::new(Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap())
}

fn mock_db(engine: &TestEngine) -> (TestDb, MockClock) {
    let clock = mock_clock();
    let db = TestDb::create(engine, Arc::new(clock.clone())).unwrap();
    (db, clock)
}

fn real_db(engine: &TestEngine) -> TestDb {
    TestDb::create(engine, Arc::new(coderlite::clock::RealClock)).unwrap()
}

/// A second store on the same database, as another replica would open it.
fn second_store(db: &TestDb, replica_id: &str) -> AnyStore {
    db.open_another(replica_id).unwrap()
}

contract_tests! {
    /// Both engines list workspaces in the same order: owner username, then name, each
    /// lower-cased and compared byte by byte (PostgreSQL in the "C" collation, whatever the
    /// database's locale), also for mixed case and non-ASCII text.
    fn workspaces_list_in_the_same_order_on_both_engines(engine) {
        let db = TestDb::create(engine, Arc::new(coderlite::clock::RealClock)).unwrap();
        let t = coderlite::testing::fixtures::template(&db.store).build().unwrap();
        let mut made = Vec::new();
        for (owner, names) in [("Zed", &["b", "B2", "a"][..]), ("alice", &["Zeta", "émile", "Éclair", "Ω", "z"][..])] {
            let user = coderlite::testing::fixtures::user(&db.store).username(owner).build().unwrap();
            for name in names {
                coderlite::testing::fixtures::workspace(&db.store, &t.template).owner(&user.id).name(name).build().unwrap();
                made.push((owner.to_ascii_lowercase(), name.to_ascii_lowercase(), (*name).to_owned()));
            }
        }
        let coderlite::database::models::Page { rows: ids, count } = db
            .store
            .get_workspaces_page(&coderlite::database::models::WorkspacePageParams { limit: 0, ..Default::default() })
            .unwrap();
        assert_eq!(count, 8);
        let by_id = db.store.get_workspaces_by_ids(&ids).unwrap();
        let listed: Vec<String> =
            ids.iter().map(|id| by_id.iter().find(|w| &w.id == id).unwrap().name.clone()).collect();
        made.sort();
        let expected: Vec<String> = made.into_iter().map(|(_, _, name)| name).collect();
        assert_eq!(listed, expected);
    }

    /// Every unique constraint a caller matches by name answers `UniqueViolation` with
    /// upstream's constraint name on both engines (SQLite reports table and columns;
    /// coderlite maps them).
    fn every_unique_constraint_is_named_as_upstream_names_it(engine) {
        use coderlite::testing::fixtures;
        let db = TestDb::create(engine, Arc::new(coderlite::clock::RealClock)).unwrap();
        let store = &db.store;
        let constraint = |r: Result<(), Error>| match r {
            Err(Error::UniqueViolation { constraint, .. }) => constraint,
            other => panic!("not a unique violation: {other:?}"),
        };
        let now = coderlite::clock::RealClock.now();
        store.insert_site_config("k", "v").unwrap();
        assert_eq!(constraint(store.insert_site_config("k", "w")), "site_configs_key_key");
        let org = fixtures::organization(store).name("acme").build().unwrap();
        assert_eq!(constraint(fixtures::organization(store).name("acme").build().map(drop)), "idx_organization_name");
        fixtures::group(store).org(&org).name("devs").build().unwrap();
        assert_eq!(
            constraint(fixtures::group(store).org(&org).name("devs").build().map(drop)),
            "groups_name_organization_id_key"
        );
        let alice = fixtures::user(store).username("alice").email("alice@example.com").build().unwrap();
        assert_eq!(
            constraint(fixtures::user(store).username("alice2").email("alice@example.com").build().map(drop)),
            "idx_users_email"
        );
        assert_eq!(
            constraint(fixtures::user(store).username("Alice").email("other@example.com").build().map(drop)),
            "idx_users_username",
            "usernames are unique case-insensitively"
        );
        let provider = |name: &str| {
            store
                .insert_ai_provider(&coderlite::database::models::InsertAiProvider {
                    id: &uuid::Uuid::new_v4().to_string(),
                    provider_type: coderlite::database::models::AiProviderType::Openai,
                    name,
                    display_name: name,
                    base_url: "https://example.com",
                    settings: None,
                    created_at: now,
                })
                .map(drop)
        };
        provider("main").unwrap();
        assert_eq!(constraint(provider("main")), "ai_providers_name_key");
        let t = fixtures::template(store).org(&org).name("docker").build().unwrap();
        assert_eq!(
            constraint(fixtures::template(store).org(&org).name("docker").build().map(drop)),
            "templates_organization_id_name_idx"
        );
        fixtures::workspace(store, &t.template).owner(&alice.id).name("dev").build().unwrap();
        assert_eq!(
            constraint(fixtures::workspace(store, &t.template).owner(&alice.id).name("DEV").build().map(drop)),
            "workspaces_owner_id_lower_idx",
            "workspace names are unique per owner case-insensitively"
        );
        let token = |name: &str| {
            coderlite::identity::keys::issue_key(
                store,
                &alice,
                coderlite::database::models::LoginType::Token,
                Duration::from_secs(60),
                name,
            )
            .map(drop)
        };
        token("ci").unwrap();
        assert_eq!(constraint(token("ci")), "idx_api_key_name");
        let file = || coderlite::database::models::File {
            id: uuid::Uuid::new_v4().to_string(),
            hash: "ab".repeat(32),
            created_at: now,
            created_by: alice.id.clone(),
            mimetype: "application/x-tar".to_owned(),
            data: vec![1, 2, 3],
        };
        store.insert_file(&file()).unwrap();
        assert_eq!(constraint(store.insert_file(&file())), "files_hash_created_by_key", "one upload per bytes and user");
    }

    fn unique_violation_names_the_constraint_and_operation(engine) {
        let db = real_db(engine);
        db.store.insert_site_config("deployment_id", "a").unwrap();
        let err = db.store.insert_site_config("deployment_id", "b").unwrap_err();
        assert!(err.is_unique_violation_of("site_configs_key_key"), "{err:?}");
        assert_eq!(err.to_string(), "insert site config: unique constraint violated: site_configs_key_key");
        // The failed insert changed nothing.
        assert_eq!(db.store.get_site_config("deployment_id").unwrap().as_deref(), Some("a"));
    }

    fn nested_in_tx_runs_inline_and_rolls_back_with_the_outer(engine) {
        let db = real_db(engine);
        let res: Result<(), Error> = in_tx(&db.store, TxOptions::write("outer"), |tx| {
            tx.upsert_site_config("outer", "1")?;
            in_tx(tx, TxOptions::write("inner"), |tx| tx.upsert_site_config("inner", "1"))?;
            // The nested write is visible inside the outer transaction ...
            assert_eq!(tx.get_site_config("inner")?.as_deref(), Some("1"));
            Err(Error::NotFound { op: "force rollback" })
        });
        assert!(matches!(res, Err(Error::NotFound { op: "force rollback" })));
        // ... and was not committed on its own.
        assert_eq!(db.store.get_site_config("outer").unwrap(), None);
        assert_eq!(db.store.get_site_config("inner").unwrap(), None);
    }

    fn read_only_transactions_refuse_writes_and_locks(engine) {
        let db = real_db(engine);
        let res = in_tx(&db.store, TxOptions::read("read"), |tx| tx.upsert_site_config("k", "v"));
        assert!(matches!(res, Err(Error::ReadOnlyTransaction { .. })), "{res:?}");
        let res = in_tx(&db.store, TxOptions::read("read"), |tx| in_tx(tx, TxOptions::write("nested"), |_| Ok(())));
        assert!(matches!(res, Err(Error::ReadOnlyTransaction { .. })), "{res:?}");
        let res = in_tx(&db.store, TxOptions::read("read"), |tx| tx.acquire_lock(LockId::BoundaryUsageStats));
        assert!(matches!(res, Err(Error::ReadOnlyTransaction { .. })), "{res:?}");
        assert_eq!(db.store.get_site_config("k").unwrap(), None);
    }

    fn locks_outside_a_transaction_are_errors(engine) {
        let db = real_db(engine);
        assert!(matches!(db.store.acquire_lock(LockId::DeploymentSetup), Err(Error::NotInTransaction { .. })));
        assert!(matches!(db.store.try_acquire_lock(LockId::DeploymentSetup), Err(Error::NotInTransaction { .. })));
        let res = in_tx(&db.store, TxOptions::write("lease in tx"), |tx| {
            tx.try_acquire_lease(LockId::DbRollup, "x", Duration::from_secs(1)).map(|_| ())
        });
        assert!(matches!(res, Err(Error::InTransaction { .. })), "{res:?}");
    }

    fn a_second_write_transaction_on_the_same_thread_is_an_error_not_a_deadlock(engine) {
        let db = real_db(engine);
        let res = in_tx(&db.store, TxOptions::write("outer"), |_tx| db.store.upsert_site_config("k", "v"));
        assert!(matches!(res, Err(Error::NestedWrite { .. })), "{res:?}");
    }

    fn read_only_transaction_sees_one_snapshot(engine) {
        let db = real_db(engine);
        db.store.upsert_site_config("k", "before").unwrap();
        let writer = db.store.clone();
        in_tx(&db.store, TxOptions::read("snapshot"), |tx| {
            assert_eq!(tx.get_site_config("k")?.as_deref(), Some("before"));
            let w = writer.clone();
            thread::spawn(move || w.upsert_site_config("k", "after").unwrap()).join().unwrap();
            assert_eq!(tx.get_site_config("k")?.as_deref(), Some("before"));
            Ok::<_, Error>(())
        })
        .unwrap();
        assert_eq!(db.store.get_site_config("k").unwrap().as_deref(), Some("after"));
    }

    fn transaction_lock_is_reentrant_visible_inside_and_gone_after_commit(engine) {
        let db = real_db(engine);
        in_tx(&db.store, TxOptions::write("deployment setup"), |tx| {
            tx.acquire_lock(LockId::DeploymentSetup)?;
            tx.acquire_lock(LockId::DeploymentSetup)?;
            assert!(tx.try_acquire_lock(LockId::DeploymentSetup)?);
            let rows = tx.list_locks()?;
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].lock_id, 1);
            assert_eq!(rows[0].kind, LockKind::Transaction);
            assert_eq!(rows[0].holder, "test/tx:deployment setup");
            Ok::<_, Error>(())
        })
        .unwrap();
        assert!(db.store.list_locks().unwrap().is_empty());
    }

    /// SPEC §3.4 acceptance 2.
    fn transaction_lock_in_a_failing_transaction_leaves_no_row(engine) {
        let db = real_db(engine);
        let res = in_tx(&db.store, TxOptions::write("fails"), |tx| {
            tx.acquire_lock(LockId::BoundaryUsageStats)?;
            tx.upsert_site_config("k", "v")?;
            Err::<(), _>(Error::NotFound { op: "fail on purpose" })
        });
        assert!(res.is_err());
        assert!(db.store.list_locks().unwrap().is_empty());
        assert_eq!(db.store.get_site_config("k").unwrap(), None);
        // The lock is free for the next transaction.
        in_tx(&db.store, TxOptions::write("next"), |tx| tx.acquire_lock(LockId::BoundaryUsageStats)).unwrap();
    }

    /// SPEC §3.4 acceptance 1, in process: two stores on one file stand for two replicas.
    fn lease_is_exclusive_until_released(engine) {
        let (db, _clock) = mock_db(engine);
        let b = second_store(&db, "b");
        let started = Instant::now();
        let a_guard = db.store.try_acquire_lease(LockId::DbRollup, "a/rollup", Duration::from_secs(60)).unwrap().unwrap();
        assert!(b.try_acquire_lease(LockId::DbRollup, "b/rollup", Duration::from_secs(60)).unwrap().is_none());
        // "At once": the refusal does not wait for the lease.
        assert!(started.elapsed() < Duration::from_secs(2));
        // The same holder cannot take it twice either.
        assert!(db.store.try_acquire_lease(LockId::DbRollup, "a/rollup", Duration::from_secs(60)).unwrap().is_none());
        let rows = db.store.list_locks().unwrap();
        assert_eq!((rows[0].lock_id, rows[0].kind, rows[0].holder.as_str()), (3, LockKind::Lease, "a/rollup"));
        a_guard.release().unwrap();
        assert!(db.store.list_locks().unwrap().is_empty());
        let c_guard = b.try_acquire_lease(LockId::DbRollup, "c/rollup", Duration::from_secs(60)).unwrap();
        assert!(c_guard.is_some());
    }

    fn lease_is_released_on_drop(engine) {
        let (db, _clock) = mock_db(engine);
        {
            let _guard = db.store.try_acquire_lease(LockId::ReconcilePrebuilds, "a", Duration::from_secs(60)).unwrap();
            assert_eq!(db.store.list_locks().unwrap().len(), 1);
        }
        assert!(db.store.list_locks().unwrap().is_empty());
    }

    /// SPEC §3.4 acceptance 3, in process with the mock clock: an abandoned lease (its holder
    /// crashed) blocks others until its ttl passes, then is taken over.
    fn abandoned_lease_is_taken_over_only_after_expiry(engine) {
        let (db, clock) = mock_db(engine);
        let b = second_store(&db, "b");
        let ttl = Duration::from_secs(30);
        db.store.try_acquire_lease(LockId::ReconcilePrebuilds, "a", ttl).unwrap().unwrap().abandon();
        clock.advance(Duration::from_secs(29));
        assert!(b.try_acquire_lease(LockId::ReconcilePrebuilds, "b", ttl).unwrap().is_none());
        clock.advance(Duration::from_secs(1));
        let guard = b.try_acquire_lease(LockId::ReconcilePrebuilds, "b", ttl).unwrap().unwrap();
        assert_eq!(b.list_locks().unwrap()[0].holder, "b");
        guard.release().unwrap();
    }

    fn heartbeat_renews_the_lease_and_detects_loss(engine) {
        let (db, clock) = mock_db(engine);
        let ttl = Duration::from_secs(30);
        let guard = db.store.try_acquire_lease(LockId::DbRollup, "a", ttl).unwrap().unwrap();
        clock.wait_for_sleepers(1);
        // Each heartbeat at ttl/3 pushes the expiry out, so the lease outlives its first ttl.
        for _ in 0..6 {
            clock.advance(Duration::from_secs(10));
            clock.wait_for_sleepers(1);
            let expires_at = db.store.list_locks().unwrap()[0].expires_at.unwrap();
            assert_eq!(expires_at, clock.now() + ttl);
        }
        assert!(second_store(&db, "b").try_acquire_lease(LockId::DbRollup, "b", ttl).unwrap().is_none());
        // Someone deletes the row behind the holder's back (an operator, or an expiry takeover):
        // the next heartbeat notices and the guard reports the loss.
        db.execute_sql("UPDATE locks SET holder = 'intruder'").unwrap();
        clock.advance(Duration::from_secs(10));
        let deadline = Instant::now() + Duration::from_secs(10);
        while guard.is_held() && Instant::now() < deadline {
            thread::yield_now();
        }
        assert!(!guard.is_held());
        // Releasing a lost lease never deletes the new holder's row.
        drop(guard);
        assert_eq!(db.store.list_locks().unwrap()[0].holder, "intruder");
    }

    /// SPEC §3.4 acceptance 4 (second half): a transaction lock waits while a lease holds the id.
    fn transaction_lock_waits_for_a_lease(engine) {
        let db = real_db(engine);
        let events = Arc::new(Mutex::new(Vec::new()));
        let guard = db
            .store
            .try_acquire_lease(LockId::ReconcilePrebuilds, "lease-holder", Duration::from_secs(30))
            .unwrap()
            .unwrap();
        let waiter = {
            let store = second_store(&db, "waiter");
            let events = Arc::clone(&events);
            thread::spawn(move || {
                in_tx(&store, TxOptions::write("wait for lease"), |tx| {
                    tx.acquire_lock(LockId::ReconcilePrebuilds)?;
                    events.lock().unwrap().push("transaction lock acquired");
                    Ok::<_, Error>(())
                })
            })
        };
        thread::sleep(Duration::from_millis(200));
        events.lock().unwrap().push("releasing lease");
        guard.release().unwrap();
        waiter.join().unwrap().unwrap();
        assert_eq!(*events.lock().unwrap(), vec!["releasing lease", "transaction lock acquired"]);
        assert!(db.store.list_locks().unwrap().is_empty());
    }

    fn transaction_lock_times_out_with_lock_not_available(engine) {
        let db = real_db(engine);
        let _guard =
            db.store.try_acquire_lease(LockId::BoundaryUsageStats, "sticky", Duration::from_secs(60)).unwrap().unwrap();
        let mut config = db.open_config("impatient");
        config.lock_timeout = Some(Duration::from_millis(150));
        let impatient = AnyStore::open(&config).unwrap();
        let res = in_tx(&impatient, TxOptions::write("impatient"), |tx| {
            tx.acquire_lock(LockId::BoundaryUsageStats)?;
            tx.upsert_site_config("written", "yes")
        });
        match res {
            Err(Error::LockNotAvailable { lock_id, holder, .. }) => {
                assert_eq!(lock_id, LockId::BoundaryUsageStats);
                assert_eq!(holder, "sticky");
            }
            other => panic!("expected LockNotAvailable, got {other:?}"),
        }
        assert_eq!(db.store.get_site_config("written").unwrap(), None);
        // try_acquire_lock answers without waiting.
        let free =
            in_tx(&impatient, TxOptions::write("try"), |tx| tx.try_acquire_lock(LockId::BoundaryUsageStats)).unwrap();
        assert!(!free);
        let free = in_tx(&impatient, TxOptions::read("try"), |tx| tx.try_acquire_lock(LockId::BoundaryUsageStats)).unwrap();
        assert!(!free);
    }

    /// SPEC §3.4 acceptance 4 (first half, threads): five threads take lease 7 for ~50 ms of
    /// work each; the critical sections never overlap.
    fn lease_critical_sections_never_overlap_across_threads(engine) {
        let db = real_db(engine);
        let inside = Arc::new(AtomicBool::new(false));
        let sections = Arc::new(AtomicU32::new(0));
        let end = Instant::now() + Duration::from_millis(1200);
        let threads: Vec<_> = (0..5)
            .map(|i| {
                let store = second_store(&db, &format!("thread-{i}"));
                let inside = Arc::clone(&inside);
                let sections = Arc::clone(&sections);
                thread::spawn(move || {
                    while Instant::now() < end {
                        let holder = format!("thread-{i}/work");
                        match store.try_acquire_lease(LockId::ReconcilePrebuilds, &holder, Duration::from_secs(10)).unwrap()
                        {
                            Some(guard) => {
                                assert!(!inside.swap(true, Ordering::SeqCst), "two holders inside at once");
                                thread::sleep(Duration::from_millis(50));
                                inside.store(false, Ordering::SeqCst);
                                sections.fetch_add(1, Ordering::SeqCst);
                                guard.release().unwrap();
                            }
                            None => thread::sleep(Duration::from_millis(2)),
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(sections.load(Ordering::SeqCst) >= 10, "only {} sections ran", sections.load(Ordering::SeqCst));
    }

    fn schema_from_the_future_is_refused(engine) {
        let db = real_db(engine);
        db.execute_sql(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum)
             VALUES (999, 'from_the_future', '2030-01-01T00:00:00Z', '1')",
        )
        .unwrap();
        match db.open_another("newer") {
            Err(Error::SchemaTooNew { db, binary }) => {
                assert_eq!(db, 999);
                assert_eq!(binary, binary_schema_version());
            }
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    }
}

#[test]
fn database_file_is_created_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fresh.db");
    let store = SqliteStore::open(StoreConfig::new(&path, Arc::new(mock_clock()), "t")).unwrap();
    drop(store);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn corrupt_file_is_a_clear_open_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.db");
    std::fs::write(&path, b"this is not a database, just bytes that fill a page or so").unwrap();
    match SqliteStore::open(StoreConfig::new(&path, Arc::new(mock_clock()), "t")) {
        Err(err @ Error::Open { .. }) => assert!(err.to_string().contains("not a database"), "{err}"),
        other => panic!("expected Open error, got {other:?}"),
    }
}

#[test]
fn full_synchronous_and_two_stores_on_one_file_work() {
    let clock = mock_clock();
    let db = TestDb::with_config(|path| {
        let mut config = StoreConfig::new(path, Arc::new(clock.clone()), "full");
        config.synchronous = Synchronous::Full;
        config
    })
    .unwrap();
    let other = second_store(&db, "other");
    let writers: Vec<_> = [db.store.clone(), other.clone()]
        .into_iter()
        .enumerate()
        .map(|(i, store)| {
            thread::spawn(move || {
                for n in 0..50 {
                    in_tx(&store, TxOptions::write("count"), |tx| {
                        tx.acquire_lock(LockId::BoundaryUsageStats)?;
                        let v: i64 = tx.get_site_config("counter")?.map_or(0, |v| v.parse().unwrap());
                        tx.upsert_site_config("counter", &(v + 1).to_string())?;
                        tx.upsert_site_config(&format!("w{i}"), &n.to_string())
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    assert_eq!(db.store.get_site_config("counter").unwrap().as_deref(), Some("100"));
}

contract_tests! {
    /// Contended lock-protected read-modify-writes lose no update, and on PostgreSQL never
    /// rerun: the transaction lock is granted before the snapshot, so a waiter never meets a
    /// serialization failure (SPEC §15 "Transactions").
    fn contended_lock_protected_updates_lose_nothing_and_never_rerun(engine) {
        let db = real_db(engine);
        let attempts = Arc::new(AtomicU32::new(0));
        let writers: Vec<_> = (0..4)
            .map(|i| {
                let store = second_store(&db, &format!("w{i}"));
                let attempts = Arc::clone(&attempts);
                thread::spawn(move || {
                    for _ in 0..50 {
                        in_tx(&store, TxOptions::write("count"), |tx| {
                            attempts.fetch_add(1, Ordering::SeqCst);
                            tx.acquire_lock(LockId::BoundaryUsageStats)?;
                            let v: i64 = tx.get_site_config("counter")?.map_or(0, |v| v.parse().unwrap());
                            tx.upsert_site_config("counter", &(v + 1).to_string())
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        assert_eq!(db.store.get_site_config("counter").unwrap().as_deref(), Some("200"));
        assert_eq!(attempts.load(Ordering::SeqCst), 200, "transactions were rerun");
    }
}
