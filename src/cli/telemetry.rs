//! `telemetry collect`: one boundary-usage collection now.

use std::time::Duration;

use clap::Subcommand;
use coderlite::boundaryusage;
use coderlite::clock::format_rfc3339;
use coderlite::database::TxStore;
use serde::Serialize;

use crate::cli::CliError;
use crate::cli::Context;
use crate::cli::GlobalArgs;
use crate::cli::OutputFormat;
use crate::cli::args::Sources;
use crate::cli::args::parse_interval;
use crate::cli::output::print_json;

#[derive(Debug, Subcommand)]
pub enum TelemetryCommand {
    /// Collect the current telemetry period now (prints the summary, or that this period was
    /// already collected).
    Collect {
        /// The telemetry period: the same setting as the server's --telemetry-interval
        /// [default: 30m]
        #[arg(long, env = "CODERLITE_TELEMETRY_INTERVAL", value_name = "DURATION")]
        interval: Option<String>,
        /// Rows whose window began longer ago than this are dropped uncounted [default: two
        /// intervals]
        #[arg(long, value_name = "DURATION")]
        max_staleness: Option<String>,
    },
}

/// `telemetry collect -o json`.
#[derive(Serialize)]
struct CollectOutput {
    collected: bool,
    summary: Option<SummaryOutput>,
}

#[derive(Serialize)]
struct SummaryOutput {
    unique_workspaces: i64,
    unique_users: i64,
    allowed_requests: i64,
    denied_requests: i64,
    period_start: String,
    period_duration_ms: i64,
}

pub fn run(ctx: &GlobalArgs, command: TelemetryCommand, sources: &Sources<'_>) -> Result<(), CliError> {
    match command {
        TelemetryCommand::Collect { interval, max_staleness } => {
            let interval =
                sources.parse("interval", interval.as_deref(), parse_interval)?.unwrap_or(Duration::from_secs(1800));
            let max_staleness = sources.parse("max_staleness", max_staleness.as_deref(), parse_interval)?;
            let store = ctx.open()?;
            let clock = store.clock();
            let replica_id = store.replica_id().to_owned();
            let summary =
                boundaryusage::collect(&store, &clock, &replica_id, interval, max_staleness.unwrap_or(interval * 2))
                    .context(|| "collect boundary usage".to_owned())?;
            let out = CollectOutput {
                collected: summary.is_some(),
                summary: summary.map(|s| SummaryOutput {
                    unique_workspaces: s.unique_workspaces,
                    unique_users: s.unique_users,
                    allowed_requests: s.allowed_requests,
                    denied_requests: s.denied_requests,
                    period_start: format_rfc3339(s.period_start),
                    period_duration_ms: s.period_duration_ms,
                }),
            };
            match ctx.output {
                OutputFormat::Json => print_json(&out),
                OutputFormat::Table => {
                    match out.summary {
                        None => println!("already collected: another process collected this period"),
                        Some(s) => {
                            println!("unique workspaces  {}", s.unique_workspaces);
                            println!("unique users       {}", s.unique_users);
                            println!("allowed requests   {}", s.allowed_requests);
                            println!("denied requests    {}", s.denied_requests);
                            println!("period start       {}", s.period_start);
                            println!("period duration    {} ms", s.period_duration_ms);
                        }
                    }
                    Ok(())
                }
            }
        }
    }
}
