//! The SQLite implementation of [`Store`].
//!
//! Shape: one writer connection behind an in-process mutex, so writers of this
//! process queue in Rust and never spin in SQLite's busy handler; `busy_timeout` only
//! arbitrates between processes. Readers come from a separate pool whose connections are
//! `query_only`, so a write inside a read-only transaction fails instead of silently taking
//! the write lock. Read-only transactions are `BEGIN DEFERRED` (one WAL snapshot, the SQLite
//! analogue of REPEATABLE READ); read-write ones are `BEGIN IMMEDIATE`.
//!
//! Lock rows: leases are rows of `main.locks`, seen by every process. A transaction lock row
//! is never seen outside its transaction, so it lives in the writer connection's in-memory
//! `temp.tx_locks` (see `queries::locks`): the same insert-at-acquire, delete-before-COMMIT,
//! gone-on-ROLLBACK rules, without dirtying a page of the shared file.
//!
//! Weaknesses, stated up front: all writers of all processes serialize on one file lock, so
//! never hold a write transaction open while waiting on something another writer might do.
//! A transaction lock that meets another holder's lease rolls the whole
//! transaction back and re-runs it after a back-off, because waiting inside the write
//! transaction would block the lease holder's own writes.

pub mod backup;
mod copy;
mod errors;
mod migrate;
mod queries;
mod readers;
mod snapshot;
mod statements;
mod stray_wal;
mod tx;

use std::fs::File;
use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex as StdMutex;
use std::sync::MutexGuard;
use std::time::Duration;
use std::time::Instant;

use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;
use rusqlite::OpenFlags;

use crate::clock::SharedClock;
use crate::database::Error;
use crate::database::LeaseBackend;
use crate::database::LeaseGuard;
use crate::database::LockId;
use crate::database::PooledStore;
use crate::database::Result;
use crate::database::TxFn;
use crate::database::TxOptions;
use crate::database::TxStore;
use crate::database::WriteThreadMark;
use crate::database::models::WalStatus;
use crate::database::sqlite::errors::OpContext;
pub use crate::database::sqlite::migrate::binary_schema_version;
pub use crate::database::sqlite::migrate::migrations_fingerprint;
use crate::database::sqlite::readers::ReaderPool;
use crate::database::sqlite::tx::SqliteTx;

/// The size a writer connection truncates the `-wal` file to when the log restarts after a
/// checkpoint (`journal_size_limit`): one large transaction does not leave a large file behind.
pub const WAL_SIZE_LIMIT_BYTES: u64 = 64 * 1024 * 1024;

/// How long a truncate checkpoint waits for readers to leave the old log before giving up;
/// it holds the write lock meanwhile, so writers never stall longer than this for it.
const TRUNCATE_CHECKPOINT_WAIT: Duration = Duration::from_millis(100);

/// SQLite's `synchronous` setting for every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// Durable at checkpoints; a power loss may drop the last transactions, never corrupt.
    Normal,
    /// fsync at every commit.
    Full,
}

impl Synchronous {
    fn as_str(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

/// How to open a store. `new` fills the documented defaults.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub path: PathBuf,
    pub clock: SharedClock,
    /// Names this process in lock and lease holders.
    pub replica_id: String,
    pub synchronous: Synchronous,
    /// How long a connection waits for another process's write lock (default 5 s).
    pub busy_timeout: Duration,
    /// How long `acquire_lock` waits for another holder's lease (default 30 s).
    pub lock_timeout: Duration,
    /// Reader connections kept by the pool (default 8).
    pub max_readers: u32,
    /// Count every statement this store's connections run in `statements_executed` (tests
    /// and diagnostics: proving a cycle's statement count does not grow with the data).
    pub count_statements: bool,
    /// Create and migrate a missing database (default). Off, a missing or never-migrated
    /// file is `NoDatabase`: commands that only read or administer refuse a mistyped path
    /// instead of creating a database there.
    pub create: bool,
}

impl StoreConfig {
    pub fn new(path: impl Into<PathBuf>, clock: SharedClock, replica_id: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            clock,
            replica_id: replica_id.into(),
            synchronous: Synchronous::Normal,
            busy_timeout: Duration::from_secs(5),
            lock_timeout: Duration::from_secs(30),
            max_readers: 8,
            count_statements: false,
            create: true,
        }
    }
}

