//! Boundary usage telemetry: `BoundaryUsageStore` and its rows.

use std::time::Duration;

use crate::clock::Timestamp;
use crate::database::Result;

store_domain! {
    /// Boundary usage telemetry; run inside a write transaction holding lock 9.
    pub trait BoundaryUsageStore {
        /// Inserts the replica's row from the deltas (true: a new period began), or replaces its
        /// unique counts with the cumulative values and adds the request counts (false).
        write fn upsert_boundary_usage_stats(&self, params: &UpsertBoundaryUsageStats<'_>) -> Result<bool>;

        /// Sums rows whose window started within `max_staleness` (each sum 0 when none); reads only.
        read fn get_boundary_usage_summary(&self, max_staleness: Duration) -> Result<BoundaryUsageSummary>;

        /// Sums rows whose window started within `max_staleness` (each sum 0 when none), then
        /// deletes all rows; the rows summed are exactly the rows deleted.
        write fn get_and_reset_boundary_usage_summary(&self, max_staleness: Duration) -> Result<BoundaryUsageSummary>;

        /// Deletes one replica's row.
        write fn delete_boundary_usage_stats_by_replica_id(&self, replica_id: &str) -> Result<()>;

        /// Claims a telemetry period; a second claim is `UniqueViolation { telemetry_locks_pkey }`.
        write fn insert_telemetry_lock(&self, event_type: &str, period_ending_at: Timestamp) -> Result<()>;

        /// Stores a collected snapshot (JSON) for operators to inspect.
        write fn insert_telemetry_snapshot(&self, params: &InsertTelemetrySnapshot<'_>) -> Result<()>;

        /// The newest `limit` snapshots, newest first.
        read fn list_telemetry_snapshots(&self, limit: u32) -> Result<Vec<TelemetrySnapshot>>;
    }
}

/// Parameters of `upsert_boundary_usage_stats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertBoundaryUsageStats<'a> {
    pub replica_id: &'a str,
    /// Unique IDs seen since the last flush: the unique counts of a newly inserted row.
    pub unique_workspaces_delta: i64,
    pub unique_users_delta: i64,
    /// Unique IDs seen this period: replace the unique counts of an existing row.
    pub unique_workspaces_count: i64,
    pub unique_users_count: i64,
    /// Requests since the last flush: added to the stored counts.
    pub allowed_requests: i64,
    pub denied_requests: i64,
}

/// Sums over `boundary_usage_stats` rows (each 0 when there are none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BoundaryUsageSummary {
    pub unique_workspaces: i64,
    pub unique_users: i64,
    pub allowed_requests: i64,
    pub denied_requests: i64,
}

/// A stored telemetry snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetrySnapshot {
    pub id: i64,
    pub event_type: String,
    pub period_ending_at: Timestamp,
    pub collected_at: Timestamp,
    pub replica_id: String,
    pub snapshot: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct InsertTelemetrySnapshot<'a> {
    pub event_type: &'a str,
    pub period_ending_at: Timestamp,
    pub replica_id: &'a str,
    pub snapshot: &'a serde_json::Value,
}
