//! `server`: migrate, deployment setup, AI provider seed, (demo fixtures), then run every
//! background service until SIGINT or SIGTERM. A second signal exits at once.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use coderlite::api::ApiConfig;
use coderlite::clock::Cancel;
use coderlite::clock::Clock;
use coderlite::clock::MockClock;
use coderlite::clock::RealClock;
use coderlite::clock::SharedClock;
use coderlite::database::Location;
use coderlite::database::SharedStore;
use coderlite::database::prelude::*;
use coderlite::database::snapshot::Snapshots;
use coderlite::prebuilds::reconciler::ReconcilerConfig;
use coderlite::provisioner::ProvisionerConfig;
use coderlite::purge::PurgeConfig;
use coderlite::server::ServerConfig;
use coderlite::server::Services;
use coderlite::server::conn::ConnLimits;
use coderlite::server::http::HttpServer;
use coderlite::server::http::HttpState;
use coderlite::testing::control::ControlClock;
use coderlite::testing::control::TestControls;
use coderlite::testing::fixture_json;
use coderlite::testing::fixture_json::FixtureSource;
use signal_hook::consts::SIGINT;
use signal_hook::consts::SIGTERM;
use signal_hook::iterator::Signals;

use crate::cli::CliError;
use crate::cli::Context;
use crate::cli::GlobalArgs;
use crate::cli::args::Sources;
use crate::cli::args::parse_interval;
use crate::cli::providers::seed_from_process_env;

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Load the embedded demo fixtures into an empty database, simulate agent activity, and
    /// use the shorter demo defaults below.
    #[arg(long)]
    pub demo: bool,

    /// How often the prebuilds reconciler runs [default: 1m; with --demo 10s]
    #[arg(long, env = "CODER_WORKSPACE_PREBUILDS_RECONCILIATION_INTERVAL", value_name = "DURATION")]
    pub reconcile_interval: Option<String>,

    /// How long the echo provisioner takes per job [default: 2s; with --demo 1s]
    #[arg(long, env = "CODERLITE_PROVISIONER_DELAY", value_name = "DURATION")]
    pub provisioner_delay: Option<String>,

    /// How often the template usage rollup runs [default: 5m; with --demo 1m]
    #[arg(long, env = "CODERLITE_ROLLUP_INTERVAL", value_name = "DURATION")]
    pub rollup_interval: Option<String>,

    /// How often boundary usage is flushed to the database [default: 1m; with --demo 10s]
    #[arg(long, env = "CODERLITE_BOUNDARY_FLUSH_INTERVAL", value_name = "DURATION")]
    pub boundary_flush_interval: Option<String>,

    /// How often boundary usage telemetry is collected [default: 30m; with --demo 1m]
    #[arg(long, env = "CODERLITE_TELEMETRY_INTERVAL", value_name = "DURATION")]
    pub telemetry_interval: Option<String>,

    /// How often the demo's simulated agents report stats (only with --demo) [default: 30s]
    #[arg(long, env = "CODERLITE_AGENT_STATS_INTERVAL", value_name = "DURATION")]
    pub agent_stats_interval: Option<String>,

    /// How long the purge service waits after a run before the next [default: 10m]
    #[arg(long, env = "CODERLITE_PURGE_INTERVAL", value_name = "DURATION")]
    pub purge_interval: Option<String>,

    /// How long expired API keys are kept before the purge deletes them; 0 keeps them
    /// [default: 7d]
    #[arg(long, env = "CODER_API_KEYS_RETENTION", value_name = "DURATION")]
    pub api_keys_retention: Option<String>,

    /// How long audit log entries are kept; 0 keeps them forever [default: 0]
    #[arg(long, env = "CODER_AUDIT_LOGS_RETENTION", value_name = "DURATION")]
    pub audit_logs_retention: Option<String>,

    /// How long collected telemetry snapshots are kept; 0 keeps them [default: 30d]
    #[arg(long, env = "CODERLITE_TELEMETRY_SNAPSHOTS_RETENTION", value_name = "DURATION")]
    pub telemetry_snapshots_retention: Option<String>,

    /// This process's replica ID, a UUID: lease holder, provisioner worker and boundary
    /// usage replica [default: a random UUID]
    #[arg(long, env = "CODERLITE_REPLICA_ID", value_name = "UUID")]
    pub replica_id: Option<String>,

    /// Serve upstream's /api/v2, /healthz and /metrics on this address (host:port; port 0
    /// picks a free one) [default: off]
    #[arg(long, env = "CODERLITE_HTTP_ADDRESS", value_name = "HOST:PORT")]
    pub http_address: Option<String>,

    /// Password logins per minute from one client address; 0 turns the limit off
    /// [default: 60, as upstream]
    #[arg(long, env = "CODERLITE_LOGIN_RATE_LIMIT", value_name = "COUNT")]
    pub login_rate_limit: Option<String>,

    /// How long a client may take to send a request's headers, from their first byte
    /// [default: 10s]
    #[arg(long, env = "CODERLITE_HTTP_READ_HEADER_TIMEOUT", value_name = "DURATION")]
    pub http_read_header_timeout: Option<String>,

    /// How long a keep-alive connection may wait for its next request before it is closed
    /// [default: 60s]
    #[arg(long, env = "CODERLITE_HTTP_IDLE_TIMEOUT", value_name = "DURATION")]
    pub http_idle_timeout: Option<String>,

    /// Let workspace owners rename their workspaces (`PATCH /api/v2/workspaces/{id}`), as
    /// upstream's flag does [default: off]
    #[arg(long, env = "CODER_ALLOW_WORKSPACE_RENAMES")]
    pub allow_workspace_renames: bool,

    /// Connections served at once; further clients wait until one closes [default: 512]
    #[arg(long, env = "CODERLITE_HTTP_MAX_CONNECTIONS", value_name = "COUNT")]
    pub http_max_connections: Option<String>,

    /// Once serving, print one JSON line on stdout for a parent process (a test suite):
    /// `{"url", "token", "db", "pid", "replica_id"}`, the token an API key of the first active
    /// owner (null when there is none yet). Needs --http-address
    #[arg(long)]
    pub ready_json: bool,

    /// Shut down cleanly when stdin closes, so a parent process that dies never leaves the
    /// server running
    #[arg(long)]
    pub exit_on_stdin_close: bool,

    /// Run on a database of its own, removed when the server stops: a private temporary
    /// SQLite file, or with a postgres:// --db a new database on that server. Listens on
    /// 127.0.0.1 with a free port unless --http-address says otherwise
    #[arg(long)]
    pub ephemeral: bool,

    /// Serve the test controls under /api/coderlite/v1 (reset, snapshots, fixtures, clock)
    /// to owners. For servers that test suites run against; never on by default
    #[arg(long)]
    pub test_controls: bool,

    /// The server's clock: `wall`, or `virtual` (starts at the current time and moves only
    /// when a test-control call moves it; needs --test-controls) [default: wall]
    #[arg(long, value_name = "wall|virtual", value_parser = ["wall", "virtual"])]
    pub clock: Option<String>,

    /// Make the named service panic as it starts (supervision tests).
    #[arg(long, hide = true)]
    pub fail_service: Option<String>,
}

