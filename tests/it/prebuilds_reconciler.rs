//! The prebuilds reconciler end to end against the real store with the mock clock
//! (reference/prebuilds.md §8.1), plus claim, invalidation and the echo provisioner.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use chrono::Utc;
use coderlite::clock::Clock;
use coderlite::clock::MockClock;
use coderlite::database::models::JobStatus;
use coderlite::database::models::PREBUILDS_SYSTEM_USER_ID;
use coderlite::database::models::PrebuildStatus;
use coderlite::database::models::TemplateScheduling;
use coderlite::database::models::Workspace;
use coderlite::database::models::WorkspaceTransition;
use coderlite::database::prelude::*;
use coderlite::prebuilds::provision;
use coderlite::prebuilds::reconciler::CycleMemory;
use coderlite::prebuilds::reconciler::CycleReport;
use coderlite::prebuilds::reconciler::ReconcilerConfig;
use coderlite::prebuilds::reconciler::reconcile_once;
use coderlite::prebuilds::reconciler::reconcile_once_cached;
use coderlite::prebuilds::reconciler::set_paused;
use coderlite::provisioner;
use coderlite::testing::TestDb;
use coderlite::testing::TestEngine;
use coderlite::testing::fixtures;

struct Env {
    db: TestDb,
    clock: MockClock,
    config: ReconcilerConfig,
    /// Every scenario runs through the snapshot cache, as the run loop does: a change the
    /// data generation missed would show as a stale decision.
    memory: CycleMemory,
}

fn env(engine: &TestEngine) -> Env {
    let clock = MockClock::new(Utc.with_ymd_and_hms(2025, 6, 2, 12, 0, 0).unwrap());
    let db = TestDb::create(engine, Arc::new(clock.clone())).unwrap();
    let mut config = ReconcilerConfig::new(Duration::from_secs(60));
    config.backoff_interval = Duration::ZERO;
    Env { db, clock, config, memory: CycleMemory::new() }
}

impl Env {
    fn reconcile(&self) -> CycleReport {
        let report =
            reconcile_once_cached(&self.db.store, "test/reconciler", &self.config, Some(&self.memory)).unwrap();
        assert!(report.acquired);
        report
    }

    fn cycles(&self, n: usize) {
        for _ in 0..n {
            self.reconcile();
        }
    }

    /// Live prebuilt workspaces of a template.
    fn prebuilds(&self, template_id: &str) -> Vec<Workspace> {
        self.db
            .store
            .get_workspaces_by_template_id(template_id)
            .unwrap()
            .into_iter()
            .filter(|w| w.owner_id == PREBUILDS_SYSTEM_USER_ID)
            .collect()
    }

    fn latest_transition(&self, workspace_id: &str) -> WorkspaceTransition {
        self.db.store.get_workspace_builds_by_workspace_id(workspace_id).unwrap()[0].transition
    }

    /// The reconciler deleted it: a newer delete build was added (upstream: "the original
    /// prebuild has 2 builds and the newest is delete"), or cancel-pending deleted it.
    fn deleted_by_reconciler(&self, workspace_id: &str) -> bool {
        let builds = self.db.store.get_workspace_builds_by_workspace_id(workspace_id).unwrap();
        self.db.store.get_workspace_by_id(workspace_id).unwrap().deleted
            || (builds.len() >= 2 && builds[0].transition == WorkspaceTransition::Delete)
    }

    fn drain(&self) -> usize {
        provisioner::drain(&self.db.store, "test-provisioner").unwrap()
    }
}

/// A claim with no schedule of its own.
fn claim(
    e: &Env,
    preset_id: &str,
    user_id: &str,
    name: &str,
) -> Result<Option<coderlite::workspaces::claim::Claimed>, coderlite::workspaces::create::WorkspaceError> {
    coderlite::workspaces::claim::claim_prebuilt_workspace(
        &e.db.store,
        &coderlite::workspaces::claim::ClaimRequest {
            preset_id,
            user_id,
            name,
            autostart_schedule: None,
            ttl_ms: None,
        },
    )
}

