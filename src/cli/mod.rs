//! Command-line interface. One file per command group; each command parses, calls one domain
//! function and prints. Output shapes for `-o json` are structs defined here, never
//! row types serialized directly, so a column rename cannot change a user's contract.

mod args;
mod db;
mod debug;
mod fixtures;
mod insights;
mod output;
mod prebuilds;
mod providers;
mod resolve;
mod rollup;
mod server;
mod setup;
mod telemetry;
mod templates;
mod tokens;
mod users;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use clap::Subcommand;
use clap::ValueEnum;
use coderlite::clock::RealClock;
use coderlite::clock::SharedClock;
use coderlite::database::AnyStore;
use coderlite::database::Location;
use coderlite::database::OpenConfig;

/// coderlite: an embedded, single-file Coder-style control plane.
#[derive(Debug, Parser)]
#[command(name = "coderlite", version, about, propagate_version = true)]
pub struct Cli {
    /// The database: a SQLite file path, or a PostgreSQL URL
    /// (postgres://USER:PASSWORD@HOST:PORT/DATABASE). Default: $XDG_DATA_HOME/coderlite/coderlite.db,
    /// else ~/.local/share/coderlite/coderlite.db. Only server, setup and migrate create a
    /// database (providers seed and fixtures load also a SQLite file); other commands need
    /// it to exist.
    #[arg(long, global = true, env = "CODERLITE_DB", value_name = "PATH|URL", help_heading = "Global options")]
    pub db: Option<PathBuf>,

    /// Log format on stderr.
    #[arg(long, global = true, env = "CODERLITE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human, help_heading = "Global options")]
    pub log_format: LogFormat,

    /// More log output (-v debug, -vv trace). CODERLITE_LOG (a tracing filter such as
    /// `info,coderlite::prebuilds=debug`) replaces the level.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = "Global options")]
    pub verbose: u8,

