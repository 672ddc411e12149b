//! The in-process echo provisioner : it takes pending jobs oldest first
//! (one write transaction per acquisition, so no job is ever taken twice, also across
//! processes) and completes each after a configurable delay. A start creates a resource with
//! one ready agent; a delete marks the workspace deleted; a version flagged `fail_builds`
//! fails its builds.

use std::collections::VecDeque;
use std::time::Duration;

use crate::clock::Cancel;
use crate::clock::SharedClock;
use crate::clock::Timestamp;
use crate::clock::add_duration;
use crate::clock::sub_duration;
use crate::database;
use crate::database::Store;
use crate::database::TxOptions;
use crate::database::in_tx;
use crate::database::models::AgentLifecycle;
use crate::database::models::BuildOfJob;
use crate::database::models::InsertWorkspaceAgent;
use crate::database::models::NewJobLog;
use crate::database::models::ProvisionerJob;
use crate::database::models::ProvisionerJobType;
use crate::database::models::WorkspaceTransition;

/// The error of builds of a version flagged to fail.
pub const FAILED_BUILD_ERROR: &str = "echo provisioner: this template version is set to fail its builds";

/// How often the provisioner touches the jobs it holds.
pub const JOB_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(2);
/// A started job nobody has touched for this long belongs to a provisioner that died (its
/// process was killed): any provisioner puts it back to pending.
pub const JOB_HUNG_AFTER: Duration = Duration::from_secs(10);

/// Completes one acquired job, in one write transaction. Returns false, doing nothing, when
/// the job is no longer this worker's to complete (it was requeued and taken by another, or
/// canceled meanwhile).
pub fn complete_job(store: &dyn Store, job: &ProvisionerJob) -> database::Result<bool> {
    if job.job_type == ProvisionerJobType::TemplateVersionImport {
        return complete_import(store, job);
    }
    in_tx(store, TxOptions::write("complete provisioner job"), |tx| {
        let now = tx.clock().now();
        let current = tx.get_provisioner_job_by_id(&job.id)?;
        if current.completed_at.is_some() || current.worker_id != job.worker_id {
            return Ok(false);
        }
        if current.canceled_at.is_some() {
            // Canceled while it ran: it ends canceled (completed, no error), nothing built.
            tx.insert_provisioner_job_logs(&job.id, now, &[log("warn", "Cleaning Up", "The job was canceled.")])?;
            tx.complete_provisioner_job(&job.id, now, None)?;
            return Ok(true);
        }
        let Some(BuildOfJob { build_id, workspace_id, transition, fail_builds: fail }) =
            tx.get_workspace_build_by_job_id(&job.id)?
        else {
            // A template import or dry run: nothing to build.
            tx.complete_provisioner_job(&job.id, now, None)?;
            return Ok(true);
        };
        let stage = match transition {
            WorkspaceTransition::Start => "Starting workspace",
            WorkspaceTransition::Stop => "Stopping workspace",
            WorkspaceTransition::Delete => "Destroying workspace",
        };
        if fail {
            tx.insert_provisioner_job_logs(
                &job.id,
                now,
                &[log("info", "Planning infrastructure", "echo: plan"), log("error", stage, FAILED_BUILD_ERROR)],
            )?;
            tx.complete_provisioner_job(&job.id, now, Some(FAILED_BUILD_ERROR))?;
            return Ok(true);
        }
        tx.insert_provisioner_job_logs(
            &job.id,
            now,
            &[
                log("info", "Planning infrastructure", "echo: plan"),
                log("info", stage, "echo: apply complete"),
                log("info", "Cleaning Up", ""),
            ],
        )?;
        match transition {
            WorkspaceTransition::Start => {
                let resource_id = uuid::Uuid::new_v4().to_string();
                tx.insert_workspace_resource(&crate::database::models::InsertWorkspaceResource {
                    id: &resource_id,
                    job_id: &job.id,
                    transition,
                    created_at: now,
                })?;
                tx.insert_workspace_agent(&InsertWorkspaceAgent {
                    id: &uuid::Uuid::new_v4().to_string(),
                    created_at: now,
                    resource_id: &resource_id,
                    name: "main",
                    lifecycle_state: AgentLifecycle::Ready,
                    ready_at: Some(now),
                    parent_id: None,
                })?;
                // The workspace's time to shutdown, counted from now (upstream's deadline).
                if let Some(ttl) = tx.get_workspace_by_id(&workspace_id)?.ttl_ms.filter(|ms| *ms > 0) {
                    tx.update_workspace_build_deadline(&build_id, Some(now + chrono::Duration::milliseconds(ttl)))?;
                }
            }
            WorkspaceTransition::Stop => {}
            WorkspaceTransition::Delete => tx.update_workspace_deleted(&workspace_id, true, now)?,
        }
        tx.complete_provisioner_job(&job.id, now, None)?;
        Ok(true)
    })
}

