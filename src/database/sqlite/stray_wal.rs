//! A `-wal` beside the database that no process holds is replayed into the database by the
//! next connection. After a crash that is the database's own log and must be replayed; a
//! log from another database (a file copied or restored without its log, a stale one left
//! beside it) would write that database's pages into this one. Before any connection opens
//! such a file, the replay is tried on a private copy of both files and the copy's
//! `integrity_check` decides: a log that corrupts it is refused, naming both files, and both
//! are left untouched.
//!
//! Safe beside SQLite's locks: the files are read (copied) only when no process holds a
//! lock on the database, its `-wal` or its `-shm` (Linux's `/proc/locks`), so this process
//! has no connection to it whose locks closing a descriptor could drop.

use std::collections::HashSet;
use std::path::Path;
use std::path::PathBuf;

use rusqlite::Connection;

use crate::database::Error;
use crate::database::Result;

/// A log holds frames once it is longer than its 32-byte header.
const WAL_HEADER_BYTES: u64 = 32;

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut text = path.as_os_str().to_owned();
    text.push(suffix);
    PathBuf::from(text)
}

/// Inode numbers of every file some process holds a POSIX or OFD lock on (`/proc/locks`:
/// `N: POSIX ADVISORY READ PID MAJ:MIN:INODE START END`). `None` when it cannot be read.
fn locked_inodes() -> Option<HashSet<u64>> {
    let text = std::fs::read_to_string("/proc/locks").ok()?;
    Some(parse_locked_inodes(&text))
}

fn parse_locked_inodes(text: &str) -> HashSet<u64> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().filter(|f| *f != "->").collect();
            // The device:inode field is the one with two colons.
            fields.iter().find(|f| f.matches(':').count() == 2)?.rsplit(':').next()?.parse().ok()
        })
        .collect()
}

/// Refuses to open `db` when an unheld `-wal` beside it would corrupt it (see the module
/// docs). Nothing to check: no log, an empty one, or one a live process holds.
pub(crate) fn refuse_stray_wal(db: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let wal = with_suffix(db, "-wal");
    let (Ok(wal_meta), Ok(db_meta)) = (std::fs::metadata(&wal), std::fs::metadata(db)) else { return Ok(()) };
    if wal_meta.len() <= WAL_HEADER_BYTES || db_meta.len() == 0 {
        return Ok(());
    }
    let mut ours = vec![db_meta.ino(), wal_meta.ino()];
    if let Ok(shm) = std::fs::metadata(with_suffix(db, "-shm")) {
        ours.push(shm.ino());
    }
    // Without /proc/locks, nothing tells a live log from an abandoned one: leave it to SQLite.
    let Some(locked) = locked_inodes() else { return Ok(()) };
    if ours.iter().any(|inode| locked.contains(inode)) {
        return Ok(());
    }
    if let Some(mismatch) = salts_disagree(db, &wal) {
        return Err(foreign(db, &wal, &mismatch));
    }
    let verdict = match replay_on_a_copy(db, &wal) {
        Ok(verdict) => verdict,
        Err(error) => {
            // No room for the copy (a read-only directory, a full disk): SQLite replays as
            // it always has.
            tracing::warn!(wal = %wal.display(), %error, "could not check the write-ahead log before replaying it");
            return Ok(());
        }
    };
    if verdict == "ok" {
        tracing::info!(wal = %wal.display(), "replaying the write-ahead log left by a process that stopped");
        return Ok(());
    }
    let problems: Vec<&str> = verdict.split("; ").collect();
    let first = match problems.len() {
        1 => problems[0].to_owned(),
        n => format!("{} and {} more problems", problems[0], n - 1),
    };
    Err(foreign(db, &wal, &first))
}

/// The refusal for a log that is not the database's.
fn foreign(db: &Path, wal: &Path, first: &str) -> Error {
    Error::Open {
        path: db.to_owned(),
        message: format!(
            "the write-ahead log {wal} beside it does not belong to it: replaying it would corrupt the database \
             ({first}). Both files are untouched. If the log is stray (copied or restored from elsewhere), move it \
             away (`mv {wal} {wal}.stray`) and run the command again; if it is this database's own, restore the \
             database from a backup",
            wal = wal.display()
        ),
    }
}

