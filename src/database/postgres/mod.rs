//! The PostgreSQL implementation of [`Store`], beside the SQLite one and shaped
//! like it: `tx.rs` the transaction handle, `errors.rs` the one place SQLSTATEs become typed
//! errors, `migrate.rs` the embedded migrations, `queries/` the SQL by domain.
//!
//! Transactions keep every guarantee the domain code has from SQLite's serialized writers,
//! without serializing all writes: a write transaction runs at SERIALIZABLE and is begun
//! lazily, so a transaction lock requested first is taken as a session advisory lock
//! *before* `BEGIN`, in the same round trip as the lease check and the `BEGIN`, and released
//! right after `COMMIT`/`ROLLBACK`. The snapshot is therefore taken after the lock is
//! granted, and a contended lock-protected upsert never fails with 40001 as a matter of
//! course. Any serialization failure (40001) or deadlock (40P01) rolls back and reruns the
//! closure with jittered backoff, up to the lock timeout (then `Error::Busy`). Read-only
//! transactions run at REPEATABLE READ READ ONLY.
//!
//! Leases are rows of `locks`, taken in a short READ COMMITTED transaction holding the
//! advisory transaction lock of their id, so a lease and a transaction lock on one id
//! exclude each other as on SQLite. Every connection sets `application_name` to the replica
//! ID, so `locks` can name who holds or awaits an advisory lock.
//!
//! Weaknesses, stated up front: a transaction lock taken after the transaction's first
//! statement is granted after its snapshot (the domain code takes locks first); the
//! prebuilds snapshot is read whole every cycle (no data generation here: a counter row
//! every writer bumps would make concurrent writers collide). No TLS: the URL's `sslmode`
//! must allow a plain connection.

mod copy;
mod errors;
mod migrate;
mod queries;
mod scratch;
mod snapshot;
mod statements;
mod tx;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use postgres::Client;
use postgres::NoTls;
use postgres::Statement;
use r2d2::Pool;
use r2d2_postgres::PostgresConnectionManager;

use crate::clock::SharedClock;
use crate::database::Error;
use crate::database::LeaseBackend;
use crate::database::LeaseGuard;
use crate::database::LockId;
use crate::database::PooledStore;
use crate::database::Result;
use crate::database::TxFn;
use crate::database::TxOptions;
use crate::database::TxStore;
use crate::database::WriteThreadMark;
use crate::database::any::redact_url;
pub use crate::database::postgres::migrate::binary_schema_version;
pub use crate::database::postgres::migrate::migrations_fingerprint;
pub use crate::database::postgres::scratch::ScratchDatabase;
pub use crate::database::postgres::scratch::url_with_database;
use crate::database::postgres::tx::Attempt;
use crate::database::postgres::tx::PgTx;

/// How to open a PostgreSQL store. `new` fills the documented defaults.
#[derive(Clone)]
pub struct PgConfig {
    /// `postgres://user:password@host:port/database?...`; never printed whole.
    pub url: String,
    pub clock: SharedClock,
    /// Names this process in lease holders and as every connection's `application_name`.
    pub replica_id: String,
    /// How long a transaction lock waits for another holder (advisory lock or lease), and
    /// how long a transaction that keeps meeting serialization failures is retried.
    pub lock_timeout: Duration,
    /// Connections kept by the pool.
    pub max_connections: u32,
    /// Migrate a database without coderlite's schema (default). Off, such a database is
    /// `NoDatabase`.
    pub create: bool,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConfig").field("url", &redact_url(&self.url)).field("replica_id", &self.replica_id).finish()
    }
}

impl PgConfig {
    pub fn new(url: impl Into<String>, clock: SharedClock, replica_id: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            clock,
            replica_id: replica_id.into(),
            lock_timeout: Duration::from_secs(30),
            max_connections: 8,
            create: true,
        }
    }

    /// Where the URL points, for messages: `host:port/database`, without credentials.
    pub fn target(&self) -> String {
        match self.url.parse::<postgres::Config>() {
            Ok(c) => {
                let host = c
                    .get_hosts()
                    .first()
                    .map(|h| match h {
                        postgres::config::Host::Tcp(h) => h.clone(),
                        postgres::config::Host::Unix(p) => p.display().to_string(),
                    })
                    .unwrap_or_else(|| "localhost".to_owned());
                let port = c.get_ports().first().copied().unwrap_or(5432);
                format!("{host}:{port}/{}", c.get_dbname().unwrap_or_default())
            }
            Err(_) => redact_url(&self.url),
        }
    }
}

