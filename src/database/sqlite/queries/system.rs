//! The `SystemStore` domain: site configs (deployment-wide key/value settings), integrity
//! checks for `db check`, and the lock rows on record.

use rusqlite::Connection;
use rusqlite::OptionalExtension;

use crate::database::Result;
use crate::database::SystemStore;
use crate::database::models::IntegrityReport;
use crate::database::models::LockRow;
use crate::database::sqlite::errors::OpContext;
use crate::database::sqlite::migrate::applied_schema_version;
use crate::database::sqlite::tx::SqliteTx;

pub(crate) fn get_site_config(conn: &Connection, key: &str) -> Result<Option<String>> {
    let op = "get site config";
    let mut stmt = conn.prepare_cached("SELECT value FROM site_configs WHERE key = ?1").op(op)?;
    stmt.query_row([key], |r| r.get(0)).optional().op(op)
}

pub(crate) fn insert_site_config(conn: &Connection, key: &str, value: &str) -> Result<()> {
    let op = "insert site config";
    let mut stmt = conn.prepare_cached("INSERT INTO site_configs (key, value) VALUES (?1, ?2)").op(op)?;
    stmt.execute([key, value]).op(op)?;
    Ok(())
}

pub(crate) fn upsert_site_config(conn: &Connection, key: &str, value: &str) -> Result<()> {
    let op = "upsert site config";
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO site_configs (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .op(op)?;
    stmt.execute([key, value]).op(op)?;
    Ok(())
}

/// `site_configs[key]`, or `'{}'` when absent (the JSON settings keys).
pub(crate) fn get_settings_json(conn: &Connection, op: &'static str, key: &str) -> Result<String> {
    let mut stmt = conn.prepare_cached("SELECT value FROM site_configs WHERE key = ?1").op(op)?;
    Ok(stmt.query_row([key], |r| r.get(0)).optional().op(op)?.unwrap_or_else(|| "{}".to_owned()))
}

pub(crate) fn get_health_settings(conn: &Connection) -> Result<String> {
    get_settings_json(conn, "get health settings", "health_settings")
}

pub(crate) fn get_prebuilds_settings(conn: &Connection) -> Result<String> {
    get_settings_json(conn, "get prebuilds settings", "prebuilds_settings")
}

/// `PRAGMA integrity_check`, `PRAGMA foreign_key_check` and the schema version (`db check`).
pub(crate) fn check_integrity(conn: &Connection) -> Result<IntegrityReport> {
    let op = "check integrity";
    let mut stmt = conn.prepare("PRAGMA integrity_check").op(op)?;
    let problems: Vec<String> = stmt.query_map([], |r| r.get(0)).op(op)?.collect::<rusqlite::Result<_>>().op(op)?;
    let integrity = problems.join("; ");

    let op = "check foreign keys";
    let mut stmt = conn.prepare("PRAGMA foreign_key_check").op(op)?;
    let violations: Vec<String> = stmt
        .query_map([], |r| {
            let table: String = r.get(0)?;
            let rowid: Option<i64> = r.get(1)?;
            let parent: String = r.get(2)?;
            Ok(format!("{table} row {} references a missing {parent} row", rowid.unwrap_or(-1)))
        })
        .op(op)?
        .collect::<rusqlite::Result<_>>()
        .op(op)?;
    let foreign_keys = if violations.is_empty() { "ok".to_owned() } else { violations.join("; ") };

    Ok(IntegrityReport { schema_version: applied_schema_version(conn)?, integrity, foreign_keys })
}

impl SystemStore for SqliteTx<'_> {
    fn list_locks(&self) -> Result<Vec<LockRow>> {
        super::locks::list_locks(self.conn, !self.opts.read_only)
    }

    fn schema_version(&self) -> Result<i64> {
        crate::database::sqlite::migrate::applied_schema_version(self.conn)
    }

    run_query! {
        fn check_integrity(&self) -> Result<IntegrityReport> => check_integrity;
        fn get_site_config(&self, key: &str) -> Result<Option<String>> => get_site_config;
        fn insert_site_config(&self, key: &str, value: &str) -> Result<()> => insert_site_config;
        fn upsert_site_config(&self, key: &str, value: &str) -> Result<()> => upsert_site_config;
        fn get_health_settings(&self) -> Result<String> => get_health_settings;
        fn get_prebuilds_settings(&self) -> Result<String> => get_prebuilds_settings;
    }
}