/// The salts of a log's header (bytes 16..24) and those the wal-index in `-shm` recorded for
/// the log the database was using (its header's `aSalt`, bytes 32..40, copied byte for byte
/// from the log's header): a crashed process leaves both, and they agree for its own log. A
/// log copied in beside them does not. `None` when they agree or there is no index to ask.
fn salts_disagree(db: &Path, wal: &Path) -> Option<String> {
    use std::io::Read;
    let read = |path: &Path, n: usize| -> Option<Vec<u8>> {
        let mut buf = vec![0u8; n];
        std::fs::File::open(path).ok()?.read_exact(&mut buf).ok()?;
        Some(buf)
    };
    let shm = read(&with_suffix(db, "-shm"), 48)?;
    let header = read(wal, 32)?;
    let word = |b: &[u8], at: usize| [b[at], b[at + 1], b[at + 2], b[at + 3]];
    let is_init = shm[12] != 0;
    let max_frame = u32::from_ne_bytes(word(&shm, 16));
    if !is_init || max_frame == 0 {
        return None;
    }
    let index = (u32::from_be_bytes(word(&shm, 32)), u32::from_be_bytes(word(&shm, 36)));
    let log = (u32::from_be_bytes(word(&header, 16)), u32::from_be_bytes(word(&header, 20)));
    (index != log).then(|| {
        format!(
            "its salts {:08x}-{:08x} are not those the database's index recorded, {:08x}-{:08x}",
            log.0, log.1, index.0, index.1
        )
    })
}

/// The deployment ID a coderlite database holds (set once, at its first setup), if any.
fn deployment_id(conn: &Connection) -> Option<String> {
    conn.query_row("SELECT value FROM site_configs WHERE key = 'deployment_id'", [], |r| r.get(0)).ok()
}

/// The deployment ID of the database file alone, its log ignored (`immutable`: no lock, no
/// log replayed, nothing written).
fn deployment_id_without_log(db: &Path) -> Option<String> {
    let text = db.to_str()?;
    let escaped = text.replace('%', "%25").replace('?', "%3f").replace('#', "%23");
    let conn = Connection::open_with_flags(
        format!("file:{escaped}?immutable=1"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
    )
    .ok()?;
    deployment_id(&conn)
}

/// Copies both files into a private directory, lets SQLite replay the log into the copy, and
/// answers what is wrong with the result (`ok` when nothing): its `integrity_check`, and
/// whether the replay changed the deployment ID, which a database's own log never does (a log
/// of another coderlite database can leave a well-formed file that is the other database).
fn replay_on_a_copy(db: &Path, wal: &Path) -> std::result::Result<String, String> {
    // Beside the database (the same file system has room for a copy of it), else in the
    // system's temporary directory.
    let parent = db.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let dir = tempfile::Builder::new()
        .prefix(".coderlite-wal-check-")
        .tempdir_in(parent)
        .or_else(|_| tempfile::tempdir())
        .map_err(|e| e.to_string())?;
    let copy = dir.path().join("check.db");
    std::fs::copy(db, &copy).map_err(|e| format!("copy {}: {e}", db.display()))?;
    std::fs::copy(wal, with_suffix(&copy, "-wal")).map_err(|e| format!("copy {}: {e}", wal.display()))?;
    let conn = Connection::open(&copy).map_err(|e| e.to_string())?;
    let rows: rusqlite::Result<Vec<String>> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut stmt| stmt.query_map([], |r| r.get::<_, String>(0))?.collect());
    // A log SQLite cannot even replay is as foreign as one that corrupts the copy.
    let integrity = match rows {
        Ok(rows) => rows.join("; "),
        Err(e) => return Ok(e.to_string()),
    };
    if integrity != "ok" {
        return Ok(integrity);
    }
    Ok(match (deployment_id_without_log(db), deployment_id(&conn)) {
        (Some(before), after) if after.as_deref() != Some(before.as_str()) => format!(
            "it holds another coderlite deployment ({}, this database is {before})",
            after.unwrap_or_else(|| "none".to_owned())
        ),
        _ => integrity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_are_read_by_inode() {
        let text = "1: POSIX  ADVISORY  READ 4242 00:2e:123456 128 128\n\
                    2: OFDLCK ADVISORY  WRITE -1 08:01:98765 0 EOF\n\
                    3: -> POSIX  ADVISORY  WRITE 4243 00:2e:123456 0 EOF\n";
        let inodes = parse_locked_inodes(text);
        assert_eq!(inodes, HashSet::from([123456, 98765]));
    }
}