/// The pool-level store: each `Store` method called on it runs in its own transaction.
/// Cheap to clone; clones share pools and the writer mutex.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    config: StoreConfig,
    /// Before `writer`: the readers are closed (and waited for) before the writer, so the
    /// writer's close is the last and removes the `-wal` and `-shm` (see `readers.rs`).
    readers: ReaderPool,
    /// The writer connection; its mutex is the in-process writer queue. `std::sync::Mutex`
    /// rather than parking_lot's: parking_lot's eventual fairness forces hand-offs between
    /// writer threads, measured at 0.84x the 1-thread throughput with 4 threads on 2 cores,
    /// against 0.93x with the futex-based std mutex (the benchmark's target is >= 0.9x).
    writer: StdMutex<Connection>,
    /// Every live workspace with its sort fields, as of a data generation: the workspace
    /// listing filters and pages it in memory (see `queries::workspaces`).
    pub(crate) workspace_listing: StdMutex<Option<(i64, Arc<Vec<queries::workspaces::ListingEntry>>)>>,
}

impl Inner {
    /// Waits for this process's writer connection. A panic inside a transaction poisons the
    /// mutex, but the transaction guard has rolled back by then, so the connection is sound.
    fn lock_writer(&self) -> MutexGuard<'_, Connection> {
        self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.inner.config.path).finish()
    }
}

impl SqliteStore {
    /// Opens (creating with mode 0600 if absent and `config.create` is set) and migrates the
    /// database at `config.path`. A schema newer than this binary's is refused with
    /// `SchemaTooNew`. Several processes opening one fresh file at once all succeed: every
    /// wait for another process's lock goes through the busy timeout, and an open that still
    /// meets a busy file starts over until the lock timeout.
    pub fn open(config: StoreConfig) -> Result<Self> {
        Self::open_at(config, None)
    }

    /// Opens and migrates only up to `version` (older schemas for upgrade tests).
    pub fn open_at_version(config: StoreConfig, version: i64) -> Result<Self> {
        Self::open_at(config, Some(version))
    }

