//! Test controls: what a server started with `--test-controls` lets a test suite do to it.
//! Reset to the state right after start, named snapshots, fixtures loaded at run time, and,
//! with a virtual clock, moving time: each service tick due in between runs, in order, before
//! the call answers.
//!
//! One control call runs at a time. A reset or restore waits for the reconciler, the rollup
//! and the purge to finish a cycle in progress (it takes their leases), so it never tears one.

use std::time::Duration;
use std::time::Instant;

use parking_lot::Mutex;

use crate::clock::Clock;
use crate::clock::MockClock;
use crate::clock::Timestamp;
use crate::database::LeaseGuard;
use crate::database::LockId;
use crate::database::SharedStore;
use crate::database::snapshot::Snapshots;
use crate::testing::fixture_json;
use crate::testing::fixture_json::FixtureSource;
use crate::testing::fixture_json::LoadSummary;
use crate::testing::fixture_json::LoadedIds;

/// The snapshot a reset restores; saved as the server becomes ready. Not a valid user
/// snapshot name, so a test cannot overwrite it.
const START: &str = ":start";

/// The services a virtual clock step waits for and wakes, in the order their ticks run when
/// due at the same instant. Threads not listed (lease heartbeats) wake after them.
pub const SERVICE_ORDER: [&str; 9] = [
    "reconciler",
    "provisioner",
    "rolluper",
    "purge",
    "boundary-flush",
    "telemetry",
    "replica-heartbeat",
    "wal-checkpoint",
    "demo-agents",
];

/// The leases a reset or restore holds while it runs: the services whose cycles span
/// several transactions.
const CYCLE_LEASES: [LockId; 3] = [LockId::ReconcilePrebuilds, LockId::DbRollup, LockId::DbPurge];

/// How long a reset or restore waits for a cycle in progress by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// How long a virtual clock step waits for one service tick (real time).
const TICK_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a control call was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// Bad input, named.
    #[error("{0}")]
    Invalid(String),
    /// No snapshot of that name.
    #[error("snapshot {0:?} does not exist")]
    NoSuchSnapshot(String),
    /// A build job runs, or a service cycle did not finish within the wait.
    #[error("{0}")]
    Busy(String),
    /// The server runs on the wall clock.
    #[error("the server runs on the wall clock; start it with --clock virtual to move time")]
    WallClock,
    #[error("{0}")]
    Failed(String),
}

/// The clock a control server runs on.
#[derive(Debug, Clone)]
pub enum ControlClock {
    Wall,
    /// A mock clock moved only by control calls; `services` are the thread names of the
    /// services running on it.
    Virtual {
        clock: MockClock,
        services: Vec<String>,
    },
}

/// What a server with test controls holds.
pub struct TestControls {
    store: SharedStore,
    snapshots: Snapshots,
    clock: ControlClock,
    holder: String,
    /// One control call at a time (resets never overlap a clock step).
    gate: Mutex<()>,
}

impl std::fmt::Debug for TestControls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestControls").field("holder", &self.holder).finish()
    }
}

/// What a clock write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockStep {
    pub now: Timestamp,
    /// Service ticks that ran.
    pub ticks: u64,
}

impl TestControls {
    /// Controls over `store`; saves the start snapshot that [`Self::reset`] restores, so call
    /// it once the server's startup writes are done. With a virtual clock, first waits until
    /// every service finished its first pass. `holder` names the control calls' leases.
    pub fn start(
        store: SharedStore,
        snapshots: Snapshots,
        clock: ControlClock,
        holder: &str,
    ) -> Result<Self, ControlError> {
        let clock = match clock {
            ControlClock::Virtual { clock, mut services } => {
                services.sort_by_key(|s| SERVICE_ORDER.iter().position(|o| o == s).unwrap_or(SERVICE_ORDER.len()));
                ControlClock::Virtual { clock, services }
            }
            wall => wall,
        };
        let controls = Self { store, snapshots, clock, holder: holder.to_owned(), gate: Mutex::new(()) };
        if let ControlClock::Virtual { clock, services } = &controls.clock {
            let names: Vec<&str> = services.iter().map(String::as_str).collect();
            clock.step_to(clock.now(), &names, TICK_TIMEOUT).map_err(ControlError::Failed)?;
        }
        controls.snapshots.save(START).map_err(|e| ControlError::Failed(format!("save the start snapshot: {e}")))?;
        Ok(controls)
    }

    /// The clock's time and mode (`"wall"` or `"virtual"`).
    pub fn clock(&self) -> (Timestamp, &'static str) {
        match &self.clock {
            ControlClock::Wall => (self.store.clock().now(), "wall"),
            ControlClock::Virtual { clock, .. } => (clock.now(), "virtual"),
        }
    }

