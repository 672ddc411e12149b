//! `migrate`, `db check|copy|purge|backup|restore`, `locks` and `replicas`.

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
use crate::cli::args::Sources;
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
    /// Run the purge once now (what the server's purge service does every 10 minutes, under
    /// the same lock): old raw agent stats, notification messages, expired API keys, telemetry
    /// claims and snapshots, audit connection events, and stale replica rows.
    Purge {
        /// How long expired API keys are kept; 0 keeps them [default: 7d]
        #[arg(long, env = "CODER_API_KEYS_RETENTION", value_name = "DURATION")]
        api_keys_retention: Option<String>,
        /// How long audit log entries are kept; 0 keeps them forever [default: 0]
        #[arg(long, env = "CODER_AUDIT_LOGS_RETENTION", value_name = "DURATION")]
        audit_logs_retention: Option<String>,
        /// How long telemetry snapshots are kept; 0 keeps them [default: 30d]
        #[arg(long, env = "CODERLITE_TELEMETRY_SNAPSHOTS_RETENTION", value_name = "DURATION")]
        telemetry_snapshots_retention: Option<String>,
    },
    /// A consistent copy of a SQLite database, taken while servers run on it: written under a
    /// temporary name, checked, mode 0600, then renamed to DEST. PostgreSQL: use pg_dump (or
    /// `db copy` to a SQLite file).
    Backup {
        /// Where to write the copy.
        dest: std::path::PathBuf,
        /// Replace DEST if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Replace the database (--db) with a backup: refused while a server runs on it; the
    /// current database is kept as DB.before-restore-<time> (one per restore) until the next
    /// successful start. A backup of an older schema is migrated at the next start; a newer
    /// one is refused.
    Restore {
        /// The backup to restore.
        src: std::path::PathBuf,
    },
}

