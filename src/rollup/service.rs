//! The Rolluper: runs the rollup at once, then on wall-clock-aligned slots (reference §2.4).

use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::clock::Cancel;
use crate::clock::SharedClock;
use crate::clock::Timestamp;
use crate::clock::from_micros;
use crate::clock::to_micros;
use crate::database::SharedStore;
use crate::rollup::RollupOutcome;
use crate::rollup::run_once;

/// Reported after every successful run (tests and diagnostics).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RollupEvent {
    /// When the run started, on the service's clock.
    pub at: Timestamp,
    pub outcome: RollupOutcome,
}

/// The next slot after `now`: `now + interval` truncated down to a multiple of `interval`
/// since the epoch (with 5 minutes: :00, :05, ...). Never `now` itself.
pub fn next_slot(now: Timestamp, interval: Duration) -> Timestamp {
    let step = i64::try_from(interval.as_micros()).unwrap_or(i64::MAX).max(1);
    let t = to_micros(now).saturating_add(step);
    let next = from_micros(t - t.rem_euclid(step));
    if next <= now { now + chrono::Duration::microseconds(step) } else { next }
}

/// A running rollup service. `close` (or drop) stops it and joins its thread.
pub struct Rolluper {
    cancel: Cancel,
    worker: Option<JoinHandle<()>>,
}

impl Rolluper {
    /// Starts the worker: the first run happens at once.
    pub fn start(
        store: SharedStore,
        clock: SharedClock,
        holder: String,
        interval: Duration,
        events: Option<Sender<RollupEvent>>,
    ) -> Self {
        let cancel = Cancel::new();
        let worker = {
            let cancel = cancel.clone();
            std::thread::Builder::new()
                .name("rolluper".to_owned())
                .spawn(move || {
                    if let Err(error) = run_rollup_loop(&*store, &clock, &holder, interval, events.as_ref(), &cancel) {
                        tracing::error!(%error, "rolluper stopped");
                    }
                })
                .expect("spawn rolluper thread")
        };
        Self { cancel, worker: Some(worker) }
    }

    /// Stops the service: a run in progress finishes, no new one starts; the thread is joined.
    pub fn close(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.cancel.cancel();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

impl Drop for Rolluper {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The rolluper's loop: a run at once, then one per slot, until `cancel` fires. Returns
/// early only on an error no retry can cure ([`crate::database::Error::is_fatal`]).
pub fn run_rollup_loop(
    store: &dyn crate::database::Store,
    clock: &SharedClock,
    holder: &str,
    interval: Duration,
    events: Option<&Sender<RollupEvent>>,
    cancel: &Cancel,
) -> crate::database::Result<()> {
    loop {
        if cancel.is_cancelled() {
            return Ok(());
        }
        let at = clock.now();
        // Armed before the work: a run that overruns its slot is followed at once by the next.
        let next = next_slot(at, interval);
        let span = tracing::info_span!("rollup", holder);
        let entered = span.enter();
        match run_once(store, holder) {
            Ok(outcome) => {
                if outcome.acquired {
                    tracing::info!(
                        rows_written = outcome.rows_written,
                        took_ms = crate::clock::rounded_millis(outcome.took),
                        "rollup done"
                    );
                } else {
                    tracing::debug!("rollup skipped: another replica holds the rollup lease");
                }
                if let Some(events) = events {
                    let _ = events.send(RollupEvent { at, outcome });
                }
            }
            Err(error) if error.is_fatal() => return Err(error),
            Err(error) if !cancel.is_cancelled() => tracing::error!(%error, "rollup failed"),
            Err(_) => {}
        }
        drop(entered);
        if !clock.sleep_until(next, cancel) {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use chrono::Utc;

    use super::*;

    #[test]
    fn slots_align_to_the_interval() {
        let five = Duration::from_secs(300);
        let t = |h, m, s| Utc.with_ymd_and_hms(2024, 6, 1, h, m, s).unwrap();
        assert_eq!(next_slot(t(12, 3, 10), five), t(12, 5, 0));
        assert_eq!(next_slot(t(12, 5, 0), five), t(12, 10, 0));
        assert_eq!(next_slot(t(12, 59, 59), five), t(13, 0, 0));
    }
}
