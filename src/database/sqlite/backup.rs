//! `db backup` and `db restore` of a SQLite database while servers may run on it.
//!
//! Backup: one `VACUUM INTO` (a single read snapshot: a stepwise backup would restart on
//! every write of a running server and might never finish) into a temporary name beside the
//! destination, an integrity check of the copy, mode 0600, then a rename: a failure (a full
//! disk) leaves no partial destination. Restore: the source is checked (integrity, a
//! coderlite schema no newer than this binary's), the current target is kept as
//! `<db>.before-restore`, and SQLite's backup API writes the source into the target through
//! the target's own locks and write-ahead log, so no connection or outside client ever sees
//! a half-replaced file and no stale `-wal` is replayed into it. The restored database's
//! leases and registered servers are cleared: they belonged to the backup's processes.

use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;
use std::time::Instant;

use rusqlite::Connection;
use rusqlite::OpenFlags;

use crate::database::Error;
use crate::database::Result;
use crate::database::sqlite::SqliteStore;
use crate::database::sqlite::create_private_file;
use crate::database::sqlite::errors::OpContext;
use crate::database::sqlite::migrate;

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub dest: PathBuf,
    pub bytes: u64,
    pub took: Duration,
}

/// A temporary name beside `dest` (same directory, so the rename is atomic).
fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().map(|n| n.to_owned()).unwrap_or_default();
    name.push(format!(".partial-{}", std::process::id()));
    dest.with_file_name(name)
}

/// Whether `a` names the file `b` names (the same device and inode: relative paths, symlinks
/// and hard links included). A `stat`, never an open.
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// Syncs the directory holding `path`, so a rename into it survives a crash.
fn sync_parent_dir(path: &Path) -> std::io::Result<()> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(parent)?.sync_all()
}

/// `PRAGMA integrity_check` of the file at `path`, opened read-only on its own connection.
pub fn check_file(path: &Path) -> Result<(i64, String)> {
    let op = "check database file";
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| Error::Open { path: path.to_owned(), message: e.to_string() })?;
    let integrity: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .op(op)?
        .query_map([], |r| r.get(0))
        .op(op)?
        .collect::<rusqlite::Result<_>>()
        .op(op)?;
    let version = migrate::applied_schema_version(&conn)?;
    Ok((version, integrity.join("; ")))
}

impl SqliteStore {
    /// A consistent copy of the database at `dest` (see the module docs). An existing
    /// `dest` is refused unless `force`. `progress` is called about once a second with the
    /// bytes written so far.
    pub fn backup_to(&self, dest: &Path, force: bool, progress: &(dyn Fn(u64) + Sync)) -> Result<BackupReport> {
        let op = "backup";
        if same_file(dest, self.path()) {
            return Err(Error::Open { path: dest.to_owned(), message: "is the database itself".to_owned() });
        }
        if dest.exists() && !force {
            return Err(Error::Open {
                path: dest.to_owned(),
                message: "exists already (use --force to replace it)".to_owned(),
            });
        }
        let started = Instant::now();
        let partial = partial_path(dest);
        let _ = std::fs::remove_file(&partial);
        let done = std::sync::atomic::AtomicBool::new(false);
        let written = std::thread::scope(|scope| {
            scope.spawn(|| {
                let mut last = 0;
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(200));
                    let size = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
                    if size != last && started.elapsed() > Duration::from_secs(1) {
                        progress(size);
                        last = size;
                    }
                }
            });
            let res = self.vacuum_into(&partial);
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            res
        });
        let finish = || -> Result<u64> {
            written?;
            let (_, integrity) = check_file(&partial)?;
            if integrity != "ok" {
                return Err(Error::Corrupt {
                    op,
                    message: format!("the copy failed its integrity check: {integrity}"),
                });
            }
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| Error::Open { path: partial.clone(), message: e.to_string() })?;
            std::fs::rename(&partial, dest)
                .map_err(|e| Error::Open { path: dest.to_owned(), message: e.to_string() })?;
            // The rename is durable only once the directory is synced: a crash must not leave a
            // --force backup with neither the old nor the new copy.
            sync_parent_dir(dest).map_err(|e| Error::Open { path: dest.to_owned(), message: e.to_string() })?;
            Ok(std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0))
        };
        match finish() {
            Ok(bytes) => Ok(BackupReport { dest: dest.to_owned(), bytes, took: started.elapsed() }),
            Err(e) => {
                // Never leave a partial copy behind (a full disk, a file-size limit).
                let _ = std::fs::remove_file(&partial);
                Err(e)
            }
        }
    }
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    /// The restored database's schema version (older than the binary's: migrated at the next
    /// start).
    pub schema_version: i64,
    /// Where the replaced database was kept, if there was one.
    pub kept: Option<PathBuf>,
    pub took: Duration,
}

