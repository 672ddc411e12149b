//! The pure prebuild decision core (reference/prebuilds.md §8.2 scenarios 28-37, the TTL
//! table of 24/34, and SPEC §9's inactive-preset decisions), without a database: each case
//! is a snapshot, a time and the expected state and actions, checked by one helper.

use std::collections::HashMap;
use std::collections::HashSet;
use std::time::Duration;

use chrono::TimeZone;
use chrono::Utc;
use coderlite::clock::Timestamp;
use coderlite::database::models::PrebuildStatus;
use coderlite::database::models::WorkspaceTransition;
use coderlite::prebuilds::state::Action;
use coderlite::prebuilds::state::GlobalSnapshot;
use coderlite::prebuilds::state::InProgress;
use coderlite::prebuilds::state::PresetBackoff;
use coderlite::prebuilds::state::PresetInfo;
use coderlite::prebuilds::state::ReconciliationState;
use coderlite::prebuilds::state::RunningPrebuild;

const BACKOFF: Duration = Duration::from_secs(5);

fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2025, 6, 2, 12, 0, 0).unwrap()
}

fn preset(id: &str, desired: i64) -> PresetInfo {
    PresetInfo {
        preset_id: id.to_owned(),
        preset_name: id.to_owned(),
        template_id: "tpl".to_owned(),
        template_name: "tpl".to_owned(),
        organization_id: "org".to_owned(),
        organization_name: "org".to_owned(),
        template_version_id: "v-active".to_owned(),
        template_version_name: "v1".to_owned(),
        using_active_version: true,
        desired_instances: desired,
        scheduling_timezone: String::new(),
        ttl_secs: None,
        prebuild_status: PrebuildStatus::Healthy,
        deleted: false,
        deprecated: false,
        last_invalidated_at: None,
    }
}

fn running(id: &str, preset: &str, age: chrono::Duration) -> RunningPrebuild {
    RunningPrebuild {
        id: id.to_owned(),
        name: format!("prebuild-{id}"),
        template_id: "tpl".to_owned(),
        template_version_id: "v-active".to_owned(),
        current_preset_id: Some(preset.to_owned()),
        ready: true,
        created_at: now() - age,
    }
}

fn in_progress(preset: &str, transition: WorkspaceTransition, count: i64) -> InProgress {
    InProgress { template_version_id: "v-active".to_owned(), transition, preset_id: Some(preset.to_owned()), count }
}

fn snapshot(presets: Vec<PresetInfo>, running: Vec<RunningPrebuild>, in_progress: Vec<InProgress>) -> GlobalSnapshot {
    GlobalSnapshot { presets: presets.into(), running: running.into(), in_progress, ..GlobalSnapshot::default() }
}

/// The one place the core is called.
fn check(s: &GlobalSnapshot, preset: &str, at: Timestamp) -> (ReconciliationState, Vec<Action>) {
    let p = s.filter_by_preset(preset, at).unwrap();
    (p.calculate_state(), p.calculate_actions(BACKOFF))
}

fn state(actual: i64, desired: i64, eligible: i64, extraneous: i64) -> ReconciliationState {
    ReconciliationState { actual, desired, eligible, extraneous, ..ReconciliationState::default() }
}

fn delete(ids: &[&str]) -> Action {
    Action::Delete { ids: ids.iter().map(|s| (*s).to_owned()).collect() }
}

const HOUR: chrono::Duration = chrono::Duration::hours(1);

#[test]
fn s28_desired_zero_nothing_to_do() {
    let s = snapshot(vec![preset("p", 0)], vec![], vec![]);
    assert_eq!(check(&s, "p", now()), (ReconciliationState::default(), vec![]));
}

#[test]
fn s29_desired_one_creates_one() {
    let s = snapshot(vec![preset("p", 1)], vec![], vec![]);
    assert_eq!(check(&s, "p", now()), (state(0, 1, 0, 0), vec![Action::Create { count: 1 }]));
}

#[test]
fn s30_outdated_preset_is_deleted_and_the_active_one_created() {
    let mut outdated = preset("old", 1);
    outdated.using_active_version = false;
    outdated.template_version_id = "v-old".to_owned();
    let s = snapshot(vec![outdated, preset("new", 1)], vec![running("w1", "old", HOUR)], vec![]);
    assert_eq!(check(&s, "old", now()), (state(1, 0, 0, 0), vec![delete(&["w1"])]));
    assert_eq!(check(&s, "new", now()), (state(0, 1, 0, 0), vec![Action::Create { count: 1 }]));
    assert!(!s.filter_by_preset("old", now()).unwrap().can_skip());
}