    fn open_at(config: StoreConfig, target: Option<i64>) -> Result<Self> {
        stray_wal::refuse_stray_wal(&config.path)?;
        let started = Instant::now();
        let mut backoff = Duration::from_millis(5);
        let writer = loop {
            match bootstrap(&config, target) {
                Ok(conn) => break conn,
                Err(Error::Busy { .. }) if started.elapsed() < config.lock_timeout => {
                    // Real time on purpose: this waits on another process.
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(200));
                }
                Err(e) => return Err(e),
            }
        };
        // Once the file is known to be a database: SQLite created any missing `-wal` and
        // `-shm` with the file's mode, so all three are tightened together (by path).
        tighten_permissions(&config.path)?;
        let readers = build_pool(&config, true, config.max_readers)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                readers,
                writer: StdMutex::new(writer),
                workspace_listing: StdMutex::new(None),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.config.path
    }

    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    pub fn clock(&self) -> SharedClock {
        Arc::clone(&self.inner.config.clock)
    }

    /// The `-wal` file's size (0 when there is none). A `stat`, never an open: no descriptor
    /// on the log while connections use it.
    pub fn wal_bytes(&self) -> u64 {
        let mut wal = self.inner.config.path.clone().into_os_string();
        wal.push("-wal");
        std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
    }

    /// Writes a compact, standalone copy of the database to `dest` (`VACUUM INTO`), a new
    /// file of mode 0600 from the start (it holds secrets), synced to disk before returning
    /// (`VACUUM INTO` itself does not sync). On failure `dest` is removed.
    pub fn vacuum_into(&self, dest: &Path) -> Result<()> {
        let op = "vacuum into";
        let io_error = |e: io::Error| Error::Open { path: dest.to_owned(), message: e.to_string() };
        let dest_text =
            dest.to_str().ok_or_else(|| Error::Sqlite { op, message: "destination path is not UTF-8".into() })?;
        // VACUUM INTO accepts an existing empty file: create it private first.
        OpenOptions::new().write(true).create_new(true).mode(0o600).open(dest).map_err(io_error)?;
        let copied = {
            let _mark = WriteThreadMark::enter(op)?;
            let conn = self.inner.lock_writer();
            conn.execute("VACUUM INTO ?1", [dest_text]).op(op).map(|_| ())
        }
        .and_then(|()| File::open(dest).and_then(|f| f.sync_all()).map_err(io_error));
        if copied.is_err() {
            let _ = std::fs::remove_file(dest);
        }
        copied
    }

    fn write_tx(&self, opts: TxOptions, f: &mut TxFn<'_>) -> Result<()> {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(2);
        loop {
            let contended = {
                let _mark = WriteThreadMark::enter(opts.id)?;
                let conn = self.inner.lock_writer();
                let txn = Txn::begin(&conn, "BEGIN IMMEDIATE")?;
                let tx = SqliteTx::new(&conn, opts, &self.inner);
                let res = f(&tx);
                let contended = tx.take_contended();
                match (res, contended) {
                    (Ok(()), _) => {
                        tx.release_transaction_locks()?;
                        drop(tx);
                        txn.commit()?;
                        return Ok(());
                    }
                    (Err(e), None) => return Err(e),
                    // Rolled back when `txn` drops at the end of this block.
                    (Err(_), Some(contended)) => contended,
                }
            };
            let (lock_id, holder) = contended;
            if started.elapsed() >= self.inner.config.lock_timeout {
                return Err(Error::LockNotAvailable {
                    lock_id,
                    holder,
                    timeout_ms: u64::try_from(self.inner.config.lock_timeout.as_millis()).unwrap_or(u64::MAX),
                });
            }
            tracing::debug!(lock_id = lock_id.as_i64(), %holder, tx = opts.id, "lock held as a lease; retrying");
            // Real time on purpose: this waits on another process's progress, which a mock
            // clock would never advance.
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_millis(100));
        }
    }

    fn read_tx(&self, opts: TxOptions, f: &mut TxFn<'_>) -> Result<()> {
        let conn = self.inner.readers.get(opts.id)?;
        let txn = Txn::begin(&conn, "BEGIN DEFERRED")?;
        let tx = SqliteTx::new(&conn, opts, &self.inner);
        f(&tx)?;
        drop(tx);
        txn.commit()
    }

    /// Runs `f` on the writer connection in its own `BEGIN IMMEDIATE` transaction: for the
    /// store's own bookkeeping (leases), which takes no transaction locks.
    fn with_write_conn<T>(&self, op: &'static str, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let _mark = WriteThreadMark::enter(op)?;
        let conn = self.inner.lock_writer();
        let txn = Txn::begin(&conn, "BEGIN IMMEDIATE")?;
        let value = f(&conn)?;
        txn.commit()?;
        Ok(value)
    }
}

/// An open transaction on a connection: rolled back on drop unless committed. BEGIN and
/// COMMIT go through the statement cache (rusqlite's `Transaction` re-prepares them on
/// every call, which is measurable at tens of thousands of transactions per second).
struct Txn<'c> {
    conn: &'c Connection,
    open: bool,
}

impl<'c> Txn<'c> {
    fn begin(conn: &'c Connection, begin: &'static str) -> Result<Self> {
        conn.prepare_cached(begin).and_then(|mut s| s.execute([])).op("begin transaction")?;
        Ok(Self { conn, open: true })
    }

    fn commit(mut self) -> Result<()> {
        let res = self.conn.prepare_cached("COMMIT").and_then(|mut s| s.execute([])).op("commit transaction");
        // A failed COMMIT leaves the transaction open; drop rolls it back.
        self.open = res.is_err();
        res.map(|_| ())
    }
}

impl Drop for Txn<'_> {
    fn drop(&mut self) {
        if self.open
            && !self.conn.is_autocommit()
            && let Err(error) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::error!(%error, "roll back transaction");
        }
    }
}