    /// Output format of commands that print data.
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = OutputFormat::Table, help_heading = "Global options")]
    pub output: OutputFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One line per event, for people.
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned plain-text tables (upstream's CLI calls this `table`).
    #[value(alias = "human")]
    Table,
    /// One line of JSON (the shapes are stable; see README).
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the control plane until SIGINT/SIGTERM.
    Server(Box<server::ServerArgs>),
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
    /// Servers registered on the database (replica ID, host, pid, last heartbeat).
    Replicas,
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
    /// Templates.
    Templates {
        #[command(subcommand)]
        command: templates::TemplatesCommand,
    },
    /// API tokens for the HTTP API (create, list, revoke).
    Tokens {
        #[command(subcommand)]
        command: tokens::TokensCommand,
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

/// An error as printed: `<what failed>: <why>`, and the exit code (1, or 2 for bad usage).
#[derive(Debug)]
pub struct CliError {
    what: String,
    why: Box<dyn std::error::Error + Send + Sync>,
    exit_code: u8,
}

impl CliError {
    pub fn new(what: impl Into<String>, why: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self { what: what.into(), why: why.into(), exit_code: 1 }
    }

    /// Bad usage (a flag or variable out of range, malformed): exit code 2, as clap's own.
    pub fn usage(what: impl Into<String>, why: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self { exit_code: 2, ..Self::new(what, why) }
    }

    pub fn exit_code(&self) -> u8 {
        self.exit_code
    }
}

impl fmt::Display for CliError {
    /// Each cause once: a cause whose text already ends the line so far (an error that
    /// prints its source inside its own message) is not repeated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = format!("{}: {}", self.what, self.why);
        let mut source = self.why.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !line.ends_with(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            source = cause.source();
        }
        f.write_str(&line)
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

/// Sets up logging on stderr. A bad `CODERLITE_LOG` filter is refused (exit 2), never
/// silently replaced. Colour only on a terminal, and never with `NO_COLOR` set. Write
/// failures (a closed pipe) are dropped quietly: a log line must never take a thread down.
pub fn init_tracing(cli: &Cli) -> Result<(), CliError> {
    use std::io::IsTerminal;

    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    // `-v`/`-vv` make coderlite itself more verbose; other crates stay at their INFO (their
    // DEBUG can print statement parameters: keys, hashes, tokens) unless CODERLITE_LOG names
    // them.
    let base = match (&cli.command, cli.verbose) {
        (_, 0) if matches!(cli.command, Command::Server(_)) => "info",
        (_, 0) => "warn",
        (_, 1) => "info,coderlite=debug",
        _ => "info,coderlite=trace",
    };
    let directives = match std::env::var("CODERLITE_LOG") {
        Ok(text) if !text.trim().is_empty() => {
            EnvFilter::builder()
                .parse(&text)
                .map_err(|e| CliError::usage(format!("invalid CODERLITE_LOG {text:?}"), e))?;
            text
        }
        _ => base.to_owned(),
    };
    // refinery narrates every migration at info; coderlite logs one line of its own.
    let filter = EnvFilter::builder()
        .parse(format!("{directives},refinery_core=warn,refinery=warn"))
        .map_err(|e| CliError::usage("log filter", e))?;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && !no_color)
        .log_internal_errors(false);
    let never_parameters =
        tracing_subscriber::filter::filter_fn(|meta| keeps_parameters_out(meta.target(), *meta.level()));
    match cli.log_format {
        LogFormat::Human => builder.finish().with(never_parameters).init(),
        LogFormat::Json => builder.json().finish().with(never_parameters).init(),
    }
    Ok(())
}

/// Whether an event of `target` at `level` may be logged whatever the filter says: the
/// PostgreSQL client logs each statement's bound parameters (signing keys, password hashes,
/// API key hashes, provider keys) at DEBUG, and relays the server's notices at INFO; neither
/// is ever shown. Its warnings and errors are.
fn keeps_parameters_out(target: &str, level: tracing::Level) -> bool {
    let postgres_client = ["tokio_postgres", "postgres", "r2d2_postgres"]
        .iter()
        .any(|t| target == *t || target.strip_prefix(t).is_some_and(|rest| rest.starts_with("::")));
    !postgres_client || level <= tracing::Level::WARN
}

/// Runs the parsed command; `matches` tells flags from environment variables in errors.
pub fn run(cli: Cli, matches: &clap::ArgMatches) -> Result<(), CliError> {
    // Test suites that log in a lot ask for fast password hashes (never in production: they
    // are cheap to brute-force).
    let cost = match std::env::var("CODERLITE_PASSWORD_HASH").as_deref() {
        Ok("fast") => coderlite::identity::password::PasswordCost::Fast,
        _ => coderlite::identity::password::PasswordCost::Standard,
    };
    coderlite::identity::password::configure(cost);
    let ctx = GlobalArgs { db: cli.db, output: cli.output };
    match cli.command {
        Command::Server(args) => server::run(&ctx, *args, &args::Sources::of(matches, &["server"])),
        Command::Setup => setup::run(&ctx),
        Command::Migrate => db::migrate(&ctx),
        Command::Db { command } => db::run(&ctx, command, &args::Sources::of(matches, &["db", "purge"])),
        Command::Locks => db::locks(&ctx),
        Command::Replicas => db::replicas(&ctx),
        Command::Rollup => rollup::run(&ctx),
        Command::Insights { command } => insights::run(&ctx, command),
        Command::Fixtures { command } => fixtures::run(&ctx, command),
        Command::Telemetry { command } => {
            telemetry::run(&ctx, command, &args::Sources::of(matches, &["telemetry", "collect"]))
        }
        Command::Users { command } => users::run(&ctx, command),
        Command::Tokens { command } => tokens::run(&ctx, command),
        Command::Templates { command } => templates::run(&ctx, command),
        Command::Providers { command } => providers::run(&ctx, command),
        Command::Prebuilds { command } => prebuilds::run(&ctx, command),
        Command::Debug { command } => debug::run(&ctx, command),
    }
}

/// The global options every command sees.
pub struct GlobalArgs {
    db: Option<PathBuf>,
    pub output: OutputFormat,
}

impl GlobalArgs {
    /// Global options naming `location` (commands that work on more than one database).
    pub fn for_location(location: Location, output: OutputFormat) -> Self {
        let db = match location {
            Location::Sqlite(path) => path,
            Location::Postgres(url) => PathBuf::from(url),
        };
        Self { db: Some(db), output }
    }

    /// The database: `--db`, `CODERLITE_DB` (a path or a `postgres://` URL), or the XDG
    /// default file.
    pub fn location(&self) -> Result<Location, CliError> {
        if let Some(db) = &self.db {
            return Ok(Location::parse(db.clone()));
        }
        let data_home = std::env::var_os("XDG_DATA_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")))
            .ok_or_else(|| {
                CliError::new("locate database", "neither --db, CODERLITE_DB, XDG_DATA_HOME nor HOME is set")
            })?;
        Ok(Location::Sqlite(data_home.join("coderlite").join("coderlite.db")))
    }

    /// Opens the database for commands that create it (`server`, `setup`, `migrate`): a
    /// SQLite file and its directories are created, and either engine is migrated as needed.
    /// `replica_id` names this process in leases (and PostgreSQL's `application_name`).
    pub fn open_or_create_as(&self, replica_id: Option<&str>) -> Result<AnyStore, CliError> {
        self.open_or_create_with(replica_id, Arc::new(RealClock))
    }

    /// [`Self::open_or_create_as`] on `clock` (the server's, which may be virtual).
    pub fn open_or_create_with(&self, replica_id: Option<&str>, clock: SharedClock) -> Result<AnyStore, CliError> {
        let location = self.location()?;
        if let Location::Sqlite(path) = &location
            && let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        {
            coderlite::database::sqlite::create_private_dir_all(parent)
                .context(|| format!("create directory {}", parent.display()))?;
        }
        self.open_location_on(location, true, replica_id, clock)
    }

    /// `--db` or `CODERLITE_DB` when given (not the default file).
    pub fn given_location(&self) -> Option<Location> {
        self.db.clone().map(Location::parse)
    }

    /// [`Self::open_or_create_as`] with a per-command replica ID.
    pub fn open_or_create(&self) -> Result<AnyStore, CliError> {
        self.open_or_create_as(None)
    }

    /// For commands that may create a SQLite file (`providers seed`, `fixtures load`) but
    /// not a schema in an empty PostgreSQL database (only `migrate`, `setup` and `server` do).
    pub fn open_or_create_file(&self) -> Result<AnyStore, CliError> {
        match self.location()? {
            Location::Sqlite(_) => self.open_or_create(),
            Location::Postgres(_) => self.open(),
        }
    }

    /// Opens an existing coderlite database (migrating it if this binary is newer). A
    /// missing one is an error naming it, so a mistyped `--db` never creates a database.
    pub fn open(&self) -> Result<AnyStore, CliError> {
        self.open_location(self.location()?, false, None)
    }

    fn open_location(&self, location: Location, create: bool, replica_id: Option<&str>) -> Result<AnyStore, CliError> {
        self.open_location_on(location, create, replica_id, Arc::new(RealClock))
    }

    fn open_location_on(
        &self,
        location: Location,
        create: bool,
        replica_id: Option<&str>,
        clock: SharedClock,
    ) -> Result<AnyStore, CliError> {
        tracing::debug!(db = %location, engine = %location.engine(), create, "using database");
        let replica_id = replica_id.map_or_else(|| format!("cli-{}", uuid::Uuid::new_v4()), str::to_owned);
        let mut config = OpenConfig::new(location.clone(), clock, replica_id);
        config.create = create;
        AnyStore::open(&config).map_err(|e| open_error(&location, e))
    }
}

