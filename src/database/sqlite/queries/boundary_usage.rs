//! `boundary_usage_stats`, `telemetry_locks`, `telemetry_snapshots`.
//!
//! Callers run these inside a write transaction holding lock 9, so a flush and a collection
//! never interleave; the store itself does not take the lock, so callers can combine these
//! statements with others under one lock.

use std::time::Duration;

use rusqlite::Connection;
use rusqlite::OptionalExtension;

use crate::clock::Timestamp;
use crate::clock::from_micros;
use crate::clock::to_micros;
use crate::database::BoundaryUsageStore;
use crate::database::Result;
use crate::database::models::BoundaryUsageSummary;
use crate::database::models::TelemetrySnapshot;
use crate::database::models::UpsertBoundaryUsageStats;
use crate::database::sqlite::errors::OpContext;
use crate::database::sqlite::tx::SqliteTx;

/// Inserts the replica's row from the deltas (returns true: a new period), or replaces its
/// unique counts with the cumulative values and adds the request counts (returns false).
pub(crate) fn upsert_boundary_usage_stats(
    conn: &Connection,
    params: &UpsertBoundaryUsageStats<'_>,
    now: Timestamp,
) -> Result<bool> {
    let op = "upsert boundary usage stats";
    // Writers are serialized, so checking first and then writing cannot race.
    let exists = conn
        .prepare_cached("SELECT 1 FROM boundary_usage_stats WHERE replica_id = ?1")
        .op(op)?
        .query_row([params.replica_id], |_| Ok(()))
        .optional()
        .op(op)?
        .is_some();
    let now = to_micros(now);
    if exists {
        conn.prepare_cached(
            "UPDATE boundary_usage_stats SET
                 unique_workspaces_count = ?2,
                 unique_users_count = ?3,
                 allowed_requests = allowed_requests + ?4,
                 denied_requests = denied_requests + ?5,
                 updated_at = ?6
             WHERE replica_id = ?1",
        )
        .op(op)?
        .execute(rusqlite::params![
            params.replica_id,
            params.unique_workspaces_count,
            params.unique_users_count,
            params.allowed_requests,
            params.denied_requests,
            now,
        ])
        .op(op)?;
    } else {
        conn.prepare_cached(
            "INSERT INTO boundary_usage_stats (replica_id, unique_workspaces_count, unique_users_count,
                 allowed_requests, denied_requests, window_start, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        )
        .op(op)?
        .execute(rusqlite::params![
            params.replica_id,
            params.unique_workspaces_delta,
            params.unique_users_delta,
            params.allowed_requests,
            params.denied_requests,
            now,
        ])
        .op(op)?;
    }
    Ok(!exists)
}

const SUMMARY_SQL: &str = "SELECT
        COALESCE(SUM(CASE WHEN window_start >= ?1 THEN unique_workspaces_count END), 0),
        COALESCE(SUM(CASE WHEN window_start >= ?1 THEN unique_users_count END), 0),
        COALESCE(SUM(CASE WHEN window_start >= ?1 THEN allowed_requests END), 0),
        COALESCE(SUM(CASE WHEN window_start >= ?1 THEN denied_requests END), 0)
    FROM boundary_usage_stats";

/// Sums the rows whose window started within `max_staleness` of now (each sum 0 when none).
pub(crate) fn get_boundary_usage_summary(
    conn: &Connection,
    max_staleness: Duration,
    now: Timestamp,
) -> Result<BoundaryUsageSummary> {
    let op = "get boundary usage summary";
    let oldest = to_micros(now) - i64::try_from(max_staleness.as_micros()).unwrap_or(i64::MAX);
    conn.prepare_cached(SUMMARY_SQL)
        .op(op)?
        .query_row([oldest], |r| {
            Ok(BoundaryUsageSummary {
                unique_workspaces: r.get(0)?,
                unique_users: r.get(1)?,
                allowed_requests: r.get(2)?,
                denied_requests: r.get(3)?,
            })
        })
        .op(op)
}

/// Sums the rows whose window started within `max_staleness` of now, then deletes every row
/// (stale ones are dropped uncounted). Both statements run in the caller's write
/// transaction, so the rows summed are exactly the rows deleted.
pub(crate) fn get_and_reset_boundary_usage_summary(
    conn: &Connection,
    max_staleness: Duration,
    now: Timestamp,
) -> Result<BoundaryUsageSummary> {
    let op = "get and reset boundary usage summary";
    let summary = get_boundary_usage_summary(conn, max_staleness, now)?;
    conn.prepare_cached("DELETE FROM boundary_usage_stats").op(op)?.execute([]).op(op)?;
    Ok(summary)
}

