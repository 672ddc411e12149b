//! The `SystemStore` domain on PostgreSQL: site configs, the schema version and constraint
//! validity for `db check`, and the lock listing.

use crate::database::Result;
use crate::database::SystemStore;
use crate::database::models::IntegrityReport;
use crate::database::models::LockRow;
use crate::database::postgres::queries::get;
use crate::database::postgres::queries::locks;
use crate::database::postgres::tx::PgTx;

/// `site_configs[key]`, or `'{}'` when absent (the JSON settings keys).
fn settings_json(tx: &PgTx<'_>, op: &'static str, key: &str) -> Result<String> {
    let value = tx.opt(op, "SELECT value FROM site_configs WHERE key = $1", &[&key], |r| r.text(0))?;
    Ok(value.unwrap_or_else(|| "{}".to_owned()))
}

impl SystemStore for PgTx<'_> {
    fn list_locks(&self) -> Result<Vec<LockRow>> {
        locks::list_locks(self)
    }

    fn schema_version(&self) -> Result<i64> {
        let op = "read schema version";
        // refinery's `version` is an `int4`, which the row reader's getters do not read.
        let row = self.query_one(op, "SELECT MAX(version) FROM refinery_schema_history", &[])?;
        Ok(get::<Option<i32>>(op, &row, 0)?.map_or(0, i64::from))
    }

    /// PostgreSQL keeps its own pages consistent and enforces constraints on every write; what
    /// can be wrong is a constraint added `NOT VALID` and never validated, or an index left
    /// invalid by a failed build. Those are reported, foreign keys apart.
    fn check_integrity(&self) -> Result<IntegrityReport> {
        let problems = self.all(
            "check integrity",
            "SELECT c.contype = 'f', 'constraint ' || c.conrelid::regclass::text || '.' || c.conname
             FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
             WHERE NOT c.convalidated AND n.nspname = current_schema()
             UNION ALL
             SELECT false, 'index ' || i.indexrelid::regclass::text
             FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE NOT (i.indisvalid AND i.indisready) AND n.nspname = current_schema()
             ORDER BY 2",
            &[],
            |r| Ok((r.bool(0)?, r.text(1)?)),
        )?;
        let report = |foreign: bool, what: &str| {
            let names: Vec<&str> = problems.iter().filter(|p| p.0 == foreign).map(|p| p.1.as_str()).collect();
            if names.is_empty() { "ok".to_owned() } else { format!("{what}: {}", names.join(", ")) }
        };
        Ok(IntegrityReport {
            schema_version: self.schema_version()?,
            integrity: report(false, "not valid"),
            foreign_keys: report(true, "not validated"),
        })
    }

    fn get_site_config(&self, key: &str) -> Result<Option<String>> {
        self.opt("get site config", "SELECT value FROM site_configs WHERE key = $1", &[&key], |r| r.text(0))
    }

    fn insert_site_config(&self, key: &str, value: &str) -> Result<()> {
        self.exec("insert site config", "INSERT INTO site_configs (key, value) VALUES ($1, $2)", &[&key, &value])
    }

    fn upsert_site_config(&self, key: &str, value: &str) -> Result<()> {
        self.exec(
            "upsert site config",
            "INSERT INTO site_configs (key, value) VALUES ($1, $2)
             ON CONFLICT ON CONSTRAINT site_configs_key_key DO UPDATE SET value = excluded.value",
            &[&key, &value],
        )
    }

    fn get_prebuilds_settings(&self) -> Result<String> {
        settings_json(self, "get prebuilds settings", "prebuilds_settings")
    }
}
