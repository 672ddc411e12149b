//! Replicas and the purge: `MaintenanceStore` and its rows.

use crate::clock::Timestamp;
use crate::database::Result;

store_domain! {
    /// Running an install for months: registered server replicas, and the purge
    /// service's bounded deletes (lock 4).
    pub trait MaintenanceStore {
        /// Registers (or re-registers) a server replica with a fresh heartbeat.
        write fn upsert_replica(&self, replica: &ReplicaRow) -> Result<()>;

        /// Moves the replica's heartbeat to `now`; false when its row is gone.
        write fn heartbeat_replica(&self, id: &str, now: Timestamp) -> Result<bool>;

        /// Deletes the replica's row (a clean shutdown).
        write fn delete_replica(&self, id: &str) -> Result<()>;

        /// Every registered replica, oldest start first.
        read fn list_replicas(&self) -> Result<Vec<ReplicaRow>>;

        /// Deletes replicas whose last heartbeat is before `before`; the number deleted.
        write fn delete_replicas_updated_before(&self, before: Timestamp) -> Result<u64>;

        /// Upstream's cutoff for raw agent stats: one day before the newest rollup bucket (180
        /// days before `now` without one), and no later than four hours after the oldest
        /// stat (one run's window). `None` when there are no stats.
        read fn get_agent_stats_purge_cutoff(&self, now: Timestamp) -> Result<Option<Timestamp>>;

        /// Deletes up to `limit` of the oldest rows `target` names that are older than
        /// `before`; the number deleted.
        write fn purge_rows(&self, target: PurgeTarget, before: Timestamp, limit: u32) -> Result<u64>;
    }
}

/// A row of `replicas`: a running server, as upstream's replicas register themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaRow {
    pub id: String,
    pub hostname: String,
    pub pid: i64,
    pub version: String,
    pub started_at: Timestamp,
    /// The last heartbeat.
    pub updated_at: Timestamp,
    pub stopped_at: Option<Timestamp>,
}

/// What one purge delete removes (upstream's dbpurge steps, and coderlite's own tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PurgeTarget {
    /// Raw agent stats created before the cutoff.
    AgentStats,
    /// Notification messages not updated since the cutoff.
    NotificationMessages,
    /// API keys expired before the cutoff.
    ExpiredApiKeys,
    /// Telemetry period claims ending before the cutoff.
    TelemetryLocks,
    /// Collected telemetry snapshots older than the cutoff (coderlite's own table).
    TelemetrySnapshots,
    /// Audit entries of connection events (connect, disconnect, open, close) before the cutoff.
    AuditConnectionEvents,
    /// Other audit entries before the cutoff.
    AuditLogs,
}

impl PurgeTarget {
    /// The name in logs and `db purge` output (upstream's record types where it has one).
    pub fn as_str(self) -> &'static str {
        match self {
            PurgeTarget::AgentStats => "workspace_agent_stats",
            PurgeTarget::NotificationMessages => "notification_messages",
            PurgeTarget::ExpiredApiKeys => "expired_api_keys",
            PurgeTarget::TelemetryLocks => "telemetry_locks",
            PurgeTarget::TelemetrySnapshots => "telemetry_snapshots",
            PurgeTarget::AuditConnectionEvents => "audit_log_connection_events",
            PurgeTarget::AuditLogs => "audit_logs",
        }
    }
}
