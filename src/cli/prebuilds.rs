//! `prebuilds status|pause|resume|reconcile|claim|invalidate`.

use std::time::Duration;

use clap::Subcommand;
use coderlite::clock::format_rfc3339;
use coderlite::database::TxOptions;
use coderlite::database::in_tx;
use coderlite::database::prelude::*;
use coderlite::prebuilds::provision;
use coderlite::prebuilds::reconciler;
use coderlite::prebuilds::reconciler::ReconcilerConfig;
use coderlite::prebuilds::snapshot::load_snapshot;
use coderlite::prebuilds::state::Action;
use serde::Serialize;

use crate::cli::CliError;
use crate::cli::Context;
use crate::cli::GlobalArgs;
use crate::cli::OutputFormat;
use crate::cli::output::print_json;
use crate::cli::output::print_table;
use crate::cli::resolve;

#[derive(Debug, Subcommand)]
pub enum PrebuildsCommand {
    /// Per preset: desired, running, eligible, in progress, expired, backoff, hard limit.
    Status,
    /// Pause reconciliation (every replica).
    Pause,
    /// Resume reconciliation.
    Resume,
    /// Run one reconcile cycle now.
    Reconcile {
        /// Afterwards, complete pending jobs with the echo provisioner (without a server).
        #[arg(long)]
        provision: bool,
    },
    /// Claim a ready prebuilt workspace of a preset for a user.
    Claim {
        /// The preset: its ID, or TEMPLATE/PRESET (ORG/TEMPLATE/PRESET when the template name
        /// is used in several organizations).
        #[arg(long, value_name = "PRESET")]
        preset: String,
        /// The claiming user: ID or username (not a system user).
        #[arg(long, value_name = "USER")]
        user: String,
        /// The workspace's new name: letters, digits and single hyphens, up to 32 characters.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// The workspace's autostart schedule: a weekly cron ("30 9 * * 1-5", optionally
        /// prefixed "CRON_TZ=Europe/Berlin "); the next start falls on a day the template allows.
        #[arg(long, value_name = "CRON")]
        autostart: Option<String>,
        /// The workspace's time to shutdown after a start (1m to 30d, truncated to the minute)
        /// [default: the template's default TTL]
        #[arg(long, value_name = "DURATION", value_parser = crate::cli::args::parse_duration)]
        ttl: Option<std::time::Duration>,
    },
    /// Invalidate a template's prebuilds: they are replaced from the next cycle on.
    Invalidate {
        /// The template: its ID, or [ORG/]NAME.
        #[arg(long, value_name = "TEMPLATE")]
        template: String,
    },
}

#[derive(Serialize)]
struct StatusOutput {
    paused: bool,
    presets: Vec<PresetStatus>,
}

#[derive(Serialize)]
struct PresetStatus {
    preset_id: String,
    preset_name: String,
    template_name: String,
    template_version_id: String,
    template_version_name: String,
    organization_name: String,
    active: bool,
    desired: i64,
    running: i64,
    eligible: i64,
    starting: i64,
    stopping: i64,
    deleting: i64,
    expired: i64,
    extraneous: i64,
    backoff_until: Option<String>,
    hard_limited: bool,
}

#[derive(Serialize)]
struct ReconcileOutput {
    acquired: bool,
    paused: bool,
    created: usize,
    deleted: usize,
    canceled: usize,
    errors: Vec<String>,
}

#[derive(Serialize)]
struct ClaimOutput {
    claimed: bool,
    workspace_id: Option<String>,
    name: Option<String>,
}