    /// Moves a virtual clock forward by `by`, or to `to`; every service tick due up to the
    /// new time runs, in order, before this returns. Moving backwards is refused.
    pub fn move_clock(&self, target: ClockTarget) -> Result<ClockStep, ControlError> {
        let ControlClock::Virtual { clock, services } = &self.clock else {
            return Err(ControlError::WallClock);
        };
        let _gate = self.gate.lock();
        let now = clock.now();
        let to = match target {
            ClockTarget::Advance(by) => crate::clock::add_duration(now, by),
            ClockTarget::Set(at) if at < now => {
                return Err(ControlError::Invalid(format!(
                    "set: {} is before the clock's time {}; the clock only moves forward",
                    crate::clock::format_rfc3339(at),
                    crate::clock::format_rfc3339(now)
                )));
            }
            ClockTarget::Set(at) => at,
        };
        let names: Vec<&str> = services.iter().map(String::as_str).collect();
        let ticks = clock.step_to(to, &names, TICK_TIMEOUT).map_err(ControlError::Failed)?;
        Ok(ClockStep { now: clock.now(), ticks })
    }

    /// Back to the state right after start.
    pub fn reset(&self, force: bool, wait: Duration) -> Result<(), ControlError> {
        self.restore(START, force, wait)
    }

    /// Saves the whole database as snapshot `name` (replacing one of that name).
    pub fn save_snapshot(&self, name: &str) -> Result<(), ControlError> {
        crate::database::snapshot::check_snapshot_name(name)
            .map_err(|why| ControlError::Invalid(format!("name: {why}")))?;
        let _gate = self.gate.lock();
        self.snapshots.save(name).map_err(|e| ControlError::Failed(e.to_string()))
    }

    /// Restores snapshot `name`; refused while a build job runs unless `force`.
    pub fn restore_snapshot(&self, name: &str, force: bool, wait: Duration) -> Result<(), ControlError> {
        crate::database::snapshot::check_snapshot_name(name)
            .map_err(|why| ControlError::Invalid(format!("name: {why}")))?;
        self.restore(name, force, wait)
    }

    /// The names of the saved snapshots.
    pub fn snapshot_names(&self) -> Vec<String> {
        self.snapshots.names().into_iter().filter(|n| n != START).collect()
    }

    /// Loads a fixtures document (the format and validation of `coderlite fixtures load`) in
    /// one transaction; answers what it created, with IDs by name.
    pub fn load_fixtures(&self, text: &str) -> Result<(LoadSummary, LoadedIds), ControlError> {
        let _gate = self.gate.lock();
        let source = FixtureSource { name: "fixtures".to_owned(), text: text.to_owned() };
        fixture_json::load_with_ids(&*self.store, &[source]).map_err(|e| ControlError::Invalid(e.to_string()))
    }

    fn restore(&self, name: &str, force: bool, wait: Duration) -> Result<(), ControlError> {
        let _gate = self.gate.lock();
        if !self.snapshots.names().iter().any(|n| n == name) {
            return Err(ControlError::NoSuchSnapshot(name.to_owned()));
        }
        let _leases = self.hold_cycle_leases(wait)?;
        if !force {
            let running =
                self.store.get_running_provisioner_job_ids().map_err(|e| ControlError::Failed(e.to_string()))?;
            if let Some(first) = running.first() {
                return Err(ControlError::Busy(format!(
                    "{} build job{} running (first: {first}); wait for {}, or pass \"force\": true",
                    running.len(),
                    if running.len() == 1 { " is" } else { "s are" },
                    if running.len() == 1 { "it" } else { "them" },
                )));
            }
        }
        match self.snapshots.restore(name) {
            Ok(true) => Ok(()),
            Ok(false) => Err(ControlError::NoSuchSnapshot(name.to_owned())),
            Err(e) => Err(ControlError::Failed(e.to_string())),
        }
    }

    /// Takes the leases of every multi-transaction service, waiting up to `wait` (real time:
    /// a cycle in progress ends on its own) for one in progress to finish.
    fn hold_cycle_leases(&self, wait: Duration) -> Result<Vec<LeaseGuard>, ControlError> {
        let give_up = Instant::now() + wait;
        let mut held = Vec::new();
        for lock in CYCLE_LEASES {
            loop {
                match self.store.try_acquire_lease(lock, &self.holder, Duration::from_secs(60)) {
                    Ok(Some(lease)) => {
                        held.push(lease);
                        break;
                    }
                    Ok(None) if Instant::now() < give_up => std::thread::sleep(Duration::from_millis(5)),
                    Ok(None) => {
                        return Err(ControlError::Busy(format!(
                            "{} is held by a cycle in progress (lock {}); it did not finish within {:?}",
                            lock.name(),
                            lock.as_i64(),
                            wait
                        )));
                    }
                    Err(e) => return Err(ControlError::Failed(e.to_string())),
                }
            }
        }
        Ok(held)
    }
}

/// Where a clock write moves the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockTarget {
    Advance(Duration),
    Set(Timestamp),
}
