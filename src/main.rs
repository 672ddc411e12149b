//! The `coderlite` binary: parses the command line, sets up logging, dispatches to `cli/`,
//! and prints an error once, as `error: <what failed>: <why>`, exiting 1 (2 for bad usage,
//! as clap's own usage errors).

mod cli;

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;
use clap::FromArgMatches;

fn main() -> ExitCode {
    // A file-size limit (`ulimit -f`) must make a write fail (a backup then cleans up after
    // itself) rather than kill the process with SIGXFSZ half-way through.
    let _ = signal_hook::flag::register(
        signal_hook::consts::SIGXFSZ,
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
    );
    let matches = cli::Cli::command().get_matches();
    let args = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let res = cli::init_tracing(&args).and_then(|()| cli::run(args, &matches));
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Nothing more to do if stderr is gone.
            let _ = writeln!(std::io::stderr(), "error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
