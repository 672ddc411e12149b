//! The reconcile cycle (upstream's reconciler, under a lease instead of an advisory lock) and its
//! run loop on the `Clock`.
//!
//! A cycle takes lease 7 (another holder → the cycle ends quietly), reads the settings and
//! the whole snapshot in one read transaction, reconciles membership, then executes each
//! preset's actions, every write in its own short write transaction, and releases the lease.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;

use crate::clock::Cancel;
use crate::clock::SharedClock;
use crate::clock::Ticker;
use crate::database;
use crate::database::LockId;
use crate::database::Store;
use crate::database::TxOptions;
use crate::database::in_tx;
use crate::database::models::PREBUILDS_SYSTEM_USER_ID;
use crate::database::models::PrebuildStatus;
use crate::prebuilds::membership::PREBUILDS_GROUP_NAME;
use crate::prebuilds::membership::reconcile_membership;
use crate::prebuilds::provision;
use crate::prebuilds::snapshot::SnapshotCache;
use crate::prebuilds::snapshot::load_snapshot;
use crate::prebuilds::state::Action;
use crate::prebuilds::state::GlobalSnapshot;

/// Reconciler settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcilerConfig {
    pub interval: Duration,
    pub backoff_interval: Duration,
    pub backoff_lookback: Duration,
    /// 0 disables the hard limit.
    pub failure_hard_limit: i64,
}

impl ReconcilerConfig {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            backoff_interval: Duration::from_secs(15),
            backoff_lookback: Duration::from_secs(3600),
            failure_hard_limit: 3,
        }
    }
}

/// What the run loop carries from one cycle to the next: the snapshot cache, and what it last
/// logged per preset, so a state that persists across cycles (a backoff) is logged when it
/// changes rather than every cycle.
#[derive(Debug, Default)]
pub struct CycleMemory {
    pub cache: SnapshotCache,
    logged: Mutex<HashMap<(&'static str, String), String>>,
}

impl CycleMemory {
    pub fn new() -> Self {
        Self::default()
    }

    /// True when `value` differs from what was last noted under (`what`, `key`); notes it.
    pub fn changed(&self, what: &'static str, key: &str, value: &str) -> bool {
        let mut logged = self.logged.lock();
        let slot = logged.entry((what, key.to_owned())).or_default();
        if slot == value {
            return false;
        }
        value.clone_into(slot);
        true
    }
}

/// Whether to log `value` for (`what`, `key`) this cycle: always without memory (one cycle
/// from the CLI), else only when it changed.
fn should_log(memory: Option<&CycleMemory>, what: &'static str, key: &str, value: &str) -> bool {
    memory.is_none_or(|m| m.changed(what, key, value))
}

/// How long the reconcile lease lives without a heartbeat (renewed every third of it). It
/// bounds how long a killed replica's cycle blocks the others.
pub const RECONCILE_LEASE_TTL: Duration = Duration::from_secs(15);

/// What a cycle did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CycleReport {
    /// False: another holder had lease 7; nothing was done.
    pub acquired: bool,
    pub paused: bool,
    pub created: usize,
    pub deleted: usize,
    pub canceled: usize,
    pub errors: Vec<String>,
}

/// `prebuilds_settings`: `{"reconciliation_paused": bool}`; empty or `{}` means not paused.
pub fn is_paused(settings_json: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(settings_json)
        .ok()
        .and_then(|v| v.get("reconciliation_paused").and_then(serde_json::Value::as_bool))
        .unwrap_or(false)
}

/// Pauses or resumes reconciliation.
pub fn set_paused(store: &dyn Store, paused: bool) -> database::Result<()> {
    store.upsert_site_config("prebuilds_settings", &serde_json::json!({ "reconciliation_paused": paused }).to_string())
}

/// Reads the settings and the snapshot in one read transaction: (paused, snapshot).
pub fn read_state(
    store: &dyn Store,
    config: &ReconcilerConfig,
    cache: Option<&SnapshotCache>,
) -> database::Result<(bool, GlobalSnapshot)> {
    in_tx(store, TxOptions::read("prebuilds"), |tx| {
        let paused = is_paused(&tx.get_prebuilds_settings()?);
        if paused {
            return Ok((true, GlobalSnapshot::default()));
        }
        let now = tx.clock().now();
        Ok((false, load_snapshot(tx, now, config.backoff_lookback, config.failure_hard_limit, cache)?))
    })
}

/// One reconcile cycle, reading the whole snapshot.
pub fn reconcile_once(store: &dyn Store, holder: &str, config: &ReconcilerConfig) -> database::Result<CycleReport> {
    reconcile_once_cached(store, holder, config, None)
}

