//! The in-memory tracker and its flush.

use std::collections::HashSet;
use std::time::Duration;

use parking_lot::Mutex;
use uuid::Uuid;

use crate::clock::Cancel;
use crate::clock::SharedClock;
use crate::clock::Ticker;
use crate::database::LockId;
use crate::database::Result;
use crate::database::Store;
use crate::database::TxOptions;
use crate::database::in_tx;
use crate::database::models::UpsertBoundaryUsageStats;

/// Counts boundary usage of this process. Thread-safe; one per process.
#[derive(Debug, Default)]
pub struct Tracker {
    state: Mutex<State>,
    /// Flushes of one tracker never overlap, so the cumulative sets follow the order in
    /// which rows were written. Held across the database call; `track` never waits on it.
    flushing: Mutex<()>,
}

#[derive(Debug, Default)]
struct State {
    /// Unique IDs of the current period (period-cumulative).
    workspaces: HashSet<Uuid>,
    users: HashSet<Uuid>,
    /// Unique IDs since the last successful flush.
    workspaces_delta: HashSet<Uuid>,
    users_delta: HashSet<Uuid>,
    /// Requests since the last successful flush.
    allowed: i64,
    denied: i64,
    /// False when nothing was tracked since the last flush: an idle flush writes nothing, so
    /// a collected (deleted) row is never re-inserted from stale memory.
    usage_since_last_flush: bool,
}

/// What one flush did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushOutcome {
    /// Nothing was tracked since the last flush; nothing was written.
    Idle,
    /// The row was written. `new_period`: it was inserted (the previous period had been
    /// collected), so the unique counts restarted.
    Flushed { new_period: bool, allowed: i64, denied: i64 },
}

/// The data a flush writes, taken from `State` before the database call.
struct Pending {
    workspaces_delta: HashSet<Uuid>,
    users_delta: HashSet<Uuid>,
    unique_workspaces: i64,
    unique_users: i64,
    allowed: i64,
    denied: i64,
}

