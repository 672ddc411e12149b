//! `boundary_usage_stats`, `telemetry_locks`, `telemetry_snapshots` on PostgreSQL. Callers run
//! these inside a write transaction holding lock 9.

use std::time::Duration;

use crate::clock::Timestamp;
use crate::clock::sub_duration;
use crate::database::BoundaryUsageStore;
use crate::database::Result;
use crate::database::models::BoundaryUsageSummary;
use crate::database::models::InsertTelemetrySnapshot;
use crate::database::models::TelemetrySnapshot;
use crate::database::models::UpsertBoundaryUsageStats;
use crate::database::postgres::tx::PgTx;
use crate::database::rows;
use crate::database::rows::TELEMETRY_SNAPSHOT_COLUMNS;

const SUMMARY_SQL: &str = "SELECT
        COALESCE(SUM(unique_workspaces_count) FILTER (WHERE window_start >= $1), 0)::bigint,
        COALESCE(SUM(unique_users_count) FILTER (WHERE window_start >= $1), 0)::bigint,
        COALESCE(SUM(allowed_requests) FILTER (WHERE window_start >= $1), 0)::bigint,
        COALESCE(SUM(denied_requests) FILTER (WHERE window_start >= $1), 0)::bigint
    FROM boundary_usage_stats";

impl BoundaryUsageStore for PgTx<'_> {
    /// One statement: `xmax = 0` on the returned row tells an insert (a new period) from an update.
    fn upsert_boundary_usage_stats(&self, p: &UpsertBoundaryUsageStats<'_>) -> Result<bool> {
        self.one(
            "upsert boundary usage stats",
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
                &self.now(),
                &p.unique_workspaces_count,
                &p.unique_users_count,
            ],
            |r| r.bool(0),
        )
    }

    fn get_boundary_usage_summary(&self, max_staleness: Duration) -> Result<BoundaryUsageSummary> {
        let oldest = sub_duration(self.now(), max_staleness);
        self.one("get boundary usage summary", SUMMARY_SQL, &[&oldest], rows::boundary_usage_summary)
    }

    fn get_and_reset_boundary_usage_summary(&self, max_staleness: Duration) -> Result<BoundaryUsageSummary> {
        let summary = self.get_boundary_usage_summary(max_staleness)?;
        self.exec("get and reset boundary usage summary", "DELETE FROM boundary_usage_stats", &[])?;
        Ok(summary)
    }

    fn delete_boundary_usage_stats_by_replica_id(&self, replica_id: &str) -> Result<()> {
        let sql = "DELETE FROM boundary_usage_stats WHERE replica_id = $1";
        self.exec("delete boundary usage stats", sql, &[&replica_id])
    }

    fn insert_telemetry_lock(&self, event_type: &str, period_ending_at: Timestamp) -> Result<()> {
        let sql = "INSERT INTO telemetry_locks (event_type, period_ending_at) VALUES ($1, $2)";
        self.exec("insert telemetry lock", sql, &[&event_type, &period_ending_at])
    }

    fn insert_telemetry_snapshot(&self, params: &InsertTelemetrySnapshot<'_>) -> Result<()> {
        let InsertTelemetrySnapshot { event_type, period_ending_at, replica_id, snapshot } = *params;
        self.exec(
            "insert telemetry snapshot",
            "INSERT INTO telemetry_snapshots (event_type, period_ending_at, collected_at, replica_id, snapshot)
             VALUES ($1, $2, $3, $4, $5)",
            &[&event_type, &period_ending_at, &self.now(), &replica_id, snapshot],
        )
    }

    fn list_telemetry_snapshots(&self, limit: u32) -> Result<Vec<TelemetrySnapshot>> {
        let sql = format!(
            "SELECT {TELEMETRY_SNAPSHOT_COLUMNS} FROM telemetry_snapshots
                           ORDER BY collected_at DESC, id DESC LIMIT $1"
        );
        self.all("list telemetry snapshots", &sql, &[&i64::from(limit)], rows::telemetry_snapshot)
    }
}
