//! coderlite: an embedded, SQLite-backed edition of a Coder-style control plane.
//!
//! Everything here is usable without the CLI. See `ARCHITECTURE.md` for the code map.

pub mod aiproviders;
pub mod api;
pub mod audit;
pub mod boundaryusage;
pub mod clock;
pub mod cron;
pub mod database;
pub mod deployment;
pub mod identity;
pub mod names;
pub mod prebuilds;
pub mod process;
pub mod provisioner;
pub mod purge;
pub mod replicas;
pub mod rollup;
pub mod server;
pub mod templates;
pub mod testing;
pub mod wal;
pub mod workspaces;