#[test]
fn s31_outdated_preset_with_a_delete_in_progress_still_deletes_running() {
    let mut outdated = preset("old", 1);
    outdated.using_active_version = false;
    let s = snapshot(
        vec![outdated],
        vec![running("w1", "old", HOUR)],
        vec![in_progress("old", WorkspaceTransition::Delete, 1)],
    );
    let (st, actions) = check(&s, "old", now());
    assert_eq!((st.actual, st.deleting), (1, 1));
    assert_eq!(actions, vec![delete(&["w1"])]);
}

/// Scenario 32: the in-progress table (desired / running / in progress → actions).
#[test]
fn s32_in_progress_table() {
    use WorkspaceTransition::Delete;
    use WorkspaceTransition::Start;
    use WorkspaceTransition::Stop;
    let cases: Vec<(WorkspaceTransition, i64, usize, i64, Vec<Action>)> = vec![
        (Start, 1, 0, 1, vec![]),
        (Start, 2, 1, 1, vec![]),
        (Start, 2, 2, 1, vec![]),
        (Start, 3, 1, 2, vec![]),
        (Stop, 1, 0, 1, vec![Action::Create { count: 1 }]),
        (Stop, 3, 2, 1, vec![Action::Create { count: 1 }]),
        (Stop, 3, 3, 1, vec![]),
        (Delete, 1, 0, 1, vec![Action::Create { count: 1 }]),
        (Delete, 2, 1, 1, vec![Action::Create { count: 1 }]),
        (Delete, 2, 2, 1, vec![]),
        (Delete, 3, 5, 2, vec![delete(&["w0", "w1"])]),
    ];
    for (transition, desired, n_running, n_progress, expected) in cases {
        let runs = (0..n_running).map(|i| running(&format!("w{i}"), "p", HOUR * (10 - i as i32))).collect();
        let s = snapshot(vec![preset("p", desired)], runs, vec![in_progress("p", transition, n_progress)]);
        let (_, actions) = check(&s, "p", now());
        assert_eq!(actions, expected, "{transition} {desired}/{n_running}/{n_progress}");
    }
}

#[test]
fn s33_extraneous_deletes_the_oldest() {
    let s = snapshot(vec![preset("p", 1)], vec![running("older", "p", HOUR * 2), running("newer", "p", HOUR)], vec![]);
    assert_eq!(check(&s, "p", now()), (state(2, 1, 2, 1), vec![delete(&["older"])]));
}

/// Scenarios 24 and 34: TTL, as (running, desired, expired) → (deleted extraneous, created);
/// expired rows are deleted first.
#[test]
fn s34_ttl_table() {
    let cases: Vec<(usize, i64, usize, Vec<Action>)> = vec![
        (2, 2, 0, vec![]),
        (2, 2, 1, vec![delete(&["e0"]), Action::Create { count: 1 }]),
        (2, 2, 2, vec![delete(&["e0", "e1"]), Action::Create { count: 2 }]),
        (4, 2, 2, vec![delete(&["e0", "e1"])]),
        (4, 2, 1, vec![delete(&["e0"]), delete(&["r0"])]),
    ];
    for (n_running, desired, n_expired, expected) in cases {
        let mut p = preset("p", desired);
        p.ttl_secs = Some(3 * 3600);
        let mut rows: Vec<RunningPrebuild> =
            (0..n_expired).map(|i| running(&format!("e{i}"), "p", HOUR * (5 + n_expired as i32 - i as i32))).collect();
        rows.extend(
            (0..n_running - n_expired)
                .map(|i| running(&format!("r{i}"), "p", HOUR * 2 - chrono::Duration::minutes(i as i64))),
        );
        let s = snapshot(vec![p], rows, vec![]);
        let (st, actions) = check(&s, "p", now());
        assert_eq!(st.expired, n_expired as i64);
        assert_eq!(actions, expected, "{n_running}/{desired}/{n_expired}");
    }
}

#[test]
fn invalidation_expires_older_prebuilds() {
    let mut p = preset("p", 1);
    p.last_invalidated_at = Some(now() - chrono::Duration::minutes(30));
    let s = snapshot(vec![p], vec![running("before", "p", HOUR)], vec![]);
    assert_eq!(check(&s, "p", now()).1, vec![delete(&["before"]), Action::Create { count: 1 }]);
}

