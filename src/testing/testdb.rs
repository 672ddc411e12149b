//! `TestDb`: a fresh, migrated database, removed on drop. SQLite by default; PostgreSQL
//! through [`TestDb::postgres`] (or [`TestDb::create`] with [`TestEngine::Postgres`]).
//!
//! SQLite: the first `TestDb` of a process migrates once into a template file named after a
//! hash of the embedded migrations (built under a temporary name, then renamed, so a
//! half-built template is never used, also when several test processes start at once);
//! every `TestDb` after that is a file copy of the template plus an open.
//!
//! PostgreSQL: the same idea with `CREATE DATABASE … TEMPLATE`: a template database named
//! after the migrations hash is migrated once per server (under an advisory lock, marked a
//! template only when complete), each `TestDb` is a clone of it under a fresh name, and
//! dropping the `TestDb` drops that database.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::OnceLock;

use tempfile::TempDir;

use crate::clock::RealClock;
use crate::clock::SharedClock;
use crate::database::AnyStore;
use crate::database::Engine;
use crate::database::Error;
use crate::database::Location;
use crate::database::OpenConfig;
use crate::database::Result;
use crate::database::TxStore;
use crate::database::sqlite::SqliteStore;
use crate::database::sqlite::StoreConfig;
use crate::database::sqlite::migrations_fingerprint;
use crate::testing::fixture_json;
use crate::testing::fixture_json::FixtureError;
use crate::testing::fixture_json::FixtureSource;

/// Which engine a [`TestDb`] is created on.
#[derive(Clone, PartialEq, Eq)]
pub enum TestEngine {
    /// A SQLite file in a temp directory (the default).
    Sqlite,
    /// A fresh database on the PostgreSQL server `url` points at. The URL's user must be
    /// allowed to create databases; the URL's own database is used only to create and drop
    /// the per-test databases.
    Postgres { url: String },
}

impl TestEngine {
    pub fn engine(&self) -> Engine {
        match self {
            TestEngine::Sqlite => Engine::Sqlite,
            TestEngine::Postgres { .. } => Engine::Postgres,
        }
    }
}

impl std::fmt::Debug for TestEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TestEngine::Sqlite => f.write_str("Sqlite"),
            TestEngine::Postgres { url } => write!(f, "Postgres({})", crate::database::any::redact_url(url)),
        }
    }
}

/// A fresh database. `store` is open on it; [`TestDb::open_another`] opens more stores on
/// the same database (other "processes" of a test).
pub struct TestDb {
    pub store: AnyStore,
    // Declared after `store`, so the store's connections close before the database goes.
    backing: Backing,
}

enum Backing {
    Sqlite {
        dir: TempDir,
    },
    /// Dropped with the `TestDb`, dropping the database.
    #[cfg(feature = "postgres")]
    Postgres {
        _database: pg::TestDatabase,
    },
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb").field("location", &self.location()).finish()
    }
}

impl TestDb {
    /// A fresh SQLite database on the real clock.
    pub fn new() -> Result<Self> {
        Self::with_clock(Arc::new(RealClock))
    }

    /// A fresh SQLite database with fixture sets loaded: embedded names (`"demo"`) or file
    /// paths.
    pub fn with_fixtures(names: &[&str]) -> std::result::Result<Self, FixtureError> {
        Self::with_fixtures_on(&TestEngine::Sqlite, names)
    }

    /// A fresh database on `engine` with fixture sets loaded.
    pub fn with_fixtures_on(engine: &TestEngine, names: &[&str]) -> std::result::Result<Self, FixtureError> {
        let db = Self::create(engine, Arc::new(RealClock)).map_err(|e| FixtureError {
            file: "test database".into(),
            location: String::new(),
            message: e.to_string(),
        })?;
        let sources = names.iter().map(|n| FixtureSource::named(n)).collect::<std::result::Result<Vec<_>, _>>()?;
        fixture_json::load(&db.store, &sources)?;
        Ok(db)
    }

    /// A fresh SQLite database whose store reads time from `clock` (a `MockClock` in most
    /// tests).
    pub fn with_clock(clock: SharedClock) -> Result<Self> {
        Self::with_config(|path| StoreConfig::new(path, clock, "test"))
    }

    /// A fresh PostgreSQL database on the server `url` points at, on the real clock.
    pub fn postgres(url: &str) -> Result<Self> {
        Self::create(&TestEngine::Postgres { url: url.to_owned() }, Arc::new(RealClock))
    }

