//! `boundary_usage_stats`, `telemetry_locks`, `telemetry_snapshots` on PostgreSQL. Callers run
//! these inside a write transaction holding lock 9.

use std::time::Duration;

use crate::clock::Timestamp;
use crate::clock::sub_duration;
use crate::database::BoundaryUsageStore;
use crate::database::Result;
use crate::database::models::BoundaryUsageSummary;
use crate::database::models::TelemetrySnapshot;
use crate::database::models::UpsertBoundaryUsageStats;
use crate::database::postgres::queries::get;
use crate::database::postgres::tx::PgTx;

/// Inserts the replica's row from the deltas (true: a new period), or replaces its unique
/// counts with the cumulative values and adds the request counts (false). One statement:
/// `xmax = 0` on the returned row tells an insert from an update.
pub(crate) fn upsert_boundary_usage_stats(tx: &PgTx<'_>, p: &UpsertBoundaryUsageStats<'_>) -> Result<bool> {
    let op = "upsert boundary usage stats";
    let now = tx.now();
    let row = tx.query_one(
        op,
        "INSERT INTO boundary_usage_stats AS s (replica_id, unique_workspaces_count, unique_users_count,
             allowed_requests, denied_requests, window_start, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)
         ON CONFLICT (replica_id) DO UPDATE SET
             unique_workspaces_count = $7,
             unique_users_count = $8,
             allowed_requests = s.allowed_requests + excluded.allowed_requests,
             denied_requests = s.denied_requests + excluded.denied_requests,
             updated_at = excluded.updated_at
         RETURNING (xmax = 0)",
        &[
            &p.replica_id,
            &p.unique_workspaces_delta,
            &p.unique_users_delta,
            &p.allowed_requests,
            &p.denied_requests,
            &now,
            &p.unique_workspaces_count,
            &p.unique_users_count,
        ],
    )?;
    get(op, &row, 0)
}

const SUMMARY_SQL: &str = "SELECT
        COALESCE(SUM(unique_workspaces_count) FILTER (WHERE window_start >= $1), 0)::bigint,
        COALESCE(SUM(unique_users_count) FILTER (WHERE window_start >= $1), 0)::bigint,
        COALESCE(SUM(allowed_requests) FILTER (WHERE window_start >= $1), 0)::bigint,
        COALESCE(SUM(denied_requests) FILTER (WHERE window_start >= $1), 0)::bigint
    FROM boundary_usage_stats";

/// Sums the rows whose window started within `max_staleness` of now (each sum 0 when none).
pub(crate) fn get_boundary_usage_summary(tx: &PgTx<'_>, max_staleness: Duration) -> Result<BoundaryUsageSummary> {
    let op = "get boundary usage summary";
    let oldest = sub_duration(tx.now(), max_staleness);
    let r = tx.query_one(op, SUMMARY_SQL, &[&oldest])?;
    Ok(BoundaryUsageSummary {
        unique_workspaces: get(op, &r, 0)?,
        unique_users: get(op, &r, 1)?,
        allowed_requests: get(op, &r, 2)?,
        denied_requests: get(op, &r, 3)?,
    })
}

/// Sums the rows whose window started within `max_staleness` of now, then deletes every row,
/// in the caller's transaction: the rows summed are exactly the rows deleted.
pub(crate) fn get_and_reset_boundary_usage_summary(
    tx: &PgTx<'_>,
    max_staleness: Duration,
) -> Result<BoundaryUsageSummary> {
    let summary = get_boundary_usage_summary(tx, max_staleness)?;
    tx.execute("get and reset boundary usage summary", "DELETE FROM boundary_usage_stats", &[])?;
    Ok(summary)
}

pub(crate) fn delete_boundary_usage_stats_by_replica_id(tx: &PgTx<'_>, replica_id: &str) -> Result<()> {
    tx.execute(
        "delete boundary usage stats",
        "DELETE FROM boundary_usage_stats WHERE replica_id = $1",
        &[&replica_id],
    )?;
    Ok(())
}

pub(crate) fn insert_telemetry_lock(tx: &PgTx<'_>, event_type: &str, period_ending_at: Timestamp) -> Result<()> {
    tx.execute(
        "insert telemetry lock",
        "INSERT INTO telemetry_locks (event_type, period_ending_at) VALUES ($1, $2)",
        &[&event_type, &period_ending_at],
    )?;
    Ok(())
}

pub(crate) fn insert_telemetry_snapshot(
    tx: &PgTx<'_>,
    event_type: &str,
    period_ending_at: Timestamp,
    replica_id: &str,
    snapshot: &serde_json::Value,
) -> Result<()> {
    let now = tx.now();
    tx.execute(
        "insert telemetry snapshot",
        "INSERT INTO telemetry_snapshots (event_type, period_ending_at, collected_at, replica_id, snapshot)
         VALUES ($1, $2, $3, $4, $5)",
        &[&event_type, &period_ending_at, &now, &replica_id, snapshot],
    )?;
    Ok(())
}

pub(crate) fn list_telemetry_snapshots(tx: &PgTx<'_>, limit: u32) -> Result<Vec<TelemetrySnapshot>> {
    let op = "list telemetry snapshots";
    let rows = tx.query(
        op,
        "SELECT id, event_type, period_ending_at, collected_at, replica_id, snapshot
         FROM telemetry_snapshots ORDER BY collected_at DESC, id DESC LIMIT $1",
        &[&i64::from(limit)],
    )?;
    rows.iter()
        .map(|r| {
            Ok(TelemetrySnapshot {
                id: get(op, r, 0)?,
                event_type: get(op, r, 1)?,
                period_ending_at: get(op, r, 2)?,
                collected_at: get(op, r, 3)?,
                replica_id: get(op, r, 4)?,
                snapshot: get(op, r, 5)?,
            })
        })
        .collect()
}

impl BoundaryUsageStore for PgTx<'_> {
    run_query! {
        fn upsert_boundary_usage_stats(&self, params: &UpsertBoundaryUsageStats<'_>) -> Result<bool> => upsert_boundary_usage_stats;
        fn get_boundary_usage_summary(&self, max_staleness: Duration) -> Result<BoundaryUsageSummary> => get_boundary_usage_summary;
        fn get_and_reset_boundary_usage_summary(&self, max_staleness: Duration) -> Result<BoundaryUsageSummary> => get_and_reset_boundary_usage_summary;
        fn delete_boundary_usage_stats_by_replica_id(&self, replica_id: &str) -> Result<()> => delete_boundary_usage_stats_by_replica_id;
        fn insert_telemetry_lock(&self, event_type: &str, period_ending_at: Timestamp) -> Result<()> => insert_telemetry_lock;
        fn insert_telemetry_snapshot(&self, event_type: &str, period_ending_at: Timestamp, replica_id: &str, snapshot: &serde_json::Value) -> Result<()> => insert_telemetry_snapshot;
        fn list_telemetry_snapshots(&self, limit: u32) -> Result<Vec<TelemetrySnapshot>> => list_telemetry_snapshots;
    }
}