/// One reconcile cycle; with `memory`, the rows of Q1 and Q3 from an earlier cycle are reused
/// when nothing behind them changed since, and persisting states are logged once.
pub fn reconcile_once_cached(
    store: &dyn Store,
    holder: &str,
    config: &ReconcilerConfig,
    memory: Option<&CycleMemory>,
) -> database::Result<CycleReport> {
    let Some(lease) = store.try_acquire_lease(LockId::ReconcilePrebuilds, holder, RECONCILE_LEASE_TTL)? else {
        return Ok(CycleReport::default());
    };
    let res = cycle(store, config, memory);
    let released = lease.release();
    let report = res?;
    released?;
    Ok(report)
}

fn cycle(store: &dyn Store, config: &ReconcilerConfig, memory: Option<&CycleMemory>) -> database::Result<CycleReport> {
    let mut report = CycleReport { acquired: true, ..CycleReport::default() };
    let (paused, snapshot) = read_state(store, config, memory.map(|m| &m.cache))?;
    if paused {
        report.paused = true;
        return Ok(report);
    }
    if snapshot.presets.is_empty() {
        return Ok(report);
    }
    if let Err(e) = reconcile_membership(store, PREBUILDS_SYSTEM_USER_ID, PREBUILDS_GROUP_NAME) {
        // Without membership no prebuild could be owned correctly: skip this cycle's presets.
        report.errors.push(e.to_string());
        return Ok(report);
    }
    let now = store.clock().now();
    for ps in snapshot.by_preset(now) {
        let preset = ps.preset;
        if ps.can_skip() {
            continue;
        }
        let span =
            tracing::debug_span!("reconcile_preset", preset_id = %preset.preset_id, template = %preset.template_name);
        let _entered = span.enter();
        let problem = ps.schedule_problem(now).map(|p| p.to_string());
        if should_log(memory, "schedules", &preset.preset_id, problem.as_deref().unwrap_or_default())
            && let Some(problem) = problem
        {
            tracing::error!(preset_id = %preset.preset_id, problem = %problem, "prebuild schedules of a preset are invalid");
        }
        if ps.is_hard_limited && preset.prebuild_status != PrebuildStatus::HardLimited {
            if let Err(e) = provision::mark_hard_limited(store, preset) {
                report.errors.push(format!("preset {}: {e}", preset.preset_id));
                continue;
            }
            tracing::warn!(preset_id = %preset.preset_id, "preset reached the prebuild failure hard limit");
        }
        for action in ps.calculate_actions(config.backoff_interval) {
            match action {
                Action::Backoff { until } => {
                    let until = crate::clock::format_rfc3339(until);
                    if should_log(memory, "backoff", &preset.preset_id, &until) {
                        tracing::warn!(preset_id = %preset.preset_id, backoff_until = %until, "prebuilds backing off");
                    }
                }
                Action::CancelPending => match provision::cancel_pending_prebuilds(store, &preset.preset_id) {
                    Ok(n) => report.canceled += n,
                    Err(e) => report.errors.push(format!("preset {}: cancel pending: {e}", preset.preset_id)),
                },
                Action::Delete { ids } => {
                    for id in ids {
                        match provision::delete_prebuilt_workspace(store, &id) {
                            Ok(()) => report.deleted += 1,
                            Err(e) => report.errors.push(format!("preset {}: {e}", preset.preset_id)),
                        }
                    }
                }
                Action::Create { count } => {
                    // Clamp to the target at execution time, and never create for a
                    // hard-limited preset.
                    let count = count.min(ps.desired_target(store.clock().now()));
                    if ps.is_hard_limited {
                        continue;
                    }
                    for _ in 0..count {
                        match provision::create_prebuilt_workspace(store, &preset.template_id, &preset.preset_id) {
                            Ok(_) => report.created += 1,
                            Err(e) => report.errors.push(format!("preset {}: create: {e}", preset.preset_id)),
                        }
                    }
                }
            }
        }
    }
    Ok(report)
}

/// Runs a cycle every `config.interval` on `clock` until `cancel` fires, logging a one-line
/// summary per cycle. Returns early only on an error no retry can cure ([`Error::is_fatal`]).
pub fn run_reconciler_loop(
    store: &dyn Store,
    clock: SharedClock,
    holder: &str,
    config: &ReconcilerConfig,
    cancel: &Cancel,
) -> crate::database::Result<()> {
    let mut ticker = Ticker::new(clock.clone(), config.interval);
    let memory = CycleMemory::new();
    loop {
        let started = std::time::Instant::now();
        match reconcile_once_cached(store, holder, config, Some(&memory)) {
            Ok(r) if r.acquired => tracing::info!(
                created = r.created,
                deleted = r.deleted,
                canceled = r.canceled,
                paused = r.paused,
                errors = r.errors.len(),
                took_ms = crate::clock::rounded_millis(started.elapsed()),
                "reconcile cycle done"
            ),
            Ok(_) => tracing::debug!("reconcile cycle skipped: another replica holds the lease"),
            Err(error) if error.is_fatal() => return Err(error),
            Err(error) => tracing::error!(%error, "reconcile cycle failed"),
        }
        if !ticker.wait(cancel) {
            return Ok(());
        }
    }
}