contract_tests! {
    /// Scenarios 1 and 2: no presets, or presets without prebuilds → no jobs.
    fn s01_s02_nothing_configured_creates_nothing(engine) {
        let e = env(engine);
        e.cycles(2);
        let t = fixtures::template(&e.db.store).build().unwrap();
        fixtures::preset(&e.db.store, &t.version).build().unwrap();
        e.cycles(8);
        assert!(e.prebuilds(&t.template.id).is_empty());
        assert_eq!(e.drain(), 0, "no provisioner jobs");
    }

    /// Scenarios 3-13: an existing prebuild in every (transition, job status), on the active or
    /// an inactive version, next to an antagonist workspace; 8 cycles each.
    fn s03_to_s13_matrix(engine) {
        use JobStatus::*;
        use WorkspaceTransition::*;
        for transition in [Start, Stop, Delete] {
            for status in [Pending, Running, Canceling, Succeeded, Failed, Canceled] {
                for active in [true, false] {
                    let e = env(engine);
                    let t = fixtures::template(&e.db.store).build().unwrap();
                    let p = fixtures::preset(&e.db.store, &t.version).name("p").desired_instances(1).build().unwrap();
                    let existing = fixtures::workspace(&e.db.store, &t.template)
                        .owner(PREBUILDS_SYSTEM_USER_ID)
                        .preset(&p)
                        .transition(transition)
                        .job_status(status)
                        .build()
                        .unwrap();
                    let antagonist = fixtures::workspace(&e.db.store, &t.template).preset(&p).build().unwrap();
                    if !active {
                        fixtures::template_version(&e.db.store, &t.template).active(true).build().unwrap();
                    }
                    e.clock.advance(Duration::from_micros(1));
                    e.cycles(8);
                    let case = format!("{transition}/{status}/{}", if active { "active" } else { "inactive" });
                    let others: Vec<_> =
                        e.prebuilds(&t.template.id).into_iter().filter(|w| w.id != existing.workspace.id).collect();
                    let expect_new = active && !(transition == Start && matches!(status, Pending | Running | Succeeded));
                    assert_eq!(others.len(), usize::from(expect_new), "{case}: new prebuilds");
                    let expect_deleted = !active && transition == Start && matches!(status, Succeeded | Pending);
                    assert_eq!(e.deleted_by_reconciler(&existing.workspace.id), expect_deleted, "{case}: deleted");
                    assert_eq!(e.latest_transition(&antagonist.workspace.id), Start, "{case}: antagonist untouched");
                    assert!(!e.db.store.get_workspace_by_id(&antagonist.workspace.id).unwrap().deleted);
                }
            }
        }
    }

    /// Scenario 13: a soft-deleted template's prebuild is deleted and not replaced.
    fn s13_deleted_template_prebuilds_are_deleted(engine) {
        let e = env(engine);
        let t = fixtures::template(&e.db.store).build().unwrap();
        let p = fixtures::preset(&e.db.store, &t.version).desired_instances(1).build().unwrap();
        let w = fixtures::workspace(&e.db.store, &t.template).owner(PREBUILDS_SYSTEM_USER_ID).preset(&p).build().unwrap();
        e.db.store.update_template_deleted_and_deprecated(&t.template.id, true, "", e.clock.now()).unwrap();
        e.cycles(8);
        assert_eq!(e.latest_transition(&w.workspace.id), WorkspaceTransition::Delete);
        assert_eq!(e.prebuilds(&t.template.id).len(), 1, "not replaced");
    }

    /// Scenario 14: one preset's starting builds do not block another preset.
    fn s14_presets_are_independent(engine) {
        let e = env(engine);
        let t = fixtures::template(&e.db.store).build().unwrap();
        let p1 = fixtures::preset(&e.db.store, &t.version).name("p1").desired_instances(4).build().unwrap();
        fixtures::preset(&e.db.store, &t.version).name("p2").desired_instances(10).build().unwrap();
        for _ in 0..4 {
            fixtures::workspace(&e.db.store, &t.template)
                .owner(PREBUILDS_SYSTEM_USER_ID)
                .preset(&p1)
                .job_status(JobStatus::Running)
                .build()
                .unwrap();
        }
        e.cycles(8);
        assert_eq!(e.prebuilds(&t.template.id).len(), 14);
    }

    /// Scenario 16: an unsatisfiable required parameter → no workspace remains after 8 cycles.
    fn s16_invalid_preset_leaves_no_workspace(engine) {
        let e = env(engine);
        let t = fixtures::template(&e.db.store).parameter("region", true, "").build().unwrap();
        fixtures::preset(&e.db.store, &t.version).desired_instances(1).build().unwrap();
        for _ in 0..8 {
            let r = e.reconcile();
            assert_eq!(r.created, 0);
            assert!(r.errors.iter().any(|e| e.contains("required parameter \"region\"")), "{:?}", r.errors);
        }
        let n = e.db.query_i64(&format!("SELECT COUNT(*) FROM workspaces WHERE template_id = '{}'", t.template.id)).unwrap();
        assert_eq!(n, 0, "the workspace of a failed build is rolled back");
    }

    /// Scenario 17: a prebuild of v1 is still deleted when the new active version has an
    /// unsatisfiable parameter.
    fn s17_delete_does_not_need_the_new_versions_parameters(engine) {
        let e = env(engine);
        let t = fixtures::template(&e.db.store).build().unwrap();
        let p = fixtures::preset(&e.db.store, &t.version).desired_instances(1).build().unwrap();
        let w = fixtures::workspace(&e.db.store, &t.template).owner(PREBUILDS_SYSTEM_USER_ID).preset(&p).build().unwrap();
        let v2 = fixtures::template_version(&e.db.store, &t.template)
            .parameter("region", true, "")
            .active(true)
            .build()
            .unwrap();
        fixtures::preset(&e.db.store, &v2).desired_instances(1).build().unwrap();
        e.cycles(2);
        assert_eq!(e.latest_transition(&w.workspace.id), WorkspaceTransition::Delete);
    }

    /// Scenario 18: the failure hard limit stops creation, marks the preset, notifies once.
    fn s18_hard_limit(engine) {
        for limit in [1, 2] {
            let mut e = env(engine);
            e.config.failure_hard_limit = limit;
            let admin = fixtures::user(&e.db.store).build().unwrap();
            let t = fixtures::template(&e.db.store).build().unwrap();
            // Make the admin an organization admin.
            e.db.execute_sql(&format!(
                "UPDATE organization_members SET roles = '[\"organization-admin\"]' WHERE user_id = '{}'",
                admin.id
            ))
            .unwrap();
            let p = fixtures::preset(&e.db.store, &t.version).desired_instances(1).build().unwrap();
            fixtures::workspace(&e.db.store, &t.template)
                .owner(PREBUILDS_SYSTEM_USER_ID)
                .preset(&p)
                .job_status(JobStatus::Failed)
                .build()
                .unwrap();
            e.clock.advance(Duration::from_micros(1));
            e.cycles(3);
            let status = e.db.store.get_preset_by_id(&p.id).unwrap().prebuild_status;
            let notifications = e.db.query_i64("SELECT COUNT(*) FROM notification_messages").unwrap();
            if limit == 1 {
                assert_eq!(e.prebuilds(&t.template.id).len(), 1, "no new workspace beside the failed one");
                assert_eq!(status, PrebuildStatus::HardLimited);
                assert_eq!(notifications, 1, "exactly one");
                let sent = e
                    .db
                    .query_text("SELECT notification_template_id || ' ' || user_id FROM notification_messages")
                    .unwrap();
                assert_eq!(sent, format!("{} {}", provision::HARD_LIMIT_NOTIFICATION, admin.id));
            } else {
                assert_eq!(e.prebuilds(&t.template.id).len(), 2, "a second workspace is created");
                assert_eq!(status, PrebuildStatus::Healthy);
                assert_eq!(notifications, 0);
            }
        }
    }

    /// Scenario 19: a hard-limited preset still deletes outdated prebuilds.
    fn s19_hard_limit_does_not_block_deletion(engine) {
        let mut e = env(engine);
        e.config.failure_hard_limit = 1;
        let t = fixtures::template(&e.db.store).build().unwrap();
        let p = fixtures::preset(&e.db.store, &t.version).desired_instances(2).build().unwrap();
        let ok = fixtures::workspace(&e.db.store, &t.template).owner(PREBUILDS_SYSTEM_USER_ID).preset(&p).build().unwrap();
        e.clock.advance(Duration::from_secs(1));
        fixtures::workspace(&e.db.store, &t.template)
            .owner(PREBUILDS_SYSTEM_USER_ID)
            .preset(&p)
            .job_status(JobStatus::Failed)
            .build()
            .unwrap();
        e.clock.advance(Duration::from_micros(1));
        e.cycles(2);
        assert_eq!(e.db.store.get_preset_by_id(&p.id).unwrap().prebuild_status, PrebuildStatus::HardLimited);
        assert_eq!(e.latest_transition(&ok.workspace.id), WorkspaceTransition::Start);
        fixtures::template_version(&e.db.store, &t.template).active(true).build().unwrap();
        e.cycles(1);
        assert_eq!(e.latest_transition(&ok.workspace.id), WorkspaceTransition::Delete);
    }

    /// Scenario 21: backoff after failures, then creation once it has passed.
    fn s21_backoff(engine) {
        let mut e = env(engine);
        e.config.backoff_interval = Duration::from_secs(60);
        e.config.failure_hard_limit = 0;
        let t = fixtures::template(&e.db.store).build().unwrap();
        let p = fixtures::preset(&e.db.store, &t.version).desired_instances(2).build().unwrap();
        for _ in 0..2 {
            fixtures::workspace(&e.db.store, &t.template)
                .owner(PREBUILDS_SYSTEM_USER_ID)
                .preset(&p)
                .job_status(JobStatus::Failed)
                .build()
                .unwrap();
        }
        assert_eq!(e.reconcile().created, 0, "backing off for 2 x 1m");
        e.clock.advance(Duration::from_secs(1));
        assert_eq!(e.reconcile().created, 0);
        e.clock.advance(Duration::from_secs(120));
        assert_eq!(e.reconcile().created, 2);
    }

    /// Scenario 25: pending first builds of an inactive version are canceled and their
    /// workspaces deleted; other builds are left alone.
    fn s25_cancel_pending_of_inactive_versions(engine) {
        let e = env(engine);
        let t = fixtures::template(&e.db.store).build().unwrap();
        let p = fixtures::preset(&e.db.store, &t.version).desired_instances(1).build().unwrap();
        let pending = fixtures::workspace(&e.db.store, &t.template)
            .owner(PREBUILDS_SYSTEM_USER_ID)
            .preset(&p)
            .job_status(JobStatus::Pending)
            .build()
            .unwrap();
        let running = fixtures::workspace(&e.db.store, &t.template)
            .owner(PREBUILDS_SYSTEM_USER_ID)
            .preset(&p)
            .job_status(JobStatus::Running)
            .build()
            .unwrap();
        let user = fixtures::workspace(&e.db.store, &t.template).preset(&p).job_status(JobStatus::Pending).build().unwrap();
        fixtures::template_version(&e.db.store, &t.template).active(true).build().unwrap();
        let report = e.reconcile();
        assert_eq!(report.canceled, 1);
        let job = e.db.store.get_provisioner_job_by_id(&pending.job.id).unwrap();
        assert_eq!(job.job_status, JobStatus::Canceled);
        assert_eq!((job.canceled_at, job.completed_at), (Some(e.clock.now()), Some(e.clock.now())));
        assert!(e.db.store.get_workspace_by_id(&pending.workspace.id).unwrap().deleted);
        assert_eq!(e.db.store.get_provisioner_job_by_id(&running.job.id).unwrap().job_status, JobStatus::Running);
        assert_eq!(e.db.store.get_provisioner_job_by_id(&user.job.id).unwrap().job_status, JobStatus::Pending);
        assert_eq!(e.reconcile().canceled, 0);
    }

    /// Scenario 26: paused → nothing happens; resumed → the pool is refilled.
    fn s26_pause_and_resume(engine) {
        let e = env(engine);
        let t = fixtures::template(&e.db.store).build().unwrap();
        fixtures::preset(&e.db.store, &t.version).desired_instances(2).build().unwrap();
        assert_eq!(e.reconcile().created, 2);
        e.drain();
        set_paused(&e.db.store, true).unwrap();
        for w in e.prebuilds(&t.template.id) {
            e.db.store.update_workspace_deleted(&w.id, true, e.clock.now()).unwrap();
        }
        let r = e.reconcile();
        assert!(r.paused);
        assert_eq!(r.created, 0);
        set_paused(&e.db.store, false).unwrap();
        assert_eq!(e.reconcile().created, 2);
    }

    fn end_to_end_with_the_echo_provisioner_reaches_desired_and_stays(engine) {
        let e = env(engine);
        let t = fixtures::template(&e.db.store).build().unwrap();
        fixtures::preset(&e.db.store, &t.version).desired_instances(3).build().unwrap();
        for _ in 0..8 {
            e.reconcile();
            e.drain();
        }
        let prebuilds = e.prebuilds(&t.template.id);
        assert_eq!(prebuilds.len(), 3);
        assert!(prebuilds.iter().all(|w| w.name.starts_with("prebuild-")));
        let running = e.db.store.get_running_prebuilt_workspaces().unwrap();
        assert_eq!(running.iter().filter(|r| r.ready).count(), 3);
    }

    fn a_failing_version_produces_failed_jobs(engine) {
        let e = env(engine);
        let t = fixtures::template(&e.db.store).fail_builds(true).build().unwrap();
        fixtures::preset(&e.db.store, &t.version).desired_instances(1).build().unwrap();
        e.reconcile();
        e.drain();
        let w = &e.prebuilds(&t.template.id)[0];
        let build = &e.db.store.get_workspace_builds_by_workspace_id(&w.id).unwrap()[0];
        assert_eq!(e.db.store.get_provisioner_job_by_id(&build.job_id).unwrap().job_status, JobStatus::Failed);
    }

    fn claim_takes_the_oldest_ready_prebuild_and_a_claim_beats_a_later_delete(engine) {
        let e = env(engine);
        let t = fixtures::template(&e.db.store).build().unwrap();
        let p = fixtures::preset(&e.db.store, &t.version).desired_instances(2).build().unwrap();
        e.reconcile();
        e.drain();
        let mut pool = e.prebuilds(&t.template.id);
        pool.sort_by_key(|w| (w.created_at, w.id.clone()));
        let alice = fixtures::user(&e.db.store).username("alice").build().unwrap();
        e.clock.advance(Duration::from_secs(5));
        let claimed = claim(&e, &p.id, &alice.id, "my-ws").unwrap().unwrap();
        assert_eq!(claimed.workspace_id, pool[0].id, "the oldest ready prebuild");
        let w = e.db.store.get_workspace_by_id(&claimed.workspace_id).unwrap();
        assert_eq!((w.owner_id.as_str(), w.name.as_str(), w.last_used_at), (alice.id.as_str(), "my-ws", e.clock.now()));
        // The reconciler decided to delete it before the claim committed: the owner guard wins.
        let err = provision::delete_prebuilt_workspace(&e.db.store, &claimed.workspace_id).unwrap_err();
        assert!(err.to_string().contains("probably it was claimed"), "{err}");
        assert_eq!(e.latest_transition(&claimed.workspace_id), WorkspaceTransition::Start);
        // Nothing claimable for another preset.
        let other = fixtures::preset(&e.db.store, &t.version).desired_instances(0).build().unwrap();
        assert!(claim(&e, &other.id, &alice.id, "x").unwrap().is_none());
    }

    fn invalidation_replaces_the_pool(engine) {
        let e = env(engine);
        let t = fixtures::template(&e.db.store).build().unwrap();
        fixtures::preset(&e.db.store, &t.version).desired_instances(1).build().unwrap();
        e.reconcile();
        e.drain();
        let old = e.prebuilds(&t.template.id)[0].clone();
        e.clock.advance(Duration::from_secs(10));
        assert_eq!(provision::invalidate_prebuilds(&e.db.store, &t.template.id).unwrap().len(), 1);
        e.clock.advance(Duration::from_secs(1));
        let r = e.reconcile();
        assert_eq!((r.deleted, r.created), (1, 1));
        assert_eq!(e.latest_transition(&old.id), WorkspaceTransition::Delete);
    }

    fn provisioner_never_hands_out_a_job_twice(engine) {
        let e = env(engine);
        let t = fixtures::template(&e.db.store).build().unwrap();
        fixtures::preset(&e.db.store, &t.version).desired_instances(30).build().unwrap();
        e.reconcile();
        let workers: Vec<_> = (0..3)
            .map(|i| {
                let store = e.db.open_another(&format!("w{i}")).unwrap();
                std::thread::spawn(move || {
                    let mut mine = Vec::new();
                    while let Some(job) = store.acquire_provisioner_job(&format!("w{i}"), store.clock().now()).unwrap() {
                        mine.push(job.id);
                    }
                    mine
                })
            })
            .collect();
        let mut all: Vec<String> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!((n, all.len()), (30, 30));
    }

    fn a_held_lease_makes_the_cycle_a_quiet_no_op(engine) {
        let e = env(engine);
        let t = fixtures::template(&e.db.store).build().unwrap();
        fixtures::preset(&e.db.store, &t.version).desired_instances(1).build().unwrap();
        let _lease =
            e.db.store
                .try_acquire_lease(coderlite::database::LockId::ReconcilePrebuilds, "other", Duration::from_secs(60))
                .unwrap();
        let r = reconcile_once(&e.db.store, "me", &e.config).unwrap();
        assert_eq!(r, CycleReport::default());
        assert!(e.prebuilds(&t.template.id).is_empty());
    }

    /// Scenario 20: the run loop on a 1 s interval fills a preset on its first tick; a preset
    /// added later is filled only on the next tick; cancel stops the loop.
    fn s20_run_loop_fills_new_presets_on_the_next_tick(engine) {
        let mut e = env(engine);
        e.config.interval = Duration::from_secs(1);
        let t = fixtures::template(&e.db.store).build().unwrap();
        let p2 = fixtures::preset(&e.db.store, &t.version).name("p2").desired_instances(10).build().unwrap();
        let per_preset = |e: &Env, preset_id: &str| {
            e.prebuilds(&t.template.id)
                .iter()
                .filter(|w| {
                    e.db.store.get_workspace_builds_by_workspace_id(&w.id).unwrap()[0].template_version_preset_id.as_deref()
                        == Some(preset_id)
                })
                .count()
        };
        // The loop is idle when it sleeps until `tick` (the lease heartbeat of a cycle in
        // progress sleeps on the clock too, but until a later deadline).
        let wait_idle = |tick| {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while e.clock.next_deadline() != Some(tick) {
                assert!(std::time::Instant::now() < deadline, "the loop never went idle until {tick}");
                std::thread::sleep(Duration::from_millis(2));
            }
        };
        let start = e.clock.now();
        let cancel = coderlite::clock::Cancel::new();
        let clock: coderlite::clock::SharedClock = Arc::new(e.clock.clone());
        std::thread::scope(|s| {
            // Stops the loop even when an assertion fails, so the scope can end.
            struct CancelOnDrop(coderlite::clock::Cancel);
            impl Drop for CancelOnDrop {
                fn drop(&mut self) {
                    self.0.cancel();
                }
            }
            let _stop = CancelOnDrop(cancel.clone());
            let (store, config, cancel_loop) = (&e.db.store, e.config, cancel.clone());
            let worker = s.spawn(move || {
                coderlite::prebuilds::reconciler::run_reconciler_loop(store, clock, "test/loop", &config, &cancel_loop)
            });
            // The first cycle runs at once; then the loop sleeps until the next tick.
            wait_idle(start + chrono::Duration::seconds(1));
            assert_eq!(per_preset(&e, &p2.id), 10);
            let p3 = fixtures::preset(&e.db.store, &t.version).name("p3").desired_instances(5).build().unwrap();
            assert_eq!(per_preset(&e, &p3.id), 0, "not before the next tick");
            e.clock.advance(Duration::from_millis(500));
            wait_idle(start + chrono::Duration::seconds(1));
            assert_eq!(per_preset(&e, &p3.id), 0, "half an interval later: still not");
            e.clock.advance(Duration::from_millis(500));
            wait_idle(start + chrono::Duration::seconds(2));
            assert_eq!(per_preset(&e, &p3.id), 5, "filled on the next tick");
            assert_eq!(per_preset(&e, &p2.id), 10);
            cancel.cancel();
            worker.join().unwrap().unwrap();
        });
        assert!(e.db.store.list_locks().unwrap().is_empty(), "the loop stopped cleanly, its lease released");
    }

    /// Scenario 22: five reconcilers going for the reconciliation lease at once, each holding it
    /// for a while: the critical sections never overlap, and every one gets its turn.
    fn s22_reconciliation_lease_sections_never_overlap(engine) {
        use std::sync::Mutex;
        use std::time::Instant;

        let db = TestDb::on(engine).unwrap();
        let sections: Mutex<Vec<(Instant, Instant)>> = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for i in 0..5 {
                let (store, sections) = (&db.store, &sections);
                s.spawn(move || {
                    let holder = format!("reconciler-{i}");
                    let deadline = Instant::now() + Duration::from_secs(20);
                    loop {
                        let lease = store
                            .try_acquire_lease(
                                coderlite::database::LockId::ReconcilePrebuilds,
                                &holder,
                                coderlite::prebuilds::reconciler::RECONCILE_LEASE_TTL,
                            )
                            .unwrap();
                        if let Some(lease) = lease {
                            let entered = Instant::now();
                            std::thread::sleep(Duration::from_millis(150));
                            let left = Instant::now();
                            sections.lock().unwrap().push((entered, left));
                            lease.release().unwrap();
                            return;
                        }
                        assert!(Instant::now() < deadline, "{holder} never got the lease");
                        std::thread::sleep(Duration::from_millis(5));
                    }
                });
            }
        });
        let mut sections = sections.into_inner().unwrap();
        assert_eq!(sections.len(), 5);
        sections.sort();
        for pair in sections.windows(2) {
            assert!(pair[0].1 <= pair[1].0, "overlapping critical sections: {pair:?}");
        }
    }

    /// Scenario 24: TTL expiry with preset TTL 3 h and desired 2, as (running, expired) →
    /// (deleted extraneous, created), expired rows always deleted; extraneous deletion takes the
    /// oldest non-expired row.
    fn s24_ttl_expiry_end_to_end(engine) {
        for (running, expired, extraneous, created) in
            [(2, 0, 0, 0), (2, 1, 0, 1), (2, 2, 0, 2), (4, 2, 0, 0), (4, 1, 1, 0)]
        {
            let e = env(engine);
            let t = fixtures::template(&e.db.store).build().unwrap();
            let p = fixtures::preset(&e.db.store, &t.version)
                .desired_instances(2)
                .invalidate_after_secs(3 * 3600)
                .build()
                .unwrap();
            let now = e.clock.now();
            let mut expired_ids = Vec::new();
            let mut fresh = Vec::new();
            for i in 0..running {
                // Expired rows are older than the TTL; fresh ones are 10, 20, ... minutes old.
                let is_expired = i < expired;
                let age = if is_expired {
                    chrono::Duration::hours(4) + chrono::Duration::minutes(i)
                } else {
                    chrono::Duration::minutes(10 * (i + 1))
                };
                let w = fixtures::workspace(&e.db.store, &t.template)
                    .owner(PREBUILDS_SYSTEM_USER_ID)
                    .preset(&p)
                    .created_at(now - age)
                    .build()
                    .unwrap();
                if is_expired { expired_ids.push(w.workspace.id) } else { fresh.push((now - age, w.workspace.id)) }
            }
            let r = e.reconcile();
            let case = (running, expired, extraneous, created);
            assert_eq!(r.created, created as usize, "{case:?}");
            assert_eq!(r.deleted, (expired + extraneous) as usize, "{case:?}");
            for id in &expired_ids {
                assert!(e.deleted_by_reconciler(id), "{case:?}: expired {id} deleted");
            }
            fresh.sort();
            for (k, (_, id)) in fresh.iter().enumerate() {
                let should_go = (k as i64) < extraneous;
                assert_eq!(e.deleted_by_reconciler(id), should_go, "{case:?}: fresh #{k} (oldest first)");
            }
        }
    }
}

