//! The purge service (lock 4, upstream's dbpurge): every 10 minutes after the previous run,
//! one replica deletes what upstream's retention lets go, in bounded batches (each its own
//! short write transaction, so readers and the flush loop never wait long), then
//! checkpoints SQLite's write-ahead log. Retention as upstream's defaults: raw agent stats
//! until one day before the newest rollup bucket (180 days without one, at most a four-hour
//! window per run), notification messages after 7 days, expired API keys 7 days after they
//! expired, telemetry period claims after a day, audit connection events after 90 days (none
//! are recorded yet: the action CHECK has no connect/disconnect/open/close),
//! other audit entries kept (0) unless configured; coderlite's own telemetry snapshots after
//! 30 days. Stale replica rows (no heartbeat for three intervals) go too.

use std::time::Duration;
use std::time::Instant;

use crate::clock::Cancel;
use crate::clock::SharedClock;
use crate::clock::sub_duration;
use crate::database;
use crate::database::LockId;
use crate::database::Store;
use crate::database::models::PurgeTarget;
use crate::replicas::REPLICA_STALE_AFTER;

/// Rows per purge transaction: short enough that nothing waits long behind it.
pub const BATCH_ROWS: u32 = 2000;

/// How a purge runs (upstream's retention flags; 0 keeps forever, as upstream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeConfig {
    /// Time between the end of one run and the start of the next (upstream: 10 minutes).
    pub interval: Duration,
    /// How long expired API keys are kept (upstream `--api-keys-retention`, 7 days).
    pub api_keys_retention: Duration,
    /// How long audit entries are kept (upstream `--audit-logs-retention`, 0 = forever).
    pub audit_logs_retention: Duration,
    /// How long collected telemetry snapshots are kept (coderlite's own table; 30 days).
    pub telemetry_snapshots_retention: Duration,
}

impl Default for PurgeConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(600),
            api_keys_retention: Duration::from_secs(7 * 86_400),
            audit_logs_retention: Duration::ZERO,
            telemetry_snapshots_retention: Duration::from_secs(30 * 86_400),
        }
    }
}

const NOTIFICATION_MESSAGE_AGE: Duration = Duration::from_secs(7 * 86_400);
const TELEMETRY_LOCK_AGE: Duration = Duration::from_secs(86_400);
const AUDIT_CONNECTION_EVENT_AGE: Duration = Duration::from_secs(90 * 86_400);

/// What one run deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Rows per target, in run order (targets with nothing to delete included).
    pub deleted: Vec<(PurgeTarget, u64)>,
    pub stale_replicas: u64,
    /// Write transactions the run took, and the longest of them.
    pub transactions: u64,
    pub longest_transaction: Duration,
    pub took: Duration,
    /// The lease was lost mid-run (this process stalled past its TTL); the run stopped
    /// there and another replica carries on.
    pub lease_lost: bool,
}

impl PurgeReport {
    pub fn rows(&self, target: PurgeTarget) -> u64 {
        self.deleted.iter().filter(|(t, _)| *t == target).map(|(_, n)| n).sum()
    }
}

