//! Registered server replicas and the purge service's bounded deletes.

use postgres::Row;

use crate::clock::Timestamp;
use crate::database::MaintenanceStore;
use crate::database::Result;
use crate::database::models::PurgeTarget;
use crate::database::models::ReplicaRow;
use crate::database::postgres::queries::get;
use crate::database::postgres::statements::PgRow;
use crate::database::postgres::tx::PgTx;
use crate::database::rows;
use crate::database::rows::REPLICA_COLUMNS;

fn replica(op: &'static str, r: &Row) -> Result<ReplicaRow> {
    rows::replica(&PgRow { op, row: r })
}

pub(crate) fn upsert_replica(tx: &PgTx<'_>, r: &ReplicaRow) -> Result<()> {
    let op = "upsert replica";
    tx.execute(
        op,
        "INSERT INTO replicas (id, hostname, pid, version, started_at, updated_at, stopped_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, pid = excluded.pid, version = excluded.version,
             started_at = excluded.started_at, updated_at = excluded.updated_at, stopped_at = excluded.stopped_at",
        &[&r.id, &r.hostname, &r.pid, &r.version, &r.started_at, &r.updated_at, &r.stopped_at],
    )?;
    Ok(())
}

pub(crate) fn heartbeat_replica(tx: &PgTx<'_>, id: &str, now: Timestamp) -> Result<bool> {
    Ok(tx.execute("heartbeat replica", "UPDATE replicas SET updated_at = $2 WHERE id = $1", &[&id, &now])? == 1)
}

pub(crate) fn delete_replica(tx: &PgTx<'_>, id: &str) -> Result<()> {
    tx.execute("delete replica", "DELETE FROM replicas WHERE id = $1", &[&id])?;
    Ok(())
}

pub(crate) fn list_replicas(tx: &PgTx<'_>) -> Result<Vec<ReplicaRow>> {
    let op = "list replicas";
    let rows = tx.query(op, &format!("SELECT {REPLICA_COLUMNS} FROM replicas ORDER BY started_at, id"), &[])?;
    rows.iter().map(|r| replica(op, r)).collect()
}

pub(crate) fn delete_replicas_updated_before(tx: &PgTx<'_>, before: Timestamp) -> Result<u64> {
    tx.execute("delete replicas updated before", "DELETE FROM replicas WHERE updated_at < $1", &[&before])
}

pub(crate) fn get_agent_stats_purge_cutoff(tx: &PgTx<'_>, now: Timestamp) -> Result<Option<Timestamp>> {
    let op = "get agent stats purge cutoff";
    let row = tx.query_one(
        op,
        "SELECT LEAST(
             (SELECT COALESCE(MAX(start_time) - interval '1 day', $1::timestamptz - interval '180 days')
              FROM template_usage_stats),
             (SELECT MIN(created_at) + interval '4 hours' FROM workspace_agent_stats))",
        &[&now],
    )?;
    let has_stats = tx.query_one(op, "SELECT EXISTS (SELECT 1 FROM workspace_agent_stats)", &[])?;
    if !get::<bool>(op, &has_stats, 0)? {
        return Ok(None);
    }
    get(op, &row, 0)
}

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

pub(crate) fn purge_rows(tx: &PgTx<'_>, target: PurgeTarget, before: Timestamp, limit: u32) -> Result<u64> {
    tx.execute("purge rows", purge_sql(target), &[&before, &i64::from(limit)])
}

impl MaintenanceStore for PgTx<'_> {
    run_query! {
        fn upsert_replica(&self, replica: &ReplicaRow) -> Result<()> => upsert_replica;
        fn heartbeat_replica(&self, id: &str, now: Timestamp) -> Result<bool> => heartbeat_replica;
        fn delete_replica(&self, id: &str) -> Result<()> => delete_replica;
        fn list_replicas(&self) -> Result<Vec<ReplicaRow>> => list_replicas;
        fn delete_replicas_updated_before(&self, before: Timestamp) -> Result<u64> => delete_replicas_updated_before;
        fn get_agent_stats_purge_cutoff(&self, now: Timestamp) -> Result<Option<Timestamp>> => get_agent_stats_purge_cutoff;
        fn purge_rows(&self, target: PurgeTarget, before: Timestamp, limit: u32) -> Result<u64> => purge_rows;
    }
}
