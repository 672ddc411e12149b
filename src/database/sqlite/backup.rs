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
    /// Temporary files of interrupted earlier backups to the same destination, removed.
    pub removed_partials: Vec<PathBuf>,
}

const PARTIAL_MARK: &str = ".partial-";

/// The files SQLite may write beside a database file, with what they are.
const COMPANIONS: [(&str, &str); 4] = [
    ("", "the database"),
    ("-wal", "the database's write-ahead log"),
    ("-shm", "the database's shared-memory index"),
    ("-journal", "the database's rollback journal"),
];

/// `path` with `suffix` appended to its file name (`db` + `-wal`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut text = path.as_os_str().to_owned();
    text.push(suffix);
    PathBuf::from(text)
}

/// A temporary name beside `dest` (same directory, so the rename is atomic), marked with this
/// process's ID so that a later backup can tell an abandoned one.
pub fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().map(|n| n.to_owned()).unwrap_or_default();
    name.push(format!("{PARTIAL_MARK}{}", std::process::id()));
    dest.with_file_name(name)
}

/// The temporary file of a backup to `dest` and what SQLite may write beside it: what to
/// remove when the backup is interrupted.
pub fn partial_files(dest: &Path) -> Vec<PathBuf> {
    let partial = partial_path(dest);
    COMPANIONS.iter().map(|(suffix, _)| with_suffix(&partial, suffix)).collect()
}

/// `path` made absolute with every symlink resolved, also when the file itself does not exist
/// yet (its directory is resolved). A `stat`/`readlink` walk, never an open.
fn resolved(path: &Path) -> PathBuf {
    if let Ok(p) = std::fs::canonicalize(path) {
        return p;
    }
    let absolute = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_owned())
    };
    match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => std::fs::canonicalize(parent).map(|p| p.join(name)).unwrap_or(absolute),
        _ => absolute,
    }
}

/// What `path` is of the database at `db`, if it is the database or one of the files SQLite
/// keeps beside it: by path (relative parts and symlinks resolved) or by inode (hard links).
/// Writing over any of them destroys committed data, `--force` or not.
pub fn database_file_role(path: &Path, db: &Path) -> Option<&'static str> {
    let target = resolved(path);
    COMPANIONS.iter().find_map(|(suffix, role)| {
        let file = with_suffix(db, suffix);
        (target == resolved(&file) || same_file(path, &file)).then_some(*role)
    })
}

/// Refuses to write `path` when it is one of the database's own files (see
/// [`database_file_role`]).
pub fn refuse_database_file(path: &Path, db: &Path) -> Result<()> {
    match database_file_role(path, db) {
        Some(role) => Err(Error::Open {
            path: path.to_owned(),
            message: format!("is {role} ({}); choose another path (refused with or without --force)", db.display()),
        }),
        None => Ok(()),
    }
}

/// The files beside `path` named `<path's name><mark><rest>`, with their `rest`, sorted.
fn siblings_marked(path: &Path, mark: &str) -> Vec<(String, PathBuf)> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return Vec::new() };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let prefix = format!("{name}{mark}");
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut found: Vec<(String, PathBuf)> = entries
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.strip_prefix(&prefix)?.to_owned(), e.path())))
        .collect();
    found.sort_by(|a, b| a.1.cmp(&b.1));
    found
}

/// Removes the temporary files that interrupted backups to `dest` left (`DEST.partial-<pid>`
/// of a process that no longer runs, with any `-journal` beside it); returns them.
pub fn sweep_abandoned_partials(dest: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for (rest, path) in siblings_marked(dest, PARTIAL_MARK) {
        let pid = COMPANIONS.iter().find_map(|(suffix, _)| rest.strip_suffix(suffix)?.parse::<u32>().ok());
        let Some(pid) = pid else { continue };
        let alive = pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
        if !alive && std::fs::remove_file(&path).is_ok() {
            removed.push(path);
        }
    }
    removed
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

/// A read-only connection to a database file no process writes (a backup, a restore
/// source) that leaves nothing beside it: without a write-ahead log of its own it is opened
/// `immutable` (no `-wal`, no `-shm`, no locks: a read-only directory is fine); with one, the
/// `-shm` SQLite then needs is removed again by [`close_file`]. An unreadable file is named
/// with the operating system's reason.
fn open_file(path: &Path) -> Result<(Connection, bool)> {
    let open_error = |message: String| Error::Open { path: path.to_owned(), message };
    // An open of a file this process has no connection to (SPEC's rule is about the
    // database's own files): the OS's reason for an unreadable one.
    std::fs::File::open(path).map_err(|e| open_error(e.to_string()))?;
    let has_log = std::fs::metadata(with_suffix(path, "-wal")).is_ok_and(|m| m.len() > 0);
    let shm_existed = with_suffix(path, "-shm").exists();
    let conn = if has_log {
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
    } else {
        let text = path.to_str().ok_or_else(|| open_error("the path is not UTF-8".to_owned()))?;
        let escaped = text.replace('%', "%25").replace('?', "%3f").replace('#', "%23");
        Connection::open_with_flags(
            format!("file:{escaped}?immutable=1"),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
        )
    }
    .map_err(|e| {
        let why = if has_log && !shm_existed {
            format!("{e}: it has a write-ahead log, and its directory must be writable to read that")
        } else {
            e.to_string()
        };
        open_error(why)
    })?;
    Ok((conn, has_log && !shm_existed))
}

/// Closes a connection of [`open_file`], removing the `-shm` it created.
fn close_file(path: &Path, conn: Connection, created_shm: bool) {
    drop(conn);
    if created_shm {
        let _ = std::fs::remove_file(with_suffix(path, "-shm"));
    }
}

/// `PRAGMA integrity_check` of the file at `path`, opened read-only on its own connection
/// that leaves nothing beside the file.
pub fn check_file(path: &Path) -> Result<(i64, String)> {
    let (conn, created_shm) = open_file(path)?;
    let checked = integrity_and_version(&conn);
    close_file(path, conn, created_shm);
    checked
}

fn integrity_and_version(conn: &Connection) -> Result<(i64, String)> {
    let op = "check database file";
    let integrity: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .op(op)?
        .query_map([], |r| r.get(0))
        .op(op)?
        .collect::<rusqlite::Result<_>>()
        .op(op)?;
    let version = migrate::applied_schema_version(conn)?;
    Ok((version, integrity.join("; ")))
}

impl SqliteStore {
    /// A consistent copy of the database at `dest` (see the module docs). An existing
    /// `dest` is refused unless `force`. `progress` is called about once a second with the
    /// bytes written so far.
    pub fn backup_to(&self, dest: &Path, force: bool, progress: &(dyn Fn(u64) + Sync)) -> Result<BackupReport> {
        let op = "backup";
        refuse_database_file(dest, self.path())?;
        if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.is_dir()
        {
            return Err(Error::Open {
                path: dest.to_owned(),
                message: format!("its directory {} does not exist", parent.display()),
            });
        }
        if dest.exists() && !force {
            return Err(Error::Open {
                path: dest.to_owned(),
                message: "exists already (use --force to replace it)".to_owned(),
            });
        }
        let started = Instant::now();
        let removed_partials = sweep_abandoned_partials(dest);
        let partial = partial_path(dest);
        for file in partial_files(dest) {
            let _ = std::fs::remove_file(file);
        }
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
            Ok(bytes) => Ok(BackupReport { dest: dest.to_owned(), bytes, took: started.elapsed(), removed_partials }),
            Err(e) => {
                // Never leave a partial copy behind (a full disk, a file-size limit).
                for file in partial_files(dest) {
                    let _ = std::fs::remove_file(file);
                }
                Err(e)
            }
        }
    }
}

