//! The in-process echo provisioner (SPEC §9, last item): it takes pending jobs oldest first
//! (one write transaction per acquisition, so no job is ever taken twice, also across
//! processes) and completes each after a configurable delay. A start creates a resource with
//! one ready agent; a delete marks the workspace deleted; a version flagged `fail_builds`
//! fails its builds.

use std::collections::VecDeque;
use std::time::Duration;

use crate::clock::Cancel;
use crate::clock::SharedClock;
use crate::clock::Timestamp;
use crate::database;
use crate::database::Store;
use crate::database::TxOptions;
use crate::database::in_tx;
use crate::database::models::AgentLifecycle;
use crate::database::models::InsertWorkspaceAgent;
use crate::database::models::ProvisionerJob;
use crate::database::models::WorkspaceTransition;

/// The error of builds of a version flagged to fail.
pub const FAILED_BUILD_ERROR: &str = "echo provisioner: this template version is set to fail its builds";

/// Completes one acquired job, in one write transaction.
pub fn complete_job(store: &dyn Store, job: &ProvisionerJob) -> database::Result<()> {
    in_tx(store, TxOptions::write("complete provisioner job"), |tx| {
        let now = tx.clock().now();
        let Some((_, workspace_id, transition, fail)) = tx.get_workspace_build_by_job_id(&job.id)? else {
            // A template import or dry run: nothing to build.
            return tx.complete_provisioner_job(&job.id, now, None);
        };
        if fail {
            return tx.complete_provisioner_job(&job.id, now, Some(FAILED_BUILD_ERROR));
        }
        match transition {
            WorkspaceTransition::Start => {
                let resource_id = uuid::Uuid::new_v4().to_string();
                tx.insert_workspace_resource(&resource_id, &job.id, transition, now)?;
                tx.insert_workspace_agent(&InsertWorkspaceAgent {
                    id: &uuid::Uuid::new_v4().to_string(),
                    created_at: now,
                    resource_id: &resource_id,
                    name: "main",
                    lifecycle_state: AgentLifecycle::Ready,
                    ready_at: Some(now),
                    parent_id: None,
                })?;
            }
            WorkspaceTransition::Stop => {}
            WorkspaceTransition::Delete => tx.update_workspace_deleted(&workspace_id, true, now)?,
        }
        tx.complete_provisioner_job(&job.id, now, None)
    })
}

/// Takes every pending job now and completes them all right away (no delay): for commands
/// and tests that want the echo provisioner's effect at once. Returns how many.
pub fn drain(store: &dyn Store, worker_id: &str) -> database::Result<usize> {
    let mut n = 0;
    while let Some(job) = store.acquire_provisioner_job(worker_id, store.clock().now())? {
        complete_job(store, &job)?;
        n += 1;
    }
    Ok(n)
}

/// Runs until `cancel` fires: acquires pending jobs as they appear (polling every
/// `poll_interval` on the clock) and completes each `delay` after it was acquired.
pub fn run_provisioner_loop(
    store: &dyn Store,
    clock: SharedClock,
    worker_id: &str,
    delay: Duration,
    poll_interval: Duration,
    cancel: &Cancel,
) {
    let delay = chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::zero());
    let poll = chrono::Duration::from_std(poll_interval).unwrap_or(chrono::Duration::seconds(1));
    let mut in_flight: VecDeque<(Timestamp, ProvisionerJob)> = VecDeque::new();
    loop {
        if cancel.is_cancelled() {
            return;
        }
        // Take everything pending now.
        loop {
            match store.acquire_provisioner_job(worker_id, clock.now()) {
                Ok(Some(job)) => in_flight.push_back((clock.now() + delay, job)),
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
                Ok(()) => tracing::debug!(job_id = %job.id, "provisioner job completed"),
                Err(error) => tracing::warn!(job_id = %job.id, %error, "complete provisioner job"),
            }
        }
        let next_poll = clock.now() + poll;
        let wake = in_flight.front().map_or(next_poll, |(due, _)| (*due).min(next_poll));
        if !clock.sleep_until(wake, cancel) {
            return;
        }
    }
}
