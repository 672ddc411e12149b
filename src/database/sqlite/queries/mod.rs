//! SQL, grouped by domain. Each function takes the connection it runs on and binds every
//! timestamp it needs (from the `Clock`, as INTEGER microseconds); none reads SQLite's clock.

pub(crate) mod boundary_usage;
pub(crate) mod health;
pub(crate) mod locks;
pub(crate) mod site_configs;

use std::str::FromStr;

use crate::database::Error;
use crate::database::Result;

/// Parses a TEXT column into its enum, naming the column when the stored value is unknown.
pub(crate) fn parse_column<T>(op: &'static str, column: &'static str, value: &str) -> Result<T>
where
    T: FromStr<Err = String>,
{
    value.parse().map_err(|message| Error::InvalidValue { op, column, message })
}
