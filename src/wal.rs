//! WAL hygiene for SQLite: SQLite's own auto-checkpoint copies committed frames
//! back into the database file, but the `-wal` file keeps its high-water size, and a reader
//! that was mid-snapshot during every auto-checkpoint lets it grow. Every 30 seconds the
//! server runs a passive checkpoint (never waits for anyone); when two checks in a row saw the
//! same log with every frame checkpointed, no write happened in between, and a truncate
//! checkpoint shrinks the file to zero. Every connection also caps the file it leaves behind
//! at [`crate::database::sqlite::WAL_SIZE_LIMIT_BYTES`] when the log restarts.

use std::time::Duration;

use crate::clock::Cancel;
use crate::clock::SharedClock;
use crate::database;
use crate::database::Store;
use crate::database::models::WalStatus;

/// Time between two checks of the log.
pub const WAL_CHECK_INTERVAL: Duration = Duration::from_secs(30);

/// What a check does after its passive checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalAction {
    /// Writes came in since the previous check, or frames are still held back by a reader.
    Nothing,
    /// The log is idle and fully in the database file: truncate it.
    Truncate,
}

/// Decides from the previous check's passive checkpoint and this one's. Idle means the same
/// log (same frame count) at both checks with every frame checkpointed now, and a file to give
/// back.
pub fn next_action(previous: Option<&WalStatus>, current: &WalStatus) -> WalAction {
    let Some(previous) = previous else { return WalAction::Nothing };
    let idle = !current.busy && current.frames == previous.frames && current.checkpointed == current.frames;
    if idle && current.wal_bytes > 0 { WalAction::Truncate } else { WalAction::Nothing }
}

/// One check: a passive checkpoint, then (when idle since `previous`) a truncate checkpoint.
/// `previous` becomes this check's observation. Returns `None` on an engine without a WAL.
pub fn check_once(store: &dyn Store, previous: &mut Option<WalStatus>) -> database::Result<Option<WalAction>> {
    let Some(current) = store.checkpoint_wal(false)? else { return Ok(None) };
    let action = next_action(previous.as_ref(), &current);
    if action == WalAction::Truncate {
        let after = store.checkpoint_wal(true)?;
        if let Some(after) = &after {
            tracing::debug!(
                wal_bytes_before = current.wal_bytes,
                wal_bytes = after.wal_bytes,
                busy = after.busy,
                "truncated the write-ahead log"
            );
        }
        *previous = after;
    } else {
        *previous = Some(current);
    }
    Ok(Some(action))
}

/// The WAL service: a check every [`WAL_CHECK_INTERVAL`] until `cancel` fires. Only started
/// on SQLite.
pub fn run_wal_loop(store: &dyn Store, clock: SharedClock, cancel: &Cancel) -> database::Result<()> {
    let mut previous = None;
    loop {
        if !clock.sleep_until(crate::clock::add_duration(clock.now(), WAL_CHECK_INTERVAL), cancel) {
            return Ok(());
        }
        match check_once(store, &mut previous) {
            Ok(_) => {}
            Err(error) if error.is_fatal() => return Err(error),
            Err(error) if !cancel.is_cancelled() => tracing::warn!(%error, "failed to checkpoint the write-ahead log"),
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(frames: i64, checkpointed: i64, wal_bytes: u64) -> WalStatus {
        WalStatus { wal_bytes, busy: false, frames, checkpointed }
    }

    #[test]
    fn truncates_only_a_log_idle_since_the_previous_check() {
        // The first check has nothing to compare with.
        assert_eq!(next_action(None, &status(10, 10, 4096)), WalAction::Nothing);
        // Same log, everything checkpointed, a file to shrink.
        assert_eq!(next_action(Some(&status(10, 10, 4096)), &status(10, 10, 4096)), WalAction::Truncate);
        // Writes since the previous check.
        assert_eq!(next_action(Some(&status(10, 10, 4096)), &status(12, 12, 8192)), WalAction::Nothing);
        // A reader holds frames back.
        assert_eq!(next_action(Some(&status(10, 8, 4096)), &status(10, 8, 4096)), WalAction::Nothing);
        let busy = WalStatus { busy: true, ..status(10, 10, 4096) };
        assert_eq!(next_action(Some(&status(10, 10, 4096)), &busy), WalAction::Nothing);
        // Already empty.
        assert_eq!(next_action(Some(&status(0, 0, 0)), &status(0, 0, 0)), WalAction::Nothing);
    }
}