    /// A fresh database on `engine`, on the real clock.
    pub fn on(engine: &TestEngine) -> Result<Self> {
        Self::create(engine, Arc::new(RealClock))
    }

    /// A fresh database on `engine` whose store reads time from `clock`.
    pub fn create(engine: &TestEngine, clock: SharedClock) -> Result<Self> {
        match engine {
            TestEngine::Sqlite => Self::with_clock(clock),
            #[cfg(feature = "postgres")]
            TestEngine::Postgres { url } => {
                let database = pg::TestDatabase::create(url)?;
                let config = OpenConfig::new(Location::Postgres(database.url.clone()), clock, "test");
                let store = AnyStore::open(&config)?;
                Ok(Self { store, backing: Backing::Postgres { _database: database } })
            }
            #[cfg(not(feature = "postgres"))]
            TestEngine::Postgres { .. } => Err(Error::Unreachable {
                target: "test server".to_owned(),
                message: "this coderlite was built without the `postgres` feature".to_owned(),
            }),
        }
    }

    /// A fresh SQLite database opened with the config `make_config` builds for its path.
    pub fn with_config(make_config: impl FnOnce(PathBuf) -> StoreConfig) -> Result<Self> {
        let template = template_path()?;
        let dir = tempfile::Builder::new()
            .prefix("coderlite-test-")
            .tempdir()
            .map_err(|e| io_error(Path::new("temp dir"), e))?;
        let path = dir.path().join("coderlite.db");
        fs::copy(template, &path).map_err(|e| io_error(&path, e))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).map_err(|e| io_error(&path, e))?;
        let store = SqliteStore::open(make_config(path))?;
        Ok(Self { store: AnyStore::Sqlite(store), backing: Backing::Sqlite { dir } })
    }

    pub fn engine(&self) -> Engine {
        self.store.engine()
    }

    /// Where the database is: `--db` for a `coderlite` process of the test.
    pub fn location(&self) -> Location {
        self.store.location()
    }

    /// `--db` for a `coderlite` process of the test: the file path, or the PostgreSQL URL
    /// (whole: it goes on a command line, not in a log).
    pub fn db_arg(&self) -> std::ffi::OsString {
        match self.location() {
            Location::Sqlite(path) => path.into_os_string(),
            Location::Postgres(url) => url.into(),
        }
    }

    /// The config to open another store on the same database as another replica or process
    /// of a test would: the same clock, its own replica ID. Adjust it (a shorter lock
    /// timeout) and open it with `AnyStore::open`.
    pub fn open_config(&self, replica_id: &str) -> OpenConfig {
        OpenConfig::new(self.location(), self.store.clock(), replica_id)
    }

    /// Opens another store on the same database (see [`TestDb::open_config`]).
    pub fn open_another(&self, replica_id: &str) -> Result<AnyStore> {
        AnyStore::open(&self.open_config(replica_id))
    }

    /// The database file. SQLite only: panics on a PostgreSQL `TestDb`, which has none.
    pub fn path(&self) -> PathBuf {
        self.dir().join("coderlite.db")
    }

    /// The directory holding the database; removed on drop. SQLite only.
    pub fn dir(&self) -> &Path {
        match &self.backing {
            Backing::Sqlite { dir } => dir.path(),
            #[cfg(feature = "postgres")]
            Backing::Postgres { .. } => panic!("TestDb::dir: a PostgreSQL test database has no file"),
        }
    }

    /// The SQLite config the store was opened with, to open another store on the same file.
    /// SQLite only.
    pub fn config(&self) -> StoreConfig {
        self.sqlite().config().clone()
    }

    /// The SQLite store. SQLite only.
    pub fn sqlite(&self) -> &SqliteStore {
        self.store.as_sqlite().expect("TestDb::sqlite: this test database is on PostgreSQL")
    }

    /// Runs `sql` (one or more statements, no results) on a connection of its own, outside
    /// the store: for tests that set up states the store's API refuses to make. Write SQL
    /// both engines accept, or branch on [`TestDb::engine`].
    pub fn execute_sql(&self, sql: &str) -> Result<()> {
        execute_sql(&self.location(), sql)
    }

    /// The one integer `sql` selects (a count, a flag), read on a connection of its own.
    pub fn query_i64(&self, sql: &str) -> Result<i64> {
        query_i64(&self.location(), sql)
    }

    /// The one text value `sql` selects, read on a connection of its own.
    pub fn query_text(&self, sql: &str) -> Result<String> {
        query_text(&self.location(), sql)
    }
}

