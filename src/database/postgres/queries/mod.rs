//! SQL by domain, written for PostgreSQL, one file per domain trait (the same names as the
//! SQLite store's `queries/`), each implementing its trait for `PgTx` with the handle's
//! statement calls (`postgres/statements.rs`). Every timestamp is bound from the `Clock`,
//! never `now()`.

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

use postgres::Row;
use postgres::types::FromSql;
use uuid::Uuid;

use crate::database::Error;
use crate::database::Result;

/// An ID to look up: a string that is no UUID names nothing (the nil UUID matches no row).
pub(crate) fn id(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap_or(Uuid::nil())
}

/// An optional ID to look up.
pub(crate) fn opt_id(s: Option<&str>) -> Option<Uuid> {
    s.map(id)
}

/// An ID to store: a string that is no UUID is refused.
pub(crate) fn new_id(op: &'static str, column: &'static str, s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|_| Error::InvalidValue { op, column, message: format!("not a UUID: {s:?}") })
}

/// An optional ID to store.
pub(crate) fn opt_new_id(op: &'static str, column: &'static str, s: Option<&str>) -> Result<Option<Uuid>> {
    s.map(|s| new_id(op, column, s)).transpose()
}

/// Column `idx` of `row`; a type mismatch is an `InvalidValue`, never a panic.
pub(crate) fn get<'r, T: FromSql<'r>>(op: &'static str, row: &'r Row, idx: usize) -> Result<T> {
    row.try_get(idx).map_err(|e| Error::InvalidValue { op, column: "column", message: format!("column {idx}: {e}") })
}

/// A uuid column as the lowercase hyphenated text every ID is in the domain.
pub(crate) fn get_id(op: &'static str, row: &Row, idx: usize) -> Result<String> {
    get::<Uuid>(op, row, idx).map(|u| u.to_string())
}

/// A nullable uuid column.
pub(crate) fn get_opt_id(op: &'static str, row: &Row, idx: usize) -> Result<Option<String>> {
    get::<Option<Uuid>>(op, row, idx).map(|u| u.map(|u| u.to_string()))
}

/// A text enum column, naming the column when the stored value is unknown.
pub(crate) fn get_enum<T>(op: &'static str, column: &'static str, row: &Row, idx: usize) -> Result<T>
where
    T: FromStr<Err = String>,
{
    let text: String = get(op, row, idx)?;
    text.parse().map_err(|message| Error::InvalidValue { op, column, message })
}

/// IDs to look up as a `uuid[]` parameter (`= ANY($n)`): strings that are no UUID name
/// nothing and are left out.
pub(crate) fn ids(ids: &[String]) -> Vec<Uuid> {
    ids.iter().filter_map(|s| Uuid::parse_str(s).ok()).collect()
}