/// Whether `job` is still this worker's to finish (not requeued and taken by another).
fn still_ours(tx: &dyn Store, job: &ProvisionerJob) -> database::Result<Option<ProvisionerJob>> {
    let current = tx.get_provisioner_job_by_id(&job.id)?;
    Ok((current.completed_at.is_none() && current.worker_id == job.worker_id).then_some(current))
}

/// A template import: the archive's version document is written and the job completed in one
/// transaction; a document that fails its checks rolls that back, and the job fails with the
/// message in a second one.
fn complete_import(store: &dyn Store, job: &ProvisionerJob) -> database::Result<bool> {
    use crate::templates::import::ImportError;
    let imported = in_tx(store, TxOptions::write("complete template import"), |tx| {
        let now = tx.clock().now();
        let Some(current) = still_ours(tx, job)? else {
            return Ok(false);
        };
        if current.canceled_at.is_some() {
            tx.insert_provisioner_job_logs(&job.id, now, &[log("warn", "Cleaning Up", "The job was canceled.")])?;
            tx.complete_provisioner_job(&job.id, now, None)?;
            return Ok(true);
        }
        let found = crate::templates::import::import_version(tx, job)?;
        tx.insert_provisioner_job_logs(
            &job.id,
            now,
            &[log("info", "Parsing template parameters", &found), log("info", "Cleaning Up", "")],
        )?;
        tx.complete_provisioner_job(&job.id, now, None)?;
        Ok(true)
    });
    match imported {
        Ok(done) => Ok(done),
        Err(ImportError::Database(e)) => Err(e),
        Err(ImportError::Failed(message)) => in_tx(store, TxOptions::write("fail template import"), |tx| {
            let now = tx.clock().now();
            if still_ours(tx, job)?.is_none() {
                return Ok(false);
            }
            tx.insert_provisioner_job_logs(&job.id, now, &[log("error", "Parsing template parameters", &message)])?;
            tx.complete_provisioner_job(&job.id, now, Some(&message))?;
            Ok(true)
        }),
    }
}

/// A log line of the echo provisioner.
fn log<'a>(level: &'a str, stage: &'a str, output: &'a str) -> NewJobLog<'a> {
    NewJobLog { source: "provisioner", level, stage, output }
}

/// The first log line of a job, written as a provisioner takes it.
pub fn log_job_started(store: &dyn Store, job: &ProvisionerJob) -> database::Result<()> {
    let line = NewJobLog { source: "provisioner_daemon", level: "info", stage: "Setting up", output: "" };
    store.insert_provisioner_job_logs(&job.id, store.clock().now(), &[line])
}

/// Takes every pending job now and completes them all right away (no delay): for commands
/// and tests that want the echo provisioner's effect at once. Returns how many.
pub fn drain(store: &dyn Store, worker_id: &str) -> database::Result<usize> {
    let mut n = 0;
    while let Some(job) = store.acquire_provisioner_job(worker_id, store.clock().now())? {
        log_job_started(store, &job)?;
        complete_job(store, &job)?;
        n += 1;
    }
    Ok(n)
}

