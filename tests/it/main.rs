//! The integration tests, in one binary: one link for all of them instead of one per file.
//! Each file is a module; `support` holds what they share (spawning the built binary, the
//! contract harness that runs a test on both engines). `tests/prebuilds_statements.rs` stays a
//! binary of its own: it counts the statements SQLite runs process-wide.

#[macro_use]
mod support;

mod aiproviders;
mod api;
mod api_flows;
mod api_hostile;
mod architecture;
mod boundary_usage;
mod cli_errors;
mod data_model;
mod data_safety;
mod db_copy;
mod deployment;
mod fixtures;
mod identity;
mod maintenance;
mod prebuilds_cli;
mod prebuilds_core;
mod prebuilds_membership;
mod prebuilds_queries;
mod prebuilds_reconciler;
mod processes;
mod provisioner;
mod rollup;
mod server;
mod store;
mod test_server;