/// The data generation moves with every change behind Q1 and Q3 and with nothing else
/// (SQLite only: PostgreSQL keeps no data generation, SPEC §15 "No hot rows").
#[test]
fn the_data_generation_tracks_the_rows_behind_the_snapshot() {
    let e = env(&TestEngine::Sqlite);
    let store = &e.db.store;
    let generation = || store.get_prebuilds_data_generation().unwrap();
    let mut last = generation();
    let mut moved = |what: &str, expect: bool| {
        let now = generation();
        assert_eq!(now != last, expect, "{what}");
        last = now;
    };
    let t = fixtures::template(store).build().unwrap();
    moved("template and version", true);
    let p = fixtures::preset(store, &t.version).desired_instances(1).build().unwrap();
    moved("preset", true);
    let w = fixtures::workspace(store, &t.template)
        .owner(PREBUILDS_SYSTEM_USER_ID)
        .preset(&p)
        .job_status(JobStatus::Pending)
        .build()
        .unwrap();
    moved("workspace, build, job", true);
    let job = store.acquire_provisioner_job("p", e.clock.now()).unwrap().unwrap();
    moved("job acquired", true);
    provisioner::complete_job(store, &job).unwrap();
    moved("job completed: resource and agent", true);
    fixtures::agent_stat(store, &w.workspace, "agent").build().unwrap();
    moved("agent stats are not behind the snapshot", false);
    let lease = store
        .try_acquire_lease(coderlite::database::LockId::ReconcilePrebuilds, "x", Duration::from_secs(60))
        .unwrap()
        .unwrap();
    lease.release().unwrap();
    moved("leases are not behind the snapshot", false);
    store.update_workspace_deleted(&w.workspace.id, true, e.clock.now()).unwrap();
    moved("workspace deleted", true);
}

