//! The server's background services: the reconciler, the echo provisioner, the rolluper,
//! the boundary usage flush loop, telemetry collection and (demo) simulated agent activity,
//! each a thread, all stopped by one [`Cancel`].
//!
//! Startup steps (migrate, deployment setup, provider seed, demo fixtures) and signals are
//! the CLI's; this module starts and stops the services.

pub mod demo;
pub mod http;
pub mod process;

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

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
use crate::rollup::Rolluper;

/// What the services run with (SPEC §10 flags).
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
}

/// The running services. [`Services::shutdown`] (or drop) stops them and joins every thread.
pub struct Services {
    cancel: Cancel,
    threads: Vec<JoinHandle<()>>,
    rolluper: Option<Rolluper>,
    tracker: Arc<Tracker>,
}

impl Services {
    /// Starts every service; the reconciler and the rollup run their first pass at once.
    pub fn start(store: SharedStore, clock: SharedClock, config: &ServerConfig) -> Self {
        let cancel = Cancel::new();
        let tracker = Arc::new(Tracker::new());
        let mut threads = Vec::new();
        let mut spawn = |name: &str, f: Box<dyn FnOnce(Cancel) + Send>| {
            let cancel = cancel.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(name.to_owned())
                    .spawn(move || f(cancel))
                    .unwrap_or_else(|e| panic!("spawn {name} thread: {e}")),
            );
        };
        {
            let (store, clock, holder, rc) =
                (store.clone(), clock.clone(), config.replica_id.clone(), config.reconciler);
            spawn("reconciler", Box::new(move |c| run_reconciler_loop(&*store, clock, &holder, &rc, &c)));
        }
        {
            let (store, clock, worker, pc) =
                (store.clone(), clock.clone(), config.replica_id.clone(), config.provisioner);
            spawn("provisioner", Box::new(move |c| run_provisioner_loop(&*store, clock, &worker, pc, &c)));
        }
        {
            let (store, clock, replica, tracker) =
                (store.clone(), clock.clone(), config.replica_id.clone(), tracker.clone());
            let interval = config.boundary_flush_interval;
            spawn(
                "boundary-flush",
                Box::new(move |c| run_flush_loop(&tracker, &*store, clock, &replica, interval, &c)),
            );
        }
        {
            let (store, clock, replica) = (store.clone(), clock.clone(), config.replica_id.clone());
            let interval = config.telemetry_interval;
            spawn("telemetry", Box::new(move |c| run_collector_loop(&*store, clock, &replica, interval, &c)));
        }
        if let Some(interval) = config.demo_agent_stats_interval {
            let (store, clock, tracker) = (store.clone(), clock.clone(), tracker.clone());
            spawn(
                "demo-agents",
                Box::new(move |c| demo::run_agent_activity_loop(&*store, clock, &tracker, interval, &c)),
            );
        }
        let rolluper = Rolluper::start(store, clock, config.replica_id.clone(), config.rollup_interval, None);
        Self { cancel, threads, rolluper: Some(rolluper), tracker }
    }

    /// This process's boundary usage tracker (agents report into it).
    pub fn tracker(&self) -> &Arc<Tracker> {
        &self.tracker
    }

    /// Stops every service: work in progress finishes (each write is its own short
    /// transaction), leases are released, the boundary tracker is flushed one last time and
    /// the provisioner hands its unfinished jobs back.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.cancel.cancel();
        if let Some(rolluper) = self.rolluper.take() {
            rolluper.close();
        }
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
