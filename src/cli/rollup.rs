//! `rollup`: one template usage rollup run now (takes lease 3; reports when another holder
//! has it).

use serde::Serialize;

use crate::cli::CliError;
use crate::cli::Context;
use crate::cli::GlobalArgs;
use crate::cli::OutputFormat;
use crate::cli::output::print_json;

/// `rollup -o json`.
#[derive(Serialize)]
struct RollupOutput {
    acquired: bool,
    rows_written: usize,
    took_ms: f64,
}

pub fn run(ctx: &GlobalArgs) -> Result<(), CliError> {
    let store = ctx.open()?;
    let holder = format!("{}/rollup", store.replica_id());
    let outcome = coderlite::rollup::run_once(&store, &holder).context(|| "rollup".to_owned())?;
    let out = RollupOutput {
        acquired: outcome.acquired,
        rows_written: outcome.rows_written,
        took_ms: coderlite::clock::rounded_millis(outcome.took),
    };
    match ctx.output {
        OutputFormat::Json => print_json(&out),
        OutputFormat::Table => {
            if out.acquired {
                println!("rollup wrote {} rows in {:.1} ms", out.rows_written, out.took_ms);
            } else {
                println!("rollup not run: another process holds the rollup lease");
            }
            Ok(())
        }
    }
}
