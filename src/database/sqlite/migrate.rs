//! Embedded migrations (refinery) and the schema-version rules.
//!
//! Opening checks the applied version first with one read: equal to the binary's → nothing
//! to do (the common case); newer → `SchemaTooNew`, never touching the file; older → take
//! SQLite's write lock with `BEGIN IMMEDIATE` on the migrating connection, check again, and
//! let refinery apply what is missing inside that one transaction. Processes that open a
//! fresh file at once therefore queue on SQLite's own lock and migrate it exactly once.
//!
//! Why not a lock on the file itself: on POSIX, closing any descriptor of a file drops every
//! lock the process holds on it, SQLite's own included. A process that opened and closed a
//! second descriptor of the database would hold no lock while its connections think they
//! do, and an outside client closing its connection would then checkpoint and delete the
//! live WAL. Nothing here opens a descriptor on the database, its `-wal` or its
//! `-shm`.

use std::sync::OnceLock;

use refinery_core::Migration;
use refinery_core::traits::sync::Query;
use refinery_core::traits::sync::Transaction;
use rusqlite::Connection;
use rusqlite::OptionalExtension;

use crate::database::Error;
use crate::database::Result;
use crate::database::schema;
use crate::database::sqlite::errors::OpContext;
use crate::database::sqlite::errors::interpret;

refinery::embed_migrations!("migrations/sqlite");

const HISTORY_TABLE: &str = "refinery_schema_history";

/// The newest migration version this binary carries.
pub fn binary_schema_version() -> i64 {
    static VERSION: OnceLock<i64> = OnceLock::new();
    *VERSION.get_or_init(|| schema::newest_version(migrations::runner().get_migrations()))
}

/// A hex SHA-256 over every embedded migration's version, name and SQL: names test templates.
pub fn migrations_fingerprint() -> String {
    schema::fingerprint(migrations::runner().get_migrations())
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

/// Brings the schema to the binary's version (or to `target`, for tests that need an older
/// schema), or refuses a newer one. Returns the version the database is at afterwards.
pub(crate) fn migrate(conn: &mut Connection, target: Option<i64>) -> Result<i64> {
    let binary = binary_schema_version();
    let want = target.unwrap_or(binary).min(binary);
    let db = applied_schema_version(conn)?;
    if db > binary {
        return Err(Error::SchemaTooNew { db, binary });
    }
    if db >= want {
        return Ok(db);
    }
    // SQLite's write lock for the whole migration; other processes wait on it (busy timeout).
    conn.execute_batch("BEGIN IMMEDIATE").op("begin migration")?;
    let res = migrate_locked(conn, want, binary);
    match &res {
        Ok(_) => conn.execute_batch("COMMIT").op("commit migration")?,
        Err(_) => {
            if let Err(error) = conn.execute_batch("ROLLBACK") {
                tracing::error!(%error, "roll back migration");
            }
        }
    }
    let (from, to) = res?;
    if from < to {
        tracing::info!(from, to, "applied migrations");
    }
    Ok(to)
}

/// Inside the migration's write transaction: (version before, version after).
fn migrate_locked(conn: &Connection, want: i64, binary: i64) -> Result<(i64, i64)> {
    // Another process may have migrated while this one waited for the lock.
    let db = applied_schema_version(conn)?;
    if db > binary {
        return Err(Error::SchemaTooNew { db, binary });
    }
    if db >= want {
        return Ok((db, db));
    }
    let mut runner = migrations::runner();
    if want < binary {
        let version = i32::try_from(want).map_err(|_| Error::Migration { message: format!("bad target {want}") })?;
        runner = runner.set_target(refinery::Target::Version(version));
    }
    runner.run(&mut InOpenTransaction(conn)).map_err(|e| crate::database::errors::migration_failed(&e, db, want))?;
    Ok((db, applied_schema_version(conn)?))
}

/// Runs refinery's statements on a connection that is already inside a transaction, so that
/// the whole migration sits under the one `BEGIN IMMEDIATE` taken above (refinery's own
/// rusqlite driver would open a transaction per migration).
struct InOpenTransaction<'c>(&'c Connection);

impl Transaction for InOpenTransaction<'_> {
    type Error = Error;

    fn execute<'a, T: Iterator<Item = &'a str>>(&mut self, queries: T) -> Result<usize> {
        let mut count = 0;
        for query in queries {
            self.0.execute_batch(query).map_err(|e| interpret("apply migration", e))?;
            count += 1;
        }
        Ok(count)
    }
}

impl Query<Vec<Migration>> for InOpenTransaction<'_> {
    fn query(&mut self, query: &str) -> Result<Vec<Migration>> {
        let op = "read applied migrations";
        let mut stmt = self.0.prepare(query).op(op)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, i32>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
            })
            .op(op)?;
        let mut applied = Vec::new();
        for row in rows {
            let (version, name, applied_on, checksum) = row.op(op)?;
            let invalid = |column: &'static str, message: String| Error::InvalidValue { op, column, message };
            let applied_on = time::OffsetDateTime::parse(&applied_on, &time::format_description::well_known::Rfc3339)
                .map_err(|e| invalid("applied_on", e.to_string()))?;
            let checksum = checksum.parse::<u64>().map_err(|e| invalid("checksum", e.to_string()))?;
            applied.push(Migration::applied(version, name, applied_on, checksum));
        }
        Ok(applied)
    }
}

impl refinery_core::Migrate for InOpenTransaction<'_> {}
