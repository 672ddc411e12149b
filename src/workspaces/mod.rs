//! Workspaces as their owners see them: creating one (`create`), claiming a ready prebuilt
//! one (`claim`), new builds with their provisioner jobs (`builds`), and the schedule rules of
//! a workspace (autostart, TTL). The prebuilds reconciler builds on `builds`; nothing here
//! depends on `prebuilds`.

pub mod builds;
pub mod claim;
pub mod create;
pub mod schedule;
pub mod settings;