/// A place for a database that does not exist yet: a path in a fresh temp directory, or a
/// fresh PostgreSQL database without coderlite's schema. For tests of first starts (several
/// processes creating and migrating one database at once). Removed on drop.
pub struct EmptyDb {
    location: Location,
    _dir: Option<TempDir>,
    #[cfg(feature = "postgres")]
    _database: Option<pg::TestDatabase>,
}

impl EmptyDb {
    pub fn create(engine: &TestEngine) -> Result<Self> {
        match engine {
            TestEngine::Sqlite => {
                let dir = tempfile::Builder::new()
                    .prefix("coderlite-test-")
                    .tempdir()
                    .map_err(|e| io_error(Path::new("temp dir"), e))?;
                let location = Location::Sqlite(dir.path().join("fresh.db"));
                Ok(Self {
                    location,
                    _dir: Some(dir),
                    #[cfg(feature = "postgres")]
                    _database: None,
                })
            }
            #[cfg(feature = "postgres")]
            TestEngine::Postgres { url } => {
                let database = pg::TestDatabase::create_empty(url)?;
                Ok(Self { location: Location::Postgres(database.url.clone()), _dir: None, _database: Some(database) })
            }
            #[cfg(not(feature = "postgres"))]
            TestEngine::Postgres { .. } => Err(Error::Unreachable {
                target: "test server".to_owned(),
                message: "this coderlite was built without the `postgres` feature".to_owned(),
            }),
        }
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// `--db` for a `coderlite` process of the test (see [`TestDb::db_arg`]).
    pub fn db_arg(&self) -> std::ffi::OsString {
        match &self.location {
            Location::Sqlite(path) => path.clone().into_os_string(),
            Location::Postgres(url) => url.into(),
        }
    }

    /// Opens a store on it (creating and migrating it).
    pub fn open(&self, clock: SharedClock, replica_id: &str) -> Result<AnyStore> {
        AnyStore::open(&OpenConfig::new(self.location.clone(), clock, replica_id))
    }
}

/// Runs `sql` (one or more statements, no results) on a connection of its own to the
/// database at `location`, outside any store: for tests that set up states the store's API
/// refuses to make, and for processes' databases a test inspects.
pub fn execute_sql(location: &Location, sql: &str) -> Result<()> {
    match location {
        Location::Sqlite(path) => sqlite_connection(path, sql)?.execute_batch(sql).map_err(|e| raw_error(sql, e)),
        #[cfg(feature = "postgres")]
        Location::Postgres(url) => pg::connect(url)?.batch_execute(sql).map_err(|e| raw_error(sql, e)),
        #[cfg(not(feature = "postgres"))]
        Location::Postgres(_) => Err(no_postgres()),
    }
}

/// The one integer `sql` selects at `location` (see [`execute_sql`]).
pub fn query_i64(location: &Location, sql: &str) -> Result<i64> {
    match location {
        Location::Sqlite(path) => {
            sqlite_connection(path, sql)?.query_row(sql, [], |r| r.get(0)).map_err(|e| raw_error(sql, e))
        }
        #[cfg(feature = "postgres")]
        Location::Postgres(url) => {
            let row = pg::connect(url)?.query_one(sql, &[]).map_err(|e| raw_error(sql, e))?;
            // Counts are bigint; a test may select an int.
            row.try_get::<_, i64>(0).or_else(|_| row.try_get::<_, i32>(0).map(i64::from)).map_err(|e| raw_error(sql, e))
        }
        #[cfg(not(feature = "postgres"))]
        Location::Postgres(_) => Err(no_postgres()),
    }
}

/// The one text value `sql` selects at `location` (see [`execute_sql`]).
pub fn query_text(location: &Location, sql: &str) -> Result<String> {
    match location {
        Location::Sqlite(path) => {
            sqlite_connection(path, sql)?.query_row(sql, [], |r| r.get(0)).map_err(|e| raw_error(sql, e))
        }
        #[cfg(feature = "postgres")]
        Location::Postgres(url) => {
            let row = pg::connect(url)?.query_one(sql, &[]).map_err(|e| raw_error(sql, e))?;
            row.try_get(0).map_err(|e| raw_error(sql, e))
        }
        #[cfg(not(feature = "postgres"))]
        Location::Postgres(_) => Err(no_postgres()),
    }
}

fn sqlite_connection(path: &Path, sql: &str) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(|e| raw_error(sql, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(|e| raw_error(sql, e))?;
    Ok(conn)
}

#[cfg(not(feature = "postgres"))]
fn no_postgres() -> Error {
    Error::Unreachable {
        target: "test server".to_owned(),
        message: "this coderlite was built without the `postgres` feature".to_owned(),
    }
}

fn raw_error(sql: &str, e: impl std::fmt::Display) -> Error {
    Error::InvalidValue { op: "test SQL", column: "result", message: format!("{e} (in {sql:?})") }
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::Open { path: path.to_owned(), message: e.to_string() }
}

/// The migrated template for this binary's migrations, built at most once per process.
fn template_path() -> Result<&'static Path> {
    static TEMPLATE: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| build_template().map_err(|e| e.to_string()))
        .as_deref()
        .map_err(|message| Error::Open { path: PathBuf::from("test template"), message: message.clone() })
}

