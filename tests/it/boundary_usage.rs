//! Boundary usage telemetry (SPEC §7) against the real store: reference/platform.md §3.6
//! scenarios 1-24, the conservation law under load (one process, then two), and failed
//! flushes that lose nothing.

use std::collections::HashSet;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicI64;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use chrono::TimeZone;
use chrono::Utc;
use coderlite::boundaryusage;
use coderlite::boundaryusage::FlushOutcome;
use coderlite::boundaryusage::Tracker;
use coderlite::clock::Cancel;
use coderlite::clock::Clock;
use coderlite::clock::MockClock;
use coderlite::clock::RealClock;
use coderlite::clock::SharedClock;
use coderlite::database::Engine;
use coderlite::database::Error;
use coderlite::database::LockId;
use coderlite::database::TxOptions;
use coderlite::database::in_tx;
use coderlite::database::models::BoundaryUsageSummary;
use coderlite::database::models::UpsertBoundaryUsageStats;
use coderlite::database::prelude::*;
use coderlite::testing::TestDb;
use coderlite::testing::TestEngine;
use uuid::Uuid;

const STALENESS: Duration = Duration::from_secs(60);
const PERIOD: Duration = Duration::from_secs(30 * 60);

fn setup(engine: &TestEngine) -> (TestDb, MockClock, SharedClock) {
    let mock = MockClock::new(Utc.with_ymd_and_hms(2024, 6, 1, 12, 7, 0).unwrap());
    let clock: SharedClock = Arc::new(mock.clone());
    let db = TestDb::create(engine, clock.clone()).unwrap();
    (db, mock, clock)
}

fn summary(store: &dyn Store) -> (i64, i64, i64, i64) {
    let s = store.get_boundary_usage_summary(STALENESS).unwrap();
    (s.unique_workspaces, s.unique_users, s.allowed_requests, s.denied_requests)
}

fn reset(store: &dyn Store) -> BoundaryUsageSummary {
    store.get_and_reset_boundary_usage_summary(STALENESS).unwrap()
}

fn ids(n: usize) -> Vec<Uuid> {
    (0..n).map(|_| Uuid::new_v4()).collect()
}

fn flush(tracker: &Tracker, store: &dyn Store, replica: &str) -> FlushOutcome {
    tracker.flush(store, replica).unwrap()
}

fn upsert(store: &dyn Store, replica: &str, delta: (i64, i64), cumulative: (i64, i64), requests: (i64, i64)) -> bool {
    store
        .upsert_boundary_usage_stats(&UpsertBoundaryUsageStats {
            replica_id: replica,
            unique_workspaces_delta: delta.0,
            unique_users_delta: delta.1,
            unique_workspaces_count: cumulative.0,
            unique_users_count: cumulative.1,
            allowed_requests: requests.0,
            denied_requests: requests.1,
        })
        .unwrap()
}