/// Checks a restore source: a coderlite database that passes its integrity check, no newer
/// than this binary. Returns its schema version.
pub fn check_restore_source(src: &Path, binary_version: i64) -> Result<i64> {
    if !src.is_file() {
        return Err(Error::NoDatabase { path: src.to_owned() });
    }
    let (version, integrity) = check_file(src)?;
    if integrity != "ok" {
        return Err(Error::Corrupt { op: "check restore source", message: integrity });
    }
    if version == 0 {
        return Err(Error::NoDatabase { path: src.to_owned() });
    }
    if version > binary_version {
        return Err(Error::SchemaTooNew { db: version, binary: binary_version });
    }
    Ok(version)
}

/// Writes `src` into the database at `target` through SQLite's backup API (the target's own
/// locks and log; created with mode 0600 when missing). `kept` is where the caller kept the
/// replaced database.
pub fn restore_into(src: &Path, target: &Path, kept: Option<PathBuf>, busy_timeout: Duration) -> Result<RestoreReport> {
    let started = Instant::now();
    if same_file(src, target) {
        return Err(Error::Open { path: src.to_owned(), message: "is the database itself".to_owned() });
    }
    let version = check_restore_source(src, migrate::binary_schema_version())?;
    let created = !target.exists();
    let restored = write_backup(src, target, busy_timeout);
    if restored.is_err() && created {
        // Nothing usable was there before: leave nothing rather than an empty file that the
        // next command would take for a database without coderlite's schema.
        for suffix in ["", "-wal", "-shm"] {
            let mut path = target.as_os_str().to_owned();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
    restored?;
    Ok(RestoreReport { schema_version: version, kept, took: started.elapsed() })
}

/// The copy of [`restore_into`]: `src` read through a read-only connection (nothing is
/// written beside the backup file), written in one step into `target`, whose leases and
/// registered servers are then cleared. Every connection is closed on return.
fn write_backup(src: &Path, target: &Path, busy_timeout: Duration) -> Result<()> {
    let op = "restore";
    create_private_file(target).map_err(|e| Error::Open { path: target.to_owned(), message: e.to_string() })?;
    let source = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| Error::Open { path: src.to_owned(), message: e.to_string() })?;
    let mut conn =
        Connection::open(target).map_err(|e| Error::Open { path: target.to_owned(), message: e.to_string() })?;
    conn.busy_timeout(busy_timeout).op(op)?;
    {
        // All pages in one step (-1): the source is a file nobody writes, and the target's
        // busy handler waits for its lock; a step that still meets a lock is retried.
        let backup = rusqlite::backup::Backup::new(&source, &mut conn).op(op)?;
        let deadline = Instant::now() + busy_timeout;
        loop {
            match backup.step(-1).op(op)? {
                rusqlite::backup::StepResult::Done => break,
                rusqlite::backup::StepResult::More => continue,
                _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                _ => return Err(Error::Busy { op }),
            }
        }
    }
    drop(source);
    // Leases and registered servers belong to the processes of the database the backup was
    // taken from: none of them runs on the restored one.
    let has_replicas: bool = conn
        .query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'replicas')", [], |r| {
            r.get(0)
        })
        .op(op)?;
    let clear = if has_replicas { "DELETE FROM replicas; DELETE FROM locks;" } else { "DELETE FROM locks;" };
    conn.execute_batch(clear).op(op)?;
    // The restored file keeps the target's WAL mode; a checkpoint folds the copy in now.
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA wal_checkpoint(TRUNCATE);").op("restore")?;
    Ok(())
}
