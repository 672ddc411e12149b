//! Hidden helpers that multi-process tests spawn: hold a lease, loop over leases or
//! transaction locks while logging critical sections to a shared append-only file.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use std::time::Instant;

use clap::Subcommand;
use coderlite::boundaryusage;
use coderlite::database::LockId;
use coderlite::database::TxOptions;
use coderlite::database::in_tx;
use coderlite::database::prelude::*;

use crate::cli::CliError;
use crate::cli::Context;
use crate::cli::GlobalArgs;
use crate::cli::args::parse_interval;

#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// Take a lease, print "acquired" (or "not acquired", exit 3), hold it, release it.
    HoldLease {
        #[arg(long)]
        lock: LockId,
        #[arg(long)]
        holder: String,
        #[arg(long, value_parser = parse_interval)]
        ttl: Duration,
        #[arg(long, value_parser = parse_interval)]
        hold_for: Duration,
    },
    /// For `duration`, repeatedly take a lease and do `work` inside it, logging enter/exit.
    LeaseLoop {
        #[arg(long)]
        lock: LockId,
        #[arg(long)]
        holder: String,
        #[arg(long, value_parser = parse_interval)]
        work: Duration,
        #[arg(long, value_parser = parse_interval)]
        duration: Duration,
        #[arg(long)]
        log: PathBuf,
    },
    /// For `duration`, collect boundary usage in a tight loop; print the totals collected as
    /// one JSON line.
    CollectLoop {
        #[arg(long, value_parser = parse_interval)]
        duration: Duration,
        #[arg(long, value_parser = parse_interval)]
        interval: Duration,
        #[arg(long, value_parser = parse_interval)]
        max_staleness: Duration,
    },
    /// Run `iterations` write transactions holding transaction lock `lock`, logging enter/exit.
    TxLockLoop {
        #[arg(long)]
        lock: LockId,
        #[arg(long)]
        holder: String,
        #[arg(long)]
        iterations: u32,
        #[arg(long)]
        log: PathBuf,
    },
}

pub fn run(ctx: &GlobalArgs, command: DebugCommand) -> Result<(), CliError> {
    let store = ctx.open()?;
    match command {
        DebugCommand::HoldLease { lock, holder, ttl, hold_for } => {
            let Some(guard) = store.try_acquire_lease(lock, &holder, ttl).context(|| "acquire lease".to_owned())?
            else {
                println!("not acquired");
                std::process::exit(3);
            };
            println!("acquired");
            std::io::stdout().flush().context(|| "flush stdout".to_owned())?;
            std::thread::sleep(hold_for);
            guard.release().context(|| "release lease".to_owned())
        }
        DebugCommand::LeaseLoop { lock, holder, work, duration, log } => {
            let mut log = open_log(&log)?;
            let end = Instant::now() + duration;
            while Instant::now() < end {
                match store
                    .try_acquire_lease(lock, &holder, Duration::from_secs(10))
                    .context(|| "acquire lease".to_owned())?
                {
                    Some(guard) => {
                        write_line(&mut log, &format!("enter {holder}"))?;
                        std::thread::sleep(work);
                        write_line(&mut log, &format!("exit {holder}"))?;
                        guard.release().context(|| "release lease".to_owned())?;
                        // Leases are not fair; pausing like a periodic worker gives others a turn.
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    None => std::thread::sleep(Duration::from_millis(3)),
                }
            }
            Ok(())
        }
        DebugCommand::CollectLoop { duration, interval, max_staleness } => {
            let clock = store.clock();
            let replica_id = store.replica_id().to_owned();
            let (mut collections, mut allowed, mut denied) = (0u64, 0i64, 0i64);
            let end = Instant::now() + duration;
            while Instant::now() < end {
                if let Some(s) = boundaryusage::collect(&store, &clock, &replica_id, interval, max_staleness)? {
                    collections += 1;
                    allowed += s.allowed_requests;
                    denied += s.denied_requests;
                }
            }
            println!("{}", serde_json::json!({"collections": collections, "allowed": allowed, "denied": denied}));
            Ok(())
        }
        DebugCommand::TxLockLoop { lock, holder, iterations, log } => {
            let mut log = open_log(&log)?;
            for _ in 0..iterations {
                in_tx(&store, TxOptions::write("debug tx lock loop"), |tx| {
                    tx.acquire_lock(lock)?;
                    write_line(&mut log, &format!("enter {holder}"))
                        .map_err(|e| CliError::new("log", e.to_string()))?;
                    std::thread::sleep(Duration::from_micros(200));
                    write_line(&mut log, &format!("exit {holder}")).map_err(|e| CliError::new("log", e.to_string()))?;
                    Ok::<_, CliError>(())
                })?;
            }
            Ok(())
        }
    }
}

fn open_log(path: &PathBuf) -> Result<std::fs::File, CliError> {
    OpenOptions::new().create(true).append(true).open(path).context(|| format!("open {}", path.display()))
}

/// One `write` call per line on an O_APPEND file, so lines from processes never interleave.
fn write_line(log: &mut std::fs::File, line: &str) -> Result<(), CliError> {
    log.write_all(format!("{line}\n").as_bytes()).context(|| "write log".to_owned())
}