/// Opens the writer connection: checks the path, sets WAL, migrates. The connection stays on
/// as the writer, its statement cache warm. A file SQLite can only read (its mode, or a
/// directory where the `-wal` and `-shm` cannot be created) is `ReadOnlyDatabase`.
fn bootstrap(config: &StoreConfig, target: Option<i64>) -> Result<Connection> {
    bootstrap_inner(config, target).map_err(|e| match e {
        Error::ReadOnlyTransaction { .. } => Error::ReadOnlyDatabase { path: config.path.clone() },
        other => other,
    })
}

fn bootstrap_inner(config: &StoreConfig, target: Option<i64>) -> Result<Connection> {
    let path = &config.path;
    let open_err = |message: String| Error::Open { path: path.clone(), message };
    if path.is_dir() {
        return Err(open_err("is a directory, not a database file".to_owned()));
    }
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if config.create {
        create_private_file(path).map_err(|e| open_err(e.to_string()))?;
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let mut conn = match Connection::open_with_flags(path, flags) {
        Ok(conn) => conn,
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::CannotOpen => {
            return Err(cannot_open(path).unwrap_or_else(|| Error::NoDatabase { path: path.clone() }));
        }
        Err(e) => return Err(open_err(e.to_string())),
    };
    // The busy timeout comes first: every later statement, the journal-mode switch included,
    // waits for other processes instead of failing with "database is locked".
    init_connection(&conn, config, false).map_err(|e| bootstrap_error(path, e))?;
    if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
        return Err(Error::ReadOnlyDatabase { path: path.clone() });
    }
    // A file that exists but was never migrated is not a coderlite database either.
    if !config.create && migrate::applied_schema_version(&conn)? == 0 {
        return Err(Error::NoDatabase { path: path.clone() });
    }
    // WAL is a property of the file; setting it once here covers every later connection.
    let mode: String =
        conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(|e| bootstrap_error(path, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(open_err(format!("could not enable WAL journal mode (got {mode})")));
    }
    migrate::migrate(&mut conn, target)?;
    conn.execute_batch(queries::locks::CREATE_TX_LOCKS).map_err(|e| bootstrap_error(path, e))?;
    Ok(conn)
}

/// A busy file stays `Busy` (the open starts over); anything else names the file.
fn bootstrap_error(path: &Path, e: rusqlite::Error) -> Error {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::CannotOpen)
        && let Some(unopenable) = cannot_open(path)
    {
        return unopenable;
    }
    let message = e.to_string();
    match errors::interpret("open database", e) {
        busy @ Error::Busy { .. } => busy,
        Error::ReadOnlyTransaction { .. } => Error::ReadOnlyDatabase { path: path.to_owned() },
        _ => Error::Open { path: path.to_owned(), message },
    }
}

/// SQLite's "unable to open database file" for a file that exists: it, its `-wal` or its
/// `-shm` belongs to another user (a server or admin command run as someone else) or its
/// directory is closed. Names the files that exist, found by `stat` alone: never an open
/// beside live connections.
fn cannot_open(path: &Path) -> Option<Error> {
    if !path.exists() {
        return None;
    }
    if on_read_only_file_system(path) {
        return Some(Error::Open {
            path: path.to_owned(),
            message: "the file system holding it is mounted read-only: coderlite writes to every database it \
                      opens (its -wal and -shm files too)"
                .to_owned(),
        });
    }
    let sidecars: Vec<String> = ["-wal", "-shm"]
        .into_iter()
        .map(|suffix| format!("{}{suffix}", path.display()))
        .filter(|sidecar| Path::new(sidecar).exists())
        .collect();
    let what = if sidecars.is_empty() { "the file".to_owned() } else { sidecars.join(" or ") };
    let message = format!(
        "cannot open {what} (owned by another user?): coderlite needs read and write access to the \
         database, its -wal and -shm files and its directory"
    );
    Some(Error::Open { path: path.to_owned(), message })
}