/// The HTTP endpoint's settings from its flags: the login rate limit and the connection
/// bounds.
fn http_config(args: &ServerArgs, sources: &Sources<'_>) -> Result<(ApiConfig, ConnLimits), CliError> {
    let count = |max: u64| {
        move |text: &str| -> Result<u64, String> {
            let n: u64 = text.trim().parse().map_err(|_| "must be a whole number".to_owned())?;
            if n > max { Err(format!("must be at most {max}")) } else { Ok(n) }
        }
    };
    let mut api = ApiConfig { allow_workspace_renames: args.allow_workspace_renames, ..ApiConfig::default() };
    if let Some(n) = sources.parse("login_rate_limit", args.login_rate_limit.as_deref(), count(1_000_000))? {
        api.login_rate_limit = n as u32;
    }
    let defaults = ConnLimits::default();
    let max_connections =
        match sources.parse("http_max_connections", args.http_max_connections.as_deref(), count(1_000_000))? {
            Some(0) => {
                return Err(CliError::usage("invalid value \"0\" for --http-max-connections", "must be at least 1"));
            }
            Some(n) => n as usize,
            None => defaults.max_connections,
        };
    let limits = ConnLimits {
        read_header_timeout: sources
            .parse("http_read_header_timeout", args.http_read_header_timeout.as_deref(), parse_interval)?
            .unwrap_or(defaults.read_header_timeout),
        idle_timeout: sources
            .parse("http_idle_timeout", args.http_idle_timeout.as_deref(), parse_interval)?
            .unwrap_or(defaults.idle_timeout),
        max_connections,
    };
    Ok((api, limits))
}

