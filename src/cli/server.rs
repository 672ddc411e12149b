//! `server`: migrate, deployment setup, AI provider seed, (demo fixtures), then run every
//! background service until SIGINT or SIGTERM. A second signal exits at once.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use coderlite::clock::Cancel;
use coderlite::clock::RealClock;
use coderlite::clock::SharedClock;
use coderlite::database::SharedStore;
use coderlite::database::Store;
use coderlite::prebuilds::reconciler::ReconcilerConfig;
use coderlite::provisioner::ProvisionerConfig;
use coderlite::server::ServerConfig;
use coderlite::server::Services;
use coderlite::server::http::HttpServer;
use coderlite::server::http::HttpState;
use coderlite::testing::fixture_json;
use coderlite::testing::fixture_json::FixtureSource;
use signal_hook::consts::SIGINT;
use signal_hook::consts::SIGTERM;
use signal_hook::iterator::Signals;

use crate::cli::CliError;
use crate::cli::Context;
use crate::cli::GlobalArgs;
use crate::cli::args::parse_duration;
use crate::cli::args::parse_interval;
use crate::cli::providers::seed_from_process_env;

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Load the embedded demo fixtures into an empty database, simulate agent activity, and
    /// use the shorter demo defaults below.
    #[arg(long)]
    pub demo: bool,

    /// How often the prebuilds reconciler runs [default: 1m; with --demo 10s]
    #[arg(long, env = "CODER_WORKSPACE_PREBUILDS_RECONCILIATION_INTERVAL", value_parser = parse_interval)]
    pub reconcile_interval: Option<Duration>,

    /// How long the echo provisioner takes per job [default: 2s; with --demo 1s]
    #[arg(long, env = "CODERLITE_PROVISIONER_DELAY", value_parser = parse_duration)]
    pub provisioner_delay: Option<Duration>,

    /// How often the template usage rollup runs [default: 5m; with --demo 1m]
    #[arg(long, env = "CODERLITE_ROLLUP_INTERVAL", value_parser = parse_interval)]
    pub rollup_interval: Option<Duration>,

    /// How often boundary usage is flushed to the database [default: 1m; with --demo 10s]
    #[arg(long, env = "CODERLITE_BOUNDARY_FLUSH_INTERVAL", value_parser = parse_interval)]
    pub boundary_flush_interval: Option<Duration>,

    /// How often boundary usage telemetry is collected [default: 30m; with --demo 1m]
    #[arg(long, env = "CODERLITE_TELEMETRY_INTERVAL", value_parser = parse_interval)]
    pub telemetry_interval: Option<Duration>,

    /// How often the demo's simulated agents report stats (only with --demo) [default: 30s]
    #[arg(long, env = "CODERLITE_AGENT_STATS_INTERVAL", value_parser = parse_interval)]
    pub agent_stats_interval: Option<Duration>,

    /// This process's replica ID: lease holder, provisioner worker and boundary usage
    /// replica [default: a random UUID]
    #[arg(long, env = "CODERLITE_REPLICA_ID")]
    pub replica_id: Option<String>,

    /// Serve /healthz and /metrics on this address (host:port) [default: off]
    #[arg(long, env = "CODERLITE_HTTP_ADDRESS")]
    pub http_address: Option<String>,
}

/// Resolves the flags against the defaults of the mode.
fn server_config(args: &ServerArgs) -> Result<ServerConfig, CliError> {
    let demo = args.demo;
    let pick = |given: Option<Duration>, normal: u64, in_demo: u64| {
        given.unwrap_or(Duration::from_secs(if demo { in_demo } else { normal }))
    };
    let replica_id = match &args.replica_id {
        Some(id) if id.trim().is_empty() => {
            return Err(CliError::new("--replica-id", "must not be empty"));
        }
        Some(id) => id.clone(),
        None => uuid::Uuid::new_v4().to_string(),
    };
    Ok(ServerConfig {
        replica_id,
        reconciler: ReconcilerConfig::new(pick(args.reconcile_interval, 60, 10)),
        provisioner: ProvisionerConfig::new(pick(args.provisioner_delay, 2, 1)),
        rollup_interval: pick(args.rollup_interval, 300, 60),
        boundary_flush_interval: pick(args.boundary_flush_interval, 60, 10),
        telemetry_interval: pick(args.telemetry_interval, 1800, 60),
        demo_agent_stats_interval: demo.then(|| args.agent_stats_interval.unwrap_or(Duration::from_secs(30))),
    })
}

