//! Embedded migrations (refinery) and the schema-version rules.
//!
//! Opening checks the applied version first with one read: equal to the binary's → nothing
//! to do (the common case); newer → `SchemaTooNew`, never touching the file; older → take an
//! exclusive `flock` on the database file (SQLite uses POSIX record locks, which are
//! independent of `flock`, so this does not interfere with it) and run refinery, so that
//! processes opening a fresh file at once migrate it exactly once.

use std::fs::File;
use std::path::Path;
use std::sync::OnceLock;

use rusqlite::Connection;
use rusqlite::OptionalExtension;
use sha2::Digest;
use sha2::Sha256;

use crate::database::Error;
use crate::database::Result;
use crate::database::sqlite::errors::OpContext;

refinery::embed_migrations!("migrations");

const HISTORY_TABLE: &str = "refinery_schema_history";

/// The newest migration version this binary carries.
pub fn binary_schema_version() -> i64 {
    static VERSION: OnceLock<i64> = OnceLock::new();
    *VERSION
        .get_or_init(|| migrations::runner().get_migrations().iter().map(|m| i64::from(m.version())).max().unwrap_or(0))
}

/// A hex SHA-256 over every embedded migration's version, name and SQL: names test templates.
pub fn migrations_fingerprint() -> String {
    let mut hasher = Sha256::new();
    for m in migrations::runner().get_migrations() {
        hasher.update(m.version().to_le_bytes());
        hasher.update(m.name().as_bytes());
        hasher.update(m.sql().unwrap_or_default().as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The newest applied version, 0 for a database that was never migrated.
pub(crate) fn applied_schema_version(conn: &Connection) -> Result<i64> {
    let op = "read schema version";
    let exists: Option<i64> = conn
        .query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", [HISTORY_TABLE], |r| r.get(0))
        .optional()
        .op(op)?;
    if exists.is_none() {
        return Ok(0);
    }
    let version: Option<i64> =
        conn.query_row(&format!("SELECT MAX(version) FROM {HISTORY_TABLE}"), [], |r| r.get(0)).op(op)?;
    Ok(version.unwrap_or(0))
}

/// Brings the schema to the binary's version, or refuses a newer one.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<i64> {
    let binary = binary_schema_version();
    let db = applied_schema_version(conn)?;
    if db > binary {
        return Err(Error::SchemaTooNew { db, binary });
    }
    if db == binary {
        return Ok(db);
    }
    let lock_file =
        File::open(path).map_err(|e| Error::Migration { message: format!("open {}: {e}", path.display()) })?;
    lock_file.lock().map_err(|e| Error::Migration { message: format!("lock {}: {e}", path.display()) })?;
    // Another process may have migrated while this one waited for the lock.
    let db = applied_schema_version(conn)?;
    if db > binary {
        return Err(Error::SchemaTooNew { db, binary });
    }
    if db < binary {
        migrations::runner().run(conn).map_err(|e| Error::Migration { message: e.to_string() })?;
        tracing::info!(from = db, to = binary, "applied migrations");
    }
    drop(lock_file);
    Ok(binary)
}
