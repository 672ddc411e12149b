//! `boundary_usage_stats`, `telemetry_locks`, `telemetry_snapshots`.
//!
//! Callers run these inside a write transaction holding lock 9, so a flush and a collection
//! never interleave; the store itself does not take the lock, so callers can combine these
//! statements with others under one lock.

use std::time::Duration;

use rusqlite::params;

use crate::clock::Timestamp;
use crate::clock::to_micros;
use crate::database::BoundaryUsageStore;
use crate::database::Result;
use crate::database::models::BoundaryUsageSummary;
use crate::database::models::InsertTelemetrySnapshot;
use crate::database::models::TelemetrySnapshot;
use crate::database::models::UpsertBoundaryUsageStats;
use crate::database::rows;
use crate::database::rows::TELEMETRY_SNAPSHOT_COLUMNS;
use crate::database::sqlite::tx::SqliteTx;

const SUMMARY_SQL: &str = "SELECT
        COALESCE(SUM(CASE WHEN window_start >= ?1 THEN unique_workspaces_count END), 0),
        COALESCE(SUM(CASE WHEN window_start >= ?1 THEN unique_users_count END), 0),
        COALESCE(SUM(CASE WHEN window_start >= ?1 THEN allowed_requests END), 0),
        COALESCE(SUM(CASE WHEN window_start >= ?1 THEN denied_requests END), 0)
    FROM boundary_usage_stats";

impl BoundaryUsageStore for SqliteTx<'_> {
    /// Inserts the replica's row from the deltas (returns true: a new period), or replaces its
    /// unique counts with the cumulative values and adds the request counts (returns false).
    fn upsert_boundary_usage_stats(&self, p: &UpsertBoundaryUsageStats<'_>) -> Result<bool> {
        let op = "upsert boundary usage stats";
        let now = to_micros(self.now());
        // Writers are serialized, so checking first and then writing cannot race.
        let sql = "SELECT 1 FROM boundary_usage_stats WHERE replica_id = ?1";
        let exists = self.opt(op, sql, [p.replica_id], |_| Ok(()))?.is_some();
        if exists {
            self.exec(
                op,
                "UPDATE boundary_usage_stats SET
                     unique_workspaces_count = ?2,
                     unique_users_count = ?3,
                     allowed_requests = allowed_requests + ?4,
                     denied_requests = denied_requests + ?5,
                     updated_at = ?6
                 WHERE replica_id = ?1",
                params![
                    p.replica_id,
                    p.unique_workspaces_count,
                    p.unique_users_count,
                    p.allowed_requests,
                    p.denied_requests,
                    now,
                ],
            )?;
        } else {
            self.exec(
                op,
                "INSERT INTO boundary_usage_stats (replica_id, unique_workspaces_count, unique_users_count,
                     allowed_requests, denied_requests, window_start, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                params![
                    p.replica_id,
                    p.unique_workspaces_delta,
                    p.unique_users_delta,
                    p.allowed_requests,
                    p.denied_requests,
                    now,
                ],
            )?;
        }
        Ok(!exists)
    }

    fn get_boundary_usage_summary(&self, max_staleness: Duration) -> Result<BoundaryUsageSummary> {
        let oldest = to_micros(self.now()) - i64::try_from(max_staleness.as_micros()).unwrap_or(i64::MAX);
        self.one("get boundary usage summary", SUMMARY_SQL, [oldest], rows::boundary_usage_summary)
    }

    fn get_and_reset_boundary_usage_summary(&self, max_staleness: Duration) -> Result<BoundaryUsageSummary> {
        let summary = self.get_boundary_usage_summary(max_staleness)?;
        self.exec("get and reset boundary usage summary", "DELETE FROM boundary_usage_stats", [])?;
        Ok(summary)
    }

    fn delete_boundary_usage_stats_by_replica_id(&self, replica_id: &str) -> Result<()> {
        let sql = "DELETE FROM boundary_usage_stats WHERE replica_id = ?1";
        self.exec("delete boundary usage stats", sql, [replica_id])
    }

    fn insert_telemetry_lock(&self, event_type: &str, period_ending_at: Timestamp) -> Result<()> {
        let sql = "INSERT INTO telemetry_locks (event_type, period_ending_at) VALUES (?1, ?2)";
        self.exec("insert telemetry lock", sql, params![event_type, to_micros(period_ending_at)])
    }

    fn insert_telemetry_snapshot(&self, params: &InsertTelemetrySnapshot<'_>) -> Result<()> {
        let InsertTelemetrySnapshot { event_type, period_ending_at, replica_id, snapshot } = *params;
        self.exec(
            "insert telemetry snapshot",
            "INSERT INTO telemetry_snapshots (event_type, period_ending_at, collected_at, replica_id, snapshot)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![event_type, to_micros(period_ending_at), to_micros(self.now()), replica_id, snapshot.to_string()],
        )
    }

    fn list_telemetry_snapshots(&self, limit: u32) -> Result<Vec<TelemetrySnapshot>> {
        let sql = format!(
            "SELECT {TELEMETRY_SNAPSHOT_COLUMNS} FROM telemetry_snapshots
                           ORDER BY collected_at DESC, id DESC LIMIT ?1"
        );
        self.all("list telemetry snapshots", &sql, [limit], rows::telemetry_snapshot)
    }
}
