//! The `coderlite` binary: parses the command line, sets up logging, dispatches to `cli/`,
//! and prints an error once, as `error: <what failed>: <why>`, exiting 1. Usage errors exit 2
//! (clap's own handling).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_tracing(&args);
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
