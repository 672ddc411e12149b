//! A database of its own on a PostgreSQL server, for `server --ephemeral`: created empty
//! next to the one a URL names, dropped when the server stops.

use postgres::NoTls;

use crate::database::Error;
use crate::database::Result;
use crate::database::any::redact_url;
use crate::database::postgres::errors;

/// `url` with its database replaced by `database` (user, host, port and options kept).
pub fn url_with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

/// A scratch database; dropped (`WITH (FORCE)`) on [`ScratchDatabase::remove`] or drop.
#[derive(Debug)]
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// Creates an empty database on the server of `admin_url` (connecting to the database it
    /// names), named `coderlite_ephemeral_<random>`.
    pub fn create(admin_url: &str) -> Result<Self> {
        let name = format!("coderlite_ephemeral_{}", uuid::Uuid::new_v4().simple());
        admin(admin_url, &format!("CREATE DATABASE {name}"))?;
        let url = url_with_database(admin_url, &name);
        Ok(Self { admin_url: admin_url.to_owned(), name, url })
    }

    /// The scratch database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops the database now, reporting a failure.
    pub fn remove(mut self) -> Result<()> {
        let name = std::mem::take(&mut self.name);
        admin(&self.admin_url, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if !self.name.is_empty()
            && let Err(error) = admin(&self.admin_url, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
        {
            tracing::warn!(%error, database = %self.name, "drop an ephemeral database");
        }
    }
}

fn admin(url: &str, sql: &str) -> Result<()> {
    let target = redact_url(url);
    let mut client = postgres::Client::connect(url, NoTls)
        .map_err(|e| Error::Unreachable { target: target.clone(), message: errors::describe_connect_error(&e) })?;
    client.batch_execute(sql).map_err(|e| errors::interpret("ephemeral database", &e).0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_of_a_url_is_replaced() {
        assert_eq!(url_with_database("postgres://u@h:5/postgres", "t1"), "postgres://u@h:5/t1");
        assert_eq!(url_with_database("postgres://u@h:5", "t1"), "postgres://u@h:5/t1");
        assert_eq!(
            url_with_database("postgres://u:p@h/db?sslmode=disable", "t1"),
            "postgres://u:p@h/t1?sslmode=disable"
        );
    }
}
