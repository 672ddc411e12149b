//! Servers register themselves as upstream's replicas do: a `replicas` row per running server
//! (replica ID, hostname, pid, version, start, a heartbeat every 5 seconds), deleted on a clean
//! shutdown; a row whose heartbeat is older than three intervals is a server that is gone
//! (the purge service deletes it). Leases are held for milliseconds per cycle, so they cannot
//! tell whether a server runs; this can.
//!
//! `db restore` registers too, under an ID starting `restore:`, in the same write transaction
//! that finds no server running, and a server registering finds it there and refuses: one of
//! the two always sees the other, so no server starts on a file while a restore replaces it.
//! The restore holds the writer for its whole copy and cannot move a heartbeat, so its row
//! is live while its process runs (same host), whatever its heartbeat says.

use std::time::Duration;

use crate::clock::Cancel;
use crate::clock::SharedClock;
use crate::clock::Timestamp;
use crate::clock::sub_duration;
use crate::database;
use crate::database::Store;
use crate::database::TxOptions;
use crate::database::models::ReplicaRow;

/// How often a server moves its heartbeat (upstream's replica update interval).
pub const REPLICA_HEARTBEAT: Duration = Duration::from_secs(5);

/// A replica whose heartbeat is older than this is gone (three missed heartbeats).
pub const REPLICA_STALE_AFTER: Duration = Duration::from_secs(15);

/// This machine's name, for the replica row.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The ID prefix of a restore's row.
pub const RESTORE_ID_PREFIX: &str = "restore:";

fn this_process(id: &str, now: Timestamp) -> ReplicaRow {
    ReplicaRow {
        id: id.to_owned(),
        hostname: hostname(),
        pid: i64::from(std::process::id()),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at: now,
        updated_at: now,
        stopped_at: None,
    }
}

/// Registers this process as replica `id`, in one write transaction with the check that no
/// restore is replacing the database (`RestoreInProgress`).
pub fn register(store: &dyn Store, id: &str) -> database::Result<ReplicaRow> {
    database::in_tx(store, TxOptions::write("register replica"), |tx| {
        let now = tx.clock().now();
        if let Some(r) = restore_in_progress(&tx.list_replicas()?, now, &hostname(), process_exists) {
            return Err(restore_error(r));
        }
        let row = this_process(id, now);
        tx.upsert_replica(&row)?;
        Ok(row)
    })
}

/// Registers a restore about to replace the database: refused (`RestoreInProgress`, or
/// `ServerRunning`) while another restore or a live server is registered. Returns the row's ID;
/// the restore's copy deletes every replica row, this one with them, and a restore that fails
/// first deletes it with [`deregister`].
pub fn register_restore(store: &dyn Store) -> database::Result<String> {
    let id = format!("{RESTORE_ID_PREFIX}{}", uuid::Uuid::new_v4());
    database::in_tx(store, TxOptions::write("register restore"), |tx| {
        let now = tx.clock().now();
        let rows = tx.list_replicas()?;
        if let Some(r) = restore_in_progress(&rows, now, &hostname(), process_exists) {
            return Err(restore_error(r));
        }
        if let Some(r) = live(&rows, now).first() {
            return Err(database::Error::ServerRunning {
                replica: r.id.clone(),
                hostname: r.hostname.clone(),
                pid: r.pid,
            });
        }
        tx.upsert_replica(&this_process(&id, now))?;
        Ok(id.clone())
    })
}

fn restore_error(r: &ReplicaRow) -> database::Error {
    database::Error::RestoreInProgress { replica: r.id.clone(), hostname: r.hostname.clone(), pid: r.pid }
}

/// Whether process `pid` runs on this machine; `None` where that cannot be told (no /proc).
fn process_exists(pid: i64) -> Option<bool> {
    let proc = std::path::Path::new("/proc");
    proc.join("self").exists().then(|| proc.join(pid.to_string()).exists())
}

/// Removes this process's row (a clean shutdown).
pub fn deregister(store: &dyn Store, id: &str) -> database::Result<()> {
    store.delete_replica(id)
}