/// A pooled connection with its prepared statements (each query is then one round trip).
pub(crate) struct PgConn {
    pub(crate) client: Client,
    statements: HashMap<String, Statement>,
    /// Whether this session has the `coderlite_*` prepared statements of transaction locks
    /// (see `tx.rs`), prepared on first use: they name the `locks` table, which a
    /// connection opened before migration does not have yet.
    pub(crate) lock_statements_prepared: bool,
}

impl PgConn {
    /// The prepared statement of `sql`, preparing it on first use on this connection.
    pub(crate) fn statement(&mut self, sql: &str) -> std::result::Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }
}

/// r2d2_postgres's manager, with a statement cache per connection and the session settings
/// every connection needs.
pub(crate) struct Manager {
    inner: PostgresConnectionManager<NoTls>,
    lock_timeout: Duration,
}

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = postgres::Error;

    fn connect(&self) -> std::result::Result<PgConn, postgres::Error> {
        let mut client = self.inner.connect()?;
        // UTC for anything computed in SQL; advisory lock waits bounded by the lock timeout;
        // no JIT: its compile time (hundreds of ms) dwarfs these queries' run time.
        client.batch_execute(&format!(
            "SET TIME ZONE 'UTC'; SET jit = off; SET lock_timeout = '{}ms'",
            self.lock_timeout.as_millis().max(1)
        ))?;
        Ok(PgConn { client, statements: HashMap::new(), lock_statements_prepared: false })
    }

    fn is_valid(&self, conn: &mut PgConn) -> std::result::Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.client.is_closed()
    }
}

/// The pool-level PostgreSQL store: each `Store` method called on it runs in its own
/// transaction. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<PgInner>,
}

pub(crate) struct PgInner {
    pub(crate) config: PgConfig,
    pub(crate) pool: Pool<Manager>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("db", &redact_url(&self.inner.config.url)).finish()
    }
}

impl PgStore {
    /// Connects, migrates (or refuses a newer schema, or a database without coderlite's
    /// schema when `config.create` is off) and builds the pool.
    pub fn open(config: PgConfig) -> Result<Self> {
        Self::open_at(config, None)
    }

    /// Opens and migrates only up to `version` (older schemas for upgrade tests).
    pub fn open_at_version(config: PgConfig, version: i64) -> Result<Self> {
        Self::open_at(config, Some(version))
    }

    fn open_at(config: PgConfig, target: Option<i64>) -> Result<Self> {
        let unreachable = |message: String| Error::Unreachable { target: config.target(), message };
        let mut pg_config: postgres::Config = config
            .url
            .parse()
            .map_err(|e: postgres::Error| unreachable(format!("invalid URL: {}", errors::without_secrets(&e))))?;
        pg_config.application_name(&config.replica_id);
        if pg_config.get_connect_timeout().is_none() {
            pg_config.connect_timeout(Duration::from_secs(10));
        }
        let manager =
            Manager { inner: PostgresConnectionManager::new(pg_config, NoTls), lock_timeout: config.lock_timeout };
        {
            let mut conn = r2d2::ManageConnection::connect(&manager)
                .map_err(|e| unreachable(errors::describe_connect_error(&e)))?;
            migrate::migrate(&mut conn.client, &config, target)?;
        }
        let pool = Pool::builder()
            .max_size(config.max_connections)
            .min_idle(Some(0))
            .test_on_check_out(false)
            .connection_timeout(config.lock_timeout + Duration::from_secs(10))
            .build(manager)
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(Self { inner: Arc::new(PgInner { config, pool }) })
    }

    pub fn config(&self) -> &PgConfig {
        &self.inner.config
    }

    pub fn clock(&self) -> SharedClock {
        Arc::clone(&self.inner.config.clock)
    }

