//! `setup`: migrate, run deployment setup, print the deployment ID and mesh key fingerprint.

use coderlite::deployment;
use serde::Serialize;

use crate::cli::CliError;
use crate::cli::GlobalArgs;
use crate::cli::OutputFormat;
use crate::cli::output::print_json;

/// `setup -o json`.
#[derive(Serialize)]
struct SetupOutput {
    deployment_id: String,
    mesh_key_fingerprint: String,
    /// AI providers inserted from the environment (the seed lands with the providers work).
    providers_seeded: u64,
}

pub fn run(ctx: &GlobalArgs) -> Result<(), CliError> {
    let store = ctx.open()?;
    let setup = deployment::setup_deployment(&store).map_err(|e| CliError::new("deployment setup", e))?;
    let out = SetupOutput {
        deployment_id: setup.deployment_id,
        mesh_key_fingerprint: setup.mesh_key.fingerprint(),
        providers_seeded: 0,
    };
    match ctx.output {
        OutputFormat::Json => print_json(&out),
        OutputFormat::Human => {
            println!("deployment id         {}", out.deployment_id);
            println!("mesh key fingerprint  {}", out.mesh_key_fingerprint);
            println!("providers seeded      {}", out.providers_seeded);
            Ok(())
        }
    }
}
