//! The `SystemStore` domain on PostgreSQL: site configs, the schema version and constraint
//! validity for `db check`, and the lock listing.

use crate::database::Result;
use crate::database::SystemStore;
use crate::database::models::IntegrityReport;
use crate::database::models::LockRow;
use crate::database::postgres::queries::get;
use crate::database::postgres::queries::locks;
use crate::database::postgres::tx::PgTx;

pub(crate) fn get_site_config(tx: &PgTx<'_>, key: &str) -> Result<Option<String>> {
    let op = "get site config";
    tx.query_opt(op, "SELECT value FROM site_configs WHERE key = $1", &[&key])?.map(|r| get(op, &r, 0)).transpose()
}

pub(crate) fn insert_site_config(tx: &PgTx<'_>, key: &str, value: &str) -> Result<()> {
    tx.execute("insert site config", "INSERT INTO site_configs (key, value) VALUES ($1, $2)", &[&key, &value])?;
    Ok(())
}

pub(crate) fn upsert_site_config(tx: &PgTx<'_>, key: &str, value: &str) -> Result<()> {
    tx.execute(
        "upsert site config",
        "INSERT INTO site_configs (key, value) VALUES ($1, $2)
         ON CONFLICT ON CONSTRAINT site_configs_key_key DO UPDATE SET value = excluded.value",
        &[&key, &value],
    )?;
    Ok(())
}

/// `site_configs[key]`, or `'{}'` when absent (the JSON settings keys).
fn get_settings_json(tx: &PgTx<'_>, op: &'static str, key: &str) -> Result<String> {
    Ok(tx
        .query_opt(op, "SELECT value FROM site_configs WHERE key = $1", &[&key])?
        .map(|r| get(op, &r, 0))
        .transpose()?
        .unwrap_or_else(|| "{}".to_owned()))
}

pub(crate) fn get_health_settings(tx: &PgTx<'_>) -> Result<String> {
    get_settings_json(tx, "get health settings", "health_settings")
}

pub(crate) fn get_prebuilds_settings(tx: &PgTx<'_>) -> Result<String> {
    get_settings_json(tx, "get prebuilds settings", "prebuilds_settings")
}

pub(crate) fn schema_version(tx: &PgTx<'_>) -> Result<i64> {
    let op = "read schema version";
    let version: Option<i32> = get(op, &tx.query_one(op, "SELECT MAX(version) FROM refinery_schema_history", &[])?, 0)?;
    Ok(version.map_or(0, i64::from))
}

/// PostgreSQL keeps its own pages consistent; what can be wrong is a constraint that was
/// added `NOT VALID` and never validated. Those are reported, foreign keys apart.
pub(crate) fn check_integrity(tx: &PgTx<'_>) -> Result<IntegrityReport> {
    let op = "check integrity";
    let rows = tx.query(
        op,
        // Constraints added NOT VALID and never validated, and indexes left invalid by a
        // failed build: PostgreSQL enforces everything else on every write.
        "SELECT c.contype = 'f', 'constraint ' || c.conrelid::regclass::text || '.' || c.conname
         FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
         WHERE NOT c.convalidated AND n.nspname = current_schema()
         UNION ALL
         SELECT false, 'index ' || i.indexrelid::regclass::text
         FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE NOT (i.indisvalid AND i.indisready) AND n.nspname = current_schema()
         ORDER BY 2",
        &[],
    )?;
    let (mut foreign, mut other) = (Vec::new(), Vec::new());
    for r in &rows {
        let (is_fk, name): (bool, String) = (get(op, r, 0)?, get(op, r, 1)?);
        if is_fk { foreign.push(name) } else { other.push(name) }
    }
    let report = |v: Vec<String>, what: &str| {
        if v.is_empty() { "ok".to_owned() } else { format!("{what}: {}", v.join(", ")) }
    };
    Ok(IntegrityReport {
        schema_version: schema_version(tx)?,
        integrity: report(other, "not valid"),
        foreign_keys: report(foreign, "not validated"),
    })
}

impl SystemStore for PgTx<'_> {
    run_query! {
        fn list_locks(&self) -> Result<Vec<LockRow>> => locks::list_locks;
        fn schema_version(&self) -> Result<i64> => schema_version;
        fn check_integrity(&self) -> Result<IntegrityReport> => check_integrity;
        fn get_site_config(&self, key: &str) -> Result<Option<String>> => get_site_config;
        fn insert_site_config(&self, key: &str, value: &str) -> Result<()> => insert_site_config;
        fn upsert_site_config(&self, key: &str, value: &str) -> Result<()> => upsert_site_config;
        fn get_health_settings(&self) -> Result<String> => get_health_settings;
        fn get_prebuilds_settings(&self) -> Result<String> => get_prebuilds_settings;
    }
}
