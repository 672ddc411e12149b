//! `insights templates|apps|interval --start --end [--template ID]...`: reads over the rollup.

use chrono::Timelike;
use clap::Args;
use clap::Subcommand;
use clap::ValueEnum;
use coderlite::clock::Timestamp;
use coderlite::clock::format_rfc3339;
use coderlite::clock::parse_time;
use coderlite::database::prelude::*;
use coderlite::rollup::insights;
use serde::Serialize;

use crate::cli::CliError;
use crate::cli::Context;
use crate::cli::GlobalArgs;
use crate::cli::OutputFormat;
use crate::cli::output::print_json;
use crate::cli::output::print_table;
use crate::cli::resolve;

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
        /// The report interval.
        #[arg(long, value_enum, default_value_t = Interval::Day)]
        interval: Interval,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Interval {
    Day,
    Week,
}

#[derive(Debug, Args)]
pub struct RangeArgs {
    /// The start: a date (2026-11-25, midnight UTC), a relative time (now-7d, truncated to
    /// midnight UTC), or RFC 3339 at midnight in its offset (2026-11-25T00:00:00Z).
    #[arg(long, value_name = "TIME")]
    start: String,
    /// The end: as --start; a relative time on today ends at the next full hour, and RFC 3339
    /// on today may be any full hour.
    #[arg(long, value_name = "TIME")]
    end: String,
    /// Restrict to these templates, by ID or [ORG/]NAME (repeatable; default all).
    #[arg(long = "template", value_name = "TEMPLATE")]
    templates: Vec<String>,
}

/// The RFC 3339 text of a convenient form: a plain date is midnight UTC; a relative time
/// (`now`, `now-7d`) is truncated to midnight UTC, or for an end on today to the next full
/// hour, so these forms always pass upstream's rules. Anything else is passed on as typed.
fn resolve_time(text: &str, now: Timestamp, is_end: bool) -> String {
    let text = text.trim();
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return format_rfc3339(date.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    if text.starts_with("now")
        && let Ok(t) = parse_time(text, now)
    {
        let midnight = t.date_naive().and_time(chrono::NaiveTime::MIN).and_utc();
        if is_end && t.date_naive() == now.date_naive() {
            let hour = midnight + chrono::Duration::hours(i64::from(t.hour()));
            return format_rfc3339(if hour == t { hour } else { hour + chrono::Duration::hours(1) });
        }
        return format_rfc3339(midnight);
    }
    text.to_owned()
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
        InsightsCommand::Interval { range, interval } => (range, Some(*interval)),
    };
    let (start, end) = insights::parse_insights_time_range_named(
        now,
        &resolve_time(&range.start, now, false),
        &resolve_time(&range.end, now, true),
        ("--start", "--end"),
    )
    .map_err(|e| CliError::new("insights", e))?;
    let template_ids =
        range.templates.iter().map(|t| resolve::template(&store, t).map(|t| t.id)).collect::<Result<Vec<_>, _>>()?;
    let rows =
        store.get_template_usage_stats(start, end, &template_ids).context(|| "read template usage".to_owned())?;
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
            let name = match interval {
                Some(Interval::Week) => "week",
                Some(Interval::Day) | None => "day",
            };
            let interval =
                insights::parse_report_interval(start, end, name).map_err(|e| CliError::new("insights", e))?;
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
