//! The pure core of the reconciler: a global snapshot is
//! filtered per preset, and each preset's state and ordered actions are computed from it and
//! `now`. No I/O, no clock.

use std::collections::HashMap;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Timestamp;
use crate::database::models::ActivePresetPrebuildSchedule;
pub use crate::database::models::InProgress;
pub use crate::database::models::PresetBackoff;
pub use crate::database::models::PresetInfo;
pub use crate::database::models::RunningPrebuild;
use crate::database::models::WorkspaceTransition;
use crate::prebuilds::schedule::ScheduleProblem;
use crate::prebuilds::schedule::ScheduleRow;
use crate::prebuilds::schedule::desired_at;

/// Everything one reconcile cycle reads, taken in one read transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GlobalSnapshot {
    /// Shared: a reconciler reuses Q1's and Q3's rows while the data generation is unchanged.
    pub presets: Arc<Vec<PresetInfo>>,
    /// (preset id, cron, desired) of active presets (query Q2).
    pub schedules: Vec<ActivePresetPrebuildSchedule>,
    pub running: Arc<Vec<RunningPrebuild>>,
    pub in_progress: Vec<InProgress>,
    /// Pending first builds of inactive versions per preset (query Q5).
    pub pending: HashMap<String, i64>,
    pub backoffs: Vec<PresetBackoff>,
    /// Presets at the failure hard limit (query Q8).
    pub hard_limited: HashSet<String>,
}

/// One preset's slice of the snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct PresetSnapshot<'a> {
    pub preset: &'a PresetInfo,
    pub schedules: Vec<ScheduleRow>,
    /// Running prebuilds that are not expired, oldest first.
    pub running: Vec<&'a RunningPrebuild>,
    /// Running prebuilds past their TTL or invalidated, oldest first.
    pub expired: Vec<&'a RunningPrebuild>,
    pub in_progress: Vec<&'a InProgress>,
    pub pending_count: i64,
    pub backoff: Option<&'a PresetBackoff>,
    pub is_hard_limited: bool,
    pub now: Timestamp,
}

/// What a preset looks like now (for logs, status and metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReconciliationState {
    pub actual: i64,
    pub desired: i64,
    pub eligible: i64,
    pub extraneous: i64,
    pub starting: i64,
    pub stopping: i64,
    pub deleting: i64,
    pub expired: i64,
}

/// One thing to do for a preset, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Recent prebuilds failed: do nothing until `until`.
    Backoff { until: Timestamp },
    /// Cancel pending first builds of the preset's inactive version and delete their workspaces.
    CancelPending,
    /// Delete these prebuilt workspaces.
    Delete { ids: Vec<String> },
    /// Create this many prebuilt workspaces.
    Create { count: i64 },
}

impl GlobalSnapshot {
    /// The slice of `preset_id`, or `None` when the snapshot has no such preset.
    pub fn filter_by_preset(&self, preset_id: &str, now: Timestamp) -> Option<PresetSnapshot<'_>> {
        let preset = self.presets.iter().find(|p| p.preset_id == preset_id)?;
        let mut running: Vec<&RunningPrebuild> =
            self.running.iter().filter(|r| r.current_preset_id.as_deref() == Some(preset_id)).collect();
        running.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let (expired, running): (Vec<_>, Vec<_>) = running.into_iter().partition(|r| is_expired(preset, r, now));
        Some(PresetSnapshot {
            preset,
            schedules: self
                .schedules
                .iter()
                .filter(|s| s.preset_id == preset_id)
                .map(|s| (s.cron_expression.clone(), s.desired_instances))
                .collect(),
            running,
            expired,
            in_progress: self.in_progress.iter().filter(|p| p.preset_id.as_deref() == Some(preset_id)).collect(),
            pending_count: self.pending.get(preset_id).copied().unwrap_or(0),
            backoff: self.backoffs.iter().find(|b| b.preset_id == preset_id),
            is_hard_limited: self.hard_limited.contains(preset_id),
            now,
        })
    }
}

impl GlobalSnapshot {
    /// Every preset's slice, in preset order, built in one pass over the snapshot (hash maps
    /// by preset id): linear in the snapshot's size, where calling `filter_by_preset` for each
    /// preset would be quadratic.
    pub fn by_preset(&self, now: Timestamp) -> Vec<PresetSnapshot<'_>> {
        let mut running: HashMap<&str, Vec<&RunningPrebuild>> = HashMap::new();
        for r in self.running.iter() {
            if let Some(id) = r.current_preset_id.as_deref() {
                running.entry(id).or_default().push(r);
            }
        }
        let mut in_progress: HashMap<&str, Vec<&InProgress>> = HashMap::new();
        for p in &self.in_progress {
            if let Some(id) = p.preset_id.as_deref() {
                in_progress.entry(id).or_default().push(p);
            }
        }
        let mut schedules: HashMap<&str, Vec<ScheduleRow>> = HashMap::new();
        for s in &self.schedules {
            schedules.entry(s.preset_id.as_str()).or_default().push((s.cron_expression.clone(), s.desired_instances));
        }
        let backoffs: HashMap<&str, &PresetBackoff> = self.backoffs.iter().map(|b| (b.preset_id.as_str(), b)).collect();
        self.presets
            .iter()
            .map(|preset| {
                let id = preset.preset_id.as_str();
                let mut rows = running.remove(id).unwrap_or_default();
                rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
                let (expired, running): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| is_expired(preset, r, now));
                PresetSnapshot {
                    preset,
                    schedules: schedules.remove(id).unwrap_or_default(),
                    running,
                    expired,
                    in_progress: in_progress.remove(id).unwrap_or_default(),
                    pending_count: self.pending.get(id).copied().unwrap_or(0),
                    backoff: backoffs.get(id).copied(),
                    is_hard_limited: self.hard_limited.contains(id),
                    now,
                }
            })
            .collect()
    }
}