    /// A connection for work outside `in_tx` (leases, tests, `db copy`).
    pub(crate) fn conn(&self, op: &'static str) -> Result<r2d2::PooledConnection<Manager>> {
        self.inner.pool.get().map_err(|e| Error::Pool { op, message: e.to_string() })
    }

    fn run_tx(&self, opts: TxOptions, f: &mut TxFn<'_>) -> Result<()> {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(2);
        let _mark = if opts.read_only { None } else { Some(WriteThreadMark::enter(opts.id)?) };
        loop {
            let mut conn = self.conn(opts.id)?;
            let attempt = {
                let tx = PgTx::new(&mut conn, opts, &self.inner);
                let res = f(&tx);
                tx.finish(res)
            };
            let timed_out = started.elapsed() >= self.inner.config.lock_timeout;
            match attempt {
                Ok(()) => return Ok(()),
                Err(Attempt::Failed(e)) => return Err(e),
                Err(Attempt::Contended { lock_id, holder }) if timed_out => {
                    let timeout_ms = u64::try_from(self.inner.config.lock_timeout.as_millis()).unwrap_or(u64::MAX);
                    return Err(Error::LockNotAvailable { lock_id, holder, timeout_ms });
                }
                Err(Attempt::Serialization) if timed_out => return Err(Error::Busy { op: opts.id }),
                Err(Attempt::Contended { lock_id, holder }) => {
                    tracing::debug!(lock_id = lock_id.as_i64(), %holder, tx = opts.id, "lock held as a lease; retrying");
                }
                Err(Attempt::Serialization) => {
                    tracing::debug!(tx = opts.id, "serialization failure; retrying");
                }
            }
            // Real time on purpose: this waits on other transactions' progress. Jittered so
            // two transactions that collided do not collide again in step.
            drop(conn);
            std::thread::sleep(backoff.mul_f64(0.5 + jitter()));
            backoff = (backoff * 2).min(Duration::from_millis(100));
        }
    }
}

/// A number in [0, 1) from the OS, for backoff jitter.
fn jitter() -> f64 {
    let mut byte = [0u8; 1];
    getrandom::fill(&mut byte).map_or(0.5, |()| f64::from(byte[0]) / 256.0)
}

impl LeaseBackend for PgStore {
    fn renew_lease(&self, id: LockId, holder: &str, ttl: Duration) -> Result<bool> {
        let expires_at = crate::clock::add_duration(self.inner.config.clock.now(), ttl);
        let mut conn = self.conn("renew lease")?;
        queries::locks::renew_lease(&mut conn, id, holder, expires_at)
    }

    fn release_lease(&self, id: LockId, holder: &str) -> Result<()> {
        let mut conn = self.conn("release lease")?;
        queries::locks::release_lease(&mut conn, id, holder)
    }

    fn clock(&self) -> SharedClock {
        PgStore::clock(self)
    }
}

impl TxStore for PgStore {
    fn in_tx(&self, opts: TxOptions, f: &mut TxFn<'_>) -> Result<()> {
        let span = tracing::trace_span!("tx", id = opts.id, read_only = opts.read_only);
        let _entered = span.enter();
        self.run_tx(opts, f)
    }

    fn acquire_lock(&self, _id: LockId) -> Result<()> {
        Err(Error::NotInTransaction { op: "acquire lock" })
    }

    fn try_acquire_lock(&self, _id: LockId) -> Result<bool> {
        Err(Error::NotInTransaction { op: "try acquire lock" })
    }

    fn clock(&self) -> SharedClock {
        PgStore::clock(self)
    }

    fn try_acquire_lease(&self, id: LockId, holder: &str, ttl: Duration) -> Result<Option<LeaseGuard>> {
        let now = self.inner.config.clock.now();
        let mut conn = self.conn("acquire lease")?;
        if !queries::locks::take_lease(&mut conn, id, holder, now, ttl)? {
            return Ok(None);
        }
        Ok(Some(LeaseGuard::start(Arc::new(self.clone()), id, holder, ttl)))
    }
}

/// Every domain method on the pool-level store runs in its own transaction.
impl PooledStore for PgStore {}
