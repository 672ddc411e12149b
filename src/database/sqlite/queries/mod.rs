//! SQL, grouped by domain: each file implements one domain trait for `SqliteTx`, its
//! methods running their statements through the handle's statement calls
//! (`sqlite/statements.rs`). Every timestamp is bound from the `Clock` (INTEGER
//! microseconds); no statement reads SQLite's clock.

pub(crate) mod ai_providers;
pub(crate) mod api_keys;
pub(crate) mod audit;
pub(crate) mod boundary_usage;
pub(crate) mod files;
pub(crate) mod identity;
pub(crate) mod locks;
pub(crate) mod maintenance;
pub(crate) mod notifications;
pub(crate) mod prebuilds;
pub(crate) mod provisioner;
pub(crate) mod rollup;
pub(crate) mod system;
pub(crate) mod templates;
pub(crate) mod workspaces;

use std::str::FromStr;

use rusqlite::Row;
use rusqlite::types::Type;

use crate::clock::Timestamp;
use crate::clock::from_micros;
use crate::database::Error;
use crate::database::Result;

/// Parses a TEXT column into its enum, naming the column when the stored value is unknown.
pub(crate) fn parse_column<T>(op: &'static str, column: &'static str, value: &str) -> Result<T>
where
    T: FromStr<Err = String>,
{
    value.parse().map_err(|message| Error::InvalidValue { op, column, message })
}

/// Reads a TEXT column borrowed from the row (no copy).
pub(crate) fn str_at<'r>(row: &'r Row<'_>, idx: usize) -> rusqlite::Result<&'r str> {
    row.get_ref(idx)?.as_str().map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, e.into()))
}

/// Reads an INTEGER microseconds column as a timestamp.
pub(crate) fn timestamp_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Timestamp> {
    row.get::<_, i64>(idx).map(from_micros)
}

/// Binds an optional timestamp as INTEGER microseconds or NULL.
pub(crate) fn opt_micros(t: Option<Timestamp>) -> Option<i64> {
    t.map(crate::clock::to_micros)
}

/// Reads a JSON TEXT column into `T`.
pub(crate) fn json_at<T: serde::de::DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, e.into()))
}

/// A list of ids as the JSON array `json_each(?)` reads: set-based `IN` over any number of ids
/// with one prepared statement.
pub(crate) fn json_ids(ids: &[String]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned())
}