/// Makes an existing database and its `-wal` and `-shm` private (0600) when another user may
/// read them (they hold signing keys and password hashes), warning once per file; refuses to
/// open when that cannot be done (the file is another user's). `chmod` by path: no
/// descriptor is opened.
fn tighten_permissions(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let file = PathBuf::from(file);
        let Ok(meta) = std::fs::metadata(&file) else { continue };
        let mode = meta.permissions().mode() & 0o777;
        if !meta.is_file() || mode & 0o077 == 0 {
            continue;
        }
        if !writable(&file) {
            // Opening it failed or will fail as read-only, which says more.
            continue;
        }
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode & 0o700)) {
            Ok(()) => tracing::warn!(
                path = %file.display(),
                from = %format!("{mode:04o}"),
                to = %format!("{:04o}", mode & 0o700),
                "made the database file private: other users could read it (it holds keys and password hashes)"
            ),
            Err(e) => {
                return Err(Error::Open {
                    path: file,
                    message: format!(
                        "other users may read it (mode {mode:04o}) and coderlite cannot make it private ({e}); \
                         run `chmod 600` on it as its owner"
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Creates `dir` and any missing parents with mode 0700, whatever the umask (a database's
/// directory holds its keys); directories that exist are left as they are.
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    use std::os::unix::fs::PermissionsExt;
    let mut missing = Vec::new();
    let mut probe = dir;
    while !probe.as_os_str().is_empty() && !probe.exists() {
        missing.push(probe.to_owned());
        match probe.parent() {
            Some(p) => probe = p,
            None => break,
        }
    }
    for created in missing.iter().rev() {
        match std::fs::DirBuilder::new().mode(0o700).create(created) {
            Ok(()) => std::fs::set_permissions(created, std::fs::Permissions::from_mode(0o700))?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Whether this process may write `path` (`access(2)`, by path).
fn writable(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else { return false };
    // SAFETY: `c_path` is a NUL-terminated path; access only reads it.
    unsafe { libc::access(c_path.as_ptr(), libc::W_OK) == 0 }
}

/// Whether the file system holding `path` (or its nearest existing ancestor) is mounted
/// read-only.
pub(crate) fn on_read_only_file_system(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let mut probe = path;
    while !probe.exists() {
        match probe.parent() {
            Some(p) if !p.as_os_str().is_empty() => probe = p,
            _ => return false,
        }
    }
    let Ok(c_path) = std::ffi::CString::new(probe.as_os_str().as_bytes()) else { return false };
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c_path` is a NUL-terminated path and `stat` a buffer statvfs fills on success.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), stat.as_mut_ptr()) };
    // SAFETY: statvfs returned 0, so it initialized `stat`.
    rc == 0 && unsafe { stat.assume_init() }.f_flag & libc::ST_RDONLY != 0
}

/// Creates the file with mode 0600 when it does not exist yet, so neither it nor the `-wal`
/// and `-shm` files SQLite later creates with the same mode are ever readable by others.
/// Safe beside SQLite's locks: a descriptor is opened only on a file this call
/// creates, which no connection of this process can have open; on an existing file,
/// `create_new` fails before any descriptor exists.
pub(crate) fn create_private_file(path: &Path) -> io::Result<()> {
    match OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Heap memory SQLite holds in this process now (page caches, statements, schemas): what
/// tells a growing cache from a leak when resident memory rises.
pub fn memory_used_bytes() -> u64 {
    // SAFETY: sqlite3_memory_used takes no arguments and only reads SQLite's own counter,
    // which is thread-safe in the bundled (serialized) build.
    let used = unsafe { rusqlite::ffi::sqlite3_memory_used() };
    u64::try_from(used).unwrap_or(0)
}

static STATEMENTS_EXECUTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Statements run so far by connections of stores opened with `count_statements`.
pub fn statements_executed() -> u64 {
    STATEMENTS_EXECUTED.load(std::sync::atomic::Ordering::SeqCst)
}

fn count_statement(event: rusqlite::trace::TraceEvent<'_>) {
    if let rusqlite::trace::TraceEvent::Stmt(_, sql) = event
        && !sql.starts_with("--")
    {
        STATEMENTS_EXECUTED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

fn init_connection(conn: &Connection, config: &StoreConfig, query_only: bool) -> rusqlite::Result<()> {
    conn.busy_timeout(config.busy_timeout)?;
    if config.count_statements {
        conn.trace_v2(rusqlite::trace::TraceEventCodes::SQLITE_TRACE_STMT, Some(count_statement));
    }
    conn.set_prepared_statement_cache_capacity(256);
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {}; PRAGMA foreign_keys = ON; PRAGMA query_only = {}; PRAGMA journal_size_limit = {};",
        config.synchronous.as_str(),
        if query_only { "ON" } else { "OFF" },
        WAL_SIZE_LIMIT_BYTES,
    ))
}

fn build_pool(config: &StoreConfig, query_only: bool, size: u32) -> Result<ReaderPool> {
    let init_config = config.clone();
    let manager = SqliteConnectionManager::file(&config.path)
        .with_init(move |conn| init_connection(conn, &init_config, query_only));
    let builder = Pool::builder()
        .max_size(size)
        .min_idle(Some(0))
        // Connections are local files; a liveness query per checkout only costs time.
        .test_on_check_out(false)
        .connection_timeout(config.busy_timeout + config.lock_timeout);
    ReaderPool::build(manager, builder).map_err(|e| Error::Open { path: config.path.clone(), message: e.to_string() })
}

impl LeaseBackend for SqliteStore {
    fn renew_lease(&self, id: LockId, holder: &str, ttl: Duration) -> Result<bool> {
        let expires_at = crate::clock::add_duration(self.inner.config.clock.now(), ttl);
        self.with_write_conn("renew lease", |conn| queries::locks::renew_lease(conn, id, holder, expires_at))
    }

    fn release_lease(&self, id: LockId, holder: &str) -> Result<()> {
        self.with_write_conn("release lease", |conn| queries::locks::release_lease(conn, id, holder))
    }

    fn clock(&self) -> SharedClock {
        SqliteStore::clock(self)
    }
}

impl TxStore for SqliteStore {
    fn in_tx(&self, opts: TxOptions, f: &mut TxFn<'_>) -> Result<()> {
        let span = tracing::trace_span!("tx", id = opts.id, read_only = opts.read_only);
        let _entered = span.enter();
        if opts.read_only { self.read_tx(opts, f) } else { self.write_tx(opts, f) }
    }

    fn acquire_lock(&self, _id: LockId) -> Result<()> {
        Err(Error::NotInTransaction { op: "acquire lock" })
    }

    fn try_acquire_lock(&self, _id: LockId) -> Result<bool> {
        Err(Error::NotInTransaction { op: "try acquire lock" })
    }

    fn clock(&self) -> SharedClock {
        SqliteStore::clock(self)
    }

    fn checkpoint_wal(&self, truncate: bool) -> Result<Option<WalStatus>> {
        let op = "checkpoint wal";
        let sql = if truncate { "PRAGMA wal_checkpoint(TRUNCATE)" } else { "PRAGMA wal_checkpoint(PASSIVE)" };
        let (busy, frames, checkpointed): (i64, i64, i64) = {
            let conn = self.inner.lock_writer();
            if truncate {
                conn.busy_timeout(TRUNCATE_CHECKPOINT_WAIT).op(op)?;
            }
            let result = conn.query_row(sql, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).op(op);
            if truncate {
                conn.busy_timeout(self.inner.config.busy_timeout).op(op)?;
            }
            result?
        };
        Ok(Some(WalStatus { wal_bytes: self.wal_bytes(), busy: busy != 0, frames, checkpointed }))
    }

    fn wal_status(&self) -> Result<Option<WalStatus>> {
        Ok(Some(WalStatus { wal_bytes: self.wal_bytes(), busy: false, frames: 0, checkpointed: 0 }))
    }

    fn try_acquire_lease(&self, id: LockId, holder: &str, ttl: Duration) -> Result<Option<LeaseGuard>> {
        let now = self.inner.config.clock.now();
        let acquired =
            self.with_write_conn("acquire lease", |conn| queries::locks::take_lease(conn, id, holder, now, ttl))?;
        if !acquired {
            return Ok(None);
        }
        Ok(Some(LeaseGuard::start(Arc::new(self.clone()), id, holder, ttl)))
    }
}

/// Every domain method on the pool-level store runs in its own transaction.
impl PooledStore for SqliteStore {}