/// One `replicas` row.
#[derive(Serialize)]
struct ReplicaOutput {
    id: String,
    hostname: String,
    pid: i64,
    version: String,
    started_at: String,
    last_heartbeat: String,
    live: bool,
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
    /// The SQLite write-ahead log's size (absent on PostgreSQL).
    #[serde(skip_serializing_if = "Option::is_none")]
    wal_bytes: Option<u64>,
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

pub fn run(ctx: &GlobalArgs, command: DbCommand, sources: &Sources<'_>) -> Result<(), CliError> {
    match command {
        DbCommand::Check => check(ctx),
        DbCommand::Copy { from, to } => copy(ctx, from, to),
        DbCommand::Purge { api_keys_retention, audit_logs_retention, telemetry_snapshots_retention } => {
            purge(ctx, api_keys_retention, audit_logs_retention, telemetry_snapshots_retention, sources)
        }
        DbCommand::Backup { dest, force } => backup(ctx, &dest, force),
        DbCommand::Restore { src } => restore(ctx, &src),
    }
}

fn copy(ctx: &GlobalArgs, from: std::path::PathBuf, to: std::path::PathBuf) -> Result<(), CliError> {
    let (from, to) = (Location::parse(from), Location::parse(to));
    if from == to {
        return Err(CliError::new("db copy", format!("--from and --to are the same database ({from})")));
    }
    if let (Location::Sqlite(source), Location::Sqlite(target)) = (&from, &to)
        && let Some(role) = coderlite::database::sqlite::backup::database_file_role(target, source)
    {
        return Err(CliError::new("db copy", format!("--to {} is {role} of --from", target.display())));
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

fn purge(
    ctx: &GlobalArgs,
    api_keys_retention: Option<String>,
    audit_logs_retention: Option<String>,
    telemetry_snapshots_retention: Option<String>,
    sources: &Sources<'_>,
) -> Result<(), CliError> {
    let none = None;
    let config = crate::cli::server::purge_config(
        sources,
        [
            ("purge_interval", &none),
            ("api_keys_retention", &api_keys_retention),
            ("audit_logs_retention", &audit_logs_retention),
            ("telemetry_snapshots_retention", &telemetry_snapshots_retention),
        ],
    )?;
    let store = ctx.open()?;
    let holder = format!("{}/purge", store.replica_id());
    let report = coderlite::purge::purge_once(&store, &holder, &config).context(|| "purge".to_owned())?;
    let Some(report) = report else {
        return Err(CliError::new("purge", "another process is purging now (it holds lock 4); try again later"));
    };
    let rows: Vec<(String, u64)> = report
        .deleted
        .iter()
        .map(|(t, n)| (t.as_str().to_owned(), *n))
        .chain([("stale_replicas".to_owned(), report.stale_replicas)])
        .collect();
    match ctx.output {
        OutputFormat::Json => print_json(&serde_json::json!({
            "deleted": rows.iter().map(|(t, n)| (t.clone(), *n)).collect::<std::collections::BTreeMap<_, _>>(),
            "transactions": report.transactions,
            "longest_transaction_ms": coderlite::clock::rounded_millis(report.longest_transaction),
            "took_ms": coderlite::clock::rounded_millis(report.took),
        })),
        OutputFormat::Table => {
            let table: Vec<Vec<String>> = rows.iter().map(|(t, n)| vec![t.clone(), n.to_string()]).collect();
            print_table(&["TABLE", "DELETED"], &table);
            println!("purged in {} transactions, {:.1}s", report.transactions, report.took.as_secs_f64());
            Ok(())
        }
    }
}

fn backup(ctx: &GlobalArgs, dest: &std::path::Path, force: bool) -> Result<(), CliError> {
    let store = ctx.open()?;
    let Some(sqlite) = store.as_sqlite() else {
        return Err(CliError::new(
            "db backup",
            "db backup copies SQLite files; for PostgreSQL use pg_dump, or `coderlite db copy --from URL --to FILE` \
             for a SQLite snapshot",
        ));
    };
    let progress = |bytes: u64| eprintln!("backup: {:.1} MiB written", bytes as f64 / (1024.0 * 1024.0));
    // An interrupt (Ctrl-C, SIGTERM, SIGHUP, a `timeout`) removes the temporary copy before
    // the process ends; only SIGKILL can leave one, and the next backup to DEST sweeps it.
    let interrupted = remove_on_signal(coderlite::database::sqlite::backup::partial_files(dest))?;
    let report = sqlite.backup_to(dest, force, &progress);
    interrupted.close();
    let report = report.map_err(|e| CliError::new(format!("back up to {}", dest.display()), e))?;
    for path in &report.removed_partials {
        eprintln!("backup: removed {}, left by an interrupted backup", path.display());
    }
    match ctx.output {
        OutputFormat::Json => print_json(&serde_json::json!({
            "dest": report.dest.display().to_string(),
            "bytes": report.bytes,
            "took_ms": coderlite::clock::rounded_millis(report.took),
            "removed_partials": report.removed_partials.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        })),
        OutputFormat::Table => {
            println!(
                "backed up to {} ({:.1} MiB in {:.1}s)",
                report.dest.display(),
                report.bytes as f64 / (1024.0 * 1024.0),
                report.took.as_secs_f64()
            );
            Ok(())
        }
    }
}

/// Until the handle is closed, SIGINT, SIGTERM and SIGHUP remove `files` and end the process
/// with 128 + the signal, as the default action would have.
fn remove_on_signal(files: Vec<std::path::PathBuf>) -> Result<signal_hook::iterator::Handle, CliError> {
    use signal_hook::consts::SIGHUP;
    use signal_hook::consts::SIGINT;
    use signal_hook::consts::SIGTERM;
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .context(|| "install signal handlers".to_owned())?;
    let handle = signals.handle();
    std::thread::Builder::new()
        .name("backup-signals".to_owned())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                for file in &files {
                    let _ = std::fs::remove_file(file);
                }
                std::process::exit(128 + signal);
            }
        })
        .context(|| "spawn signal thread".to_owned())?;
    Ok(handle)
}

fn restore(ctx: &GlobalArgs, src: &std::path::Path) -> Result<(), CliError> {
    let Location::Sqlite(target) = ctx.location()? else {
        return Err(CliError::new(
            "db restore",
            "db restore writes SQLite files; for PostgreSQL use pg_restore, or `coderlite db copy --from FILE --to URL`",
        ));
    };
    use coderlite::database::sqlite::backup;
    if let Some(role) = backup::database_file_role(src, &target) {
        return Err(CliError::new(format!("restore from {}", src.display()), format!("it is {role}")));
    }
    let binary = coderlite::database::sqlite::binary_schema_version();
    backup::check_restore_source(src, binary)
        .map_err(|e| CliError::new(format!("restore from {}", src.display()), e))?;
    let mut kept = None;
    let mut restore_id = None;
    if target.exists() {
        let store = ctx.open()?;
        // From here until the copy clears every replica row, a server starting on the target
        // finds this restore registered and refuses; a live server refuses this restore.
        let id = coderlite::replicas::register_restore(&store).map_err(|e| CliError::new("db restore", e))?;
        let keep = backup::keep_copy_path(&target, store.clock().now());
        let kept_copy = store
            .as_sqlite()
            .expect("a SQLite location")
            .vacuum_into(&keep)
            .context(|| format!("keep the current database as {}", keep.display()));
        if let Err(e) = kept_copy {
            let _ = coderlite::replicas::deregister(&store, &id);
            return Err(e);
        }
        kept = Some(keep);
        restore_id = Some(id);
    } else if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        coderlite::database::sqlite::create_private_dir_all(parent)
            .context(|| format!("create directory {}", parent.display()))?;
    }
    // The store above is closed: the copy opens the target's only connection in this process.
    let restored = backup::restore_into(src, &target, kept, std::time::Duration::from_secs(5));
    if let (Err(_), Some(id)) = (&restored, &restore_id) {
        // The copy did not land, so this restore's row is still there: remove it, or servers
        // would refuse to start until this process is gone.
        if let Ok(store) = ctx.open() {
            let _ = coderlite::replicas::deregister(&store, id);
        }
    }
    let report =
        restored.map_err(|e| CliError::new(format!("restore {} into {}", src.display(), target.display()), e))?;
    print_restore(ctx, src, &target, report, binary)
}