/// The servers that are running at `now`: not stopped, heartbeat within three intervals (a
/// restore's row is not a server).
pub fn live(replicas: &[ReplicaRow], now: Timestamp) -> Vec<&ReplicaRow> {
    let after = sub_duration(now, REPLICA_STALE_AFTER);
    replicas
        .iter()
        .filter(|r| !r.id.starts_with(RESTORE_ID_PREFIX) && r.stopped_at.is_none() && r.updated_at >= after)
        .collect()
}

/// The restore replacing the database at `now`, if any: a restore row whose process still
/// runs on this host (`process_exists`; `None`, unknown, falls back to the heartbeat), or,
/// from another host, whose heartbeat is within three intervals.
pub fn restore_in_progress<'a>(
    replicas: &'a [ReplicaRow],
    now: Timestamp,
    this_host: &str,
    process_exists: impl Fn(i64) -> Option<bool>,
) -> Option<&'a ReplicaRow> {
    let after = sub_duration(now, REPLICA_STALE_AFTER);
    replicas.iter().find(|r| {
        if !r.id.starts_with(RESTORE_ID_PREFIX) || r.stopped_at.is_some() {
            return false;
        }
        let running_here = if r.hostname == this_host { process_exists(r.pid) } else { None };
        running_here.unwrap_or(r.updated_at >= after)
    })
}

/// The heartbeat service: moves the row's heartbeat every [`REPLICA_HEARTBEAT`], registering
/// again when the row is gone (the purge deleted it while this process was stalled).
pub fn run_heartbeat_loop(store: &dyn Store, clock: SharedClock, id: &str, cancel: &Cancel) -> database::Result<()> {
    loop {
        if !clock.sleep_until(crate::clock::add_duration(clock.now(), REPLICA_HEARTBEAT), cancel) {
            return Ok(());
        }
        let beat = store.heartbeat_replica(id, clock.now()).and_then(|found| {
            if !found {
                tracing::warn!(replica_id = id, "replica row was gone; registering again");
                register(store, id)?;
            }
            Ok(())
        });
        match beat {
            Ok(()) => {}
            Err(error) if error.is_fatal() => return Err(error),
            // A busy database or a lost connection: the next beat tries again.
            Err(error) if !cancel.is_cancelled() => tracing::warn!(%error, "replica heartbeat"),
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_is_live_until_three_heartbeats_are_missed() {
        let now = chrono::Utc::now();
        let row = |updated: i64, stopped: bool| ReplicaRow {
            id: "r".into(),
            hostname: "h".into(),
            pid: 1,
            version: "v".into(),
            started_at: now,
            updated_at: now - chrono::Duration::seconds(updated),
            stopped_at: stopped.then_some(now),
        };
        let rows = [row(0, false), row(14, false), row(16, false), row(0, true)];
        assert_eq!(live(&rows, now).len(), 2);
    }

    #[test]
    fn a_restore_is_in_progress_while_its_process_runs_here() {
        let now = chrono::Utc::now();
        let restore = |host: &str, pid: i64, updated: i64| ReplicaRow {
            id: format!("{RESTORE_ID_PREFIX}x"),
            hostname: host.into(),
            pid,
            version: "v".into(),
            started_at: now,
            updated_at: now - chrono::Duration::seconds(updated),
            stopped_at: None,
        };
        let alive = |pid: i64| Some(pid == 7);
        // Here: the process decides, whatever the heartbeat says (a long copy moves none).
        assert!(restore_in_progress(&[restore("h", 7, 3600)], now, "h", alive).is_some());
        assert!(restore_in_progress(&[restore("h", 8, 0)], now, "h", alive).is_none(), "a crashed restore");
        // Elsewhere, or where processes cannot be seen: the heartbeat decides.
        assert!(restore_in_progress(&[restore("other", 8, 14)], now, "h", alive).is_some());
        assert!(restore_in_progress(&[restore("other", 7, 16)], now, "h", alive).is_none());
        assert!(restore_in_progress(&[restore("h", 7, 16)], now, "h", |_| None).is_none());
        // A restore row is not a server, and a server's row is not a restore.
        assert!(live(&[restore("h", 7, 0)], now).is_empty());
        let server = ReplicaRow { id: "server".into(), ..restore("h", 7, 0) };
        assert!(restore_in_progress(&[server], now, "h", alive).is_none());
    }
}
