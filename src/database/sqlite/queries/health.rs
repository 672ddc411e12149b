//! Integrity and foreign-key checks for `db check`.

use rusqlite::Connection;

use crate::database::Result;
use crate::database::models::IntegrityReport;
use crate::database::sqlite::errors::OpContext;
use crate::database::sqlite::migrate::applied_schema_version;

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
