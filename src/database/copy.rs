//! `db copy`: every table from one database to another, between any two engines. The source is read in one consistent snapshot, the destination written in
//! one transaction; row counts are verified per table.
//!
//! Engine-neutral here (table order, what the destination may hold, the value model); each
//! engine reads and writes its own rows (`sqlite::copy`, `postgres::copy`), converting
//! between its column types and [`CopyValue`].

use std::collections::BTreeMap;
use std::time::Instant;

use uuid::Uuid;

use crate::clock::Timestamp;
use crate::database::Error;
use crate::database::Result;

/// Every table `db copy` copies, parents before children (foreign keys point backwards,
/// except the deferred pair templates ↔ template_versions).
pub const COPIED_TABLES: &[&str] = &[
    "site_configs",
    "organizations",
    "users",
    "api_keys",
    "organization_members",
    "groups",
    "group_members",
    "files",
    "provisioner_jobs",
    "provisioner_job_logs",
    "templates",
    "template_versions",
    "template_version_parameters",
    "template_version_presets",
    "template_version_preset_parameters",
    "template_version_preset_prebuild_schedules",
    "workspaces",
    "workspace_builds",
    "workspace_build_parameters",
    "workspace_resources",
    "workspace_agents",
    "workspace_agent_stats",
    "workspace_app_stats",
    "template_usage_stats",
    "audit_logs",
    "notification_messages",
    "ai_providers",
    "ai_provider_keys",
    "boundary_usage_stats",
    "telemetry_locks",
    "telemetry_snapshots",
];

/// Tables never copied: leases, lock rows and registered replicas belong to the processes of
/// one database,
/// migration history to its own migrations, and SQLite's data generation and sequence
/// bookkeeping to SQLite.
pub const NOT_COPIED_TABLES: &[&str] =
    &["locks", "replicas", "refinery_schema_history", "prebuilds_data_generation", "sqlite_sequence"];

/// The rows a fresh migration creates, per table (a portable `WHERE`): the default
/// organization with its Everyone group, the prebuilds system user and its membership. A
/// destination may hold these and nothing else; they are replaced by the source's.
const MIGRATION_ROWS: &[(&str, &str)] = &[
    ("organizations", "is_default = true"),
    ("users", "is_system = true"),
    ("organization_members", "user_id IN (SELECT id FROM users WHERE is_system = true)"),
    ("groups", "id = organization_id AND name = 'Everyone'"),
];

/// Rows per batch between the reader and the writer.
pub const BATCH_ROWS: usize = 1000;

/// One column value on its way between engines. Each engine converts to and from its own
/// column types: SQLite keeps timestamps as integer microseconds, booleans as 0/1, UUIDs
/// and JSON as text; PostgreSQL has a type for each.
#[derive(Debug, Clone)]
pub enum CopyValue {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
    Uuid(Uuid),
    Time(Timestamp),
    Json(serde_json::Value),
    Bytes(Vec<u8>),
}

impl CopyValue {
    /// Whether two values mean the same, whichever engine each came from: a timestamp and
    /// its microseconds, a boolean and 0/1, a UUID and its text, JSON and its text (by
    /// meaning: `jsonb` reorders keys).
    pub fn same_meaning(&self, other: &CopyValue) -> bool {
        use CopyValue::*;
        match (self, other) {
            (Null, Null) => true,
            (Int(a), Int(b)) => a == b,
            (Float(a), Float(b)) => a == b || (a.is_nan() && b.is_nan()),
            (Int(a), Float(b)) | (Float(b), Int(a)) => *a as f64 == *b,
            (Bool(a), Bool(b)) => a == b,
            (Bool(a), Int(b)) | (Int(b), Bool(a)) => i64::from(*a) == *b,
            (Uuid(a), Uuid(b)) => a == b,
            (Uuid(a), Text(b)) | (Text(b), Uuid(a)) => a.to_string() == *b,
            (Time(a), Time(b)) => a == b,
            (Time(a), Int(b)) | (Int(b), Time(a)) => crate::clock::to_micros(*a) == *b,
            (Json(a), Json(b)) => a == b,
            (Bytes(a), Bytes(b)) => a == b,
            (Json(a), Text(b)) | (Text(b), Json(a)) => {
                serde_json::from_str::<serde_json::Value>(b).is_ok_and(|b| *a == b)
            }
            (Text(a), Text(b)) => a == b || json_equal(a, b),
            _ => false,
        }
    }
}