contract_tests! {
    fn s01_single_track(engine) {
        let (db, _, _) = setup(engine);
        let t = Tracker::new();
        let [w1, u1] = ids(2)[..] else { unreachable!() };
        t.track(w1, u1, 5, 2);
        flush(&t, &db.store, "r1");
        assert_eq!(summary(&db.store), (1, 1, 5, 2));
    }

    fn s02_duplicate_ids(engine) {
        let (db, _, _) = setup(engine);
        let t = Tracker::new();
        let [w1, u1] = ids(2)[..] else { unreachable!() };
        t.track(w1, u1, 3, 1);
        t.track(w1, u1, 4, 2);
        t.track(w1, u1, 2, 0);
        flush(&t, &db.store, "r1");
        assert_eq!(summary(&db.store), (1, 1, 9, 3));
    }

    fn s03_many_ids(engine) {
        let (db, _, _) = setup(engine);
        let t = Tracker::new();
        let [w1, w2, w3, u1, u2] = ids(5)[..] else { unreachable!() };
        t.track(w1, u1, 1, 0);
        t.track(w2, u1, 2, 1);
        t.track(w3, u2, 3, 2);
        flush(&t, &db.store, "r1");
        assert_eq!(summary(&db.store), (3, 2, 6, 3));
    }

    fn s04_concurrency(engine) {
        let (db, _, _) = setup(engine);
        let t = Arc::new(Tracker::new());
        let workers: Vec<_> = (0..100)
            .map(|_| {
                let t = Arc::clone(&t);
                thread::spawn(move || {
                    let (w, u) = (Uuid::new_v4(), Uuid::new_v4());
                    for _ in 0..10 {
                        t.track(w, u, 1, 1);
                    }
                })
            })
            .collect();
        workers.into_iter().for_each(|w| w.join().unwrap());
        flush(&t, &db.store, "r1");
        assert_eq!(summary(&db.store), (100, 100, 1000, 1000));
    }

    fn s05_accumulates_across_flushes(engine) {
        let (db, _, _) = setup(engine);
        let t = Tracker::new();
        let [w1, u1] = ids(2)[..] else { unreachable!() };
        for (a, d) in [(5, 3), (2, 1), (3, 2)] {
            t.track(w1, u1, a, d);
            flush(&t, &db.store, "r1");
        }
        assert_eq!(summary(&db.store), (1, 1, 10, 6));
    }

    /// The period-cumulative decision: unique counts cover the whole period, not one flush.
    fn s06_unique_counts_are_period_cumulative(engine) {
        let (db, _, _) = setup(engine);
        let t = Tracker::new();
        let [w1, w2, u1, u2] = ids(4)[..] else { unreachable!() };
        t.track(w1, u1, 1, 0);
        assert_eq!(flush(&t, &db.store, "r1"), FlushOutcome::Flushed { new_period: true, allowed: 1, denied: 0 });
        t.track(w2, u2, 1, 0);
        assert_eq!(flush(&t, &db.store, "r1"), FlushOutcome::Flushed { new_period: false, allowed: 1, denied: 0 });
        assert_eq!(summary(&db.store), (2, 2, 2, 0));
    }

    fn s07_new_period_counts_only_new_data(engine) {
        let (db, _, _) = setup(engine);
        let t = Tracker::new();
        let [w1, w2, u1, u2] = ids(4)[..] else { unreachable!() };
        t.track(w1, u1, 10, 5);
        flush(&t, &db.store, "r1");
        reset(&db.store);
        t.track(w2, u2, 3, 1);
        assert_eq!(flush(&t, &db.store, "r1"), FlushOutcome::Flushed { new_period: true, allowed: 3, denied: 1 });
        assert_eq!(summary(&db.store), (1, 1, 3, 1));
        // The new period's cumulative set restarted: tracking w1 again counts it once more.
        t.track(w1, u1, 1, 0);
        flush(&t, &db.store, "r1");
        assert_eq!(summary(&db.store), (2, 2, 4, 1));
    }

    fn s08_no_activity_writes_nothing(engine) {
        let (db, _, _) = setup(engine);
        let t = Tracker::new();
        assert_eq!(flush(&t, &db.store, "r1"), FlushOutcome::Idle);
        assert_eq!(summary(&db.store), (0, 0, 0, 0));
        let rows = db.query_i64("SELECT COUNT(*) FROM boundary_usage_stats").unwrap();
        assert_eq!(rows, 0);
    }

    fn s09_no_stale_reinsert_after_reset(engine) {
        let (db, _, _) = setup(engine);
        let t = Tracker::new();
        let [w1, u1] = ids(2)[..] else { unreachable!() };
        t.track(w1, u1, 10, 5);
        flush(&t, &db.store, "r1");
        assert_eq!(summary(&db.store).2, 10);
        reset(&db.store);
        assert_eq!(summary(&db.store), (0, 0, 0, 0));
        assert_eq!(flush(&t, &db.store, "r1"), FlushOutcome::Idle);
        assert_eq!(summary(&db.store), (0, 0, 0, 0));
    }

    fn s10_upsert_insert_uses_deltas(engine) {
        let (db, _, _) = setup(engine);
        assert!(upsert(&db.store, "r1", (5, 3), (999, 999), (100, 10)));
        assert_eq!(summary(&db.store), (5, 3, 100, 10));
    }

    fn s11_upsert_update_replaces_uniques_and_adds_requests(engine) {
        let (db, _, _) = setup(engine);
        assert!(upsert(&db.store, "r1", (5, 3), (5, 3), (100, 10)));
        assert!(!upsert(&db.store, "r1", (1, 1), (8, 5), (200, 20)));
        assert_eq!(summary(&db.store), (8, 5, 300, 30));
    }

    fn s12_multiple_replicas_sum(engine) {
        let (db, _, _) = setup(engine);
        for (r, v) in [("r1", (10, 5, 100, 10)), ("r2", (15, 8, 150, 15)), ("r3", (20, 12, 200, 20))] {
            upsert(&db.store, r, (v.0, v.1), (v.0, v.1), (v.2, v.3));
        }
        assert_eq!(summary(&db.store), (45, 25, 450, 45));
    }

    fn s13_empty_table_sums_to_zero(engine) {
        let (db, _, _) = setup(engine);
        assert_eq!(summary(&db.store), (0, 0, 0, 0));
        assert_eq!(reset(&db.store), BoundaryUsageSummary::default());
    }

    fn s14_reset_deletes_every_row(engine) {
        let (db, _, _) = setup(engine);
        for r in ["a", "b", "c", "d", "e"] {
            upsert(&db.store, r, (1, 1), (1, 1), (1, 1));
        }
        assert_eq!(reset(&db.store).allowed_requests, 5);
        assert_eq!(summary(&db.store), (0, 0, 0, 0));
    }

    fn s15_delete_by_replica(engine) {
        let (db, _, _) = setup(engine);
        upsert(&db.store, "r1", (10, 5), (10, 5), (100, 10));
        upsert(&db.store, "r2", (20, 10), (20, 10), (200, 20));
        db.store.delete_boundary_usage_stats_by_replica_id("r1").unwrap();
        let (ws, _, allowed, _) = summary(&db.store);
        assert_eq!((ws, allowed), (20, 200));
    }

    fn s16_telemetry_cycle_across_three_trackers(engine) {
        let (db, _, _) = setup(engine);
        let trackers = [Tracker::new(), Tracker::new(), Tracker::new()];
        let plan: [&[(i64, i64)]; 3] = [&[(10, 1), (15, 2)], &[(20, 3), (25, 4), (30, 5)], &[(5, 0)]];
        for (t, pairs) in trackers.iter().zip(plan) {
            for (a, d) in pairs {
                t.track(Uuid::new_v4(), Uuid::new_v4(), *a, *d);
            }
        }
        for (i, t) in trackers.iter().enumerate() {
            flush(t, &db.store, &format!("r{i}"));
        }
        assert_eq!(summary(&db.store), (6, 6, 105, 15));
        reset(&db.store);
        trackers[0].track(Uuid::new_v4(), Uuid::new_v4(), 1, 0);
        flush(&trackers[0], &db.store, "r0");
        let (ws, _, allowed, _) = summary(&db.store);
        assert_eq!((ws, allowed), (1, 1));
    }

    /// A track during the flush's database call lands in the next flush. The database call is
    /// held open by a lease on lock 9, which makes the flush's transaction wait.
    fn s17_track_during_flush_goes_to_the_next_flush(engine) {
        let (db, _, _) = setup(engine);
        let t = Arc::new(Tracker::new());
        let (w1, u1) = (Uuid::new_v4(), Uuid::new_v4());
        t.track(w1, u1, 10, 5);
        let lease = db.store.try_acquire_lease(LockId::BoundaryUsageStats, "blocker", Duration::from_secs(600)).unwrap();
        let flusher = {
            let t = Arc::clone(&t);
            let store = db.store.clone();
            thread::spawn(move || t.flush(&store, "r1").unwrap())
        };
        // The flush has taken its snapshot once nothing is pending any more.
        while t.pending_requests() != (0, 0) {
            thread::yield_now();
        }
        t.track(w1, u1, 20, 10);
        drop(lease);
        assert_eq!(flusher.join().unwrap(), FlushOutcome::Flushed { new_period: true, allowed: 10, denied: 5 });
        assert_eq!(summary(&db.store).2, 10);
        flush(&t, &db.store, "r1");
        let (_, _, allowed, denied) = summary(&db.store);
        assert_eq!((allowed, denied), (30, 15));
    }

    fn s18_concurrent_flush_and_track_conserve_counts(engine) {
        let (db, _, _) = setup(engine);
        let t = Arc::new(Tracker::new());
        let mut handles = Vec::new();
        for i in 0..50 {
            let tracker = Arc::clone(&t);
            handles.push(thread::spawn(move || tracker.track(Uuid::new_v4(), Uuid::new_v4(), i, 1)));
            let tracker = Arc::clone(&t);
            let store = db.store.clone();
            handles.push(thread::spawn(move || {
                tracker.flush(&store, "r1").unwrap();
            }));
        }
        handles.into_iter().for_each(|h| h.join().unwrap());
        flush(&t, &db.store, "r1");
        let (_, _, allowed, denied) = summary(&db.store);
        assert_eq!((allowed, denied), ((0..50).sum::<i64>(), 50));
    }

    fn s19_report_boundary_logs(engine) {
        let (db, _, _) = setup(engine);
        let t = Tracker::new();
        let (w, u) = (Uuid::new_v4(), Uuid::new_v4());
        t.report_boundary_logs(w, u, [true, true, true, false]);
        t.report_boundary_logs(w, u, [true, false, false]);
        t.report_boundary_logs(w, u, []);
        flush(&t, &db.store, "r1");
        assert_eq!(summary(&db.store), (1, 1, 4, 3));
        // An empty report alone records nothing.
        let idle = Tracker::new();
        idle.report_boundary_logs(w, u, []);
        assert_eq!(flush(&idle, &db.store, "r2"), FlushOutcome::Idle);
    }

    fn s20_collection_reports_the_summary_and_period(engine) {
        let (db, mock, clock) = setup(engine);
        let t = Tracker::new();
        let [w1, w2, u1, u2] = ids(4)[..] else { unreachable!() };
        t.track(w1, u1, 10, 2);
        t.track(w2, u1, 5, 1);
        t.track(w2, u2, 3, 0);
        flush(&t, &db.store, "r1");
        let s = boundaryusage::collect(&db.store, &clock, "r1", PERIOD, PERIOD * 2).unwrap().unwrap();
        assert_eq!((s.unique_workspaces, s.unique_users, s.allowed_requests, s.denied_requests), (2, 2, 18, 3));
        assert_eq!(s.period_start, mock.now() - chrono::Duration::minutes(30));
        assert_eq!(s.period_duration_ms, 1_800_000);
        let stored = db.store.list_telemetry_snapshots(10).unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].event_type, "boundary_usage_summary");
        assert_eq!(stored[0].snapshot["allowed_requests"], 18);
        assert_eq!(stored[0].snapshot["period_duration_ms"], 1_800_000);
        assert_eq!(stored[0].period_ending_at, Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap());
    }

    fn s21_collection_resets_for_the_next_period(engine) {
        let (db, mock, clock) = setup(engine);
        let t = Tracker::new();
        t.track(Uuid::new_v4(), Uuid::new_v4(), 5, 0);
        flush(&t, &db.store, "r1");
        let first = boundaryusage::collect(&db.store, &clock, "r1", PERIOD, PERIOD * 2).unwrap().unwrap();
        assert_eq!(first.allowed_requests, 5);
        mock.advance(PERIOD);
        let second = boundaryusage::collect(&db.store, &clock, "r1", PERIOD, PERIOD * 2).unwrap();
        assert_eq!(second.map(|s| s.allowed_requests), Some(0));
    }

    fn s22_only_one_replica_collects_a_period(engine) {
        let (db, _, clock) = setup(engine);
        let other = db.open_another("r2").unwrap();
        let (t1, t2) = (Tracker::new(), Tracker::new());
        t1.track(Uuid::new_v4(), Uuid::new_v4(), 10, 1);
        t2.track(Uuid::new_v4(), Uuid::new_v4(), 20, 2);
        flush(&t1, &db.store, "r1");
        flush(&t2, &other, "r2");
        let s1 = boundaryusage::collect(&db.store, &clock, "r1", PERIOD, PERIOD * 2).unwrap();
        assert_eq!(s1.map(|s| s.allowed_requests), Some(30));
        let s2 = boundaryusage::collect(&other, &clock, "r2", PERIOD, PERIOD * 2).unwrap();
        assert_eq!(s2, None);
        assert_eq!(db.store.list_telemetry_snapshots(10).unwrap().len(), 1);
    }

    fn s23_stale_rows_are_dropped_uncounted(engine) {
        let (db, mock, _) = setup(engine);
        upsert(&db.store, "stale", (1, 1), (1, 1), (100, 10));
        mock.advance(Duration::from_secs(120));
        upsert(&db.store, "fresh", (1, 1), (1, 1), (5, 1));
        let s = reset(&db.store);
        assert_eq!((s.allowed_requests, s.denied_requests), (5, 1));
        assert_eq!(summary(&db.store), (0, 0, 0, 0));
        let rows = db.query_i64("SELECT COUNT(*) FROM boundary_usage_stats").unwrap();
        assert_eq!(rows, 0, "the stale row was deleted too");
    }

    /// A flush that starts while a collection holds lock 9 waits, then inserts into the emptied
    /// table (new period); nothing is lost or counted twice.
    fn s24_flush_waits_for_a_collection_holding_lock_9(engine) {
        let (db, _, _) = setup(engine);
        let t = Arc::new(Tracker::new());
        t.track(Uuid::new_v4(), Uuid::new_v4(), 7, 1);
        flush(&t, &db.store, "r1");
        t.track(Uuid::new_v4(), Uuid::new_v4(), 3, 2);

        let (collected_tx, collected_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let collector = {
            let store = db.store.clone();
            thread::spawn(move || {
                in_tx(&store, TxOptions::write("collect"), |tx| {
                    tx.acquire_lock(LockId::BoundaryUsageStats)?;
                    let s = tx.get_and_reset_boundary_usage_summary(STALENESS)?;
                    collected_tx.send(s).unwrap();
                    release_rx.recv().unwrap();
                    Ok::<_, Error>(s)
                })
                .unwrap()
            })
        };
        let collected = collected_rx.recv().unwrap();
        let flushed = Arc::new(AtomicBool::new(false));
        let flusher = {
            let (t, store, flushed) = (
                Arc::clone(&t),
                db.open_another("flusher").unwrap(),
                Arc::clone(&flushed),
            );
            thread::spawn(move || {
                let outcome = t.flush(&store, "r1").unwrap();
                flushed.store(true, Ordering::SeqCst);
                outcome
            })
        };
        thread::sleep(Duration::from_millis(150));
        assert!(!flushed.load(Ordering::SeqCst), "the flush must wait for the collection");
        release_tx.send(()).unwrap();
        collector.join().unwrap();
        assert_eq!(flusher.join().unwrap(), FlushOutcome::Flushed { new_period: true, allowed: 3, denied: 2 });
        assert_eq!((collected.allowed_requests, collected.denied_requests), (7, 1));
        let (_, _, allowed, denied) = summary(&db.store);
        assert_eq!((allowed, denied), (3, 2));
    }

    /// A flush whose database write fails keeps its data: the next successful flush carries it.
    /// The failure is a real SQLite error, raised by a trigger installed for the test.
    fn failed_flush_is_not_lost(engine) {
        let (db, _, _) = setup(engine);
        let t = Tracker::new();
        let (w, u) = (Uuid::new_v4(), Uuid::new_v4());
        t.track(w, u, 4, 1);
        let (add_trigger, drop_trigger) = match db.engine() {
            Engine::Sqlite => (
                "CREATE TRIGGER fail_flush BEFORE INSERT ON boundary_usage_stats
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
                "DROP TRIGGER fail_flush",
            ),
            Engine::Postgres => (
                "CREATE FUNCTION fail_flush() RETURNS trigger LANGUAGE plpgsql
                     AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
                 CREATE TRIGGER fail_flush BEFORE INSERT ON boundary_usage_stats
                     FOR EACH ROW EXECUTE FUNCTION fail_flush();",
                "DROP TRIGGER fail_flush ON boundary_usage_stats",
            ),
        };
        db.execute_sql(add_trigger).unwrap();
        let err = t.flush(&db.store, "r1").unwrap_err();
        assert!(err.to_string().contains("injected failure"), "{err}");
        assert_eq!(t.pending_requests(), (4, 1));
        t.track(w, u, 2, 2);
        db.execute_sql(drop_trigger).unwrap();
        assert_eq!(flush(&t, &db.store, "r1"), FlushOutcome::Flushed { new_period: true, allowed: 6, denied: 3 });
        assert_eq!(summary(&db.store), (1, 1, 6, 3));
    }

    fn flush_loop_flushes_on_each_tick_and_once_more_on_shutdown(engine) {
        let (db, mock, clock) = setup(engine);
        let t = Arc::new(Tracker::new());
        let cancel = Cancel::new();
        let worker = {
            let (t, store, clock, cancel) = (Arc::clone(&t), db.store.clone(), clock.clone(), cancel.clone());
            thread::spawn(move || boundaryusage::run_flush_loop(&t, &store, clock, "r1", Duration::from_secs(60), &cancel))
        };
        mock.wait_for_sleepers(1);
        t.track(Uuid::new_v4(), Uuid::new_v4(), 2, 1);
        mock.advance(Duration::from_secs(59));
        mock.wait_for_sleepers(1);
        assert_eq!(summary(&db.store).2, 0, "no flush before the tick");
        mock.advance(Duration::from_secs(1));
        mock.wait_for_sleepers(1);
        assert_eq!(summary(&db.store).2, 2);
        t.track(Uuid::new_v4(), Uuid::new_v4(), 5, 0);
        cancel.cancel();
        worker.join().unwrap().unwrap();
        assert_eq!(summary(&db.store).2, 7, "shutdown flushed what was left");
    }
}

