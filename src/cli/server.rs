//! `server`: runs the control plane. Until the services land, it runs the startup steps
//! (migrate, deployment setup, AI provider seed) and says so.

use clap::Args;
use coderlite::database::Store;

use crate::cli::CliError;
use crate::cli::Context;
use crate::cli::GlobalArgs;
use crate::cli::providers::seed_from_process_env;

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Load the embedded demo fixtures into an empty database and simulate agent activity.
    #[arg(long)]
    pub demo: bool,
}

pub fn run(ctx: &GlobalArgs, args: ServerArgs) -> Result<(), CliError> {
    let store = ctx.open()?;
    // Startup order: migrate (open), deployment setup, AI provider seed, then services.
    coderlite::deployment::setup_deployment(&store).map_err(|e| CliError::new("deployment setup", e))?;
    seed_from_process_env(&store)?;
    let version = store.schema_version().context(|| "read schema version".to_owned())?;
    println!(
        "coderlite server: the background services are not built yet; database {} is migrated to schema {version}{}",
        store.path().display(),
        if args.demo { " (demo requested)" } else { "" },
    );
    Ok(())
}
