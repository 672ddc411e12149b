//! Prebuilt workspaces (SPEC §9, reference/prebuilds.md).
//!
//! This first part is the pure decision core: `state` turns a snapshot of the database and
//! `now` into per-preset state and ordered actions; `schedule` reads cron schedules as time
//! ranges in a preset's time zone. The reconciler, membership reconciliation, claim, echo
//! provisioner and metrics build on it.

pub mod membership;
pub mod metrics;
pub mod provision;
pub mod reconciler;
pub mod schedule;
pub mod snapshot;
pub mod state;
