//! Workspaces as their owners see them: new builds with their provisioner jobs, and the
//! schedule rules of a workspace (autostart, TTL). Shared by the prebuilds reconciler and
//! claim, and by whatever creates or builds workspaces for users.

pub mod builds;
pub mod create;
pub mod schedule;