/// Two texts that both hold the same JSON object or array.
fn json_equal(a: &str, b: &str) -> bool {
    let looks_json = |s: &str| s.starts_with('{') || s.starts_with('[');
    if !looks_json(a) || !looks_json(b) {
        return false;
    }
    match (serde_json::from_str::<serde_json::Value>(a), serde_json::from_str::<serde_json::Value>(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Reads a database in one consistent snapshot (a read-only transaction held open until
/// the source is dropped).
pub trait CopySource {
    /// The columns of `table` that carry data (not PostgreSQL's insertion-order `seq` or
    /// generated columns), in table order.
    fn columns(&mut self, table: &str) -> Result<Vec<String>>;

    /// Rows in `table`.
    fn count(&mut self, table: &str) -> Result<u64>;

    /// Streams `columns` of every row of `table`, in insertion order where the engine keeps
    /// one, to `sink` in batches of up to [`BATCH_ROWS`]. Returns the rows read.
    fn read(
        &mut self,
        table: &str,
        columns: &[String],
        sink: &mut dyn FnMut(&[Vec<CopyValue>]) -> Result<()>,
    ) -> Result<u64>;
}

/// Writes a database in one transaction, committed by [`CopyTarget::commit`]; dropped
/// without it, nothing is written.
pub trait CopyTarget {
    /// See [`CopySource::columns`].
    fn columns(&mut self, table: &str) -> Result<Vec<String>>;

    fn count(&mut self, table: &str) -> Result<u64>;

    /// Rows of `table` matching the portable SQL condition `condition`.
    fn count_where(&mut self, table: &str, condition: &str) -> Result<u64>;

    /// Deletes every row of `table` (the migration's rows, and rows triggers made while
    /// earlier tables were copied).
    fn delete_all(&mut self, table: &str) -> Result<()>;

    /// Inserts `rows` (values of `columns`, converted to this engine's column types).
    fn insert(&mut self, table: &str, columns: &[String], rows: &[Vec<CopyValue>]) -> Result<()>;

    /// After the last row of `table`: move any id sequence past the copied ids.
    fn finish_table(&mut self, table: &str) -> Result<()>;

    /// Commits everything written (deferred foreign keys are checked here).
    fn commit(self: Box<Self>) -> Result<()>;
}

/// Rows copied per table, in copy order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    pub tables: Vec<(String, u64)>,
}

/// Progress of a copy, for stderr.
#[derive(Debug, Clone, Copy)]
pub enum CopyProgress<'a> {
    /// `rows` of `table` copied so far (every [`PROGRESS_EVERY`] rows of a long table).
    Rows { table: &'a str, rows: u64 },
    /// `table` is done: `rows` rows in `seconds`.
    TableDone { table: &'a str, rows: u64, seconds: f64 },
}

/// Rows between two progress reports within one table.
pub const PROGRESS_EVERY: u64 = 100_000;

/// Why the destination was refused before anything was written.
fn not_empty(tables: &[(String, u64)]) -> Error {
    let list: Vec<String> = tables.iter().map(|(t, n)| format!("{t} ({n})")).collect();
    Error::CopyRefused {
        message: format!(
            "the destination holds data beyond what its migrations create: {}; copy into a new or freshly \
             migrated database",
            list.join(", ")
        ),
    }
}

/// Copies every table of `source` into `target` and commits, or writes nothing. The
/// destination may hold only the rows its own migrations created (replaced by the
/// source's). Counts are verified per table: the rows read equal the source's count and the
/// destination's count after the copy.
pub fn copy(
    source: &mut dyn CopySource,
    mut target: Box<dyn CopyTarget + '_>,
    progress: &mut dyn FnMut(CopyProgress<'_>),
) -> Result<CopyReport> {
    let migration_rows: BTreeMap<&str, &str> = MIGRATION_ROWS.iter().copied().collect();
    let mut extra = Vec::new();
    for table in COPIED_TABLES {
        let rows = target.count(table)?;
        let allowed = match migration_rows.get(table) {
            Some(condition) => target.count_where(table, condition)?,
            None => 0,
        };
        if rows > allowed {
            extra.push(((*table).to_owned(), rows - allowed));
        }
    }
    if !extra.is_empty() {
        return Err(not_empty(&extra));
    }
    // The migration's rows go first, children before parents.
    for table in COPIED_TABLES.iter().rev() {
        target.delete_all(table)?;
    }
    let mut report = CopyReport::default();
    for table in COPIED_TABLES {
        let started = Instant::now();
        let columns = source.columns(table)?;
        let target_columns = target.columns(table)?;
        if columns != target_columns {
            return Err(Error::CopyRefused {
                message: format!(
                    "table {table} has columns ({}) in the source and ({}) in the destination; are both at \
                     the same schema version?",
                    columns.join(", "),
                    target_columns.join(", ")
                ),
            });
        }
        let expected = source.count(table)?;
        // Rows a trigger made while an earlier table was copied (an organization's
        // Everyone group) are the source's to give.
        target.delete_all(table)?;
        let mut copied: u64 = 0;
        let mut next_report = PROGRESS_EVERY;
        let read = source.read(table, &columns, &mut |rows| {
            if let Some(message) = nul_in_rows(table, &columns, rows, copied) {
                return Err(Error::CopyRefused { message });
            }
            target.insert(table, &columns, rows)?;
            copied += rows.len() as u64;
            if copied >= next_report {
                progress(CopyProgress::Rows { table, rows: copied });
                next_report += PROGRESS_EVERY;
            }
            Ok(())
        })?;
        target.finish_table(table)?;
        let written = target.count(table)?;
        if read != expected || written != expected {
            return Err(Error::CopyRefused {
                message: format!(
                    "table {table}: the source counts {expected} rows, {read} were read and the destination \
                     holds {written}; nothing was written"
                ),
            });
        }
        progress(CopyProgress::TableDone { table, rows: written, seconds: started.elapsed().as_secs_f64() });
        report.tables.push(((*table).to_owned(), written));
    }
    target.commit()?;
    Ok(report)
}

/// Names the first value of `rows` holding a NUL character, which PostgreSQL cannot store
/// (nor carry in `jsonb`): table, row (its number in the copy, and its first column's value)
/// and column. coderlite refuses NUL in every input; an older database may hold one.
fn nul_in_rows(table: &str, columns: &[String], rows: &[Vec<CopyValue>], before: u64) -> Option<String> {
    for (i, row) in rows.iter().enumerate() {
        for (column, value) in columns.iter().zip(row) {
            let holds_nul = match value {
                CopyValue::Text(text) => text.contains('\0'),
                CopyValue::Json(json) => crate::names::first_nul_in_json(json).is_some(),
                _ => false,
            };
            if holds_nul {
                let key = match row.first() {
                    Some(CopyValue::Text(t)) => format!("{}={t:?}", columns[0]),
                    Some(CopyValue::Uuid(u)) => format!("{}={u}", columns[0]),
                    Some(CopyValue::Int(n)) => format!("{}={n}", columns[0]),
                    _ => "?".to_owned(),
                };
                return Some(format!(
                    "table {table}, row {} ({key}), column {column} holds a NUL character, which PostgreSQL cannot \
                     store; change that value (coderlite refuses NUL in new input) and copy again; nothing was written",
                    before + i as u64 + 1
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_is_named_by_table_row_and_column() {
        let columns = vec!["id".to_owned(), "token_name".to_owned()];
        let rows = vec![
            vec![CopyValue::Text("k1".into()), CopyValue::Text("fine".into())],
            vec![CopyValue::Text("k2".into()), CopyValue::Text("bad\0name".into())],
        ];
        let message = nul_in_rows("api_keys", &columns, &rows, 10).unwrap();
        assert!(message.starts_with("table api_keys, row 12 (id=\"k2\"), column token_name"), "{message}");
        assert_eq!(nul_in_rows("api_keys", &columns, &rows[..1], 0), None);
    }

    #[test]
    fn values_compare_by_meaning_across_engines() {
        let id = Uuid::new_v4();
        assert!(CopyValue::Uuid(id).same_meaning(&CopyValue::Text(id.to_string())));
        assert!(CopyValue::Bool(true).same_meaning(&CopyValue::Int(1)));
        assert!(!CopyValue::Bool(true).same_meaning(&CopyValue::Int(0)));
        let t = crate::clock::from_micros(1_700_000_000_123_456);
        assert!(CopyValue::Time(t).same_meaning(&CopyValue::Int(1_700_000_000_123_456)));
        assert!(
            CopyValue::Text(r#"{"b":1,"a":[1,2]}"#.into())
                .same_meaning(&CopyValue::Text(r#"{"a": [1, 2], "b": 1}"#.into()))
        );
        assert!(CopyValue::Json(serde_json::json!({"a": 1})).same_meaning(&CopyValue::Text(r#"{"a":1}"#.into())));
        assert!(!CopyValue::Text("a".into()).same_meaning(&CopyValue::Text("b".into())));
        assert!(!CopyValue::Null.same_meaning(&CopyValue::Text(String::new())));
    }
}
