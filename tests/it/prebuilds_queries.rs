//! The prebuilds snapshot queries (reference/prebuilds.md §2, Q1-Q5, Q7, Q8, Q11, Q13)
//! against the real store, built with the fixture builders.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use chrono::Utc;
use coderlite::clock::Clock;
use coderlite::clock::MockClock;
use coderlite::database::models::AgentLifecycle;
use coderlite::database::models::JobStatus;
use coderlite::database::models::PREBUILDS_SYSTEM_USER_ID;
use coderlite::database::models::WorkspaceTransition;
use coderlite::database::prelude::*;
use coderlite::prebuilds::snapshot::load_snapshot;
use coderlite::prebuilds::state::Action;
use coderlite::testing::TestDb;
use coderlite::testing::TestEngine;
use coderlite::testing::fixtures;

fn setup(engine: &TestEngine) -> (TestDb, MockClock) {
    let clock = MockClock::new(Utc.with_ymd_and_hms(2025, 6, 2, 12, 0, 0).unwrap());
    let db = TestDb::create(engine, Arc::new(clock.clone())).unwrap();
    (db, clock)
}

contract_tests! {
    fn q1_lists_configured_presets_including_deleted_templates(engine) {
        let (db, _) = setup(engine);
        let t = fixtures::template(&db.store).name("docker").build().unwrap();
        fixtures::preset(&db.store, &t.version).name("wants").desired_instances(2).build().unwrap();
        fixtures::preset(&db.store, &t.version).name("zero").desired_instances(0).build().unwrap();
        fixtures::preset(&db.store, &t.version).name("none").build().unwrap();
        let old = fixtures::template_version(&db.store, &t.template).build().unwrap();
        fixtures::preset(&db.store, &old).name("old").desired_instances(1).build().unwrap();
        let gone = fixtures::template(&db.store).deprecated("use docker").build().unwrap();
        fixtures::preset(&db.store, &gone.version).name("gone").desired_instances(1).build().unwrap();
        db.store
            .update_template_deleted_and_deprecated(&gone.template.id, true, "use docker", db.store.clock().now())
            .unwrap();
        let rows = db.store.get_template_presets_with_prebuilds().unwrap();
        let names: Vec<_> = rows.iter().map(|p| p.preset_name.as_str()).collect();
        assert_eq!(rows.len(), 4, "{names:?}");
        assert!(!names.contains(&"none"));
        let find = |n: &str| rows.iter().find(|p| p.preset_name == n).unwrap();
        assert!(find("wants").using_active_version && !find("old").using_active_version);
        assert_eq!(find("zero").desired_instances, 0);
        assert!(find("gone").deleted && find("gone").deprecated);
        assert_eq!(find("wants").organization_name, "coder");
    }

    fn q3_running_prebuilds_with_preset_and_readiness(engine) {
        let (db, _) = setup(engine);
        let t = fixtures::template(&db.store).build().unwrap();
        let p = fixtures::preset(&db.store, &t.version).desired_instances(3).build().unwrap();
        let prebuild = |lifecycle, status| {
            fixtures::workspace(&db.store, &t.template)
                .owner(PREBUILDS_SYSTEM_USER_ID)
                .preset(&p)
                .agent_lifecycle(lifecycle)
                .job_status(status)
                .build()
                .unwrap()
        };
        let ready = prebuild(AgentLifecycle::Ready, JobStatus::Succeeded);
        let starting = prebuild(AgentLifecycle::Starting, JobStatus::Succeeded);
        prebuild(AgentLifecycle::Ready, JobStatus::Failed);
        prebuild(AgentLifecycle::Ready, JobStatus::Running);
        fixtures::workspace(&db.store, &t.template).preset(&p).build().unwrap();
        let rows = db.store.get_running_prebuilt_workspaces().unwrap();
        assert_eq!(rows.len(), 2, "only succeeded starts owned by the prebuilds user");
        let find = |id: &str| rows.iter().find(|r| r.id == id).unwrap();
        assert!(find(&ready.workspace.id).ready);
        assert!(!find(&starting.workspace.id).ready);
        assert_eq!(find(&ready.workspace.id).current_preset_id.as_deref(), Some(p.id.as_str()));
    }

    fn q4_q5_in_progress_and_pending_inactive(engine) {
        let (db, _) = setup(engine);
        let t = fixtures::template(&db.store).build().unwrap();
        let p_old = fixtures::preset(&db.store, &t.version).desired_instances(1).build().unwrap();
        // A pending prebuild on what will become an inactive version.
        fixtures::workspace(&db.store, &t.template)
            .owner(PREBUILDS_SYSTEM_USER_ID)
            .preset(&p_old)
            .job_status(JobStatus::Pending)
            .build()
            .unwrap();
        // A running one there: not pending any more.
        fixtures::workspace(&db.store, &t.template)
            .owner(PREBUILDS_SYSTEM_USER_ID)
            .preset(&p_old)
            .job_status(JobStatus::Running)
            .build()
            .unwrap();
        let v2 = fixtures::template_version(&db.store, &t.template).active(true).build().unwrap();
        let p_new = fixtures::preset(&db.store, &v2).desired_instances(2).build().unwrap();
        let template = db.store.get_template_by_id(&t.template.id).unwrap();
        fixtures::workspace(&db.store, &template)
            .owner(PREBUILDS_SYSTEM_USER_ID)
            .preset(&p_new)
            .job_status(JobStatus::Pending)
            .build()
            .unwrap();
        fixtures::workspace(&db.store, &template)
            .owner(PREBUILDS_SYSTEM_USER_ID)
            .preset(&p_new)
            .transition(WorkspaceTransition::Stop)
            .job_status(JobStatus::Running)
            .build()
            .unwrap();
        // A user's pending workspace counts nowhere.
        fixtures::workspace(&db.store, &template).preset(&p_new).job_status(JobStatus::Pending).build().unwrap();
        let mut in_progress = db.store.count_in_progress_prebuilds().unwrap();
        in_progress.sort_by_key(|i| i.transition.as_str());
        let shape: Vec<_> = in_progress.iter().map(|i| (i.transition, i.count, i.preset_id.clone())).collect();
        assert_eq!(
            shape,
            [
                (WorkspaceTransition::Start, 1, Some(p_new.id.clone())),
                (WorkspaceTransition::Stop, 1, Some(p_new.id.clone()))
            ],
            "only the active version counts"
        );
        assert_eq!(db.store.count_pending_non_active_prebuilds().unwrap(), [coderlite::database::models::PendingNonActivePrebuilds { preset_id: p_old.id.clone(), count: 1 }]);
    }

    fn q7_q8_backoff_and_hard_limit(engine) {
        let (db, clock) = setup(engine);
        let t = fixtures::template(&db.store).build().unwrap();
        let p = fixtures::preset(&db.store, &t.version).desired_instances(2).build().unwrap();
        for _ in 0..2 {
            clock.advance(Duration::from_secs(60));
            fixtures::workspace(&db.store, &t.template)
                .owner(PREBUILDS_SYSTEM_USER_ID)
                .preset(&p)
                .job_status(JobStatus::Failed)
                .build()
                .unwrap();
        }
        let lookback = clock.now() - chrono::Duration::hours(1);
        let backoff = db.store.get_presets_backoff(lookback).unwrap();
        assert_eq!(backoff.len(), 1);
        assert_eq!((backoff[0].num_failed, backoff[0].last_build_at), (2, clock.now()));
        assert!(db.store.get_presets_backoff(clock.now() + chrono::Duration::seconds(1)).unwrap().is_empty());
        assert_eq!(db.store.get_presets_at_failure_limit(2).unwrap(), vec![p.id.clone()]);
        assert!(db.store.get_presets_at_failure_limit(3).unwrap().is_empty());
        assert!(db.store.get_presets_at_failure_limit(0).unwrap().is_empty(), "0 disables the limit");
        // A success on top: the newest 2 are not all failed any more.
        clock.advance(Duration::from_secs(60));
        fixtures::workspace(&db.store, &t.template).owner(PREBUILDS_SYSTEM_USER_ID).preset(&p).build().unwrap();
        assert!(db.store.get_presets_at_failure_limit(2).unwrap().is_empty());
    }

    fn q11_membership_status_per_organization(engine) {
        let (db, _) = setup(engine);
        let acme = fixtures::organization(&db.store).name("acme").build().unwrap();
        let t = fixtures::template(&db.store).org(&acme).build().unwrap();
        fixtures::preset(&db.store, &t.version).desired_instances(0).build().unwrap();
        let quiet = fixtures::organization(&db.store).name("quiet").build().unwrap();
        let qt = fixtures::template(&db.store).org(&quiet).build().unwrap();
        fixtures::preset(&db.store, &qt.version).build().unwrap();
        let rows =
            db.store.get_organizations_with_prebuild_status(PREBUILDS_SYSTEM_USER_ID, "coderprebuiltworkspaces").unwrap();
        assert_eq!(rows.len(), 1, "only organizations with configured presets (0 counts)");
        assert_eq!(
            (rows[0].organization_name.as_str(), rows[0].has_prebuild_user, rows[0].prebuilds_group_id.clone()),
            ("acme", false, None)
        );
        db.store.insert_organization_member(&coderlite::database::models::InsertOrganizationMember { organization_id: &acme.id, user_id: PREBUILDS_SYSTEM_USER_ID, roles: &[], created_at: db.store.clock().now() }).unwrap();
        let g = fixtures::group(&db.store)
            .org(&acme)
            .name("coderprebuiltworkspaces")
            .member(PREBUILDS_SYSTEM_USER_ID)
            .build()
            .unwrap();
        let rows =
            db.store.get_organizations_with_prebuild_status(PREBUILDS_SYSTEM_USER_ID, "coderprebuiltworkspaces").unwrap();
        assert_eq!(
            (rows[0].has_prebuild_user, rows[0].prebuilds_group_id.as_deref(), rows[0].has_prebuild_user_in_group),
            (true, Some(g.id.as_str()), true)
        );
    }

    fn q13_metrics_count_created_failed_and_claimed(engine) {
        let (db, _) = setup(engine);
        let t = fixtures::template(&db.store).name("docker").build().unwrap();
        let p = fixtures::preset(&db.store, &t.version).name("small").desired_instances(3).build().unwrap();
        fixtures::workspace(&db.store, &t.template).owner(PREBUILDS_SYSTEM_USER_ID).preset(&p).build().unwrap();
        fixtures::workspace(&db.store, &t.template)
            .owner(PREBUILDS_SYSTEM_USER_ID)
            .preset(&p)
            .job_status(JobStatus::Failed)
            .build()
            .unwrap();
        // A claimed prebuild: build 1 by the prebuilds user, now owned by a human.
        let human = fixtures::user(&db.store).build().unwrap();
        fixtures::workspace(&db.store, &t.template)
            .owner(&human.id)
            .initiator(PREBUILDS_SYSTEM_USER_ID)
            .preset(&p)
            .build()
            .unwrap();
        let rows = db.store.get_prebuild_metrics().unwrap();
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(
            (r.template_name.as_str(), r.preset_name.as_str(), r.organization_name.as_str()),
            ("docker", "small", "coder")
        );
        assert_eq!((r.created_count, r.failed_count, r.claimed_count), (3, 1, 1));
    }

    fn snapshot_feeds_the_decision_core(engine) {
        let (db, clock) = setup(engine);
        assert_eq!(load_snapshot(&db.store, clock.now(), Duration::from_secs(3600), 3, None).unwrap().presets.len(), 0);
        let t = fixtures::template(&db.store).build().unwrap();
        let p = fixtures::preset(&db.store, &t.version).desired_instances(2).build().unwrap();
        fixtures::workspace(&db.store, &t.template).owner(PREBUILDS_SYSTEM_USER_ID).preset(&p).build().unwrap();
        let snapshot = load_snapshot(&db.store, clock.now(), Duration::from_secs(3600), 3, None).unwrap();
        let ps = snapshot.filter_by_preset(&p.id, clock.now()).unwrap();
        let state = ps.calculate_state();
        assert_eq!((state.actual, state.desired, state.eligible), (1, 2, 1));
        assert_eq!(ps.calculate_actions(Duration::from_secs(15)), [Action::Create { count: 1 }]);
    }
}