/// Totals of a load run.
#[derive(Default)]
struct Totals {
    tracked_allowed: AtomicI64,
    tracked_denied: AtomicI64,
    collected_allowed: AtomicI64,
    collected_denied: AtomicI64,
}

/// Tracks in 8 threads, flushes in 2, collects in 1 (all in a tight loop, real clock, 1 ms
/// periods); `extra_collector` runs alongside. Afterwards every request tracked is in
/// exactly one collected summary or in the final collection.
fn conservation_run(engine: &TestEngine, extra_collector: impl FnOnce(&TestDb) -> Option<(i64, i64)> + Send) {
    let db = TestDb::on(engine).unwrap();
    let clock: SharedClock = Arc::new(RealClock);
    let tracker = Arc::new(Tracker::new());
    let totals = Arc::new(Totals::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for seed in 0..8u64 {
        let (tracker, totals, stop) = (Arc::clone(&tracker), Arc::clone(&totals), Arc::clone(&stop));
        threads.push(thread::spawn(move || {
            let workspaces: Vec<Uuid> = ids(20);
            let users: Vec<Uuid> = ids(5);
            let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            while !stop.load(Ordering::Relaxed) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let allowed = (x % 7) as i64;
                let denied = ((x >> 8) % 3) as i64;
                tracker.track(workspaces[(x >> 16) as usize % 20], users[(x >> 24) as usize % 5], allowed, denied);
                totals.tracked_allowed.fetch_add(allowed, Ordering::Relaxed);
                totals.tracked_denied.fetch_add(denied, Ordering::Relaxed);
            }
        }));
    }
    for _ in 0..2 {
        let (tracker, store, stop) = (Arc::clone(&tracker), db.store.clone(), Arc::clone(&stop));
        threads.push(thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                tracker.flush(&store, "load-replica").unwrap();
            }
        }));
    }
    {
        let (store, totals, stop, clock) = (db.store.clone(), Arc::clone(&totals), Arc::clone(&stop), clock.clone());
        threads.push(thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let collected = boundaryusage::collect(
                    &store,
                    &clock,
                    "in-process",
                    Duration::from_millis(1),
                    Duration::from_secs(3600),
                )
                .unwrap();
                if let Some(s) = collected {
                    totals.collected_allowed.fetch_add(s.allowed_requests, Ordering::Relaxed);
                    totals.collected_denied.fetch_add(s.denied_requests, Ordering::Relaxed);
                }
            }
        }));
    }
    let extra = thread::scope(|scope| {
        let extra = scope.spawn(|| extra_collector(&db));
        thread::sleep(Duration::from_secs(3));
        stop.store(true, Ordering::Relaxed);
        extra.join().unwrap()
    });
    threads.into_iter().for_each(|t| t.join().unwrap());
    if let Some((allowed, denied)) = extra {
        totals.collected_allowed.fetch_add(allowed, Ordering::Relaxed);
        totals.collected_denied.fetch_add(denied, Ordering::Relaxed);
    }
    // What is left in memory goes to the table, then one last collection takes the table.
    tracker.flush(&db.store, "load-replica").unwrap();
    let last = in_tx(&db.store, TxOptions::write("final collect"), |tx| {
        tx.acquire_lock(LockId::BoundaryUsageStats)?;
        tx.get_and_reset_boundary_usage_summary(Duration::from_secs(3600))
    })
    .unwrap();
    let tracked = (totals.tracked_allowed.load(Ordering::SeqCst), totals.tracked_denied.load(Ordering::SeqCst));
    let collected = (
        totals.collected_allowed.load(Ordering::SeqCst) + last.allowed_requests,
        totals.collected_denied.load(Ordering::SeqCst) + last.denied_requests,
    );
    assert!(tracked.0 > 10_000, "the load was too light to mean anything: {tracked:?}");
    assert_eq!(collected, tracked, "every request collected exactly once");
    assert_eq!(tracker.pending_requests(), (0, 0));
}

