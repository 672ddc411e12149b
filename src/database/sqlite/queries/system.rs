//! The `SystemStore` domain: site configs (deployment-wide key/value settings), integrity
//! checks for `db check`, and the lock rows on record.

use crate::database::Result;
use crate::database::SystemStore;
use crate::database::models::IntegrityReport;
use crate::database::models::LockRow;
use crate::database::sqlite::migrate::applied_schema_version;
use crate::database::sqlite::tx::SqliteTx;

/// `site_configs[key]`, or `'{}'` when absent (the JSON settings keys).
fn settings_json(tx: &SqliteTx<'_>, op: &'static str, key: &str) -> Result<String> {
    let value = tx.opt(op, "SELECT value FROM site_configs WHERE key = ?1", [key], |r| r.text(0))?;
    Ok(value.unwrap_or_else(|| "{}".to_owned()))
}

impl SystemStore for SqliteTx<'_> {
    fn list_locks(&self) -> Result<Vec<LockRow>> {
        super::locks::list_locks(self.conn, !self.opts.read_only)
    }

    fn schema_version(&self) -> Result<i64> {
        applied_schema_version(self.conn)
    }

    fn check_integrity(&self) -> Result<IntegrityReport> {
        let problems = self.all("check integrity", "PRAGMA integrity_check", [], |r| r.text(0))?;
        let violations = self.all("check foreign keys", "PRAGMA foreign_key_check", [], |r| {
            Ok(format!("{} row {} references a missing {} row", r.text(0)?, r.opt_i64(1)?.unwrap_or(-1), r.text(2)?))
        })?;
        Ok(IntegrityReport {
            schema_version: applied_schema_version(self.conn)?,
            integrity: problems.join("; "),
            foreign_keys: if violations.is_empty() { "ok".to_owned() } else { violations.join("; ") },
        })
    }

    fn get_site_config(&self, key: &str) -> Result<Option<String>> {
        self.opt("get site config", "SELECT value FROM site_configs WHERE key = ?1", [key], |r| r.text(0))
    }

    fn insert_site_config(&self, key: &str, value: &str) -> Result<()> {
        self.exec("insert site config", "INSERT INTO site_configs (key, value) VALUES (?1, ?2)", [key, value])
    }

    fn upsert_site_config(&self, key: &str, value: &str) -> Result<()> {
        self.exec(
            "upsert site config",
            "INSERT INTO site_configs (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )
    }

    fn get_prebuilds_settings(&self) -> Result<String> {
        settings_json(self, "get prebuilds settings", "prebuilds_settings")
    }
}