pub fn run(ctx: &GlobalArgs, command: PrebuildsCommand) -> Result<(), CliError> {
    // The reconcile interval plays no part in one cycle or a status: the defaults serve.
    let config = &ReconcilerConfig::new(Duration::from_secs(60));
    let store = ctx.open()?;
    match command {
        PrebuildsCommand::Status => status(ctx, &store, config),
        PrebuildsCommand::Pause | PrebuildsCommand::Resume => {
            let paused = matches!(command, PrebuildsCommand::Pause);
            reconciler::set_paused(&store, paused).context(|| "update prebuilds settings".to_owned())?;
            match ctx.output {
                OutputFormat::Json => print_json(&serde_json::json!({ "paused": paused })),
                OutputFormat::Table => {
                    println!("prebuilds reconciliation {}", if paused { "paused" } else { "resumed" });
                    Ok(())
                }
            }
        }
        PrebuildsCommand::Reconcile { provision } => {
            let holder = format!("{}/reconcile", store.replica_id());
            let r = reconciler::reconcile_once(&store, &holder, config).context(|| "reconcile prebuilds".to_owned())?;
            if provision {
                coderlite::provisioner::drain(&store, &holder).context(|| "provision".to_owned())?;
            }
            let out = ReconcileOutput {
                acquired: r.acquired,
                paused: r.paused,
                created: r.created,
                deleted: r.deleted,
                canceled: r.canceled,
                errors: r.errors,
            };
            match ctx.output {
                OutputFormat::Json => print_json(&out),
                OutputFormat::Table => {
                    if !out.acquired {
                        println!("not reconciled: another process holds the reconcile lease");
                    } else if out.paused {
                        println!("reconciliation is paused");
                    } else {
                        println!("created {}, deleted {}, canceled {}", out.created, out.deleted, out.canceled);
                    }
                    for e in &out.errors {
                        println!("error: {e}");
                    }
                    Ok(())
                }
            }
        }
        PrebuildsCommand::Claim { preset, user, name, autostart, ttl } => {
            let preset = resolve::preset(&store, &preset)?;
            let user = resolve::user(&store, &user)?;
            let request = coderlite::workspaces::claim::ClaimRequest {
                preset_id: &preset.id,
                user_id: &user.id,
                name: &name,
                autostart_schedule: autostart.as_deref(),
                ttl_ms: ttl.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            };
            let claimed = coderlite::workspaces::claim::claim_prebuilt_workspace(&store, &request)
                .map_err(|e| CliError::new("claim prebuilt workspace", e))?;
            let out = ClaimOutput {
                claimed: claimed.is_some(),
                workspace_id: claimed.as_ref().map(|c| c.workspace_id.clone()),
                name: claimed.map(|c| c.name),
            };
            match ctx.output {
                OutputFormat::Json => print_json(&out)?,
                OutputFormat::Table => {
                    if let Some(id) = &out.workspace_id {
                        println!("claimed {id} as {}", out.name.clone().unwrap_or_default());
                    }
                }
            }
            // Nothing claimed is a failure a script must see (exit 1), as upstream's create
            // falls back to an ordinary build instead.
            if out.claimed {
                Ok(())
            } else {
                Err(CliError::new(
                    "claim prebuilt workspace",
                    "no prebuilt workspace of the preset is ready to claim; create an ordinary workspace instead",
                ))
            }
        }
        PrebuildsCommand::Invalidate { template } => {
            let template = resolve::template(&store, &template)?;
            let presets = provision::invalidate_prebuilds(&store, &template.id)
                .context(|| format!("invalidate template {}", template.name))?;
            match ctx.output {
                OutputFormat::Json => print_json(&serde_json::json!({ "invalidated_presets": presets })),
                OutputFormat::Table => {
                    println!("invalidated {} presets; their prebuilds are replaced from the next cycle", presets.len());
                    Ok(())
                }
            }
        }
    }
}

fn status(ctx: &GlobalArgs, store: &dyn Store, config: &ReconcilerConfig) -> Result<(), CliError> {
    let (paused, snapshot) = in_tx(store, TxOptions::read("prebuilds status"), |tx| {
        let now = tx.clock().now();
        let paused = reconciler::is_paused(&tx.get_prebuilds_settings()?);
        Ok::<_, coderlite::database::Error>((
            paused,
            load_snapshot(tx, now, config.backoff_lookback, config.failure_hard_limit, None)?,
        ))
    })
    .context(|| "read prebuilds state".to_owned())?;
    let now = store.clock().now();
    let presets: Vec<PresetStatus> = snapshot
        .by_preset(now)
        .into_iter()
        .map(|ps| {
            let p = ps.preset;
            let s = ps.calculate_state();
            let backoff_until = ps.calculate_actions(config.backoff_interval).into_iter().find_map(|a| match a {
                Action::Backoff { until } => Some(format_rfc3339(until)),
                _ => None,
            });
            PresetStatus {
                preset_id: p.preset_id.clone(),
                preset_name: p.preset_name.clone(),
                template_name: p.template_name.clone(),
                template_version_id: p.template_version_id.clone(),
                template_version_name: p.template_version_name.clone(),
                organization_name: p.organization_name.clone(),
                active: ps.is_active(),
                desired: s.desired,
                running: s.actual,
                eligible: s.eligible,
                starting: s.starting,
                stopping: s.stopping,
                deleting: s.deleting,
                expired: s.expired,
                extraneous: s.extraneous,
                backoff_until,
                hard_limited: ps.is_hard_limited,
            }
        })
        .collect();
    let out = StatusOutput { paused, presets };
    match ctx.output {
        OutputFormat::Json => print_json(&out),
        OutputFormat::Table => {
            if out.paused {
                println!("reconciliation is PAUSED");
            }
            let rows: Vec<Vec<String>> = out
                .presets
                .iter()
                .map(|p| {
                    vec![
                        p.preset_id.chars().take(8).collect(),
                        p.organization_name.clone(),
                        p.template_name.clone(),
                        p.template_version_name.clone(),
                        p.preset_name.clone(),
                        if p.active { "yes" } else { "no" }.to_owned(),
                        p.desired.to_string(),
                        p.running.to_string(),
                        p.eligible.to_string(),
                        p.starting.to_string(),
                        p.backoff_until.clone().unwrap_or_else(|| "-".to_owned()),
                        if p.hard_limited { "yes" } else { "" }.to_owned(),
                    ]
                })
                .collect();
            print_table(
                &[
                    "PRESET ID",
                    "ORG",
                    "TEMPLATE",
                    "VERSION",
                    "PRESET",
                    "ACTIVE",
                    "DESIRED",
                    "RUNNING",
                    "ELIGIBLE",
                    "STARTING",
                    "BACKOFF UNTIL",
                    "HARD LIMIT",
                ],
                &rows,
            );
            Ok(())
        }
    }
}
