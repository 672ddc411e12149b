//! Reading the whole snapshot for one reconcile cycle (reference/prebuilds.md §3.2 step 2):
//! every query runs on the caller's transaction handle, so they all see one consistent view.

use std::time::Duration;

use crate::clock::Timestamp;
use crate::database::Result;
use crate::database::Store;
use crate::prebuilds::state::GlobalSnapshot;

/// Reads Q1, then (when there is any preset) Q2-Q5, Q7 with `now - backoff_lookback`, and Q8
/// with `failure_hard_limit`: a constant number of statements, whatever the number of presets.
pub fn load_snapshot(
    tx: &dyn Store,
    now: Timestamp,
    backoff_lookback: Duration,
    failure_hard_limit: i64,
) -> Result<GlobalSnapshot> {
    let presets = tx.get_template_presets_with_prebuilds()?;
    if presets.is_empty() {
        return Ok(GlobalSnapshot::default());
    }
    let lookback = now - chrono::Duration::from_std(backoff_lookback).unwrap_or(chrono::Duration::hours(1));
    Ok(GlobalSnapshot {
        presets,
        schedules: tx.get_active_preset_prebuild_schedules()?,
        running: tx.get_running_prebuilt_workspaces()?,
        in_progress: tx.count_in_progress_prebuilds()?,
        pending: tx.count_pending_non_active_prebuilds()?.into_iter().collect(),
        backoffs: tx.get_presets_backoff(lookback)?,
        hard_limited: tx.get_presets_at_failure_limit(failure_hard_limit)?.into_iter().collect(),
    })
}
