//! Command-line interface. One file per command group; each command parses, calls one domain
//! function and prints. Output shapes for `-o json` are structs defined here (SPEC §10), never
//! row types serialized directly, so a column rename cannot change a user's contract.

mod args;
mod db;
mod debug;
mod fixtures;
mod insights;
mod output;
mod prebuilds;
mod providers;
mod rollup;
mod server;
mod setup;
mod telemetry;
mod users;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use clap::Subcommand;
use clap::ValueEnum;
use coderlite::clock::RealClock;
use coderlite::database::sqlite::SqliteStore;
use coderlite::database::sqlite::StoreConfig;

/// coderlite: an embedded, single-file Coder-style control plane.
#[derive(Debug, Parser)]
#[command(name = "coderlite", version, about, propagate_version = true)]
pub struct Cli {
    /// The database file. Default: $XDG_DATA_HOME/coderlite/coderlite.db, else
    /// ~/.local/share/coderlite/coderlite.db. Parent directories are created.
    #[arg(long, global = true, env = "CODERLITE_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// Log format on stderr.
    #[arg(long, global = true, env = "CODERLITE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,

    /// More log output (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Output format of read commands.
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the control plane until SIGINT/SIGTERM.
    Server(server::ServerArgs),
    /// Migrate and run deployment setup, print the deployment ID, then exit.
    Setup,
    /// Apply migrations and print the schema version.
    Migrate,
    /// Database maintenance.
    Db {
        #[command(subcommand)]
        command: db::DbCommand,
    },
    /// Show held lock rows and leases.
    Locks,
    /// Run the template usage rollup once now.
    Rollup,
    /// Insights over the template usage rollup.
    Insights {
        #[command(subcommand)]
        command: insights::InsightsCommand,
    },
    /// JSON fixtures (format: fixtures/README.md).
    Fixtures {
        #[command(subcommand)]
        command: fixtures::FixturesCommand,
    },
    /// Prebuilt workspaces.
    Prebuilds {
        #[command(subcommand)]
        command: prebuilds::PrebuildsCommand,
    },
    /// AI providers (seeded from CODER_AIBRIDGE_* env vars).
    Providers {
        #[command(subcommand)]
        command: providers::ProvidersCommand,
    },
    /// Users and license seats.
    Users {
        #[command(subcommand)]
        command: users::UsersCommand,
    },
    /// Telemetry (boundary usage).
    Telemetry {
        #[command(subcommand)]
        command: telemetry::TelemetryCommand,
    },
    /// Helpers for multi-process tests.
    #[command(hide = true)]
    Debug {
        #[command(subcommand)]
        command: debug::DebugCommand,
    },
}

/// An error as printed: `<what failed>: <why>`.
#[derive(Debug)]
pub struct CliError {
    what: String,
    why: Box<dyn std::error::Error + Send + Sync>,
}

impl CliError {
    pub fn new(what: impl Into<String>, why: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self { what: what.into(), why: why.into() }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.why)?;
        let mut source = self.why.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// A store error raised inside a transaction closure that returns `CliError`.
impl From<coderlite::database::Error> for CliError {
    fn from(e: coderlite::database::Error) -> Self {
        CliError::new("database", e)
    }
}

/// Adds the "what failed" part to any error.
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, CliError>;
}

impl<T, E> Context<T> for Result<T, E>
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn context(self, what: impl FnOnce() -> String) -> Result<T, CliError> {
        self.map_err(|e| CliError::new(what(), e))
    }
}

pub fn init_tracing(cli: &Cli) {
    use tracing_subscriber::EnvFilter;

    let base = match (&cli.command, cli.verbose) {
        (_, 0) if matches!(cli.command, Command::Server(_)) => "info",
        (_, 0) => "warn",
        (_, 1) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("CODERLITE_LOG").unwrap_or_else(|_| EnvFilter::new(base));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

pub fn run(cli: Cli) -> Result<(), CliError> {
    let ctx = GlobalArgs { db: cli.db, output: cli.output };
    match cli.command {
        Command::Server(args) => server::run(&ctx, args),
        Command::Setup => setup::run(&ctx),
        Command::Migrate => db::migrate(&ctx),
        Command::Db { command } => db::run(&ctx, command),
        Command::Locks => db::locks(&ctx),
        Command::Rollup => rollup::run(&ctx),
        Command::Insights { command } => insights::run(&ctx, command),
        Command::Fixtures { command } => fixtures::run(&ctx, command),
        Command::Telemetry { command } => telemetry::run(&ctx, command),
        Command::Users { command } => users::run(&ctx, command),
        Command::Providers { command } => providers::run(&ctx, command),
        Command::Prebuilds { command } => prebuilds::run(&ctx, command, &prebuilds::config_from_env()?),
        Command::Debug { command } => debug::run(&ctx, command),
    }
}

/// The global options every command sees.
pub struct GlobalArgs {
    db: Option<PathBuf>,
    pub output: OutputFormat,
}

impl GlobalArgs {
    /// The database path: `--db`, `CODERLITE_DB`, or the XDG default.
    pub fn db_path(&self) -> Result<PathBuf, CliError> {
        if let Some(path) = &self.db {
            return Ok(path.clone());
        }
        let data_home = std::env::var_os("XDG_DATA_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")))
            .ok_or_else(|| {
                CliError::new("locate database", "neither --db, CODERLITE_DB, XDG_DATA_HOME nor HOME is set")
            })?;
        Ok(data_home.join("coderlite").join("coderlite.db"))
    }

    /// Opens (creating and migrating) the database with a store config built by `configure`.
    pub fn open_with(&self, configure: impl FnOnce(&mut StoreConfig)) -> Result<SqliteStore, CliError> {
        let path = self.db_path()?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).context(|| format!("create directory {}", parent.display()))?;
        }
        let mut config = StoreConfig::new(&path, Arc::new(RealClock), format!("cli-{}", uuid::Uuid::new_v4()));
        configure(&mut config);
        SqliteStore::open(config).map_err(|e| {
            let what = format!("open database {}", path.display());
            match e {
                // Already says which file; keep only the reason.
                coderlite::database::Error::Open { message, .. } => CliError::new(what, message),
                other => CliError::new(what, other),
            }
        })
    }

    /// Opens the database with the default store config.
    pub fn open(&self) -> Result<SqliteStore, CliError> {
        self.open_with(|_| {})
    }
}
