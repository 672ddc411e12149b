//! The server's background services: the reconciler, the echo provisioner, the rolluper,
//! the boundary usage flush loop, telemetry collection and (demo) simulated agent activity,
//! each a thread, all stopped by one [`Cancel`].
//!
//! Startup steps (migrate, deployment setup, provider seed, demo fixtures) and signals are
//! the CLI's; this module starts and stops the services.

pub mod conn;
pub mod demo;
pub mod http;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

use crate::boundaryusage::Tracker;
use crate::boundaryusage::run_collector_loop;
use crate::boundaryusage::run_flush_loop;
use crate::clock::Cancel;
use crate::clock::SharedClock;
use crate::database::SharedStore;
use crate::prebuilds::reconciler::ReconcilerConfig;
use crate::prebuilds::reconciler::run_reconciler_loop;
use crate::provisioner::ProvisionerConfig;
use crate::provisioner::run_provisioner_loop;
use crate::rollup::service::run_rollup_loop;

/// What the services run with (the server's flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Lease holder, provisioner worker and boundary usage replica of this process.
    pub replica_id: String,
    pub reconciler: ReconcilerConfig,
    pub provisioner: ProvisionerConfig,
    pub rollup_interval: Duration,
    pub boundary_flush_interval: Duration,
    pub telemetry_interval: Duration,
    /// How often the demo's simulated agents report; `None` runs no simulation.
    pub demo_agent_stats_interval: Option<Duration>,
    /// The purge service (lock 4) and its retention periods.
    pub purge: crate::purge::PurgeConfig,
    /// Makes the named service panic as it starts: the supervision tests' fault injection.
    #[doc(hidden)]
    pub fail_service: Option<String>,
}

/// Why the server stopped on its own: a service panicked, returned an error no retry can
/// cure, or ended without being asked to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{service} stopped: {why}")]
pub struct ServiceFailure {
    pub service: String,
    pub why: String,
}

/// The running services. When one of them fails, the first failure is recorded and `stop`
/// (the server's stop signal, shared with the signal handler) fires, so the server shuts
/// the others down instead of running on without it. [`Services::shutdown`] (or drop) stops
/// them all and joins every thread.
pub struct Services {
    names: Vec<&'static str>,
    cancel: Cancel,
    threads: Vec<JoinHandle<()>>,
    tracker: Arc<Tracker>,
    failure: Arc<Mutex<Option<ServiceFailure>>>,
}

/// A service body: runs until its cancel fires; `Err` only for errors it cannot get past.
type ServiceFn = Box<dyn FnOnce(&Cancel) -> crate::database::Result<()> + Send>;