/// Resolves the flags against the defaults of the mode. Every duration is range-checked here
/// (more than zero, at most a year), and an error names the flag or variable it came from.
fn server_config(args: &ServerArgs, sources: &Sources<'_>) -> Result<ServerConfig, CliError> {
    let demo = args.demo;
    let interval = |id: &str, text: &Option<String>, normal: u64, in_demo: u64| {
        let given = sources.parse(id, text.as_deref(), parse_interval)?;
        Ok::<_, CliError>(given.unwrap_or(Duration::from_secs(if demo { in_demo } else { normal })))
    };
    let replica_id = match sources.parse("replica_id", args.replica_id.as_deref(), parse_replica_id)? {
        Some(id) => id,
        None => uuid::Uuid::new_v4().to_string(),
    };
    let agent_stats = interval("agent_stats_interval", &args.agent_stats_interval, 30, 30)?;
    Ok(ServerConfig {
        replica_id,
        reconciler: ReconcilerConfig::new(interval("reconcile_interval", &args.reconcile_interval, 60, 10)?),
        provisioner: ProvisionerConfig::new(interval("provisioner_delay", &args.provisioner_delay, 2, 1)?),
        rollup_interval: interval("rollup_interval", &args.rollup_interval, 300, 60)?,
        boundary_flush_interval: interval("boundary_flush_interval", &args.boundary_flush_interval, 60, 10)?,
        telemetry_interval: interval("telemetry_interval", &args.telemetry_interval, 1800, 60)?,
        demo_agent_stats_interval: demo.then_some(agent_stats),
        purge: purge_config(
            sources,
            [
                ("purge_interval", &args.purge_interval),
                ("api_keys_retention", &args.api_keys_retention),
                ("audit_logs_retention", &args.audit_logs_retention),
                ("telemetry_snapshots_retention", &args.telemetry_snapshots_retention),
            ],
        )?,
        fail_service: args.fail_service.clone(),
    })
}

/// The purge service's settings from its flags (retention flags take 0 = keep forever).
pub fn purge_config(sources: &Sources<'_>, flags: [(&str, &Option<String>); 4]) -> Result<PurgeConfig, CliError> {
    let defaults = PurgeConfig::default();
    let [(interval_id, interval), (keys_id, keys), (audit_id, audit), (snapshots_id, snapshots)] = flags;
    Ok(PurgeConfig {
        interval: sources.parse(interval_id, interval.as_deref(), parse_interval)?.unwrap_or(defaults.interval),
        api_keys_retention: sources
            .parse(keys_id, keys.as_deref(), parse_retention)?
            .unwrap_or(defaults.api_keys_retention),
        audit_logs_retention: sources
            .parse(audit_id, audit.as_deref(), parse_retention)?
            .unwrap_or(defaults.audit_logs_retention),
        telemetry_snapshots_retention: sources
            .parse(snapshots_id, snapshots.as_deref(), parse_retention)?
            .unwrap_or(defaults.telemetry_snapshots_retention),
    })
}

/// A retention period: a Go-style duration, 0 (keep forever) up to ten years.
pub fn parse_retention(text: &str) -> Result<Duration, String> {
    let d = coderlite::clock::parse_duration(text)?;
    if d > Duration::from_secs(10 * 365 * 86_400) {
        return Err("must be at most 10 years (3650d); 0 keeps forever".to_owned());
    }
    Ok(d)
}

