//! The echo provisioner's loop on the mock clock: completion after the delay, requeue of a
//! dead provisioner's jobs, hand-back on shutdown, and no completion by a worker that lost
//! its job.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use chrono::Utc;
use coderlite::clock::Cancel;
use coderlite::clock::Clock;
use coderlite::clock::MockClock;
use coderlite::clock::SharedClock;
use coderlite::database::models::JobStatus;
use coderlite::database::prelude::*;
use coderlite::provisioner::JOB_HUNG_AFTER;
use coderlite::provisioner::ProvisionerConfig;
use coderlite::provisioner::complete_job;
use coderlite::provisioner::run_provisioner_loop;
use coderlite::testing::TestDb;
use coderlite::testing::TestEngine;
use coderlite::testing::fixtures;
use coderlite::testing::fixtures::WorkspaceWithBuild;

fn setup(engine: &TestEngine) -> (TestDb, MockClock, WorkspaceWithBuild) {
    let clock = MockClock::new(Utc.with_ymd_and_hms(2025, 6, 2, 12, 0, 0).unwrap());
    let db = TestDb::create(engine, Arc::new(clock.clone())).unwrap();
    let t = fixtures::template(&db.store).build().unwrap();
    let w = fixtures::workspace(&db.store, &t.template).job_status(JobStatus::Pending).build().unwrap();
    (db, clock, w)
}

/// Runs the provisioner loop of `worker` on a thread for the duration of `f`.
fn with_loop(db: &TestDb, clock: &MockClock, worker: &str, delay: Duration, f: impl FnOnce(&Cancel)) {
    let cancel = Cancel::new();
    std::thread::scope(|s| {
        struct CancelOnDrop(Cancel);
        impl Drop for CancelOnDrop {
            fn drop(&mut self) {
                self.0.cancel();
            }
        }
        let _stop = CancelOnDrop(cancel.clone());
        let shared: SharedClock = Arc::new(clock.clone());
        let (store, loop_cancel) = (&db.store, cancel.clone());
        s.spawn(move || run_provisioner_loop(store, shared, worker, ProvisionerConfig::new(delay), &loop_cancel));
        clock.wait_for_sleepers(1);
        f(&cancel);
    });
}

/// Advances the clock in `step`s up to `total`, letting the loop run after each.
fn advance(clock: &MockClock, total: Duration, step: Duration) {
    let mut moved = Duration::ZERO;
    while moved < total {
        clock.advance(step);
        clock.wait_for_sleepers(1);
        moved += step;
    }
}

fn resources_of(db: &TestDb, job_id: &str) -> i64 {
    db.query_i64(&format!("SELECT COUNT(*) FROM workspace_resources WHERE job_id = '{job_id}'")).unwrap()
}

contract_tests! {
    fn a_job_completes_after_the_delay_and_not_before(engine) {
        let (db, clock, w) = setup(engine);
        with_loop(&db, &clock, "p1", Duration::from_secs(3), |_| {
            let job = db.store.get_provisioner_job_by_id(&w.job.id).unwrap();
            assert_eq!((job.job_status, job.worker_id.as_deref()), (JobStatus::Running, Some("p1")));
            advance(&clock, Duration::from_secs(2), Duration::from_secs(1));
            assert_eq!(db.store.get_provisioner_job_by_id(&w.job.id).unwrap().job_status, JobStatus::Running);
            advance(&clock, Duration::from_secs(1), Duration::from_secs(1));
            assert_eq!(db.store.get_provisioner_job_by_id(&w.job.id).unwrap().job_status, JobStatus::Succeeded);
        });
        assert_eq!(resources_of(&db, &w.job.id), 1);
    }

    fn jobs_of_a_dead_provisioner_are_requeued_and_done_once(engine) {
        let (db, clock, w) = setup(engine);
        // A provisioner takes the job and dies (never heartbeats, never completes).
        let taken = db.store.acquire_provisioner_job("dead", clock.now()).unwrap().unwrap();
        assert_eq!(taken.id, w.job.id);
        with_loop(&db, &clock, "live", Duration::from_secs(1), |_| {
            advance(&clock, JOB_HUNG_AFTER - Duration::from_secs(2), Duration::from_secs(1));
            let job = db.store.get_provisioner_job_by_id(&w.job.id).unwrap();
            assert_eq!(job.worker_id.as_deref(), Some("dead"), "not before the hung timeout");
            advance(&clock, Duration::from_secs(6), Duration::from_secs(1));
            let job = db.store.get_provisioner_job_by_id(&w.job.id).unwrap();
            assert_eq!((job.job_status, job.worker_id.as_deref()), (JobStatus::Succeeded, Some("live")));
        });
        // The dead worker coming back cannot complete it a second time.
        assert!(!complete_job(&db.store, &taken).unwrap());
        assert_eq!(resources_of(&db, &w.job.id), 1);
    }

    fn a_live_provisioner_keeps_its_slow_job_by_heartbeating(engine) {
        let (db, clock, w) = setup(engine);
        // "slow" holds the job for 60 s; "other" runs the hung-job reaper all along.
        let other = Cancel::new();
        std::thread::scope(|s| {
            let shared: SharedClock = Arc::new(clock.clone());
            let (store, other_cancel) = (&db.store, other.clone());
            with_loop(&db, &clock, "slow", Duration::from_secs(60), |_| {
                assert_eq!(db.store.get_provisioner_job_by_id(&w.job.id).unwrap().worker_id.as_deref(), Some("slow"));
                s.spawn(move || {
                    run_provisioner_loop(store, shared, "other", ProvisionerConfig::new(Duration::ZERO), &other_cancel)
                });
                clock.wait_for_sleepers(2);
                let mut moved = Duration::ZERO;
                while moved < Duration::from_secs(40) {
                    clock.advance(Duration::from_millis(500));
                    clock.wait_for_sleepers(2);
                    moved += Duration::from_millis(500);
                }
                let job = db.store.get_provisioner_job_by_id(&w.job.id).unwrap();
                assert_eq!(
                    (job.job_status, job.worker_id.as_deref()),
                    (JobStatus::Running, Some("slow")),
                    "40 s in, the heartbeating worker still holds it"
                );
                other.cancel();
            });
        });
    }

    fn shutdown_hands_unfinished_jobs_back(engine) {
        let (db, clock, w) = setup(engine);
        with_loop(&db, &clock, "p1", Duration::from_secs(60), |cancel| {
            assert_eq!(db.store.get_provisioner_job_by_id(&w.job.id).unwrap().job_status, JobStatus::Running);
            cancel.cancel();
        });
        let job = db.store.get_provisioner_job_by_id(&w.job.id).unwrap();
        assert_eq!((job.job_status, job.worker_id, job.started_at), (JobStatus::Pending, None, None));
        // The next provisioner takes it.
        let again = db.store.acquire_provisioner_job("p2", clock.now()).unwrap().unwrap();
        assert_eq!(again.id, w.job.id);
    }
}
