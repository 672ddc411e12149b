//! `setup`: migrate, run deployment setup and the AI provider env seed, print the deployment
//! ID and mesh key fingerprint.

use coderlite::deployment;
use serde::Serialize;

use crate::cli::CliError;
use crate::cli::GlobalArgs;
use crate::cli::OutputFormat;
use crate::cli::output::print_json;
use crate::cli::providers::seed_from_process_env;

/// `setup -o json`.
#[derive(Serialize)]
struct SetupOutput {
    deployment_id: String,
    mesh_key_fingerprint: String,
    /// AI providers inserted from the environment by this run.
    providers_seeded: u64,
}

pub fn run(ctx: &GlobalArgs) -> Result<(), CliError> {
    let store = ctx.open_or_create()?;
    let setup = deployment::setup_deployment(&store).map_err(|e| CliError::new("deployment setup", e))?;
    let seeded = seed_from_process_env(&store)?;
    let out = SetupOutput {
        deployment_id: setup.deployment_id,
        mesh_key_fingerprint: setup.mesh_key.fingerprint(),
        providers_seeded: seeded.inserted.len() as u64,
    };
    match ctx.output {
        OutputFormat::Json => print_json(&out),
        OutputFormat::Table => {
            println!("deployment id         {}", out.deployment_id);
            println!("mesh key fingerprint  {}", out.mesh_key_fingerprint);
            println!("providers seeded      {}", out.providers_seeded);
            Ok(())
        }
    }
}