fn build_template() -> Result<PathBuf> {
    let fingerprint = migrations_fingerprint();
    let path = std::env::temp_dir().join(format!("coderlite-template-{}.db", &fingerprint[..16]));
    if path.exists() {
        return Ok(path);
    }
    let scratch = tempfile::Builder::new().prefix("coderlite-template-").tempdir().map_err(|e| io_error(&path, e))?;
    let store = SqliteStore::open(StoreConfig::new(scratch.path().join("build.db"), Arc::new(RealClock), "template"))?;
    // VACUUM INTO writes a standalone file (no WAL beside it); rename publishes it atomically.
    let partial = scratch.path().join("template.db");
    store.vacuum_into(&partial)?;
    drop(store);
    fs::rename(&partial, &path).or_else(|_| fs::copy(&partial, &path).map(|_| ())).map_err(|e| io_error(&path, e))?;
    Ok(path)
}

#[cfg(feature = "postgres")]
mod pg {
    //! Per-test PostgreSQL databases cloned from a migrated template database.

    use std::collections::HashMap;
    use std::collections::VecDeque;
    use std::sync::Arc;
    use std::sync::Condvar;
    use std::sync::Mutex;
    use std::sync::OnceLock;
    use std::time::Duration;
    use std::time::Instant;

    use postgres::Client;
    use postgres::NoTls;
    use postgres::error::SqlState;

    use crate::clock::RealClock;
    use crate::database::Error;
    use crate::database::Result;
    use crate::database::gen_lock_id;
    use crate::database::postgres::PgConfig;
    use crate::database::postgres::PgStore;
    use crate::database::postgres::migrations_fingerprint;

    /// One per-test database; dropped (connections and all) when this drops.
    pub(super) struct TestDatabase {
        admin_url: String,
        name: String,
        /// The URL of the per-test database.
        pub(super) url: String,
    }

    fn error(op: &'static str, e: &postgres::Error) -> Error {
        Error::Postgres { op, message: e.to_string() }
    }

    /// One admin connection per server URL for the whole process (creating and dropping
    /// databases), connected on first use.
    fn with_admin<T>(admin_url: &str, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        static ADMIN: OnceLock<Mutex<HashMap<String, Client>>> = OnceLock::new();
        let mut clients = ADMIN.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
        if clients.get(admin_url).is_none_or(Client::is_closed) {
            let client = connect(admin_url)?;
            clients.insert(admin_url.to_owned(), client);
        }
        f(clients.get_mut(admin_url).expect("admin client inserted above"))
    }

    pub(super) fn connect(url: &str) -> Result<Client> {
        let mut config: postgres::Config = url.parse().map_err(|e: postgres::Error| Error::Unreachable {
            target: "test server".into(),
            message: e.to_string(),
        })?;
        config.application_name("coderlite-testdb");
        config
            .connect(NoTls)
            .map_err(|e| Error::Unreachable { target: crate::database::any::redact_url(url), message: e.to_string() })
    }

