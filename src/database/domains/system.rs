//! Site configs, lock rows and integrity: `SystemStore` and its rows.

use crate::clock::Timestamp;
use crate::database::Result;

store_domain! {
    /// Site configs, the lock rows on record, the schema version and integrity checks.
    pub trait SystemStore {
        /// All committed lock rows (leases; transaction locks are never visible outside their
        /// transaction), ordered by lock id.
        read fn list_locks(&self) -> Result<Vec<LockRow>>;

        /// The newest applied migration version.
        read fn schema_version(&self) -> Result<i64>;

        /// `PRAGMA integrity_check`, `PRAGMA foreign_key_check` and the schema version.
        read fn check_integrity(&self) -> Result<IntegrityReport>;

        /// The value stored under `key`, if any.
        read fn get_site_config(&self, key: &str) -> Result<Option<String>>;

        /// Inserts `key`; a second insert of the same key is `UniqueViolation { site_configs_key_key }`.
        write fn insert_site_config(&self, key: &str, value: &str) -> Result<()>;

        /// Inserts or replaces `key`.
        write fn upsert_site_config(&self, key: &str, value: &str) -> Result<()>;


        /// `site_configs['prebuilds_settings']`, or `'{}'` when absent.
        read fn get_prebuilds_settings(&self) -> Result<String>;
    }
}

text_enum! {
    /// The kind of a row in `locks`.
    LockKind {
        Transaction => "transaction",
        Lease => "lease",
    }
}

/// A committed row of the `locks` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRow {
    /// The stored number; a known one maps to `LockId::from_i64`.
    pub lock_id: i64,
    pub holder: String,
    pub kind: LockKind,
    pub acquired_at: Timestamp,
    /// Set for leases.
    pub expires_at: Option<Timestamp>,
}

/// The result of `check_integrity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrityReport {
    pub schema_version: i64,
    /// "ok", or the problems SQLite reported, joined with "; ".
    pub integrity: String,
    /// "ok", or the violations found, joined with "; ".
    pub foreign_keys: String,
}

impl IntegrityReport {
    pub fn is_ok(&self) -> bool {
        self.integrity == "ok" && self.foreign_keys == "ok"
    }
}

/// SQLite's write-ahead log after a checkpoint (or a look at it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalStatus {
    /// The `-wal` file's size.
    pub wal_bytes: u64,
    /// A checkpoint could not finish: a reader or writer held it back.
    pub busy: bool,
    /// Frames in the log, and how many of them are in the database file now.
    pub frames: i64,
    pub checkpointed: i64,
}
