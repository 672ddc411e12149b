//! Argument value parsers shared by commands, and the naming of where a value came from.

use clap::ArgMatches;
use clap::CommandFactory;
use clap::parser::ValueSource;
pub use coderlite::clock::parse_duration;
pub use coderlite::clock::parse_interval;

use crate::cli::Cli;
use crate::cli::CliError;

/// The values of one subcommand as clap matched them, to tell a flag typed on the command
/// line from the same setting read from its environment variable.
pub struct Sources<'m> {
    command: clap::Command,
    matches: &'m ArgMatches,
}

impl<'m> Sources<'m> {
    /// The sources of subcommand `name` (`"server"`, or `"telemetry collect"` for nested).
    pub fn of(matches: &'m ArgMatches, path: &[&str]) -> Self {
        let mut command = Cli::command();
        let mut matches = matches;
        for name in path {
            command = command.find_subcommand(name).cloned().unwrap_or_else(|| panic!("no subcommand {name}"));
            matches = matches.subcommand_matches(name).unwrap_or(matches);
        }
        Self { command, matches }
    }

    /// How a user set argument `id`: `--flag`, or the environment variable when the value came
    /// from there.
    pub fn name(&self, id: &str) -> String {
        let arg = self.command.get_arguments().find(|a| a.get_id() == id);
        let flag = arg.and_then(|a| a.get_long()).map_or_else(|| id.to_owned(), |l| format!("--{l}"));
        match (self.matches.value_source(id), arg.and_then(|a| a.get_env())) {
            (Some(ValueSource::EnvVariable), Some(env)) => env.to_string_lossy().into_owned(),
            _ => flag,
        }
    }

    /// Parses the text of argument `id` (if set) with `parse`; an error is a usage error
    /// naming the flag or the environment variable the text came from.
    pub fn parse<T>(
        &self,
        id: &str,
        text: Option<&str>,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, CliError> {
        let Some(text) = text else { return Ok(None) };
        parse(text)
            .map(Some)
            .map_err(|why| CliError::usage(format!("invalid value {text:?} for {}", self.name(id)), why))
    }
}