impl Tracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records boundary usage of one workspace (owned by `owner_id`).
    pub fn track(&self, workspace_id: Uuid, owner_id: Uuid, allowed: i64, denied: i64) {
        let mut state = self.state.lock();
        state.workspaces.insert(workspace_id);
        state.users.insert(owner_id);
        state.workspaces_delta.insert(workspace_id);
        state.users_delta.insert(owner_id);
        state.allowed += allowed;
        state.denied += denied;
        state.usage_since_last_flush = true;
    }

    /// Records one `ReportBoundaryLogs` request: each entry is a request that was allowed
    /// (true) or denied (false). An empty report records nothing.
    pub fn report_boundary_logs(&self, workspace_id: Uuid, owner_id: Uuid, allowed: impl IntoIterator<Item = bool>) {
        let (mut n_allowed, mut n_denied) = (0, 0);
        for is_allowed in allowed {
            if is_allowed {
                n_allowed += 1;
            } else {
                n_denied += 1;
            }
        }
        if n_allowed + n_denied > 0 {
            self.track(workspace_id, owner_id, n_allowed, n_denied);
        }
    }

    /// What is tracked but not yet written: (allowed, denied, unique workspaces, unique
    /// users since the last flush).
    pub fn pending_usage(&self) -> (i64, i64, usize, usize) {
        let state = self.state.lock();
        (state.allowed, state.denied, state.workspaces_delta.len(), state.users_delta.len())
    }

    /// Requests tracked but not yet written: (allowed, denied).
    pub fn pending_requests(&self) -> (i64, i64) {
        let state = self.state.lock();
        (state.allowed, state.denied)
    }

    /// Writes what was tracked since the last flush to `replica_id`'s row, in a write
    /// transaction holding lock 9. The deltas are taken before the database call (tracks
    /// during it go to the next flush). On failure they are handed back, so the next flush
    /// carries them.
    pub fn flush(&self, store: &dyn Store, replica_id: &str) -> Result<FlushOutcome> {
        let _flushing = self.flushing.lock();
        let Some(pending) = self.take_pending() else {
            return Ok(FlushOutcome::Idle);
        };
        let params = UpsertBoundaryUsageStats {
            replica_id,
            unique_workspaces_delta: len_i64(&pending.workspaces_delta),
            unique_users_delta: len_i64(&pending.users_delta),
            unique_workspaces_count: pending.unique_workspaces,
            unique_users_count: pending.unique_users,
            allowed_requests: pending.allowed,
            denied_requests: pending.denied,
        };
        let res = in_tx(store, TxOptions::write("boundary usage flush"), |tx| {
            tx.acquire_lock(LockId::BoundaryUsageStats)?;
            tx.upsert_boundary_usage_stats(&params)
        });
        let mut state = self.state.lock();
        match res {
            Ok(new_period) => {
                if new_period {
                    // The inserted row counted only this flush's deltas: the new period's
                    // unique IDs are those, plus whatever was tracked during the call.
                    state.workspaces = pending.workspaces_delta.union(&state.workspaces_delta).copied().collect();
                    state.users = pending.users_delta.union(&state.users_delta).copied().collect();
                }
                Ok(FlushOutcome::Flushed { new_period, allowed: pending.allowed, denied: pending.denied })
            }
            Err(error) => {
                // Nothing was committed: put the data back for the next flush.
                state.workspaces_delta.extend(pending.workspaces_delta);
                state.users_delta.extend(pending.users_delta);
                state.allowed += pending.allowed;
                state.denied += pending.denied;
                state.usage_since_last_flush = true;
                Err(error)
            }
        }
    }

    fn take_pending(&self) -> Option<Pending> {
        let mut state = self.state.lock();
        if !state.usage_since_last_flush {
            return None;
        }
        state.usage_since_last_flush = false;
        Some(Pending {
            unique_workspaces: len_i64(&state.workspaces),
            unique_users: len_i64(&state.users),
            workspaces_delta: std::mem::take(&mut state.workspaces_delta),
            users_delta: std::mem::take(&mut state.users_delta),
            allowed: std::mem::take(&mut state.allowed),
            denied: std::mem::take(&mut state.denied),
        })
    }
}

fn len_i64(set: &HashSet<Uuid>) -> i64 {
    i64::try_from(set.len()).unwrap_or(i64::MAX)
}

/// Flushes `tracker` every `interval` on `clock` until `cancel` fires, then flushes once
/// more so that a clean shutdown loses nothing. A failed flush keeps its data for the next
/// one; a failed final flush logs at ERROR what is lost and returns the error, as does an
/// error no retry can cure.
pub fn run_flush_loop(
    tracker: &Tracker,
    store: &dyn Store,
    clock: SharedClock,
    replica_id: &str,
    interval: Duration,
    cancel: &Cancel,
) -> Result<()> {
    let mut ticker = Ticker::new(clock, interval);
    while ticker.wait(cancel) {
        match flush_logged(tracker, store, replica_id) {
            Err(error) if error.is_fatal() => break,
            Err(error) => tracing::warn!(%error, "flush boundary usage; its data is kept for the next flush"),
            Ok(()) => {}
        }
    }
    flush_logged(tracker, store, replica_id).inspect_err(|error| {
        let (allowed_requests, denied_requests, unique_workspaces, unique_users) = tracker.pending_usage();
        tracing::error!(
            %error,
            allowed_requests,
            denied_requests,
            unique_workspaces,
            unique_users,
            "final boundary usage flush failed; this usage is lost"
        );
    })
}

fn flush_logged(tracker: &Tracker, store: &dyn Store, replica_id: &str) -> Result<()> {
    let span = tracing::debug_span!("boundary_usage_flush", replica_id);
    let _entered = span.enter();
    if let FlushOutcome::Flushed { new_period, allowed, denied } = tracker.flush(store, replica_id)? {
        tracing::debug!(new_period, allowed, denied, "flushed boundary usage");
    }
    Ok(())
}
