//! SQL, grouped by domain. Each function takes the connection it runs on and binds every
//! timestamp it needs (from the `Clock`, as INTEGER microseconds); none reads SQLite's clock.

/// Implements domain-trait methods of the transaction handle by calling the query function of
/// the same module with the handle's connection.
macro_rules! run_query {
    ($( fn $name:ident(&self $(, $arg:ident : $ty:ty)* $(,)?) -> $ret:ty => $path:path; )*) => {
        $(
            fn $name(&self $(, $arg: $ty)*) -> $ret {
                $path(self.conn $(, $arg)*)
            }
        )*
    };
}

pub(crate) mod ai_providers;
pub(crate) mod api_keys;
pub(crate) mod boundary_usage;
pub(crate) mod files;
pub(crate) mod identity;
pub(crate) mod locks;
pub(crate) mod maintenance;
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

/// Reads a TEXT enum column inside a row closure; an unknown value is a conversion error that
/// names the column index and the value.
pub(crate) fn text_enum_at<T>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T>
where
    T: FromStr<Err = String>,
{
    let text: String = row.get(idx)?;
    text.parse().map_err(|message: String| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, message.into()))
}

/// Reads a TEXT column borrowed from the row (no copy).
pub(crate) fn str_at<'r>(row: &'r Row<'_>, idx: usize) -> rusqlite::Result<&'r str> {
    row.get_ref(idx)?.as_str().map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, e.into()))
}

/// Reads an INTEGER microseconds column as a timestamp.
pub(crate) fn timestamp_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Timestamp> {
    row.get::<_, i64>(idx).map(from_micros)
}

/// Reads a nullable INTEGER microseconds column as a timestamp.
pub(crate) fn opt_timestamp_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Timestamp>> {
    row.get::<_, Option<i64>>(idx).map(|v| v.map(from_micros))
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

/// Maps a rusqlite row with a shared mapper, inside a rusqlite row closure (`query_row`,
/// `query_map`): a bad value becomes a conversion error, as rusqlite's own are.
pub(crate) fn from_row<T>(
    map: fn(&dyn crate::database::rows::RowReader) -> Result<T>,
    row: &Row<'_>,
) -> rusqlite::Result<T> {
    map(&crate::database::sqlite::statements::SqliteRow { op: "read row", row })
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, Type::Null, Box::new(e)))
}