/// Invalidated (created before `last_invalidated_at`) or older than the TTL, on the injected
/// clock (upstream measures the TTL on the wall clock; coderlite measures it on the store clock).
fn is_expired(preset: &PresetInfo, r: &RunningPrebuild, now: Timestamp) -> bool {
    if preset.last_invalidated_at.is_some_and(|at| r.created_at < at) {
        return true;
    }
    preset.ttl_secs.is_some_and(|ttl| ttl > 0 && now - r.created_at > chrono::Duration::seconds(ttl))
}

impl PresetSnapshot<'_> {
    /// On the template's active version, and the template neither deleted nor deprecated.
    pub fn is_active(&self) -> bool {
        self.preset.using_active_version && !self.preset.deleted && !self.preset.deprecated
    }

    /// An inactive preset with nothing running, expired, pending or backing off: skip it.
    pub fn can_skip(&self) -> bool {
        !self.is_active()
            && self.running.is_empty()
            && self.expired.is_empty()
            && self.pending_count == 0
            && self.backoff.is_none()
    }

    /// The desired count at `at` (schedules in the preset's time zone); 0 when inactive.
    pub fn desired_target(&self, at: Timestamp) -> i64 {
        if !self.is_active() {
            return 0;
        }
        desired_at(self.preset.desired_instances, &self.preset.scheduling_timezone, &self.schedules, at).0
    }

    /// Why the preset's schedules do not all apply at `at`, if they do not (the reconciler
    /// logs it when it changes). `None` for inactive presets, whose target is 0 anyway.
    pub fn schedule_problem(&self, at: Timestamp) -> Option<ScheduleProblem> {
        if !self.is_active() {
            return None;
        }
        desired_at(self.preset.desired_instances, &self.preset.scheduling_timezone, &self.schedules, at).1
    }

    fn in_progress(&self, transition: WorkspaceTransition) -> i64 {
        self.in_progress.iter().filter(|p| p.transition == transition).map(|p| p.count).sum()
    }

    pub fn calculate_state(&self) -> ReconciliationState {
        let active = self.is_active();
        let expired = self.expired.len() as i64;
        let actual = self.running.len() as i64 + expired;
        let desired = self.desired_target(self.now);
        ReconciliationState {
            actual,
            desired,
            eligible: if active { self.running.iter().filter(|r| r.ready).count() as i64 } else { 0 },
            extraneous: if active { (actual - expired - desired).max(0) } else { 0 },
            starting: self.in_progress(WorkspaceTransition::Start),
            stopping: self.in_progress(WorkspaceTransition::Stop),
            deleting: self.in_progress(WorkspaceTransition::Delete),
            expired,
        }
    }

    /// The ordered actions: backoff first; inactive: cancel pending, delete everything running
    /// (expired included: a deliberate fix over upstream); active: delete expired, delete the
    /// oldest extraneous, create what is missing (starting builds count, others do not).
    pub fn calculate_actions(&self, backoff_interval: Duration) -> Vec<Action> {
        if let Some(b) = self.backoff.filter(|b| b.num_failed > 0) {
            let step = chrono::Duration::from_std(backoff_interval).unwrap_or(chrono::Duration::zero());
            let until = b.last_build_at + step * i32::try_from(b.num_failed).unwrap_or(i32::MAX);
            if self.now <= until {
                return vec![Action::Backoff { until }];
            }
        }
        let mut actions = Vec::new();
        if !self.is_active() {
            if self.pending_count > 0 {
                actions.push(Action::CancelPending);
            }
            let mut all: Vec<&RunningPrebuild> = self.expired.iter().chain(&self.running).copied().collect();
            all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            if !all.is_empty() {
                actions.push(Action::Delete { ids: all.iter().map(|r| r.id.clone()).collect() });
            }
            return actions;
        }
        let state = self.calculate_state();
        if !self.expired.is_empty() {
            actions.push(Action::Delete { ids: self.expired.iter().map(|r| r.id.clone()).collect() });
        }
        if state.extraneous > 0 {
            let n = usize::try_from(state.extraneous).unwrap_or(0);
            actions.push(Action::Delete { ids: self.running.iter().take(n).map(|r| r.id.clone()).collect() });
        }
        let to_create = (state.desired - self.running.len() as i64 - state.starting).max(0);
        if to_create > 0 {
            actions.push(Action::Create { count: to_create });
        }
        actions
    }
}