    /// The migrated template database of this binary's migrations on the server `admin_url`
    /// points at, built at most once per server (and once per process checked).
    fn template(admin_url: &str) -> Result<String> {
        static BUILT: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
        let built = BUILT.get_or_init(Default::default);
        if let Some(name) = built.lock().unwrap_or_else(|p| p.into_inner()).get(admin_url) {
            return Ok(name.clone());
        }
        let name = format!("coderlite_template_{}", &migrations_fingerprint()[..16]);
        with_admin(admin_url, |admin| {
            let ready = |admin: &mut Client| -> Result<Option<bool>> {
                let row = admin
                    .query_opt("SELECT datistemplate FROM pg_database WHERE datname = $1", &[&name])
                    .map_err(|e| error("look up test template", &e))?;
                Ok(row.map(|r| r.get(0)))
            };
            if ready(admin)? == Some(true) {
                return Ok(());
            }
            // Test processes building the template at once: one builds, the others wait.
            let lock = gen_lock_id("coderlite-test-template");
            admin.execute("SELECT pg_advisory_lock($1)", &[&lock]).map_err(|e| error("lock test template", &e))?;
            let res = (|| {
                match ready(admin)? {
                    Some(true) => return Ok(()),
                    // A builder died half-way: start over.
                    Some(false) => drop_database(admin, &name)?,
                    None => {}
                }
                admin
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .map_err(|e| error("create test template", &e))?;
                let store = PgStore::open(PgConfig::new(
                    crate::database::postgres::url_with_database(admin_url, &name),
                    Arc::new(RealClock),
                    "template",
                ))?;
                drop(store);
                // Only a complete template is marked one; clones wait for its last
                // connection to go.
                admin
                    .batch_execute(&format!("ALTER DATABASE {name} WITH IS_TEMPLATE true"))
                    .map_err(|e| error("mark test template", &e))
            })();
            let _ = admin.execute("SELECT pg_advisory_unlock($1)", &[&lock]);
            res
        })?;
        built.lock().unwrap_or_else(|p| p.into_inner()).insert(admin_url.to_owned(), name.clone());
        Ok(name)
    }

    fn drop_database(admin: &mut Client, name: &str) -> Result<()> {
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .map_err(|e| error("drop test database", &e))
    }

    /// How many fresh databases the pool keeps ready ahead of demand.
    const POOL_SIZE: usize = 3;

    /// The first key of the advisory lock each process holds while its pool lives (the
    /// second is the process's token): a database named after a token whose lock nobody
    /// holds belongs to a process that is gone, and is dropped.
    const ALIVE_LOCK_KEY: i32 = 0x636c_7462;

    /// Fresh databases cloned from the template ahead of demand, and the drops of used ones,
    /// done by one background thread per server so a test neither waits for `CREATE
    /// DATABASE` (when the pool keeps up) nor for `DROP DATABASE`.
    struct Pool {
        admin_url: String,
        /// Names this process's databases: `coderlite_test_<token>_<n>`.
        token: u32,
        state: Mutex<PoolState>,
        changed: Condvar,
    }

    #[derive(Default)]
    struct PoolState {
        ready: VecDeque<String>,
        to_drop: Vec<String>,
        next: u64,
        /// Set when the pool cannot create databases; handed to every waiting test.
        failed: Option<String>,
    }

    fn pool(admin_url: &str) -> Result<Arc<Pool>> {
        static POOLS: OnceLock<Mutex<HashMap<String, Arc<Pool>>>> = OnceLock::new();
        let mut pools = POOLS.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
        if let Some(pool) = pools.get(admin_url) {
            return Ok(Arc::clone(pool));
        }
        let template = template(admin_url)?;
        let mut token_bytes = [0u8; 4];
        getrandom::fill(&mut token_bytes)
            .map_err(|e| Error::Open { path: "test pool".into(), message: e.to_string() })?;
        let pool = Arc::new(Pool {
            admin_url: admin_url.to_owned(),
            token: u32::from_le_bytes(token_bytes) & 0x7fff_ffff,
            state: Mutex::new(PoolState::default()),
            changed: Condvar::new(),
        });
        let mut admin = connect(admin_url)?;
        admin
            .execute("SELECT pg_advisory_lock($1, $2)", &[&ALIVE_LOCK_KEY, &(pool.token as i32)])
            .map_err(|e| error("lock test pool", &e))?;
        sweep_dead_processes(&mut admin, pool.token);
        let worker = Arc::clone(&pool);
        std::thread::Builder::new()
            .name("testdb-pool".to_owned())
            .spawn(move || worker.run(admin, &template))
            .map_err(|e| Error::Open { path: "test pool".into(), message: e.to_string() })?;
        pools.insert(admin_url.to_owned(), Arc::clone(&pool));
        Ok(pool)
    }

