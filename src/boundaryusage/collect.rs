//! Telemetry collection: claim the period, get-and-reset the table, store the snapshot.

use std::time::Duration;

use serde::Serialize;

use crate::clock::Cancel;
use crate::clock::SharedClock;
use crate::clock::Ticker;
use crate::clock::Timestamp;
use crate::clock::format_rfc3339;
use crate::clock::from_micros;
use crate::clock::to_micros;
use crate::database::Error;
use crate::database::LockId;
use crate::database::Result;
use crate::database::Store;
use crate::database::TxOptions;
use crate::database::in_tx;

/// The `telemetry_locks.event_type` and snapshot kind of boundary usage.
pub const BOUNDARY_USAGE_EVENT: &str = "boundary_usage_summary";

/// A collected period's summary, as reported (and stored in `telemetry_snapshots`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectedSummary {
    pub unique_workspaces: i64,
    pub unique_users: i64,
    pub allowed_requests: i64,
    pub denied_requests: i64,
    /// now − interval.
    pub period_start: Timestamp,
    pub period_duration_ms: i64,
}

/// The stored snapshot's JSON shape.
#[derive(Serialize)]
struct SnapshotJson {
    unique_workspaces: i64,
    unique_users: i64,
    allowed_requests: i64,
    denied_requests: i64,
    period_start: String,
    period_duration_ms: i64,
}

/// `now` truncated to a multiple of `interval` since the Unix epoch: the period's key.
pub fn period_ending_at(now: Timestamp, interval: Duration) -> Timestamp {
    let interval = i64::try_from(interval.as_micros()).unwrap_or(i64::MAX).max(1);
    let micros = to_micros(now);
    from_micros(micros - micros.rem_euclid(interval))
}

/// Collects the current period once: claims it in `telemetry_locks` (another process that
/// already claimed it → `None`), sums and empties `boundary_usage_stats` (rows whose window
/// began more than `max_staleness` ago are dropped uncounted), and stores the snapshot, all
/// in one write transaction holding lock 9.
pub fn collect(
    store: &dyn Store,
    clock: &SharedClock,
    replica_id: &str,
    interval: Duration,
    max_staleness: Duration,
) -> Result<Option<CollectedSummary>> {
    let now = clock.now();
    let period_end = period_ending_at(now, interval);
    let period_duration_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
    in_tx(store, TxOptions::write("boundary usage collect"), |tx| {
        tx.acquire_lock(LockId::BoundaryUsageStats)?;
        match tx.insert_telemetry_lock(BOUNDARY_USAGE_EVENT, period_end) {
            Ok(()) => {}
            Err(Error::UniqueViolation { .. }) => {
                tracing::debug!(period_ending_at = %format_rfc3339(period_end), "period already collected elsewhere");
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
        let sums = tx.get_and_reset_boundary_usage_summary(max_staleness)?;
        let summary = CollectedSummary {
            unique_workspaces: sums.unique_workspaces,
            unique_users: sums.unique_users,
            allowed_requests: sums.allowed_requests,
            denied_requests: sums.denied_requests,
            period_start: crate::clock::sub_duration(now, interval),
            period_duration_ms,
        };
        let json = serde_json::to_value(SnapshotJson {
            unique_workspaces: summary.unique_workspaces,
            unique_users: summary.unique_users,
            allowed_requests: summary.allowed_requests,
            denied_requests: summary.denied_requests,
            period_start: format_rfc3339(summary.period_start),
            period_duration_ms,
        })
        .expect("snapshot serializes");
        tx.insert_telemetry_snapshot(&crate::database::models::InsertTelemetrySnapshot {
            event_type: BOUNDARY_USAGE_EVENT,
            period_ending_at: period_end,
            replica_id,
            snapshot: &json,
        })?;
        Ok(Some(summary))
    })
}

/// Collects every `interval` on `clock` until `cancel` fires. The staleness window is two
/// intervals: a row older than that is a leftover from periods nobody collected.
pub fn run_collector_loop(
    store: &dyn Store,
    clock: SharedClock,
    replica_id: &str,
    interval: Duration,
    cancel: &Cancel,
) -> Result<()> {
    let mut ticker = Ticker::new(clock.clone(), interval);
    while ticker.wait(cancel) {
        let span = tracing::info_span!("telemetry_collect", replica_id);
        let _entered = span.enter();
        match collect(store, &clock, replica_id, interval, interval * 2) {
            Ok(Some(s)) => tracing::info!(
                unique_workspaces = s.unique_workspaces,
                unique_users = s.unique_users,
                allowed_requests = s.allowed_requests,
                denied_requests = s.denied_requests,
                "collected boundary usage"
            ),
            Ok(None) => {}
            Err(error) if error.is_fatal() => return Err(error),
            Err(error) => tracing::warn!(%error, "collect boundary usage"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use chrono::Utc;

    use super::*;

    #[test]
    fn period_end_truncates_to_the_interval() {
        let t = Utc.with_ymd_and_hms(2024, 6, 1, 12, 47, 13).unwrap();
        let end = period_ending_at(t, Duration::from_secs(1800));
        assert_eq!(end, Utc.with_ymd_and_hms(2024, 6, 1, 12, 30, 0).unwrap());
        let end = period_ending_at(Utc.with_ymd_and_hms(2024, 6, 1, 12, 30, 0).unwrap(), Duration::from_secs(1800));
        assert_eq!(end, Utc.with_ymd_and_hms(2024, 6, 1, 12, 30, 0).unwrap());
    }
}