impl Services {
    /// Starts every service; the reconciler and the rollup run their first pass at once.
    pub fn start(store: SharedStore, clock: SharedClock, config: &ServerConfig, stop: &Cancel) -> Self {
        let tracker = Arc::new(Tracker::new());
        let mut services: Vec<(&'static str, ServiceFn)> = Vec::new();
        {
            let (store, clock, holder, rc) =
                (store.clone(), clock.clone(), config.replica_id.clone(), config.reconciler);
            services.push(("reconciler", Box::new(move |c| run_reconciler_loop(&*store, clock, &holder, &rc, c))));
        }
        {
            let (store, clock, worker, pc) =
                (store.clone(), clock.clone(), config.replica_id.clone(), config.provisioner);
            services.push(("provisioner", Box::new(move |c| run_provisioner_loop(&*store, clock, &worker, pc, c))));
        }
        {
            let (store, clock, holder) = (store.clone(), clock.clone(), config.replica_id.clone());
            let interval = config.rollup_interval;
            services
                .push(("rolluper", Box::new(move |c| run_rollup_loop(&*store, &clock, &holder, interval, None, c))));
        }
        {
            let (store, clock, replica, tracker) =
                (store.clone(), clock.clone(), config.replica_id.clone(), tracker.clone());
            let interval = config.boundary_flush_interval;
            services.push((
                "boundary-flush",
                Box::new(move |c| run_flush_loop(&tracker, &*store, clock, &replica, interval, c)),
            ));
        }
        {
            let (store, clock, replica) = (store.clone(), clock.clone(), config.replica_id.clone());
            let interval = config.telemetry_interval;
            services.push(("telemetry", Box::new(move |c| run_collector_loop(&*store, clock, &replica, interval, c))));
        }
        {
            let (store, clock, holder, pc) = (store.clone(), clock.clone(), config.replica_id.clone(), config.purge);
            services.push(("purge", Box::new(move |c| crate::purge::run_purge_loop(&*store, clock, &holder, &pc, c))));
        }
        {
            let (store, clock, id) = (store.clone(), clock.clone(), config.replica_id.clone());
            services.push((
                "replica-heartbeat",
                Box::new(move |c| crate::replicas::run_heartbeat_loop(&*store, clock, &id, c)),
            ));
        }
        // Only SQLite has a write-ahead log file to look after.
        if matches!(store.wal_status(), Ok(Some(_))) {
            let (store, clock) = (store.clone(), clock.clone());
            services.push(("wal-checkpoint", Box::new(move |c| crate::wal::run_wal_loop(&*store, clock, c))));
        }
        if let Some(interval) = config.demo_agent_stats_interval {
            let (store, clock, tracker) = (store.clone(), clock.clone(), tracker.clone());
            services.push((
                "demo-agents",
                Box::new(move |c| demo::run_agent_activity_loop(&*store, clock, &tracker, interval, c)),
            ));
        }
        let cancel = Cancel::new();
        let failure = Arc::new(Mutex::new(None));
        let names = services.iter().map(|(name, _)| *name).collect();
        let threads = services
            .into_iter()
            .map(|(name, body)| {
                let inject = config.fail_service.as_deref() == Some(name);
                spawn_supervised(name, body, inject, &cancel, stop, &failure)
            })
            .collect();
        Self { names, cancel, threads, tracker, failure }
    }

    /// The services' thread names, as they run (a virtual clock waits for and wakes them).
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    /// This process's boundary usage tracker (agents report into it).
    pub fn tracker(&self) -> &Arc<Tracker> {
        &self.tracker
    }

    /// Stops every service: work in progress finishes (each write is its own short
    /// transaction), leases are released, the boundary tracker is flushed one last time and
    /// the provisioner hands its unfinished jobs back. Returns the first service failure, if
    /// one brought the server down (or happened while stopping).
    pub fn shutdown(mut self) -> Result<(), ServiceFailure> {
        self.stop();
        match self.failure.lock().take() {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }

    fn stop(&mut self) {
        self.cancel.cancel();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `body` on its own thread; a panic, an error, or an end before `cancel` fired is
/// recorded as the server's failure (the first one wins) and fires `stop`.
fn spawn_supervised(
    name: &'static str,
    body: ServiceFn,
    inject_panic: bool,
    cancel: &Cancel,
    stop: &Cancel,
    failure: &Arc<Mutex<Option<ServiceFailure>>>,
) -> JoinHandle<()> {
    let (cancel, stop, failure) = (cancel.clone(), stop.clone(), failure.clone());
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let res = std::panic::catch_unwind(AssertUnwindSafe(|| {
                if inject_panic {
                    panic!("injected failure (fail_service)");
                }
                body(&cancel)
            }));
            let why = match res {
                Ok(Ok(())) if cancel.is_cancelled() => return,
                Ok(Ok(())) => "ended without being asked to".to_owned(),
                Ok(Err(error)) => error.to_string(),
                Err(panic) => format!("panicked: {}", panic_message(&*panic)),
            };
            tracing::error!(service = name, why = %why, "service stopped; shutting the server down");
            failure.lock().get_or_insert(ServiceFailure { service: name.to_owned(), why });
            stop.cancel();
        })
        .unwrap_or_else(|e| panic!("spawn {name} thread: {e}"))
}

/// The text of a panic payload (`panic!` with a literal or a formatted message).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic".to_owned())
}