/// The signal policy: the first signal (`n` = 0) starts a graceful shutdown; any later one
/// returns the exit code to leave with at once (128 + the signal, as shells report it).
fn on_signal(n: usize, signal: i32, cancel: &Cancel) -> Option<i32> {
    if n == 0 {
        tracing::info!(signal, "shutting down; a second signal exits at once");
        cancel.cancel();
        None
    } else {
        tracing::warn!(signal, "second signal: exiting at once");
        Some(128 + signal)
    }
}

pub fn run(ctx: &GlobalArgs, args: ServerArgs) -> Result<(), CliError> {
    let config = server_config(&args)?;
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

    let http_state = Arc::new(HttpState::new(config.replica_id.clone(), config.reconciler));
    let http = match &args.http_address {
        Some(addr) => Some(HttpServer::bind(addr, http_state.clone()).context(|| format!("listen on {addr}"))?),
        None => None,
    };

    let store = ctx.open_with(|c| c.replica_id = config.replica_id.clone())?;
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
    let path = store.path().display().to_string();
    let store: SharedStore = Arc::new(store);
    let clock: SharedClock = Arc::new(RealClock);

    let services = Services::start(store.clone(), clock, &config);
    http_state.mark_ready(store, schema_version);
    tracing::info!(
        db = %path,
        schema_version,
        replica_id = %config.replica_id,
        demo = args.demo,
        http_address = http.as_ref().and_then(HttpServer::local_addr).map(|a| a.to_string()),
        reconcile_interval = ?config.reconciler.interval,
        "coderlite server started"
    );

    cancel.wait();
    services.shutdown();
    if let Some(http) = http {
        http.stop();
    }
    signals_handle.close();
    let _ = signal_thread.join();
    tracing::info!("coderlite server stopped");
    Ok(())
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

    #[test]
    fn demo_mode_shortens_only_the_defaults() {
        use clap::Parser;

        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            args: ServerArgs,
        }
        let parse = |argv: &[&str]| {
            server_config(&Wrapper::try_parse_from(std::iter::once("server").chain(argv.iter().copied())).unwrap().args)
                .unwrap()
        };
        let normal = parse(&[]);
        assert_eq!(normal.reconciler.interval, Duration::from_secs(60));
        assert_eq!(normal.provisioner.delay, Duration::from_secs(2));
        assert_eq!(normal.rollup_interval, Duration::from_secs(300));
        assert_eq!(normal.boundary_flush_interval, Duration::from_secs(60));
        assert_eq!(normal.telemetry_interval, Duration::from_secs(1800));
        assert_eq!(normal.demo_agent_stats_interval, None);
        let demo = parse(&["--demo", "--reconcile-interval", "500ms", "--replica-id", "r1"]);
        assert_eq!(demo.reconciler.interval, Duration::from_millis(500));
        assert_eq!(demo.provisioner.delay, Duration::from_secs(1));
        assert_eq!(demo.demo_agent_stats_interval, Some(Duration::from_secs(30)));
        assert_eq!(demo.replica_id, "r1");
        assert_ne!(parse(&[]).replica_id, parse(&[]).replica_id, "a random replica ID per process");
        assert!(Wrapper::try_parse_from(["server", "--rollup-interval", "0s"]).is_err());
        assert!(server_config(&Wrapper::try_parse_from(["server", "--replica-id", " "]).unwrap().args).is_err());
    }
}
