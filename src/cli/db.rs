//! `migrate`, `db check` and `locks`.

use clap::Subcommand;
use coderlite::clock::format_rfc3339;
use coderlite::database::LockId;
use coderlite::database::models::IntegrityReport;
use coderlite::database::prelude::*;
use serde::Serialize;

use crate::cli::CliError;
use crate::cli::Context;
use crate::cli::GlobalArgs;
use crate::cli::OutputFormat;
use crate::cli::output::print_json;
use crate::cli::output::print_table;

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Integrity check, foreign key check and schema version; exits 1 when a check fails.
    Check,
}

/// `migrate` and `db check` output.
#[derive(Serialize)]
struct CheckOutput {
    schema_version: i64,
    integrity: String,
    foreign_keys: String,
}

/// One `locks` row.
#[derive(Serialize)]
struct LockOutput {
    lock_id: i64,
    name: Option<&'static str>,
    kind: &'static str,
    holder: String,
    acquired_at: String,
    expires_at: Option<String>,
}

pub fn run(ctx: &GlobalArgs, command: DbCommand) -> Result<(), CliError> {
    match command {
        DbCommand::Check => check(ctx),
    }
}

pub fn migrate(ctx: &GlobalArgs) -> Result<(), CliError> {
    let store = ctx.open_or_create()?;
    let report = store.check_integrity().context(|| "check database".to_owned())?;
    print_check(ctx, &report)
}

fn check(ctx: &GlobalArgs) -> Result<(), CliError> {
    let store = ctx.open()?;
    let report = store.check_integrity().context(|| "check database".to_owned())?;
    print_check(ctx, &report)?;
    if !report.is_ok() {
        return Err(CliError::new("db check", "the database failed its checks (see output)"));
    }
    Ok(())
}

fn print_check(ctx: &GlobalArgs, report: &IntegrityReport) -> Result<(), CliError> {
    match ctx.output {
        OutputFormat::Json => print_json(&CheckOutput {
            schema_version: report.schema_version,
            integrity: report.integrity.clone(),
            foreign_keys: report.foreign_keys.clone(),
        }),
        OutputFormat::Table => {
            println!("schema version  {}", report.schema_version);
            println!("integrity       {}", report.integrity);
            println!("foreign keys    {}", report.foreign_keys);
            Ok(())
        }
    }
}

pub fn locks(ctx: &GlobalArgs) -> Result<(), CliError> {
    let store = ctx.open()?;
    let now = store.clock().now();
    let rows = store.list_locks().context(|| "list locks".to_owned())?;
    let out: Vec<LockOutput> = rows
        .iter()
        .map(|r| LockOutput {
            lock_id: r.lock_id,
            name: LockId::from_i64(r.lock_id).map(LockId::name),
            kind: r.kind.as_str(),
            holder: r.holder.clone(),
            acquired_at: format_rfc3339(r.acquired_at),
            expires_at: r.expires_at.map(format_rfc3339),
        })
        .collect();
    match ctx.output {
        OutputFormat::Json => print_json(&out),
        OutputFormat::Table => {
            let table: Vec<Vec<String>> = rows
                .iter()
                .zip(&out)
                .map(|(r, o)| {
                    let age = (now - r.acquired_at).num_milliseconds() as f64 / 1000.0;
                    let expires = r.expires_at.map(|e| format!("{:.1}s", (e - now).num_milliseconds() as f64 / 1000.0));
                    vec![
                        o.lock_id.to_string(),
                        o.name.unwrap_or("?").to_owned(),
                        o.kind.to_owned(),
                        o.holder.clone(),
                        format!("{age:.1}s"),
                        expires.unwrap_or_else(|| "-".to_owned()),
                    ]
                })
                .collect();
            if table.is_empty() {
                println!("no locks held");
            } else {
                print_table(&["LOCK", "NAME", "KIND", "HOLDER", "AGE", "EXPIRES IN"], &table);
            }
            Ok(())
        }
    }
}
