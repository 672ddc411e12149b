//! `migrate`, `db check`, `db copy` and `locks`.

use clap::Subcommand;
use coderlite::clock::format_rfc3339;
use coderlite::database::Location;
use coderlite::database::LockId;
use coderlite::database::copy::CopyProgress;
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
    /// Copy every table from one database to another, between any two engines (SQLite ->
    /// PostgreSQL to move an install, PostgreSQL -> SQLite for a local snapshot). The source is
    /// read in one consistent snapshot and the destination written in one transaction; row
    /// counts are verified per table. The destination is created and migrated if needed and
    /// must hold nothing beyond what its migrations create. Leases and migration history are
    /// not copied. --db is not used.
    Copy {
        /// The source: a SQLite file or a postgres:// URL. Must exist.
        #[arg(long, value_name = "PATH|URL")]
        from: std::path::PathBuf,
        /// The destination: a SQLite file or a postgres:// URL.
        #[arg(long, value_name = "PATH|URL")]
        to: std::path::PathBuf,
    },
}

/// One `db copy` row.
#[derive(Serialize)]
struct CopyTableOutput {
    table: String,
    rows: u64,
}

/// `db copy -o json`.
#[derive(Serialize)]
struct CopyOutput {
    from: String,
    to: String,
    tables: Vec<CopyTableOutput>,
    total_rows: u64,
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
        DbCommand::Copy { from, to } => copy(ctx, from, to),
    }
}

fn copy(ctx: &GlobalArgs, from: std::path::PathBuf, to: std::path::PathBuf) -> Result<(), CliError> {
    let (from, to) = (Location::parse(from), Location::parse(to));
    if from == to {
        return Err(CliError::new("db copy", format!("--from and --to are the same database ({from})")));
    }
    let source = GlobalArgs::for_location(from.clone(), ctx.output).open()?;
    let target = GlobalArgs::for_location(to.clone(), ctx.output).open_or_create()?;
    let mut reader = source.copy_source().context(|| format!("read {from}"))?;
    let writer = target.copy_target().context(|| format!("write {to}"))?;
    let report = coderlite::database::copy::copy(&mut *reader, writer, &mut |p| match p {
        CopyProgress::Rows { table, rows } => eprintln!("{table}: {rows} rows ..."),
        CopyProgress::TableDone { table, rows, seconds } if rows > 0 => {
            eprintln!("{table}: {rows} rows copied in {seconds:.1}s")
        }
        CopyProgress::TableDone { .. } => {}
    })
    .context(|| format!("copy {from} to {to}"))?;
    let total_rows = report.tables.iter().map(|(_, n)| n).sum();
    match ctx.output {
        OutputFormat::Json => print_json(&CopyOutput {
            from: from.to_string(),
            to: to.to_string(),
            tables: report.tables.into_iter().map(|(table, rows)| CopyTableOutput { table, rows }).collect(),
            total_rows,
        }),
        OutputFormat::Table => {
            let rows: Vec<Vec<String>> = report.tables.iter().map(|(t, n)| vec![t.clone(), n.to_string()]).collect();
            print_table(&["TABLE", "ROWS"], &rows);
            println!("copied {total_rows} rows from {from} to {to}");
            Ok(())
        }
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
