//! Reading the whole snapshot for one reconcile cycle:
//! every query runs on the caller's transaction handle, so they all see one consistent view.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::clock::Timestamp;
use crate::database::Result;
use crate::database::Store;
use crate::database::models::PresetInfo;
use crate::database::models::RunningPrebuild;
use crate::prebuilds::state::GlobalSnapshot;

/// Q1's and Q3's rows of the last read, with the data generation they were read at. Reused
/// while the generation is unchanged: a settled reconciler then reads a counter instead of
/// every running prebuild. One per reconciler (the run loop owns one).
#[derive(Debug, Default)]
pub struct SnapshotCache {
    rows: Mutex<Option<CachedRows>>,
}

/// Q1's rows, and Q3's when there is any preset.
type PresetsAndRunning = (Arc<Vec<PresetInfo>>, Option<Arc<Vec<RunningPrebuild>>>);

#[derive(Debug)]
struct CachedRows {
    generation: i64,
    presets: Arc<Vec<PresetInfo>>,
    running: Arc<Vec<RunningPrebuild>>,
}

impl SnapshotCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Q1 and Q3 at `generation`: the cached rows when they were read at it, else read now
    /// (on `tx`, so the rows and the generation belong to one view) and kept. Without a
    /// generation (the engine keeps none), always read now and keep nothing.
    fn presets_and_running(&self, tx: &dyn Store, generation: Option<i64>) -> Result<PresetsAndRunning> {
        let mut rows = self.rows.lock();
        if let Some(cached) = rows.as_ref().filter(|c| Some(c.generation) == generation) {
            return Ok((cached.presets.clone(), Some(cached.running.clone())));
        }
        let presets = Arc::new(tx.get_template_presets_with_prebuilds()?);
        if presets.is_empty() {
            *rows = None;
            return Ok((presets, None));
        }
        let running = Arc::new(tx.get_running_prebuilt_workspaces()?);
        *rows =
            generation.map(|generation| CachedRows { generation, presets: presets.clone(), running: running.clone() });
        Ok((presets, Some(running)))
    }
}

/// Reads the data generation, Q1, then (when there is any preset) Q2-Q5, Q7 with
/// `now - backoff_lookback`, and Q8 with `failure_hard_limit`: a constant number of
/// statements, whatever the number of presets. With a `cache`, Q1 and Q3 are not run again
/// while the generation is the one they were read at.
pub fn load_snapshot(
    tx: &dyn Store,
    now: Timestamp,
    backoff_lookback: Duration,
    failure_hard_limit: i64,
    cache: Option<&SnapshotCache>,
) -> Result<GlobalSnapshot> {
    let generation = tx.get_prebuilds_data_generation()?;
    let fresh = SnapshotCache::new();
    let (presets, running) = cache.unwrap_or(&fresh).presets_and_running(tx, generation)?;
    let Some(running) = running else {
        return Ok(GlobalSnapshot::default());
    };
    let lookback = crate::clock::sub_duration(now, backoff_lookback);
    Ok(GlobalSnapshot {
        presets,
        schedules: tx.get_active_preset_prebuild_schedules()?,
        running,
        in_progress: tx.count_in_progress_prebuilds()?,
        pending: tx.count_pending_non_active_prebuilds()?.into_iter().map(|p| (p.preset_id, p.count)).collect(),
        backoffs: tx.get_presets_backoff(lookback)?,
        hard_limited: tx.get_presets_at_failure_limit(failure_hard_limit)?.into_iter().collect(),
    })
}
