//! Registered server replicas and the purge service's bounded deletes.

use crate::clock::Timestamp;
use crate::database::MaintenanceStore;
use crate::database::Result;
use crate::database::models::PurgeTarget;
use crate::database::models::ReplicaRow;
use crate::database::postgres::tx::PgTx;
use crate::database::rows;
use crate::database::rows::REPLICA_COLUMNS;

fn purge_sql(target: PurgeTarget) -> &'static str {
    match target {
        PurgeTarget::AgentStats => {
            "DELETE FROM workspace_agent_stats WHERE id IN (
                 SELECT id FROM workspace_agent_stats WHERE created_at < $1 ORDER BY created_at LIMIT $2)"
        }
        PurgeTarget::NotificationMessages => {
            "DELETE FROM notification_messages WHERE id IN (
                 SELECT id FROM notification_messages WHERE updated_at < $1 ORDER BY updated_at LIMIT $2)"
        }
        PurgeTarget::ExpiredApiKeys => {
            "DELETE FROM api_keys WHERE id IN (
                 SELECT id FROM api_keys WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)"
        }
        PurgeTarget::TelemetryLocks => {
            "DELETE FROM telemetry_locks WHERE (event_type, period_ending_at) IN (
                 SELECT event_type, period_ending_at FROM telemetry_locks WHERE period_ending_at < $1
                 ORDER BY period_ending_at LIMIT $2)"
        }
        PurgeTarget::TelemetrySnapshots => {
            "DELETE FROM telemetry_snapshots WHERE id IN (
                 SELECT id FROM telemetry_snapshots WHERE collected_at < $1 ORDER BY collected_at LIMIT $2)"
        }
        PurgeTarget::AuditConnectionEvents => {
            "DELETE FROM audit_logs WHERE id IN (
                 SELECT id FROM audit_logs WHERE time < $1 AND action IN ('connect', 'disconnect', 'open', 'close')
                 ORDER BY time LIMIT $2)"
        }
        PurgeTarget::AuditLogs => {
            "DELETE FROM audit_logs WHERE id IN (
                 SELECT id FROM audit_logs WHERE time < $1 AND action NOT IN ('connect', 'disconnect', 'open', 'close')
                 ORDER BY time LIMIT $2)"
        }
    }
}

impl MaintenanceStore for PgTx<'_> {
    fn upsert_replica(&self, r: &ReplicaRow) -> Result<()> {
        self.exec(
            "upsert replica",
            "INSERT INTO replicas (id, hostname, pid, version, started_at, updated_at, stopped_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, pid = excluded.pid, version = excluded.version,
                 started_at = excluded.started_at, updated_at = excluded.updated_at, stopped_at = excluded.stopped_at",
            &[&r.id, &r.hostname, &r.pid, &r.version, &r.started_at, &r.updated_at, &r.stopped_at],
        )
    }

    fn heartbeat_replica(&self, id: &str, now: Timestamp) -> Result<bool> {
        let sql = "UPDATE replicas SET updated_at = $2 WHERE id = $1";
        Ok(self.exec_count("heartbeat replica", sql, &[&id, &now])? == 1)
    }

    fn delete_replica(&self, id: &str) -> Result<()> {
        self.exec("delete replica", "DELETE FROM replicas WHERE id = $1", &[&id])
    }

    fn list_replicas(&self) -> Result<Vec<ReplicaRow>> {
        let sql = format!("SELECT {REPLICA_COLUMNS} FROM replicas ORDER BY started_at, id");
        self.all("list replicas", &sql, &[], rows::replica)
    }

    fn delete_replicas_updated_before(&self, before: Timestamp) -> Result<u64> {
        self.execute("delete replicas updated before", "DELETE FROM replicas WHERE updated_at < $1", &[&before])
    }

    fn get_agent_stats_purge_cutoff(&self, now: Timestamp) -> Result<Option<Timestamp>> {
        let op = "get agent stats purge cutoff";
        let cutoff = self.one(
            op,
            "SELECT LEAST(
                 (SELECT COALESCE(MAX(start_time) - interval '1 day', $1::timestamptz - interval '180 days')
                  FROM template_usage_stats),
                 (SELECT MIN(created_at) + interval '4 hours' FROM workspace_agent_stats))",
            &[&now],
            |r| r.opt_time(0),
        )?;
        let has_stats = self.one(op, "SELECT EXISTS (SELECT 1 FROM workspace_agent_stats)", &[], |r| r.bool(0))?;
        Ok(cutoff.filter(|_| has_stats))
    }

    fn purge_rows(&self, target: PurgeTarget, before: Timestamp, limit: u32) -> Result<u64> {
        self.execute("purge rows", purge_sql(target), &[&before, &i64::from(limit)])
    }
}