/// Fires `cancel` when stdin reaches its end (or fails): the parent that started the server
/// is gone or done with it.
fn watch_stdin(cancel: Cancel) -> Result<(), CliError> {
    std::thread::Builder::new()
        .name("stdin-watch".to_owned())
        .spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 1024];
            let mut stdin = std::io::stdin().lock();
            while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
            tracing::info!("stdin closed: shutting down");
            cancel.cancel();
        })
        .context(|| "spawn stdin watch".to_owned())?;
    Ok(())
}

/// `--ready-json`'s token: a new API key of the first active owner (by creation), `None`
/// when there is none yet.
fn ready_token(store: &dyn coderlite::database::Store) -> Result<Option<String>, CliError> {
    use coderlite::database::models::GetUsersParams;
    use coderlite::database::models::LoginType;
    use coderlite::database::models::UserStatus;
    let owner = store
        .get_users(&GetUsersParams {
            include_system: false,
            status: Some(UserStatus::Active),
            after_username: None,
            limit: 0,
        })
        .context(|| "find an owner for --ready-json".to_owned())?
        .into_iter()
        .filter(|u| u.rbac_roles.iter().any(|r| r == "owner"))
        .min_by_key(|u| u.created_at);
    let Some(user) = owner else {
        return Ok(None);
    };
    let name = format!("ready-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let lifetime = ApiConfig::default().default_token_lifetime;
    let (token, _) = coderlite::identity::keys::issue_key(store, &user, LoginType::Token, lifetime, &name)
        .context(|| "create the --ready-json token".to_owned())?;
    Ok(Some(token))
}

/// An ephemeral database without users gets its owner, `admin` (`admin@coderlite.local`),
/// without a password (no password login matches it; nothing to hash at start): the ready
/// line's token is how a test signs in.
fn ensure_first_owner(store: &dyn coderlite::database::Store) -> Result<(), CliError> {
    use coderlite::identity::first_user::FirstUser;
    use coderlite::identity::first_user::FirstUserError;

    if store.get_user_count(false).context(|| "count users".to_owned())? > 0 {
        return Ok(());
    }
    let new = FirstUser { email: "admin@coderlite.local", username: "admin", name: "", hashed_password: "" };
    match coderlite::identity::first_user::create_first_user(store, &new) {
        Ok(_) | Err(FirstUserError::AlreadyCreated) => Ok(()),
        Err(e) => Err(CliError::new("create the ephemeral server's owner", e)),
    }
}

/// `--ready-json`: one line on stdout once the server serves.
fn print_ready_line(addr: std::net::SocketAddr, token: Option<&str>, db: &str, replica_id: &str) {
    use std::io::Write;

    let line = serde_json::json!({
        "url": format!("http://{addr}"),
        "token": token,
        "db": db,
        "pid": std::process::id(),
        "replica_id": replica_id,
    });
    let mut out = std::io::stdout().lock();
    // A parent that stopped reading is no reason to stop serving.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// `--ephemeral`'s database: a private temporary directory holding a SQLite file, or a
/// scratch database on the PostgreSQL server `--db` names. Removed by [`Ephemeral::remove`]
/// once every connection is closed.
enum Ephemeral {
    Sqlite(tempfile::TempDir),
    #[cfg(feature = "postgres")]
    Postgres(coderlite::database::postgres::ScratchDatabase),
}

impl Ephemeral {
    fn create(ctx: &GlobalArgs) -> Result<Self, CliError> {
        match ctx.given_location() {
            None => tempfile::Builder::new()
                .prefix("coderlite-ephemeral-")
                .tempdir()
                .map(Ephemeral::Sqlite)
                .context(|| "create a temporary directory for --ephemeral".to_owned()),
            #[cfg(feature = "postgres")]
            Some(Location::Postgres(url)) => coderlite::database::postgres::ScratchDatabase::create(&url)
                .map(Ephemeral::Postgres)
                .map_err(|e| CliError::new("create an ephemeral PostgreSQL database", e)),
            Some(_) => Err(CliError::usage(
                "--ephemeral",
                "makes its own SQLite database; drop --db (or give a postgres:// URL, next to which it makes one)",
            )),
        }
    }

    fn location(&self) -> Location {
        match self {
            Ephemeral::Sqlite(dir) => Location::Sqlite(dir.path().join("coderlite.db")),
            #[cfg(feature = "postgres")]
            Ephemeral::Postgres(db) => Location::Postgres(db.url().to_owned()),
        }
    }

    fn remove(self) {
        let removed = match self {
            Ephemeral::Sqlite(dir) => dir.close().map_err(|e| e.to_string()),
            #[cfg(feature = "postgres")]
            Ephemeral::Postgres(db) => db.remove().map_err(|e| e.to_string()),
        };
        if let Err(error) = removed {
            tracing::warn!(%error, "remove the ephemeral database");
        }
    }
}

/// Replica IDs are UUIDs, as upstream's (and a `uuid` column on PostgreSQL); kept in the
/// lowercase hyphenated form every other ID uses.
fn parse_replica_id(text: &str) -> Result<String, String> {
    uuid::Uuid::parse_str(text.trim())
        .map(|id| id.to_string())
        .map_err(|_| "must be a UUID, like 8f1d3c52-5b1e-4f7a-9a4e-2c8d6e0b7a13".to_owned())
}

/// The signal policy: the first signal (`n` = 0) starts a graceful shutdown; any later one
/// returns the exit code to leave with at once (128 + the signal, as shells report it). The
/// cancel comes before any logging, so a log write that fails cannot keep the server up.
fn on_signal(n: usize, signal: i32, cancel: &Cancel) -> Option<i32> {
    if n == 0 {
        cancel.cancel();
        let _ = std::panic::catch_unwind(|| {
            tracing::info!(signal, "shutting down; a second signal exits at once");
        });
        None
    } else {
        let _ = std::panic::catch_unwind(|| tracing::warn!(signal, "second signal: exiting at once"));
        Some(128 + signal)
    }
}

pub fn run(ctx: &GlobalArgs, args: ServerArgs, sources: &Sources<'_>) -> Result<(), CliError> {
    let config = server_config(&args, sources)?;
    let virtual_clock = args.clock.as_deref() == Some("virtual");
    if virtual_clock && !args.test_controls {
        return Err(CliError::usage("--clock virtual", "needs --test-controls (only a control call moves the clock)"));
    }
    let http_address = args.http_address.clone().or_else(|| args.ephemeral.then(|| "127.0.0.1:0".to_owned()));
    if args.ready_json && http_address.is_none() {
        return Err(CliError::usage("--ready-json", "needs --http-address (the line names the URL)"));
    }
    if args.test_controls && http_address.is_none() {
        return Err(CliError::usage("--test-controls", "needs --http-address (the controls are HTTP routes)"));
    }
    let (api_config, conn_limits) = http_config(&args, sources)?;
    // Signals first: a signal during startup stops the server once startup is done.
    let cancel = Cancel::new();
    let mut signals = Signals::new([SIGINT, SIGTERM]).context(|| "install signal handlers".to_owned())?;
    let signals_handle = signals.handle();
    let signal_thread = {
        let cancel = cancel.clone();
        std::thread::Builder::new()
            .name("signals".to_owned())
            .spawn(move || {
                for (n, signal) in signals.forever().enumerate() {
                    if let Some(code) = on_signal(n, signal, &cancel) {
                        std::process::exit(code);
                    }
                }
            })
            .context(|| "spawn signal thread".to_owned())?
    };

    if args.exit_on_stdin_close {
        watch_stdin(cancel.clone())?;
    }
    let ephemeral = if args.ephemeral { Some(Ephemeral::create(ctx)?) } else { None };
    let served =
        serve(ctx, &args, &config, http_address.as_deref(), api_config, conn_limits, &cancel, ephemeral.as_ref());
    // Every connection is closed by now: the ephemeral database can go.
    if let Some(ephemeral) = ephemeral {
        ephemeral.remove();
    }
    signals_handle.close();
    let _ = signal_thread.join();
    served
}

/// Startup, the services and the HTTP endpoint until `cancel` fires, then shutdown. Every
/// store handle is dropped when this returns.
#[allow(clippy::too_many_arguments)]
fn serve(
    ctx: &GlobalArgs,
    args: &ServerArgs,
    config: &ServerConfig,
    http_address: Option<&str>,
    api_config: ApiConfig,
    conn_limits: ConnLimits,
    cancel: &Cancel,
    ephemeral: Option<&Ephemeral>,
) -> Result<(), CliError> {
    let http_state = Arc::new(HttpState::with_api(config.replica_id.clone(), config.reconciler, api_config));
    let http = match http_address {
        Some(addr) => {
            Some(HttpServer::bind_with(addr, http_state.clone(), conn_limits).context(|| format!("listen on {addr}"))?)
        }
        None => None,
    };

    let (clock, mock): (SharedClock, Option<MockClock>) = if args.clock.as_deref() == Some("virtual") {
        let mock = MockClock::new(RealClock.now());
        (Arc::new(mock.clone()), Some(mock))
    } else {
        (Arc::new(RealClock), None)
    };
    let ephemeral_ctx = ephemeral.map(|e| GlobalArgs::for_location(e.location(), ctx.output));
    let store = ephemeral_ctx.as_ref().unwrap_or(ctx).open_or_create_with(Some(&config.replica_id), clock.clone())?;
    // Startup order: migrate (open), deployment setup, AI provider seed, demo, services.
    coderlite::deployment::setup_deployment(&store).map_err(|e| CliError::new("deployment setup", e))?;
    seed_from_process_env(&store)?;
    if args.demo {
        let demo = FixtureSource::named("demo").map_err(|e| CliError::new("load demo fixtures", e.to_string()))?;
        match fixture_json::load_into_empty(&store, &[demo]) {
            Ok(Some(summary)) => tracing::info!(
                templates = summary.templates,
                presets = summary.presets,
                workspaces = summary.workspaces,
                "loaded the demo fixtures"
            ),
            Ok(None) => tracing::info!("the database already has templates; demo fixtures not loaded"),
            Err(e) => return Err(CliError::new("load demo fixtures", e.to_string())),
        }
    }
    let schema_version = store.schema_version().context(|| "read schema version".to_owned())?;
    coderlite::replicas::register(&store, &config.replica_id).context(|| "register replica".to_owned())?;
    let db = store.location().to_string();
    // Restores keep the replaced files until the next successful start: this one.
    let kept =
        store.as_sqlite().map(|s| coderlite::database::sqlite::backup::keep_copies(s.path())).unwrap_or_default();
    for path in kept {
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::info!(path = %path.display(), "removed a copy kept by a restore"),
            Err(error) => tracing::warn!(path = %path.display(), %error, "remove a copy kept by a restore"),
        }
    }
    if ephemeral.is_some() {
        ensure_first_owner(&store)?;
    }
    let any_store = store.clone();
    let store: SharedStore = Arc::new(store);

    let services = Services::start(store.clone(), clock, config, cancel);
    // The token exists before the start snapshot, so a reset keeps it.
    let token = if args.ready_json { ready_token(&*store)? } else { None };
    if args.test_controls {
        let snapshots = Snapshots::new(any_store).context(|| "prepare snapshots for --test-controls".to_owned())?;
        let control_clock = match &mock {
            Some(clock) => ControlClock::Virtual {
                clock: clock.clone(),
                services: services.names().iter().map(|n| (*n).to_owned()).collect(),
            },
            None => ControlClock::Wall,
        };
        let controls =
            TestControls::start(store.clone(), snapshots, control_clock, &format!("{}-control", config.replica_id))
                .map_err(|e| CliError::new("start the test controls", e))?;
        http_state.enable_test_controls(Arc::new(controls));
    }
    http_state.mark_ready(store.clone(), schema_version);
    tracing::info!(
        db = %db,
        schema_version,
        replica_id = %config.replica_id,
        demo = args.demo,
        ephemeral = args.ephemeral,
        test_controls = args.test_controls,
        clock = if mock.is_some() { "virtual" } else { "wall" },
        http_address = http.as_ref().and_then(HttpServer::local_addr).map(|a| a.to_string()),
        reconcile_interval = ?config.reconciler.interval,
        "coderlite server started"
    );

    if let (true, Some(addr)) = (args.ready_json, http.as_ref().and_then(HttpServer::local_addr)) {
        print_ready_line(addr, token.as_deref(), &db, &config.replica_id);
    }

    // A signal, a failed service or (with --exit-on-stdin-close) the end of stdin fires
    // `cancel`.
    cancel.wait();
    let stopped = services.shutdown();
    if let Some(http) = http {
        http.stop();
    }
    // The HTTP state holds the store (and the controls their snapshots): let go of them
    // before the database is removed.
    drop(http_state);
    if let Err(error) = coderlite::replicas::deregister(&*store, &config.replica_id) {
        tracing::warn!(%error, "deregister replica");
    }
    drop(store);
    match stopped {
        Ok(()) => {
            tracing::info!("coderlite server stopped");
            Ok(())
        }
        Err(failure) => Err(CliError::new(format!("{} stopped", failure.service), failure.why)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_signal_cancels_second_exits() {
        let cancel = Cancel::new();
        assert_eq!(on_signal(0, SIGTERM, &cancel), None);
        assert!(cancel.is_cancelled());
        assert_eq!(on_signal(1, SIGINT, &cancel), Some(130));
        assert_eq!(on_signal(2, SIGTERM, &cancel), Some(143));
    }

    /// The config of `coderlite server ARGV...`, or the printed error.
    fn config_of(argv: &[&str]) -> Result<ServerConfig, String> {
        use clap::CommandFactory;
        use clap::FromArgMatches;

        let matches = crate::cli::Cli::command()
            .try_get_matches_from(["coderlite", "server"].iter().chain(argv))
            .map_err(|e| e.to_string())?;
        let cli = crate::cli::Cli::from_arg_matches(&matches).map_err(|e| e.to_string())?;
        let crate::cli::Command::Server(args) = cli.command else { unreachable!() };
        server_config(&args, &Sources::of(&matches, &["server"])).map_err(|e| {
            assert_eq!(e.exit_code(), 2, "a bad server setting is a usage error");
            e.to_string()
        })
    }

    #[test]
    fn demo_mode_shortens_only_the_defaults() {
        let normal = config_of(&[]).unwrap();
        assert_eq!(normal.reconciler.interval, Duration::from_secs(60));
        assert_eq!(normal.provisioner.delay, Duration::from_secs(2));
        assert_eq!(normal.rollup_interval, Duration::from_secs(300));
        assert_eq!(normal.boundary_flush_interval, Duration::from_secs(60));
        assert_eq!(normal.telemetry_interval, Duration::from_secs(1800));
        assert_eq!(normal.demo_agent_stats_interval, None);
        let id = "8f1d3c52-5b1e-4f7a-9a4e-2c8d6e0b7a13";
        let demo = config_of(&["--demo", "--reconcile-interval", "500ms", "--replica-id", id]).unwrap();
        assert_eq!(demo.reconciler.interval, Duration::from_millis(500));
        assert_eq!(demo.provisioner.delay, Duration::from_secs(1));
        assert_eq!(demo.demo_agent_stats_interval, Some(Duration::from_secs(30)));
        assert_eq!(demo.replica_id, id);
        assert_ne!(config_of(&[]).unwrap().replica_id, config_of(&[]).unwrap().replica_id, "random per process");
    }

    #[test]
    fn absurd_durations_are_refused_naming_the_flag_and_range() {
        for (flag, value) in [
            ("--reconcile-interval", "1000000000000h"),
            ("--boundary-flush-interval", "1000000000000h"),
            ("--telemetry-interval", "1000000000000h"),
            ("--agent-stats-interval", "1000000000000h"),
            ("--rollup-interval", "18446744073709551615s1s"),
            ("--rollup-interval", "5124095576030432h"),
            ("--provisioner-delay", "366d"),
            ("--rollup-interval", "0s"),
            ("--rollup-interval", "0"),
            ("--reconcile-interval", "5x"),
        ] {
            let err = config_of(&[flag, value]).unwrap_err();
            assert!(err.contains(flag), "{flag} {value}: {err}");
            assert!(err.contains(value), "{flag} {value}: {err}");
            assert!(err.contains("too large") || err.contains("365d") || err.contains("unknown unit"), "{err}");
        }
        let err = config_of(&["--replica-id", "r1"]).unwrap_err();
        assert!(err.contains("--replica-id") && err.contains("UUID"), "{err}");
    }
}
