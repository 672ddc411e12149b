//! Engine selection: where a database is (a SQLite file or a PostgreSQL URL) and a store
//! that is either engine. The CLI, `TestDb` and `db copy` hold an [`AnyStore`]; domain code
//! never does (it sees `&dyn Store`).

use std::fmt;
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use crate::clock::SharedClock;
#[cfg(not(feature = "postgres"))]
use crate::database::Error;
use crate::database::LeaseGuard;
use crate::database::LockId;
use crate::database::PooledStore;
use crate::database::Result;
use crate::database::TxFn;
use crate::database::TxOptions;
use crate::database::TxStore;
use crate::database::copy::CopySource;
use crate::database::copy::CopyTarget;
#[cfg(feature = "postgres")]
use crate::database::postgres::PgConfig;
#[cfg(feature = "postgres")]
use crate::database::postgres::PgStore;
use crate::database::sqlite::SqliteStore;
use crate::database::sqlite::StoreConfig;

/// The storage engine behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `db` names a PostgreSQL database (`postgres://` or `postgresql://`) rather than a
/// SQLite file.
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// `url` with its password replaced by `***`, for every message and log line.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let (authority, tail) = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => (format!("{user}:***@{host}"), tail.to_owned()),
            None => (authority.to_owned(), tail.to_owned()),
        },
        None => (authority.to_owned(), tail.to_owned()),
    };
    // A password may also come as a query parameter.
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_owned(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail,
    };
    format!("{scheme}://{authority}{tail}")
}

/// Where a database is: `--db` / `CODERLITE_DB` starting with `postgres://` or
/// `postgresql://` is a PostgreSQL URL, anything else a SQLite file path.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Location {
    /// Tells a URL from a path.
    pub fn parse(db: impl Into<PathBuf>) -> Self {
        let path = db.into();
        match path.to_str() {
            Some(s) if is_postgres_url(s) => Location::Postgres(s.to_owned()),
            _ => Location::Sqlite(path),
        }
    }

    pub fn engine(&self) -> Engine {
        match self {
            Location::Sqlite(_) => Engine::Sqlite,
            Location::Postgres(_) => Engine::Postgres,
        }
    }

    /// The file path, for SQLite.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Location::Sqlite(p) => Some(p),
            Location::Postgres(_) => None,
        }
    }
}

/// Shown in messages and logs: the path, or the URL with its password masked.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "{}", p.display()),
            Location::Postgres(url) => f.write_str(&redact_url(url)),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

/// What every engine needs to open a store.
#[derive(Clone)]
pub struct OpenConfig {
    pub location: Location,
    pub clock: SharedClock,
    /// Names this process in lease holders (and, on PostgreSQL, as `application_name`).
    pub replica_id: String,
    /// Create (SQLite: the file) and migrate a database that has no coderlite schema yet.
    /// Off, such a database is `NoDatabase`.
    pub create: bool,
    /// How long a transaction lock waits for another holder; `None` keeps the engine default.
    pub lock_timeout: Option<Duration>,
}

impl OpenConfig {
    pub fn new(location: Location, clock: SharedClock, replica_id: impl Into<String>) -> Self {
        Self { location, clock, replica_id: replica_id.into(), create: true, lock_timeout: None }
    }

    /// The SQLite config this describes (for a SQLite location).
    pub fn sqlite_config(&self, path: &Path) -> StoreConfig {
        let mut config = StoreConfig::new(path, self.clock.clone(), self.replica_id.clone());
        config.create = self.create;
        if let Some(t) = self.lock_timeout {
            config.lock_timeout = t;
        }
        config
    }

    /// The PostgreSQL config this describes (for a PostgreSQL location).
    #[cfg(feature = "postgres")]
    pub fn postgres_config(&self, url: &str) -> PgConfig {
        let mut config = PgConfig::new(url, self.clock.clone(), self.replica_id.clone());
        config.create = self.create;
        if let Some(t) = self.lock_timeout {
            config.lock_timeout = t;
        }
        config
    }
}

/// A store on either engine. Cheap to clone; clones share pools.
#[derive(Clone, Debug)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    #[cfg(feature = "postgres")]
    Postgres(PgStore),
}

impl From<SqliteStore> for AnyStore {
    fn from(s: SqliteStore) -> Self {
        AnyStore::Sqlite(s)
    }
}

#[cfg(feature = "postgres")]
impl From<PgStore> for AnyStore {
    fn from(s: PgStore) -> Self {
        AnyStore::Postgres(s)
    }
}