/// One purge now, if lease 4 is free (`None` when another replica purges). The cutoffs are
/// taken from `store`'s clock once, at the start.
pub fn purge_once(store: &dyn Store, holder: &str, config: &PurgeConfig) -> database::Result<Option<PurgeReport>> {
    let Some(lease) = store.try_acquire_lease(LockId::DbPurge, holder, Duration::from_secs(60))? else {
        return Ok(None);
    };
    let started = Instant::now();
    let now = store.clock().now();
    let mut report = PurgeReport::default();
    let mut steps: Vec<(PurgeTarget, crate::clock::Timestamp, Option<u64>)> = Vec::new();
    if let Some(cutoff) = store.get_agent_stats_purge_cutoff(now)? {
        steps.push((PurgeTarget::AgentStats, cutoff, None));
    }
    steps.push((PurgeTarget::NotificationMessages, sub_duration(now, NOTIFICATION_MESSAGE_AGE), None));
    if !config.api_keys_retention.is_zero() {
        // Upstream deletes at most 10,000 per run ("~1.5m keys per day at most").
        steps.push((PurgeTarget::ExpiredApiKeys, sub_duration(now, config.api_keys_retention), Some(10_000)));
    }
    steps.push((PurgeTarget::TelemetryLocks, sub_duration(now, TELEMETRY_LOCK_AGE), None));
    steps.push((PurgeTarget::AuditConnectionEvents, sub_duration(now, AUDIT_CONNECTION_EVENT_AGE), Some(1_000)));
    if !config.audit_logs_retention.is_zero() {
        steps.push((PurgeTarget::AuditLogs, sub_duration(now, config.audit_logs_retention), Some(10_000)));
    }
    if !config.telemetry_snapshots_retention.is_zero() {
        steps.push((PurgeTarget::TelemetrySnapshots, sub_duration(now, config.telemetry_snapshots_retention), None));
    }
    for (target, before, cap) in steps {
        let mut total = 0u64;
        loop {
            if !lease.is_held() {
                report.deleted.push((target, total));
                report.lease_lost = true;
                report.took = started.elapsed();
                return Ok(Some(report));
            }
            let batch = cap.map_or(u64::from(BATCH_ROWS), |c| (c - total).min(u64::from(BATCH_ROWS)));
            if batch == 0 {
                break;
            }
            let t = Instant::now();
            let n = store.purge_rows(target, before, batch as u32)?;
            report.transactions += 1;
            report.longest_transaction = report.longest_transaction.max(t.elapsed());
            total += n;
            if n < batch {
                break;
            }
        }
        report.deleted.push((target, total));
    }
    report.stale_replicas = store.delete_replicas_updated_before(sub_duration(now, REPLICA_STALE_AFTER))?;
    if let Err(error) = lease.release() {
        tracing::warn!(%error, "release purge lease");
    }
    // The deletes freed log frames: give them back to the database file.
    if let Err(error) = store.checkpoint_wal(false) {
        tracing::warn!(%error, "checkpoint after purge");
    }
    report.took = started.elapsed();
    Ok(Some(report))
}

/// The purge service: a run at once, then one `interval` after each run ends, until `cancel`
/// fires. Returns early only on an error no retry can cure.
pub fn run_purge_loop(
    store: &dyn Store,
    clock: SharedClock,
    holder: &str,
    config: &PurgeConfig,
    cancel: &Cancel,
) -> database::Result<()> {
    loop {
        if cancel.is_cancelled() {
            return Ok(());
        }
        match purge_once(store, holder, config) {
            Ok(Some(report)) if report.lease_lost => {
                tracing::warn!(
                    took_ms = crate::clock::rounded_millis(report.took),
                    "purge stopped early: the purge lease was lost"
                );
            }
            Ok(Some(report)) => {
                let rows = |t| report.rows(t);
                tracing::info!(
                    workspace_agent_stats = rows(PurgeTarget::AgentStats),
                    notification_messages = rows(PurgeTarget::NotificationMessages),
                    expired_api_keys = rows(PurgeTarget::ExpiredApiKeys),
                    telemetry_locks = rows(PurgeTarget::TelemetryLocks),
                    telemetry_snapshots = rows(PurgeTarget::TelemetrySnapshots),
                    audit_log_connection_events = rows(PurgeTarget::AuditConnectionEvents),
                    audit_logs = rows(PurgeTarget::AuditLogs),
                    stale_replicas = report.stale_replicas,
                    transactions = report.transactions,
                    took_ms = crate::clock::rounded_millis(report.took),
                    "purged old database entries"
                );
            }
            Ok(None) => tracing::debug!("purge skipped: another replica holds the purge lease"),
            Err(error) if error.is_fatal() => return Err(error),
            Err(error) if !cancel.is_cancelled() => tracing::error!(%error, "failed to purge old database entries"),
            Err(_) => {}
        }
        if !clock.sleep_until(crate::clock::add_duration(clock.now(), config.interval), cancel) {
            return Ok(());
        }
    }
}