/// Deletes one replica's row.
pub(crate) fn delete_boundary_usage_stats_by_replica_id(conn: &Connection, replica_id: &str) -> Result<()> {
    let op = "delete boundary usage stats";
    conn.prepare_cached("DELETE FROM boundary_usage_stats WHERE replica_id = ?1")
        .op(op)?
        .execute([replica_id])
        .op(op)?;
    Ok(())
}

/// Claims a telemetry period; a second claim is `UniqueViolation { telemetry_locks_pkey }`.
pub(crate) fn insert_telemetry_lock(conn: &Connection, event_type: &str, period_ending_at: Timestamp) -> Result<()> {
    let op = "insert telemetry lock";
    conn.prepare_cached("INSERT INTO telemetry_locks (event_type, period_ending_at) VALUES (?1, ?2)")
        .op(op)?
        .execute(rusqlite::params![event_type, to_micros(period_ending_at)])
        .op(op)?;
    Ok(())
}

/// Stores a collected snapshot.
pub(crate) fn insert_telemetry_snapshot(
    conn: &Connection,
    event_type: &str,
    period_ending_at: Timestamp,
    replica_id: &str,
    snapshot: &serde_json::Value,
    now: Timestamp,
) -> Result<()> {
    let op = "insert telemetry snapshot";
    conn.prepare_cached(
        "INSERT INTO telemetry_snapshots (event_type, period_ending_at, collected_at, replica_id, snapshot)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .op(op)?
    .execute(rusqlite::params![
        event_type,
        to_micros(period_ending_at),
        to_micros(now),
        replica_id,
        snapshot.to_string(),
    ])
    .op(op)?;
    Ok(())
}

/// The newest `limit` snapshots, newest first.
pub(crate) fn list_telemetry_snapshots(conn: &Connection, limit: u32) -> Result<Vec<TelemetrySnapshot>> {
    let op = "list telemetry snapshots";
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, event_type, period_ending_at, collected_at, replica_id, snapshot
             FROM telemetry_snapshots ORDER BY collected_at DESC, id DESC LIMIT ?1",
        )
        .op(op)?;
    let rows = stmt
        .query_map([limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })
        .op(op)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .op(op)?;
    rows.into_iter()
        .map(|(id, event_type, period_ending_at, collected_at, replica_id, snapshot)| {
            let snapshot = serde_json::from_str(&snapshot).map_err(|e| crate::database::Error::InvalidValue {
                op,
                column: "telemetry_snapshots.snapshot",
                message: e.to_string(),
            })?;
            Ok(TelemetrySnapshot {
                id,
                event_type,
                period_ending_at: from_micros(period_ending_at),
                collected_at: from_micros(collected_at),
                replica_id,
                snapshot,
            })
        })
        .collect()
}

impl BoundaryUsageStore for SqliteTx<'_> {
    fn upsert_boundary_usage_stats(&self, params: &UpsertBoundaryUsageStats<'_>) -> Result<bool> {
        upsert_boundary_usage_stats(self.conn, params, self.now())
    }

    fn get_boundary_usage_summary(&self, max_staleness: Duration) -> Result<BoundaryUsageSummary> {
        get_boundary_usage_summary(self.conn, max_staleness, self.now())
    }

    fn get_and_reset_boundary_usage_summary(&self, max_staleness: Duration) -> Result<BoundaryUsageSummary> {
        get_and_reset_boundary_usage_summary(self.conn, max_staleness, self.now())
    }

    fn insert_telemetry_snapshot(
        &self,
        event_type: &str,
        period_ending_at: Timestamp,
        replica_id: &str,
        snapshot: &serde_json::Value,
    ) -> Result<()> {
        insert_telemetry_snapshot(self.conn, event_type, period_ending_at, replica_id, snapshot, self.now())
    }

    run_query! {
        fn delete_boundary_usage_stats_by_replica_id(&self, replica_id: &str) -> Result<()> => delete_boundary_usage_stats_by_replica_id;
        fn insert_telemetry_lock(&self, event_type: &str, period_ending_at: Timestamp) -> Result<()> => insert_telemetry_lock;
        fn list_telemetry_snapshots(&self, limit: u32) -> Result<Vec<TelemetrySnapshot>> => list_telemetry_snapshots;
    }
}
