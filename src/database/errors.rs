//! Typed storage errors. Every error either engine returns is one of these, with the
//! operation that failed named in its text ("insert group member: ..."); each engine's
//! `errors.rs` is the one place its client's errors are interpreted.

use std::path::PathBuf;

use crate::database::lock::LockId;

/// The storage layer's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors from the `Store`. Callers match on the variant, never on message text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A query that expects one row found none.
    #[error("{op}: not found")]
    NotFound { op: &'static str },

    /// A unique or primary-key constraint rejected a write. `constraint` carries the upstream
    /// constraint name where one is known (`groups_name_organization_id_key`), otherwise the
    /// table and columns SQLite reported.
    #[error("{op}: unique constraint violated: {constraint}")]
    UniqueViolation { op: &'static str, constraint: String },

    /// A foreign-key constraint rejected a write.
    #[error("{op}: foreign key constraint violated")]
    ForeignKey { op: &'static str },

    /// A CHECK or NOT NULL constraint rejected a write.
    #[error("{op}: constraint violated: {message}")]
    Constraint { op: &'static str, message: String },

    /// Another process held SQLite's write lock for longer than the busy timeout.
    #[error("{op}: database is busy (another process held the write lock past the busy timeout)")]
    Busy { op: &'static str },

    /// A transaction lock could not be taken before the lock timeout because another holder's
    /// lease sat on it.
    #[error("acquire lock {lock_id}: not available within {timeout_ms} ms (held as a lease by {holder})")]
    LockNotAvailable { lock_id: LockId, holder: String, timeout_ms: u64 },

    /// The database was migrated by a newer binary.
    #[error(
        "database schema version {db} is newer than this binary's schema version {binary}; \
         run a coderlite at least as new as the one that migrated it"
    )]
    SchemaTooNew { db: i64, binary: i64 },

    /// A write (or a transaction lock) was attempted inside a read-only transaction.
    #[error("{op}: not allowed in a read-only transaction")]
    ReadOnlyTransaction { op: &'static str },

    /// An operation that needs a read-write transaction was called outside one.
    #[error("{op}: must be called inside a read-write transaction")]
    NotInTransaction { op: &'static str },

    /// A write transaction was started on the store while this thread already runs one; it
    /// would deadlock on the writer mutex. Use the transaction handle instead.
    #[error("{op}: this thread already holds the write transaction; use the transaction handle")]
    NestedWrite { op: &'static str },

    /// A stored value could not be decoded (corrupt or hand-edited data).
    #[error("{op}: invalid stored value in {column}: {message}")]
    InvalidValue { op: &'static str, column: &'static str, message: String },

    /// The database file could not be opened or prepared.
    #[error("open database {path}: {message}")]
    Open { path: PathBuf, message: String },

    /// The path holds no coderlite database (missing, or never migrated), and the caller
    /// asked not to create one.
    #[error("no coderlite database at {}", path.display())]
    NoDatabase { path: PathBuf },

    /// The database file (or its directory) is not writable; coderlite writes to every
    /// database it opens (WAL and shared-memory files included).
    #[error(
        "database file {} is read-only (permission denied): coderlite needs write access to it and to its directory",
        path.display()
    )]
    ReadOnlyDatabase { path: PathBuf },

    /// Applying migrations failed.
    #[error("apply migrations: {message}")]
    Migration { message: String },

    /// The connection pool could not hand out a connection.
    #[error("{op}: get connection: {message}")]
    Pool { op: &'static str, message: String },

    /// The database file is damaged or is not a database.
    #[error("{op}: database file is corrupt: {message}")]
    Corrupt { op: &'static str, message: String },

    /// Any other SQLite failure.
    #[error("{op}: {message}")]
    Sqlite { op: &'static str, message: String },

    /// The engine refused a value as text (PostgreSQL cannot store NUL in `text`): the input
    /// was bad, not the database. Callers validate text first; this is the backstop.
    #[error("{op}: invalid text: {message}")]
    InvalidText { op: &'static str, message: String },

    /// Any other PostgreSQL failure.
    #[error("{op}: {message}")]
    Postgres { op: &'static str, message: String },

    /// The PostgreSQL server could not be reached (refused, unknown host, bad credentials).
    /// `target` is `host:port/database`, never the password.
    #[error("cannot connect to PostgreSQL at {target}: {message}")]
    Unreachable { target: String, message: String },

    /// A server may not register while `db restore` replaces the database.
    #[error(
        "a restore ({replica}, pid {pid} on {hostname}) is replacing this database; start the server when it has finished"
    )]
    RestoreInProgress { replica: String, hostname: String, pid: i64 },

    /// `db restore` may not replace a database a server runs on.
    #[error("a server is running on this database (replica {replica} on {hostname}, pid {pid}); stop it first")]
    ServerRunning { replica: String, hostname: String, pid: i64 },

    /// System users cannot be suspended, deleted, made dormant or renamed.
    #[error("{op}: user {user_id} is a system user and cannot be changed this way")]
    SystemUser { op: &'static str, user_id: String },

    /// `db copy` refused: the destination is not empty, or the two schemas differ. Nothing
    /// was written.
    #[error("copy refused: {message}")]
    CopyRefused { message: String },

    /// An operation that runs its own transaction was called on a transaction handle.
    #[error("{op}: must not be called inside a transaction")]
    InTransaction { op: &'static str },

    /// The closure passed to `in_tx` failed with an error of its own type; the generic
    /// [`crate::database::in_tx`] hands that error back to the caller instead of this one.
    #[error("transaction closure failed")]
    ClosureFailed,
}

impl Error {
    /// True for a unique violation of exactly this constraint (upstream's
    /// `IsUniqueViolation(err, constraint)`).
    pub fn is_unique_violation_of(&self, name: &str) -> bool {
        matches!(self, Error::UniqueViolation { constraint, .. } if constraint == name)
    }

    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Error::UniqueViolation { .. })
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// True for errors that no retry will cure: the database was migrated past this binary,
    /// went away, became read-only or is corrupt. A background service that meets one stops
    /// the server instead of logging the same failure forever.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Error::SchemaTooNew { .. }
                | Error::NoDatabase { .. }
                | Error::ReadOnlyDatabase { .. }
                | Error::Corrupt { .. }
        )
    }
}

/// A failed migration run as one line: which versions were being applied and the innermost
/// cause's first line (`ERROR: relation "users" already exists`), never the migration's SQL.
pub(crate) fn migration_failed(e: &refinery::Error, from: i64, to: i64) -> Error {
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let text = cause.to_string();
    let first_line = text.lines().next().unwrap_or_default().trim();
    let versions = if from + 1 == to { format!("V{to}") } else { format!("V{}..V{to}", from + 1) };
    Error::Migration { message: format!("applying {versions} failed, nothing was applied: {first_line}") }
}