    /// Drops the test databases of processes that are gone (their pool's lock is free).
    fn sweep_dead_processes(admin: &mut Client, own_token: u32) {
        let Ok(rows) =
            admin.query("SELECT datname::text FROM pg_database WHERE datname LIKE 'coderlite\\_test\\_%'", &[])
        else {
            return;
        };
        for row in rows {
            let name: String = row.get(0);
            let Some(token) = name.split('_').nth(2).and_then(|t| u32::from_str_radix(t, 16).ok()) else { continue };
            if token == own_token {
                continue;
            }
            let free: bool = admin
                .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&ALIVE_LOCK_KEY, &(token as i32)])
                .map(|r| r.get(0))
                .unwrap_or(false);
            if free {
                let _ = drop_database(admin, &name);
                let _ = admin.execute("SELECT pg_advisory_unlock($1, $2)", &[&ALIVE_LOCK_KEY, &(token as i32)]);
            }
        }
    }

    impl Pool {
        fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
            self.state.lock().unwrap_or_else(|p| p.into_inner())
        }

        /// A fresh database, waiting for the pool when it is empty.
        fn take(&self) -> Result<String> {
            let mut state = self.lock();
            loop {
                if let Some(name) = state.ready.pop_front() {
                    self.changed.notify_all();
                    return Ok(name);
                }
                if let Some(message) = &state.failed {
                    return Err(Error::Open { path: "test database".into(), message: message.clone() });
                }
                state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
            }
        }

        fn drop_later(&self, name: String) {
            self.lock().to_drop.push(name);
            self.changed.notify_all();
        }

        fn new_name(&self) -> String {
            let mut state = self.lock();
            state.next += 1;
            format!("coderlite_test_{:08x}_{}", self.token, state.next)
        }

        /// The background thread: keeps `POOL_SIZE` databases ready, drops used ones when
        /// nothing else is needed. Lives as long as the process.
        fn run(&self, mut admin: Client, template: &str) {
            loop {
                let job = {
                    let mut state = self.lock();
                    loop {
                        if state.failed.is_none() && state.ready.len() < POOL_SIZE {
                            break None;
                        }
                        if let Some(name) = state.to_drop.pop() {
                            break Some(name);
                        }
                        state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
                    }
                };
                match job {
                    Some(name) => {
                        if let Err(e) = drop_database(&mut admin, &name) {
                            eprintln!("warning: could not drop test database {name}: {e}");
                        }
                    }
                    None => {
                        let name = self.new_name();
                        match create_from_template(&mut admin, &self.admin_url, &name, template) {
                            Ok(()) => self.lock().ready.push_back(name),
                            Err(e) => self.lock().failed = Some(e.to_string()),
                        }
                        self.changed.notify_all();
                    }
                }
            }
        }
    }

    /// Clones the template into `name` and connects once, so the first store to open it
    /// finds its catalog caches built.
    fn create_from_template(admin: &mut Client, admin_url: &str, name: &str, template: &str) -> Result<()> {
        let started = Instant::now();
        loop {
            match admin.batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")) {
                Ok(()) => break,
                // The template's last builder connection is still closing.
                Err(e) if e.code() == Some(&SqlState::OBJECT_IN_USE) && started.elapsed() < Duration::from_secs(10) => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(error("create test database", &e)),
            }
        }
        let mut warm = connect(&crate::database::postgres::url_with_database(admin_url, name))?;
        warm.batch_execute("SELECT version FROM refinery_schema_history LIMIT 1")
            .map_err(|e| error("warm test database", &e))?;
        Ok(())
    }

    impl TestDatabase {
        pub(super) fn create(admin_url: &str) -> Result<Self> {
            let name = pool(admin_url)?.take()?;
            let url = crate::database::postgres::url_with_database(admin_url, &name);
            Ok(Self { admin_url: admin_url.to_owned(), name, url })
        }

        /// A database without coderlite's schema.
        pub(super) fn create_empty(admin_url: &str) -> Result<Self> {
            let name = pool(admin_url)?.new_name();
            with_admin(admin_url, |admin| {
                admin.batch_execute(&format!("CREATE DATABASE {name}")).map_err(|e| error("create test database", &e))
            })?;
            let url = crate::database::postgres::url_with_database(admin_url, &name);
            Ok(Self { admin_url: admin_url.to_owned(), name, url })
        }
    }

    /// Dropped in the background by the pool (a process that exits first leaves the drop to
    /// the next one's sweep).
    impl Drop for TestDatabase {
        fn drop(&mut self) {
            match pool(&self.admin_url) {
                Ok(pool) => pool.drop_later(std::mem::take(&mut self.name)),
                Err(e) => eprintln!("warning: could not drop test database {}: {e}", self.name),
            }
        }
    }
}