const KEEP_MARK: &str = ".before-restore";

/// Where `db restore` keeps the database it replaces: `DB.before-restore-<RFC 3339 time>`, a
/// new name for each restore, so that restores in a row keep every earlier database.
pub fn keep_copy_path(db: &Path, at: crate::clock::Timestamp) -> PathBuf {
    with_suffix(db, &format!("{KEEP_MARK}-{}", crate::clock::format_rfc3339(at)))
}

/// The copies restores kept of `db` (also the undated `DB.before-restore` of older
/// versions), oldest first.
pub fn keep_copies(db: &Path) -> Vec<PathBuf> {
    siblings_marked(db, KEEP_MARK)
        .into_iter()
        // Not the keep copy's own -wal/-shm names (the copy is a plain file).
        .filter(|(rest, _)| {
            rest.is_empty() || (rest.starts_with('-') && !rest.ends_with("-wal") && !rest.ends_with("-shm"))
        })
        .map(|(_, path)| path)
        .collect()
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
    if let Some(role) = database_file_role(src, target) {
        return Err(Error::Open { path: src.to_owned(), message: format!("is {role} being restored") });
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
    create_private_file(target).map_err(|e| Error::Open { path: target.to_owned(), message: e.to_string() })?;
    let (source, created_shm) = open_file(src)?;
    let copied = copy_pages(&source, target, busy_timeout);
    close_file(src, source, created_shm);
    copied
}

fn copy_pages(source: &Connection, target: &Path, busy_timeout: Duration) -> Result<()> {
    let op = "restore";
    let mut conn =
        Connection::open(target).map_err(|e| Error::Open { path: target.to_owned(), message: e.to_string() })?;
    conn.busy_timeout(busy_timeout).op(op)?;
    {
        // All pages in one step (-1): the source is a file nobody writes, and the target's
        // busy handler waits for its lock; a step that still meets a lock is retried.
        let backup = rusqlite::backup::Backup::new(source, &mut conn).op(op)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_and_its_companions_are_named_by_path_and_link() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("y.db");
        std::fs::write(&db, b"x").unwrap();
        std::fs::write(with_suffix(&db, "-wal"), b"x").unwrap();
        assert_eq!(database_file_role(&db, &db), Some("the database"));
        assert_eq!(database_file_role(&dir.path().join("y.db-wal"), &db), Some("the database's write-ahead log"));
        assert_eq!(database_file_role(&dir.path().join("y.db-shm"), &db), Some("the database's shared-memory index"));
        assert_eq!(database_file_role(&dir.path().join("./sub/../y.db-journal"), &db), None, "no sub directory");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert_eq!(
            database_file_role(&dir.path().join("sub/../y.db-journal"), &db),
            Some("the database's rollback journal")
        );
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(with_suffix(&db, "-wal"), &link).unwrap();
        assert_eq!(database_file_role(&link, &db), Some("the database's write-ahead log"));
        let hard = dir.path().join("hard");
        std::fs::hard_link(&db, &hard).unwrap();
        assert_eq!(database_file_role(&hard, &db), Some("the database"));
        assert_eq!(database_file_role(&dir.path().join("y.db.bak"), &db), None);
    }

    #[test]
    fn only_partials_of_dead_processes_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("b.db");
        let dead = dir.path().join("b.db.partial-999999999");
        let dead_journal = dir.path().join("b.db.partial-999999999-journal");
        let mine = partial_path(&dest);
        let other = dir.path().join("c.db.partial-999999999");
        for f in [&dead, &dead_journal, &mine, &other] {
            std::fs::write(f, b"x").unwrap();
        }
        assert_eq!(sweep_abandoned_partials(&dest), vec![dead.clone(), dead_journal.clone()]);
        assert!(mine.exists() && other.exists() && !dead.exists());
    }
}
