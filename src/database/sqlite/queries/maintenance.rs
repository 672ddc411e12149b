//! Registered server replicas and the purge service's bounded deletes.

use rusqlite::params;

use crate::clock::Timestamp;
use crate::clock::to_micros;
use crate::database::MaintenanceStore;
use crate::database::Result;
use crate::database::models::PurgeTarget;
use crate::database::models::ReplicaRow;
use crate::database::rows;
use crate::database::rows::REPLICA_COLUMNS;
use crate::database::sqlite::queries::opt_micros;
use crate::database::sqlite::tx::SqliteTx;

/// The bounded delete of each purge target: oldest rows first, through the table's rowid.
fn purge_sql(target: PurgeTarget) -> &'static str {
    match target {
        PurgeTarget::AgentStats => {
            "DELETE FROM workspace_agent_stats WHERE rowid IN (
                 SELECT rowid FROM workspace_agent_stats WHERE created_at < ?1 ORDER BY created_at LIMIT ?2)"
        }
        PurgeTarget::NotificationMessages => {
            "DELETE FROM notification_messages WHERE rowid IN (
                 SELECT rowid FROM notification_messages WHERE updated_at < ?1 ORDER BY updated_at LIMIT ?2)"
        }
        PurgeTarget::ExpiredApiKeys => {
            "DELETE FROM api_keys WHERE rowid IN (
                 SELECT rowid FROM api_keys WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2)"
        }
        PurgeTarget::TelemetryLocks => {
            "DELETE FROM telemetry_locks WHERE (event_type, period_ending_at) IN (
                 SELECT event_type, period_ending_at FROM telemetry_locks WHERE period_ending_at < ?1
                 ORDER BY period_ending_at LIMIT ?2)"
        }
        PurgeTarget::TelemetrySnapshots => {
            "DELETE FROM telemetry_snapshots WHERE id IN (
                 SELECT id FROM telemetry_snapshots WHERE collected_at < ?1 ORDER BY collected_at LIMIT ?2)"
        }
        PurgeTarget::AuditConnectionEvents => {
            "DELETE FROM audit_logs WHERE rowid IN (
                 SELECT rowid FROM audit_logs WHERE time < ?1 AND action IN ('connect', 'disconnect', 'open', 'close')
                 ORDER BY time LIMIT ?2)"
        }
        PurgeTarget::AuditLogs => {
            "DELETE FROM audit_logs WHERE rowid IN (
                 SELECT rowid FROM audit_logs WHERE time < ?1 AND action NOT IN ('connect', 'disconnect', 'open', 'close')
                 ORDER BY time LIMIT ?2)"
        }
    }
}

impl MaintenanceStore for SqliteTx<'_> {
    fn upsert_replica(&self, r: &ReplicaRow) -> Result<()> {
        self.exec(
            "upsert replica",
            "INSERT INTO replicas (id, hostname, pid, version, started_at, updated_at, stopped_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, pid = excluded.pid, version = excluded.version,
                 started_at = excluded.started_at, updated_at = excluded.updated_at, stopped_at = excluded.stopped_at",
            params![
                r.id,
                r.hostname,
                r.pid,
                r.version,
                to_micros(r.started_at),
                to_micros(r.updated_at),
                opt_micros(r.stopped_at),
            ],
        )
    }

    fn heartbeat_replica(&self, id: &str, now: Timestamp) -> Result<bool> {
        let sql = "UPDATE replicas SET updated_at = ?2 WHERE id = ?1";
        Ok(self.exec_count("heartbeat replica", sql, params![id, to_micros(now)])? == 1)
    }

    fn delete_replica(&self, id: &str) -> Result<()> {
        self.exec("delete replica", "DELETE FROM replicas WHERE id = ?1", [id])
    }

    fn list_replicas(&self) -> Result<Vec<ReplicaRow>> {
        let sql = format!("SELECT {REPLICA_COLUMNS} FROM replicas ORDER BY started_at, id");
        self.all("list replicas", &sql, [], rows::replica)
    }

    fn delete_replicas_updated_before(&self, before: Timestamp) -> Result<u64> {
        let sql = "DELETE FROM replicas WHERE updated_at < ?1";
        Ok(self.exec_count("delete replicas updated before", sql, [to_micros(before)])? as u64)
    }

    fn get_agent_stats_purge_cutoff(&self, now: Timestamp) -> Result<Option<Timestamp>> {
        let day = 86_400_000_000i64;
        self.one(
            "get agent stats purge cutoff",
            "SELECT MIN(
                 (SELECT COALESCE(MAX(start_time) - ?2, ?1 - 180 * ?2) FROM template_usage_stats),
                 (SELECT MIN(created_at) + 4 * 3600000000 FROM workspace_agent_stats))",
            params![to_micros(now), day],
            |r| r.opt_time(0),
        )
    }

    fn purge_rows(&self, target: PurgeTarget, before: Timestamp, limit: u32) -> Result<u64> {
        Ok(self.exec_count("purge rows", purge_sql(target), params![to_micros(before), limit])? as u64)
    }
}
