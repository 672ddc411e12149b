//! `site_configs`: deployment-wide key/value settings.

use rusqlite::Connection;
use rusqlite::OptionalExtension;

use crate::database::Result;
use crate::database::sqlite::errors::OpContext;

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
