//! Embedded PostgreSQL migrations (refinery) and the schema-version rules, as on SQLite: the
//! same logical version numbers (one logical change is one file in each folder), a newer
//! schema refused with both versions named. Processes migrating one database at once are
//! serialized by a session advisory lock on the migrating connection.

use std::sync::OnceLock;

use postgres::Client;

use crate::database::Error;
use crate::database::Result;
use crate::database::any::redact_url;
use crate::database::gen_lock_id;
use crate::database::postgres::PgConfig;
use crate::database::postgres::errors;
use crate::database::schema;

refinery::embed_migrations!("migrations/postgres");

const HISTORY_TABLE: &str = "refinery_schema_history";

/// The advisory lock that serializes migrations (a derived id, distinct from 1..=10).
fn migration_lock_id() -> i64 {
    gen_lock_id("coderlite-migrations")
}

/// The newest migration version this binary carries for PostgreSQL.
pub fn binary_schema_version() -> i64 {
    static VERSION: OnceLock<i64> = OnceLock::new();
    *VERSION.get_or_init(|| schema::newest_version(migrations::runner().get_migrations()))
}

/// A hex SHA-256 over every embedded migration's version, name and SQL: names test templates.
pub fn migrations_fingerprint() -> String {
    schema::fingerprint(migrations::runner().get_migrations())
}

/// The newest applied version, 0 for a database coderlite never migrated.
pub(crate) fn applied_schema_version(client: &mut Client) -> Result<i64> {
    let op = "read schema version";
    let map = |e: postgres::Error| errors::interpret(op, &e).0;
    let exists: bool = client.query_one("SELECT to_regclass($1) IS NOT NULL", &[&HISTORY_TABLE]).map_err(map)?.get(0);
    if !exists {
        return Ok(0);
    }
    let version: Option<i32> =
        client.query_one(&format!("SELECT MAX(version) FROM {HISTORY_TABLE}"), &[]).map_err(map)?.get(0);
    Ok(version.map_or(0, i64::from))
}

/// Brings the schema to the binary's version (or to `target`), or refuses a newer one, or
/// a database without coderlite's schema when `config.create` is off.
pub(crate) fn migrate(client: &mut Client, config: &PgConfig, target: Option<i64>) -> Result<i64> {
    let binary = binary_schema_version();
    let want = target.unwrap_or(binary).min(binary);
    let db = applied_schema_version(client)?;
    if db > binary {
        return Err(Error::SchemaTooNew { db, binary });
    }
    if db == 0 && !config.create {
        return Err(Error::NoDatabase { path: redact_url(&config.url).into() });
    }
    if db >= want {
        return Ok(db);
    }
    let op = "lock migrations";
    let lock = migration_lock_id();
    client.execute("SELECT pg_advisory_lock($1)", &[&lock]).map_err(|e| errors::interpret(op, &e).0)?;
    let res = migrate_locked(client, want, binary);
    if let Err(e) = client.execute("SELECT pg_advisory_unlock($1)", &[&lock]) {
        tracing::warn!(error = %errors::without_secrets(&e), "release the migration lock");
    }
    let (from, to) = res?;
    if from < to {
        tracing::info!(from, to, "applied migrations");
    }
    Ok(to)
}

fn migrate_locked(client: &mut Client, want: i64, binary: i64) -> Result<(i64, i64)> {
    // Another process may have migrated while this one waited for the lock.
    let db = applied_schema_version(client)?;
    if db > binary {
        return Err(Error::SchemaTooNew { db, binary });
    }
    if db >= want {
        return Ok((db, db));
    }
    if db == 0 {
        refuse_foreign_tables(client)?;
    }
    // Every pending migration in one transaction (PostgreSQL's DDL is transactional): a
    // failure leaves the schema as it was.
    let mut runner = migrations::runner().set_grouped(true);
    if want < binary {
        let version = i32::try_from(want).map_err(|_| Error::Migration { message: format!("bad target {want}") })?;
        runner = runner.set_target(refinery::Target::Version(version));
    }
    if let Err(e) = runner.run(client) {
        if db == 0 {
            // refinery creates its history table before the transaction: a fresh database
            // keeps nothing of a failed first migration.
            let drop = format!("DROP TABLE IF EXISTS {HISTORY_TABLE}");
            if let Err(error) = client.batch_execute(&drop) {
                tracing::warn!(error = %errors::without_secrets(&error), "remove the empty migration history");
            }
        }
        return Err(crate::database::errors::migration_failed(&e, db, want));
    }
    Ok((db, applied_schema_version(client)?))
}

/// A database coderlite never migrated must not hold tables of the names coderlite creates
/// (another application's `users`): refused up front, naming them, with nothing changed.
fn refuse_foreign_tables(client: &mut Client) -> Result<()> {
    let op = "check for conflicting tables";
    let ours: Vec<String> = crate::database::copy::COPIED_TABLES
        .iter()
        .chain(crate::database::copy::NOT_COPIED_TABLES)
        .filter(|t| **t != HISTORY_TABLE)
        .map(|t| (*t).to_owned())
        .collect();
    let rows = client
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relname = ANY($1) ORDER BY 1",
            &[&ours],
        )
        .map_err(|e| errors::interpret(op, &e).0)?;
    let conflicts: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    if conflicts.is_empty() {
        return Ok(());
    }
    Err(Error::Migration {
        message: format!(
            "the database already holds {} that coderlite would create ({}); give coderlite a database of its own \
             (nothing was changed)",
            if conflicts.len() == 1 { "a table" } else { "tables" },
            conflicts.join(", ")
        ),
    })
}
