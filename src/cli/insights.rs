//! `insights templates|apps|interval --start --end [--template ID]...`: reads over the rollup.

use clap::Args;
use clap::Subcommand;
use coderlite::clock::format_rfc3339;
use coderlite::database::prelude::*;
use coderlite::rollup::insights;
use serde::Serialize;

use crate::cli::CliError;
use crate::cli::Context;
use crate::cli::GlobalArgs;
use crate::cli::OutputFormat;
use crate::cli::output::print_json;
use crate::cli::output::print_table;

#[derive(Debug, Subcommand)]
pub enum InsightsCommand {
    /// Usage summary across templates (minutes capped at 30 per half hour and user).
    Templates(RangeArgs),
    /// Usage per app.
    Apps(RangeArgs),
    /// Active users and templates per day or week.
    Interval {
        #[command(flatten)]
        range: RangeArgs,
        /// day or week.
        #[arg(long, default_value = "day")]
        interval: String,
    },
}

#[derive(Debug, Args)]
pub struct RangeArgs {
    /// RFC 3339, at midnight in its offset (e.g. 2024-06-01T00:00:00Z).
    #[arg(long)]
    start: String,
    /// RFC 3339, at midnight, or a full hour when it is today.
    #[arg(long)]
    end: String,
    /// Restrict to these template IDs (repeatable; default all).
    #[arg(long = "template")]
    templates: Vec<String>,
}

#[derive(Serialize)]
struct TemplatesOutput {
    active_users: i64,
    usage_total_seconds: i64,
    ssh_seconds: i64,
    sftp_seconds: i64,
    reconnecting_pty_seconds: i64,
    vscode_seconds: i64,
    jetbrains_seconds: i64,
    template_ids: Vec<String>,
}

#[derive(Serialize)]
struct AppOutput {
    app_name: String,
    is_app: bool,
    template_ids: Vec<String>,
    active_users: i64,
    usage_seconds: i64,
}

#[derive(Serialize)]
struct IntervalOutput {
    start_time: String,
    end_time: String,
    template_ids: Vec<String>,
    active_users: i64,
}

pub fn run(ctx: &GlobalArgs, command: InsightsCommand) -> Result<(), CliError> {
    let store = ctx.open()?;
    let now = store.clock().now();
    let (range, interval) = match &command {
        InsightsCommand::Templates(r) | InsightsCommand::Apps(r) => (r, None),
        InsightsCommand::Interval { range, interval } => (range, Some(interval.as_str())),
    };
    let (start, end) =
        insights::parse_insights_time_range(now, &range.start, &range.end).map_err(|e| CliError::new("insights", e))?;
    let rows =
        store.get_template_usage_stats(start, end, &range.templates).context(|| "read template usage".to_owned())?;
    match command {
        InsightsCommand::Templates(_) => {
            let i = insights::template_insights(&rows);
            let out = TemplatesOutput {
                active_users: i.active_users,
                usage_total_seconds: i.usage_total_seconds,
                ssh_seconds: i.ssh_seconds,
                sftp_seconds: i.sftp_seconds,
                reconnecting_pty_seconds: i.reconnecting_pty_seconds,
                vscode_seconds: i.vscode_seconds,
                jetbrains_seconds: i.jetbrains_seconds,
                template_ids: i.template_ids,
            };
            match ctx.output {
                OutputFormat::Json => print_json(&out),
                OutputFormat::Table => {
                    let rows = vec![vec![
                        out.active_users.to_string(),
                        out.usage_total_seconds.to_string(),
                        out.ssh_seconds.to_string(),
                        out.reconnecting_pty_seconds.to_string(),
                        out.vscode_seconds.to_string(),
                        out.jetbrains_seconds.to_string(),
                    ]];
                    print_table(&["ACTIVE USERS", "USAGE S", "SSH S", "TERMINAL S", "VSCODE S", "JETBRAINS S"], &rows);
                    Ok(())
                }
            }
        }
        InsightsCommand::Apps(_) => {
            let out: Vec<AppOutput> = insights::app_insights(&rows)
                .into_iter()
                .map(|a| AppOutput {
                    app_name: a.app_name,
                    is_app: a.is_app,
                    template_ids: a.template_ids,
                    active_users: a.active_users,
                    usage_seconds: a.usage_seconds,
                })
                .collect();
            match ctx.output {
                OutputFormat::Json => print_json(&out),
                OutputFormat::Table => {
                    let rows: Vec<Vec<String>> = out
                        .iter()
                        .map(|a| vec![a.app_name.clone(), a.active_users.to_string(), a.usage_seconds.to_string()])
                        .collect();
                    print_table(&["APP", "ACTIVE USERS", "USAGE S"], &rows);
                    Ok(())
                }
            }
        }
        InsightsCommand::Interval { .. } => {
            let interval = insights::parse_report_interval(start, end, interval.unwrap_or(""))
                .map_err(|e| CliError::new("insights", e))?;
            let out: Vec<IntervalOutput> = insights::insights_by_interval(&rows, start, end, interval.days())
                .into_iter()
                .map(|i| IntervalOutput {
                    start_time: format_rfc3339(i.start_time),
                    end_time: format_rfc3339(i.end_time),
                    template_ids: i.template_ids,
                    active_users: i.active_users,
                })
                .collect();
            match ctx.output {
                OutputFormat::Json => print_json(&out),
                OutputFormat::Table => {
                    let rows: Vec<Vec<String>> = out
                        .iter()
                        .map(|i| vec![i.start_time.clone(), i.end_time.clone(), i.active_users.to_string()])
                        .collect();
                    print_table(&["START", "END", "ACTIVE USERS"], &rows);
                    Ok(())
                }
            }
        }
    }
}