contract_tests! {
    /// A cached cycle sees a claim made between cycles and replaces the claimed prebuild.
    fn a_cached_cycle_sees_changes_made_between_cycles(engine) {
        let e = env(engine);
        let t = fixtures::template(&e.db.store).build().unwrap();
        let p = fixtures::preset(&e.db.store, &t.version).desired_instances(2).build().unwrap();
        assert_eq!(e.reconcile().created, 2);
        e.drain();
        assert_eq!(e.reconcile().created, 0, "settled");
        assert_eq!(e.reconcile().created, 0, "settled, from the cache");
        let user = fixtures::user(&e.db.store).build().unwrap();
        let claimed = claim(&e, &p.id, &user.id, "mine").unwrap();
        assert!(claimed.is_some());
        assert_eq!(e.reconcile().created, 1, "the claim was seen");
    }

    /// Upstream's schedule grammar and set rules decide the desired count, through the store: a
    /// name works alone, 7 is no weekday, one unreadable or overlapping schedule (or names in a
    /// set of two) voids the whole set, a schedule that is no time range is skipped alone.
    fn schedules_follow_upstreams_grammar_and_set_rules(engine) {
        // The mock clock stands at Monday 2 June 2025, 12:00 UTC; every preset's default is 1.
        for (schedules, expected) in [
            (&[("* 8-18 * * mon-fri", 3)][..], 3),
            (&[("* 0-23 * * 0-7", 3)], 1),
            (&[("* 0-23 * * 1", 3), ("nonsense", 9)], 1),
            (&[("* 10-13 * * *", 3), ("* 12-15 * * *", 4)], 1),
            (&[("* 8-11 * * mon-fri", 2), ("* 12-18 * * mon-fri", 3)], 1),
            (&[("* 8-11 * * 1-5", 2), ("* 12-18 * * 1-5", 3)], 3),
            (&[("0 12 * * *", 5), ("* 6-8 * * *", 2)], 1),
            (&[("0 6-8 * * *", 5), ("* 12 * * *", 2)], 2),
        ] {
            let e = env(engine);
            let t = fixtures::template(&e.db.store).build().unwrap();
            let mut preset = fixtures::preset(&e.db.store, &t.version).desired_instances(1).scheduling_timezone("UTC");
            for (cron, n) in schedules {
                preset = preset.schedule(cron, *n);
            }
            preset.build().unwrap();
            e.reconcile();
            assert_eq!(e.prebuilds(&t.template.id).len(), expected, "{schedules:?}");
        }
    }

    /// An invalid schedule set is logged once when it is first seen, not every cycle.
    fn an_invalid_schedule_set_is_logged_once_per_change(engine) {
        #[derive(Clone, Default)]
        struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Captured {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let e = env(engine);
        let t = fixtures::template(&e.db.store).build().unwrap();
        fixtures::preset(&e.db.store, &t.version)
            .desired_instances(1)
            .scheduling_timezone("UTC")
            .schedule("* 10-13 * * *", 3)
            .schedule("* 12-15 * * *", 4)
            .build()
            .unwrap();
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
        tracing::subscriber::with_default(subscriber, || e.cycles(4));
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert_eq!(log.matches("prebuild schedules of a preset are invalid").count(), 1, "{log}");
        assert!(log.contains("schedules overlap"), "{log}");
    }

    /// A claim does what upstream's workspace creation does: the TTL (the template's default
    /// when none is asked), the autostart schedule and its next start on a day the template
    /// allows, and the claimant's own start build, which the provisioner then completes.
    fn a_claim_sets_the_schedule_and_queues_the_claimants_start_build(engine) {
        let e = env(engine);
        let mut scheduling = TemplateScheduling::DEFAULT;
        scheduling.default_ttl_ms = 8 * 3_600_000;
        // Autostart may not run Tuesday to Friday (bits 1-4, Monday = bit 0).
        scheduling.autostart_block_days_of_week = 0b0011110;
        let t = fixtures::template(&e.db.store).parameter("size", false, "m").scheduling(scheduling).build().unwrap();
        let p = fixtures::preset(&e.db.store, &t.version).desired_instances(2).parameter("size", "xl").build().unwrap();
        e.reconcile();
        e.drain();
        let alice = fixtures::user(&e.db.store).username("alice").build().unwrap();
        let prebuild_build = |id: &str| e.db.store.get_workspace_builds_by_workspace_id(id).unwrap();
        let before = e.prebuilds(&t.template.id);

        // Bad schedule or TTL: refused, nothing claimed.
        for (autostart, ttl_ms, why) in [
            (Some("30 9 1 * *"), None, "day-of-month and month to be *"),
            (None, Some(30_000), "at least one minute"),
            (None, Some(31 * 24 * 3_600_000), "less than 30 days"),
        ] {
            let req = coderlite::workspaces::claim::ClaimRequest {
                preset_id: &p.id,
                user_id: &alice.id,
                name: "refused",
                autostart_schedule: autostart,
                ttl_ms,
            };
            let err = coderlite::workspaces::claim::claim_prebuilt_workspace(&e.db.store, &req).unwrap_err();
            assert!(err.to_string().contains(why), "{err}");
        }
        assert_eq!(e.prebuilds(&t.template.id), before, "a refused claim changes nothing");

        // Monday 2 June 2025 12:00 UTC: the next 09:30 on an allowed day is Saturday.
        let req = coderlite::workspaces::claim::ClaimRequest {
            preset_id: &p.id,
            user_id: &alice.id,
            name: "mine",
            autostart_schedule: Some("30 9 * * *"),
            ttl_ms: None,
        };
        let claimed = coderlite::workspaces::claim::claim_prebuilt_workspace(&e.db.store, &req).unwrap().unwrap();
        let w = e.db.store.get_workspace_by_id(&claimed.workspace_id).unwrap();
        assert_eq!(w.owner_id, alice.id);
        assert_eq!(w.autostart_schedule.as_deref(), Some("30 9 * * *"));
        assert_eq!(w.ttl_ms, Some(8 * 3_600_000), "the template's default TTL");
        assert_eq!(w.next_start_at, Some(Utc.with_ymd_and_hms(2025, 6, 7, 9, 30, 0).unwrap()));
        assert_eq!((w.dormant_at, w.deleting_at), (None, None));

        let builds = prebuild_build(&w.id);
        assert_eq!(builds.len(), 2);
        let b = &builds[0];
        assert_eq!(b.id, claimed.build_id);
        assert_eq!((b.build_number, b.transition), (2, WorkspaceTransition::Start));
        assert_eq!((b.initiator_id.as_str(), b.reason.as_str()), (alice.id.as_str(), "initiator"));
        assert_eq!(b.template_version_preset_id.as_deref(), Some(p.id.as_str()));
        assert_eq!(b.template_version_id, t.version.id);
        assert_eq!(e.db.store.get_provisioner_job_by_id(&b.job_id).unwrap().job_status, JobStatus::Pending);
        assert_eq!(e.db.store.get_workspace_build_parameters(&b.id).unwrap(), [coderlite::database::models::WorkspaceBuildParameter { name: "size".to_owned(), value: "xl".to_owned() }]);
        assert_eq!(builds[1].initiator_id, PREBUILDS_SYSTEM_USER_ID, "the prebuild's own build is kept");

        // The provisioner completes the claimant's build; the reconciler replaces the prebuild.
        e.drain();
        assert_eq!(e.db.store.get_provisioner_job_by_id(&b.job_id).unwrap().job_status, JobStatus::Succeeded);
        assert_eq!(e.db.store.get_workspace_agents_by_workspace_id(&w.id).unwrap().len(), 1);
        assert_eq!(e.reconcile().created, 1);

        // An explicit TTL is truncated to the minute.
        let req = coderlite::workspaces::claim::ClaimRequest { ttl_ms: Some(90_500), name: "second", ..req };
        let second = coderlite::workspaces::claim::claim_prebuilt_workspace(&e.db.store, &req).unwrap().unwrap();
        assert_eq!(e.db.store.get_workspace_by_id(&second.workspace_id).unwrap().ttl_ms, Some(60_000));
    }
}