impl AnyStore {
    /// Opens (and migrates, or refuses, as each engine does) the database `config` locates.
    pub fn open(config: &OpenConfig) -> Result<Self> {
        match &config.location {
            Location::Sqlite(path) => SqliteStore::open(config.sqlite_config(path)).map(AnyStore::Sqlite),
            #[cfg(feature = "postgres")]
            Location::Postgres(url) => PgStore::open(config.postgres_config(url)).map(AnyStore::Postgres),
            #[cfg(not(feature = "postgres"))]
            Location::Postgres(url) => Err(Error::Unreachable {
                target: redact_url(url),
                message: "this coderlite was built without the `postgres` feature".to_owned(),
            }),
        }
    }

    pub fn engine(&self) -> Engine {
        match self {
            AnyStore::Sqlite(_) => Engine::Sqlite,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(_) => Engine::Postgres,
        }
    }

    /// Where this store's database is.
    pub fn location(&self) -> Location {
        match self {
            AnyStore::Sqlite(s) => Location::Sqlite(s.path().to_owned()),
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(s) => Location::Postgres(s.config().url.clone()),
        }
    }

    /// The replica ID this store was opened with (lease holders, `application_name`).
    pub fn replica_id(&self) -> &str {
        match self {
            AnyStore::Sqlite(s) => &s.config().replica_id,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(s) => &s.config().replica_id,
        }
    }

    /// The SQLite store, for the file-level operations only SQLite has (backup, vacuum).
    pub fn as_sqlite(&self) -> Option<&SqliteStore> {
        match self {
            AnyStore::Sqlite(s) => Some(s),
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(_) => None,
        }
    }

    /// The PostgreSQL store.
    #[cfg(feature = "postgres")]
    pub fn as_postgres(&self) -> Option<&PgStore> {
        match self {
            AnyStore::Postgres(s) => Some(s),
            AnyStore::Sqlite(_) => None,
        }
    }

    /// The source side of `db copy` (see [`crate::database::copy`]).
    pub fn copy_source(&self) -> Result<Box<dyn CopySource + '_>> {
        match self {
            AnyStore::Sqlite(s) => s.copy_source(),
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(s) => s.copy_source(),
        }
    }

    /// The destination side of `db copy`.
    pub fn copy_target(&self) -> Result<Box<dyn CopyTarget + '_>> {
        match self {
            AnyStore::Sqlite(s) => s.copy_target(),
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(s) => s.copy_target(),
        }
    }

    fn inner(&self) -> &dyn TxStore {
        match self {
            AnyStore::Sqlite(s) => s,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(s) => s,
        }
    }
}

impl TxStore for AnyStore {
    fn in_tx(&self, opts: TxOptions, f: &mut TxFn<'_>) -> Result<()> {
        self.inner().in_tx(opts, f)
    }

    fn acquire_lock(&self, id: LockId) -> Result<()> {
        self.inner().acquire_lock(id)
    }

    fn try_acquire_lock(&self, id: LockId) -> Result<bool> {
        self.inner().try_acquire_lock(id)
    }

    fn try_acquire_lease(&self, id: LockId, holder: &str, ttl: Duration) -> Result<Option<LeaseGuard>> {
        self.inner().try_acquire_lease(id, holder, ttl)
    }

    fn clock(&self) -> SharedClock {
        self.inner().clock()
    }

    fn checkpoint_wal(&self, truncate: bool) -> Result<Option<crate::database::models::WalStatus>> {
        self.inner().checkpoint_wal(truncate)
    }

    fn wal_status(&self) -> Result<Option<crate::database::models::WalStatus>> {
        self.inner().wal_status()
    }
}

/// Every domain method on the engine-agnostic store runs in its own transaction.
impl PooledStore for AnyStore {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_apart_and_passwords_hidden() {
        assert!(is_postgres_url("postgres://u@h/db"));
        assert!(is_postgres_url("postgresql://u@h/db"));
        assert!(!is_postgres_url("/var/lib/coderlite.db"));
        assert_eq!(Location::parse("postgres://u@h/db").engine(), Engine::Postgres);
        assert_eq!(Location::parse("./postgres.db").engine(), Engine::Sqlite);
        assert_eq!(
            redact_url("postgres://alice:s3cret@db:5432/coder?sslmode=disable"),
            "postgres://alice:***@db:5432/coder?sslmode=disable"
        );
        assert_eq!(redact_url("postgres://alice@db/coder"), "postgres://alice@db/coder");
        assert_eq!(redact_url("postgres://db/coder"), "postgres://db/coder");
        assert_eq!(redact_url("postgresql://a:p%40ss@h/d"), "postgresql://a:***@h/d");
        assert_eq!(redact_url("postgres://h/d?user=a&password=s3cret"), "postgres://h/d?user=a&password=***");
        let shown = Location::parse("postgres://alice:s3cret@db/coder").to_string();
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