contract_tests! {
    fn conservation_under_load_in_one_process(engine) {
        conservation_run(engine, |_| None);
    }

    fn conservation_under_load_with_a_second_process_collecting(engine) {
        conservation_run(engine, |db| {
            let out = Command::new(env!("CARGO_BIN_EXE_coderlite"))
                .arg("--db")
                .arg(db.db_arg())
                .args(["debug", "collect-loop", "--duration", "2500ms", "--interval", "1ms", "--max-staleness", "1h"])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert!(v["collections"].as_u64().unwrap() > 0, "the second process collected nothing: {v}");
            Some((v["allowed"].as_i64().unwrap(), v["denied"].as_i64().unwrap()))
        });
    }

    fn telemetry_collect_cli_prints_the_json_shape(engine) {
        let db = TestDb::on(engine).unwrap();
        let t = Tracker::new();
        t.track(Uuid::new_v4(), Uuid::new_v4(), 3, 1);
        t.flush(&db.store, "r1").unwrap();
        let run = || {
            let out = Command::new(env!("CARGO_BIN_EXE_coderlite"))
                .arg("--db")
                .arg(db.db_arg())
                .args(["telemetry", "collect", "-o", "json"])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
        };
        let first = run();
        assert_eq!(first["collected"], true);
        let summary = &first["summary"];
        let keys: HashSet<&str> = summary.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            HashSet::from([
                "unique_workspaces",
                "unique_users",
                "allowed_requests",
                "denied_requests",
                "period_start",
                "period_duration_ms"
            ])
        );
        assert_eq!(summary["allowed_requests"], 3);
        assert_eq!(summary["denied_requests"], 1);
        assert_eq!(summary["period_duration_ms"], 1_800_000);
        assert!(summary["period_start"].as_str().unwrap().ends_with('Z'));
        // The same period again: already collected (by the previous run).
        let second = run();
        assert_eq!(second, serde_json::json!({"collected": false, "summary": null}));
    }
}