/// The CLI's wording of a failed open: what failed names the database once, the reason
/// follows.
fn open_error(location: &Location, e: coderlite::database::Error) -> CliError {
    use coderlite::database::Error;

    let what = format!("open database {location}");
    match e {
        Error::NoDatabase { .. } => CliError::new(
            match location {
                Location::Sqlite(_) => e.to_string(),
                Location::Postgres(_) => format!("no coderlite schema in the PostgreSQL database {location}"),
            },
            "create one with `coderlite setup` (or `migrate`, `server`; a SQLite file also by \
             `fixtures load`), or point --db / CODERLITE_DB at an existing one",
        ),
        // Already names the file or the server.
        Error::ReadOnlyDatabase { .. } | Error::Unreachable { .. } => CliError::new("open database", e),
        Error::Open { message, .. } => CliError::new(what, message),
        other => CliError::new(what, other),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_postgres_client_never_logs_below_warn() {
        use tracing::Level;
        assert!(!keeps_parameters_out("tokio_postgres::query", Level::DEBUG));
        assert!(!keeps_parameters_out("tokio_postgres::connection", Level::INFO));
        assert!(!keeps_parameters_out("postgres", Level::TRACE));
        assert!(keeps_parameters_out("tokio_postgres::connection", Level::WARN));
        assert!(keeps_parameters_out("postgresql_thing", Level::DEBUG));
        assert!(keeps_parameters_out("coderlite::database::postgres", Level::TRACE));
    }

    /// Every flag and positional argument of every command says what it is for.
    #[test]
    fn every_argument_has_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" || arg.is_hide_set() {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in command.get_subcommands() {
                if !sub.is_hide_set() {
                    walk(sub, &format!("{path} {}", sub.get_name()), missing);
                }
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "coderlite", &mut missing);
        assert_eq!(missing, Vec::<String>::new(), "arguments without help text");
    }
}