fn print_restore(
    ctx: &GlobalArgs,
    src: &std::path::Path,
    target: &std::path::Path,
    report: coderlite::database::sqlite::backup::RestoreReport,
    binary: i64,
) -> Result<(), CliError> {
    match ctx.output {
        OutputFormat::Json => print_json(&serde_json::json!({
            "restored": target.display().to_string(),
            "schema_version": report.schema_version,
            "kept": report.kept.map(|k| k.display().to_string()),
            "took_ms": coderlite::clock::rounded_millis(report.took),
        })),
        OutputFormat::Table => {
            println!("restored {} from {}", target.display(), src.display());
            if report.schema_version < binary {
                println!("schema version {} will be migrated to {binary} at the next start", report.schema_version);
            }
            if let Some(k) = report.kept {
                println!("the replaced database is kept as {} until the next successful start", k.display());
            }
            Ok(())
        }
    }
}

/// `replicas`: the servers registered on the database.
pub fn replicas(ctx: &GlobalArgs) -> Result<(), CliError> {
    let store = ctx.open()?;
    let now = store.clock().now();
    let rows = store.list_replicas().context(|| "list replicas".to_owned())?;
    let live: Vec<String> = coderlite::replicas::live(&rows, now).iter().map(|r| r.id.clone()).collect();
    let out: Vec<ReplicaOutput> = rows
        .iter()
        .map(|r| ReplicaOutput {
            id: r.id.clone(),
            hostname: r.hostname.clone(),
            pid: r.pid,
            version: r.version.clone(),
            started_at: format_rfc3339(r.started_at),
            last_heartbeat: format_rfc3339(r.updated_at),
            live: live.contains(&r.id),
        })
        .collect();
    match ctx.output {
        OutputFormat::Json => print_json(&out),
        OutputFormat::Table => {
            if out.is_empty() {
                println!("no servers registered");
                return Ok(());
            }
            let table: Vec<Vec<String>> = out
                .iter()
                .map(|r| {
                    vec![
                        r.id.clone(),
                        r.hostname.clone(),
                        r.pid.to_string(),
                        r.version.clone(),
                        r.started_at.clone(),
                        if r.live { "live" } else { "gone" }.to_owned(),
                    ]
                })
                .collect();
            print_table(&["REPLICA", "HOST", "PID", "VERSION", "STARTED", "STATE"], &table);
            Ok(())
        }
    }
}

pub fn migrate(ctx: &GlobalArgs) -> Result<(), CliError> {
    let store = ctx.open_or_create()?;
    let report = store.check_integrity().context(|| "check database".to_owned())?;
    print_check(ctx, &report, wal_bytes(&store))
}

fn check(ctx: &GlobalArgs) -> Result<(), CliError> {
    let store = ctx.open()?;
    let report = store.check_integrity().context(|| "check database".to_owned())?;
    print_check(ctx, &report, wal_bytes(&store))?;
    if !report.is_ok() {
        return Err(CliError::new("db check", "the database failed its checks (see output)"));
    }
    Ok(())
}

fn wal_bytes(store: &coderlite::database::AnyStore) -> Option<u64> {
    store.wal_status().ok().flatten().map(|w| w.wal_bytes)
}

fn print_check(ctx: &GlobalArgs, report: &IntegrityReport, wal_bytes: Option<u64>) -> Result<(), CliError> {
    match ctx.output {
        OutputFormat::Json => print_json(&CheckOutput {
            schema_version: report.schema_version,
            integrity: report.integrity.clone(),
            foreign_keys: report.foreign_keys.clone(),
            wal_bytes,
        }),
        OutputFormat::Table => {
            println!("schema version  {}", report.schema_version);
            println!("integrity       {}", report.integrity);
            println!("foreign keys    {}", report.foreign_keys);
            if let Some(bytes) = wal_bytes {
                println!("wal size        {:.1} MiB", bytes as f64 / (1024.0 * 1024.0));
            }
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
