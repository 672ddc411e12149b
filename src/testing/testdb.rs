//! `TestDb`: a fresh, migrated database in its own temp directory, removed on drop.
//!
//! The first `TestDb` of a process migrates once into a template file named after a hash of
//! the embedded migrations (built under a temporary name, then renamed, so a half-built
//! template is never used, also when several test processes start at once); every `TestDb`
//! after that is a file copy of the template plus an open.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::OnceLock;

use tempfile::TempDir;

use crate::clock::RealClock;
use crate::clock::SharedClock;
use crate::database::Error;
use crate::database::Result;
use crate::database::sqlite::SqliteStore;
use crate::database::sqlite::StoreConfig;
use crate::database::sqlite::migrations_fingerprint;
use crate::testing::fixture_json;
use crate::testing::fixture_json::FixtureError;
use crate::testing::fixture_json::FixtureSource;

/// A fresh database. `store` is open on it; `config()` opens more stores on the same file.
pub struct TestDb {
    pub store: SqliteStore,
    dir: TempDir,
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb").field("path", &self.path()).finish()
    }
}

impl TestDb {
    /// A fresh database on the real clock.
    pub fn new() -> Result<Self> {
        Self::with_clock(Arc::new(RealClock))
    }

    /// A fresh database with fixture sets loaded: embedded names (`"demo"`) or file paths.
    pub fn with_fixtures(names: &[&str]) -> std::result::Result<Self, FixtureError> {
        let db = Self::new().map_err(|e| FixtureError {
            file: "test database".into(),
            location: String::new(),
            message: e.to_string(),
        })?;
        let sources = names.iter().map(|n| FixtureSource::named(n)).collect::<std::result::Result<Vec<_>, _>>()?;
        fixture_json::load(&db.store, &sources)?;
        Ok(db)
    }

    /// A fresh database whose store reads time from `clock` (a `MockClock` in most tests).
    pub fn with_clock(clock: SharedClock) -> Result<Self> {
        Self::with_config(|path| StoreConfig::new(path, clock, "test"))
    }

    /// A fresh database opened with the config `make_config` builds for its path.
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
        Ok(Self { store, dir })
    }

    /// The database file.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("coderlite.db")
    }

    /// The directory holding the database; removed on drop.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The config the store was opened with, to open another store on the same file.
    pub fn config(&self) -> StoreConfig {
        self.store.config().clone()
    }
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