#[test]
fn s35_deprecated_template_deletes_its_prebuilds() {
    let mut p = preset("p", 1);
    p.deprecated = true;
    let s = snapshot(vec![p], vec![running("w1", "p", HOUR)], vec![]);
    assert_eq!(check(&s, "p", now()), (state(1, 0, 0, 0), vec![delete(&["w1"])]));
}

#[test]
fn s36_backoff_then_create() {
    let mut s = snapshot(vec![preset("a", 1), preset("b", 1)], vec![running("w1", "b", HOUR)], vec![]);
    s.backoffs.push(PresetBackoff { preset_id: "a".to_owned(), num_failed: 1, last_build_at: now() });
    let until = now() + chrono::Duration::seconds(5);
    assert_eq!(check(&s, "a", now()), (state(0, 1, 0, 0), vec![Action::Backoff { until }]));
    assert_eq!(check(&s, "b", now()), (state(1, 1, 1, 0), vec![]));
    let later = until + chrono::Duration::microseconds(1);
    assert_eq!(check(&s, "a", later).1, vec![Action::Create { count: 1 }]);
    // num_failed scales the wait.
    s.backoffs[0].num_failed = 3;
    assert_eq!(check(&s, "a", later).1, vec![Action::Backoff { until: now() + chrono::Duration::seconds(15) }]);
}

#[test]
fn s37_one_preset_starting_does_not_block_another() {
    let s = snapshot(
        vec![preset("p1", 1), preset("p2", 1)],
        vec![],
        vec![in_progress("p1", WorkspaceTransition::Start, 1)],
    );
    let (st, actions) = check(&s, "p1", now());
    assert_eq!((st.starting, st.desired, actions), (1, 1, vec![]));
    assert_eq!(check(&s, "p2", now()).1, vec![Action::Create { count: 1 }]);
}

/// SPEC §9: an inactive preset cancels pending builds and deletes everything running,
/// expired prebuilds included (upstream leaves those behind).
#[test]
fn inactive_preset_cancels_pending_and_deletes_expired_too() {
    let mut p = preset("p", 1);
    p.using_active_version = false;
    p.ttl_secs = Some(60);
    let mut s = snapshot(
        vec![p],
        vec![running("old", "p", HOUR * 2), running("young", "p", chrono::Duration::seconds(10))],
        vec![],
    );
    s.pending = HashMap::from([("p".to_owned(), 1)]);
    assert_eq!(check(&s, "p", now()).1, vec![Action::CancelPending, delete(&["old", "young"])]);
    // Nothing left: the preset can be skipped.
    let empty = snapshot(vec![s.presets[0].clone()], vec![], vec![]);
    assert!(empty.filter_by_preset("p", now()).unwrap().can_skip());
}

#[test]
fn hard_limit_and_schedules_reach_the_snapshot() {
    let mut p = preset("p", 1);
    p.scheduling_timezone = "UTC".to_owned();
    let mut s = snapshot(vec![p], vec![], vec![]);
    s.schedules.push(coderlite::database::models::ActivePresetPrebuildSchedule {
        preset_id: "p".to_owned(),
        cron_expression: "* 10-14 * * 1-5".to_owned(),
        desired_instances: 4,
    });
    s.hard_limited = HashSet::from(["p".to_owned()]);
    let ps = s.filter_by_preset("p", now()).unwrap();
    assert!(ps.is_hard_limited);
    assert_eq!(ps.calculate_state().desired, 4, "12:00 Monday is inside the schedule");
    assert!(s.filter_by_preset("missing", now()).is_none());
}

#[test]
fn by_preset_equals_filter_by_preset_for_every_preset() {
    let mut p2 = preset("p2", 2);
    p2.ttl_secs = Some(60);
    let mut s = snapshot(
        vec![preset("p1", 1), p2, preset("p3", 0)],
        vec![running("a", "p1", HOUR), running("b", "p2", HOUR), running("c", "p2", chrono::Duration::seconds(5))],
        vec![in_progress("p1", WorkspaceTransition::Start, 2)],
    );
    s.schedules.push(coderlite::database::models::ActivePresetPrebuildSchedule {
        preset_id: "p3".to_owned(),
        cron_expression: "* * * * *".to_owned(),
        desired_instances: 1,
    });
    s.backoffs.push(PresetBackoff { preset_id: "p2".to_owned(), num_failed: 1, last_build_at: now() });
    let all = s.by_preset(now());
    assert_eq!(all.len(), 3);
    for ps in all {
        assert_eq!(Some(ps.clone()), s.filter_by_preset(&ps.preset.preset_id, now()));
    }
}
