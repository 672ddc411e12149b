//! Registered server replicas and the purge service's bounded deletes.

use rusqlite::Connection;
use rusqlite::Row;
use rusqlite::params;

use crate::clock::Timestamp;
use crate::clock::from_micros;
use crate::clock::to_micros;
use crate::database::MaintenanceStore;
use crate::database::Result;
use crate::database::models::PurgeTarget;
use crate::database::models::ReplicaRow;
use crate::database::rows;
use crate::database::rows::REPLICA_COLUMNS;
use crate::database::sqlite::errors::OpContext;
use crate::database::sqlite::queries::from_row;
use crate::database::sqlite::queries::opt_micros;
use crate::database::sqlite::tx::SqliteTx;

fn replica_from_row(r: &Row<'_>) -> rusqlite::Result<ReplicaRow> {
    from_row(rows::replica, r)
}

pub(crate) fn upsert_replica(conn: &Connection, r: &ReplicaRow) -> Result<()> {
    let op = "upsert replica";
    conn.prepare_cached(
        "INSERT INTO replicas (id, hostname, pid, version, started_at, updated_at, stopped_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, pid = excluded.pid, version = excluded.version,
             started_at = excluded.started_at, updated_at = excluded.updated_at, stopped_at = excluded.stopped_at",
    )
    .op(op)?
    .execute(params![
        r.id,
        r.hostname,
        r.pid,
        r.version,
        to_micros(r.started_at),
        to_micros(r.updated_at),
        opt_micros(r.stopped_at)
    ])
    .op(op)?;
    Ok(())
}

pub(crate) fn heartbeat_replica(conn: &Connection, id: &str, now: Timestamp) -> Result<bool> {
    let op = "heartbeat replica";
    let n = conn
        .prepare_cached("UPDATE replicas SET updated_at = ?2 WHERE id = ?1")
        .op(op)?
        .execute(params![id, to_micros(now)])
        .op(op)?;
    Ok(n == 1)
}

pub(crate) fn delete_replica(conn: &Connection, id: &str) -> Result<()> {
    let op = "delete replica";
    conn.prepare_cached("DELETE FROM replicas WHERE id = ?1").op(op)?.execute([id]).op(op)?;
    Ok(())
}

pub(crate) fn list_replicas(conn: &Connection) -> Result<Vec<ReplicaRow>> {
    let op = "list replicas";
    conn.prepare_cached(&format!("SELECT {REPLICA_COLUMNS} FROM replicas ORDER BY started_at, id"))
        .op(op)?
        .query_map([], replica_from_row)
        .op(op)?
        .collect::<rusqlite::Result<_>>()
        .op(op)
}

pub(crate) fn delete_replicas_updated_before(conn: &Connection, before: Timestamp) -> Result<u64> {
    let op = "delete replicas updated before";
    let n = conn
        .prepare_cached("DELETE FROM replicas WHERE updated_at < ?1")
        .op(op)?
        .execute([to_micros(before)])
        .op(op)?;
    Ok(n as u64)
}

pub(crate) fn get_agent_stats_purge_cutoff(conn: &Connection, now: Timestamp) -> Result<Option<Timestamp>> {
    let op = "get agent stats purge cutoff";
    let day = 86_400_000_000i64;
    let cutoff: Option<i64> = conn
        .prepare_cached(
            "SELECT MIN(
                 (SELECT COALESCE(MAX(start_time) - ?2, ?1 - 180 * ?2) FROM template_usage_stats),
                 (SELECT MIN(created_at) + 4 * 3600000000 FROM workspace_agent_stats))",
        )
        .op(op)?
        .query_row(params![to_micros(now), day], |r| r.get(0))
        .op(op)?;
    Ok(cutoff.map(from_micros))
}

/// (table, time column, extra condition) of each purge target; the deletes go oldest first
/// through the table's rowid.
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

pub(crate) fn purge_rows(conn: &Connection, target: PurgeTarget, before: Timestamp, limit: u32) -> Result<u64> {
    let op = "purge rows";
    let n = conn.prepare_cached(purge_sql(target)).op(op)?.execute(params![to_micros(before), limit]).op(op)?;
    Ok(n as u64)
}

impl MaintenanceStore for SqliteTx<'_> {
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
