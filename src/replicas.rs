//! Servers register themselves as upstream's replicas do: a `replicas` row per running server
//! (replica ID, hostname, pid, version, start, a heartbeat every 5 seconds), deleted on a clean
//! shutdown; a row whose heartbeat is older than three intervals is a server that is gone
//! (the purge service deletes it). Leases are held for milliseconds per cycle, so they cannot
//! tell whether a server runs; this can.

use std::time::Duration;

use crate::clock::Cancel;
use crate::clock::SharedClock;
use crate::clock::Timestamp;
use crate::clock::sub_duration;
use crate::database;
use crate::database::Store;
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

/// Registers this process as replica `id`.
pub fn register(store: &dyn Store, id: &str) -> database::Result<ReplicaRow> {
    let now = store.clock().now();
    let row = ReplicaRow {
        id: id.to_owned(),
        hostname: hostname(),
        pid: i64::from(std::process::id()),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at: now,
        updated_at: now,
        stopped_at: None,
    };
    store.upsert_replica(&row)?;
    Ok(row)
}

/// Removes this process's row (a clean shutdown).
pub fn deregister(store: &dyn Store, id: &str) -> database::Result<()> {
    store.delete_replica(id)
}

/// The replicas that are running at `now`: not stopped, heartbeat within three intervals.
pub fn live(replicas: &[ReplicaRow], now: Timestamp) -> Vec<&ReplicaRow> {
    let after = sub_duration(now, REPLICA_STALE_AFTER);
    replicas.iter().filter(|r| r.stopped_at.is_none() && r.updated_at >= after).collect()
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
}