/// Timing of [`run_provisioner_loop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProvisionerConfig {
    /// How long a job takes, from acquisition to completion.
    pub delay: Duration,
    /// How often to look for pending jobs.
    pub poll_interval: Duration,
}

impl ProvisionerConfig {
    /// Polls every second, or every `delay` when that is shorter.
    pub fn new(delay: Duration) -> Self {
        Self { delay, poll_interval: delay.clamp(Duration::from_millis(50), Duration::from_secs(1)) }
    }
}

/// Runs until `cancel` fires: acquires pending jobs as they appear and completes each
/// `delay` after it was acquired. Every [`JOB_HEARTBEAT_INTERVAL`] it touches the jobs it
/// holds and requeues jobs of dead provisioners ([`JOB_HUNG_AFTER`]). On cancel, the jobs it
/// holds go back to pending for the next provisioner.
pub fn run_provisioner_loop(
    store: &dyn Store,
    clock: SharedClock,
    worker_id: &str,
    config: ProvisionerConfig,
    cancel: &Cancel,
) -> crate::database::Result<()> {
    let (delay, poll) = (config.delay, config.poll_interval);
    let mut in_flight: VecDeque<(Timestamp, ProvisionerJob)> = VecDeque::new();
    let mut next_heartbeat = clock.now();
    loop {
        if cancel.is_cancelled() {
            break;
        }
        if clock.now() >= next_heartbeat {
            let now = clock.now();
            if !in_flight.is_empty()
                && let Err(error) = store.heartbeat_provisioner_jobs(worker_id, now)
            {
                tracing::warn!(%error, "heartbeat provisioner jobs");
            }
            match store.requeue_provisioner_jobs(None, sub_duration(now, JOB_HUNG_AFTER), now) {
                Ok(0) => {}
                Ok(requeued) => {
                    tracing::warn!(requeued, "requeued the jobs of a provisioner that stopped heartbeating")
                }
                Err(error) if error.is_fatal() => return Err(error),
                Err(error) => tracing::warn!(%error, "requeue hung provisioner jobs"),
            }
            next_heartbeat = add_duration(now, JOB_HEARTBEAT_INTERVAL);
        }
        // Take everything pending now.
        loop {
            match store.acquire_provisioner_job(worker_id, clock.now()) {
                Ok(Some(job)) => {
                    if let Err(error) = log_job_started(store, &job) {
                        tracing::warn!(job_id = %job.id, %error, "write the first log line of a job");
                    }
                    in_flight.push_back((add_duration(clock.now(), delay), job))
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(%error, "acquire provisioner job");
                    break;
                }
            }
        }
        // Complete what is due.
        while in_flight.front().is_some_and(|(due, _)| *due <= clock.now()) {
            let (_, job) = in_flight.pop_front().expect("front checked");
            match complete_job(store, &job) {
                Ok(true) => tracing::debug!(job_id = %job.id, "provisioner job completed"),
                Ok(false) => tracing::debug!(job_id = %job.id, "provisioner job no longer ours; skipped"),
                Err(error) => tracing::warn!(job_id = %job.id, %error, "complete provisioner job"),
            }
        }
        let wake = in_flight
            .front()
            .map_or(add_duration(clock.now(), poll), |(due, _)| (*due).min(add_duration(clock.now(), poll)));
        if !clock.sleep_until(wake.min(next_heartbeat), cancel) {
            break;
        }
    }
    if !in_flight.is_empty() {
        // Hand unfinished work back rather than leave it to the hung-job timeout.
        let now = clock.now();
        match store.requeue_provisioner_jobs(Some(worker_id), now + chrono::Duration::seconds(1), now) {
            Ok(released) => tracing::info!(released, "provisioner stopped; released its unfinished jobs"),
            Err(error) => tracing::warn!(%error, "release provisioner jobs at shutdown"),
        }
    }
    Ok(())
}
