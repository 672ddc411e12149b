//! The template usage rollup : raw agent and app stats
//! into 30-minute `template_usage_stats` rows, on a wall-clock-aligned schedule, one replica
//! at a time (lease 3).

pub mod compute;
pub mod insights;
pub mod service;

use std::time::Duration;
use std::time::Instant;

use crate::database::LockId;
use crate::database::Result;
use crate::database::Store;
use crate::database::TxOptions;
use crate::database::in_tx;
pub use crate::rollup::service::RollupEvent;
pub use crate::rollup::service::Rolluper;

/// How long the rollup lease lives without a heartbeat (renewed every third of it). It
/// bounds how long a killed replica's run blocks the others.
pub const ROLLUP_LEASE_TTL: Duration = Duration::from_secs(15);

/// What one rollup run did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RollupOutcome {
    /// False: another holder had lease 3, nothing was done.
    pub acquired: bool,
    pub rows_written: usize,
    pub took: Duration,
}

/// `UpsertTemplateUsageStats` in the caller's write transaction: window (step A), compute
/// (steps B-E), upsert skipping unchanged rows (step F). Returns the rows written.
pub fn upsert_template_usage_stats(tx: &dyn Store) -> Result<usize> {
    let inputs = tx.get_rollup_window_inputs()?;
    let Some(start) = compute::window_start(inputs.newest_bucket_start, inputs.earliest_agent_stat) else {
        return Ok(0);
    };
    let now = tx.clock().now();
    if start >= now {
        return Ok(0);
    }
    let mut usage = compute::UsageAccumulator::new(start, now);
    tx.visit_agent_stats_for_rollup(start, now, &mut |s| usage.add_agent_stat(s))?;
    // Step B keeps every minute in [start, now): a session starting later in the current
    // minute than `now` (clock skew, or reported at M+58s for a rollup at M+10s) still covers
    // minute M, so the fetch reaches to the end of the current minute; the expansion clamps.
    tx.visit_app_stats_for_rollup(start, compute::end_of_minute(now), &mut |a| usage.add_app_stat(a))?;
    let rows = usage.finish();
    tx.upsert_template_usage_stats(&rows)
}

/// One run: take lease 3 (held elsewhere → not acquired, nothing done) and, holding it, run
/// the upsert in one write transaction.
pub fn run_once(store: &dyn Store, holder: &str) -> Result<RollupOutcome> {
    let started = Instant::now();
    let Some(lease) = store.try_acquire_lease(LockId::DbRollup, holder, ROLLUP_LEASE_TTL)? else {
        return Ok(RollupOutcome { acquired: false, rows_written: 0, took: started.elapsed() });
    };
    let res = in_tx(store, TxOptions::write("db_rollup"), upsert_template_usage_stats);
    let release = lease.release();
    let rows_written = res?;
    release?;
    Ok(RollupOutcome { acquired: true, rows_written, took: started.elapsed() })
}
