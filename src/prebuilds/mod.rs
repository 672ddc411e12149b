//! Prebuilt workspaces, as upstream's prebuilds reconciler keeps them.
//!
//! The pure decision core: `state` turns a snapshot of the database and `now` into
//! per-preset state and ordered actions; `schedule` reads cron schedules as time ranges in a
//! preset's time zone. On it build the snapshot queries, the reconciler and its writes,
//! membership reconciliation of the prebuilds system user, and metrics. Claiming a prebuild
//! is a workspace creation (`workspaces::claim`).

pub mod membership;
pub mod metrics;
pub mod provision;
pub mod reconciler;
pub mod schedule;
pub mod snapshot;
pub mod state;
