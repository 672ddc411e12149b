//! `fixtures load FILE...`: load JSON fixtures in one transaction, all or nothing.

use std::path::PathBuf;

use clap::Subcommand;
use coderlite::testing::fixture_json;
use coderlite::testing::fixture_json::FixtureSource;
use serde::Serialize;

use crate::cli::CliError;
use crate::cli::GlobalArgs;
use crate::cli::OutputFormat;
use crate::cli::output::print_json;

#[derive(Debug, Subcommand)]
pub enum FixturesCommand {
    /// Load fixture files (format: fixtures/README.md) in one transaction; a bad file writes
    /// nothing and names the file and the JSON location of the problem.
    Load {
        /// Fixture files to load together (JSON; see fixtures/README.md).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

/// `fixtures load -o json`.
#[derive(Serialize)]
struct LoadOutput {
    organizations: usize,
    users: usize,
    groups: usize,
    templates: usize,
    template_versions: usize,
    presets: usize,
    workspaces: usize,
    agent_stats: usize,
    app_stats: usize,
}

pub fn run(ctx: &GlobalArgs, command: FixturesCommand) -> Result<(), CliError> {
    match command {
        FixturesCommand::Load { files } => {
            // Parse every file before opening the database: a bad file never touches it.
            let sources = files
                .iter()
                .map(|f| FixtureSource::from_path(f))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| CliError::new("load fixtures", e))?;
            for s in &sources {
                fixture_json::parse(&s.name, &s.text).map_err(|e| CliError::new("load fixtures", e))?;
            }
            let store = ctx.open_or_create_file()?;
            let s = fixture_json::load(&store, &sources).map_err(|e| CliError::new("load fixtures", e))?;
            let out = LoadOutput {
                organizations: s.organizations,
                users: s.users,
                groups: s.groups,
                templates: s.templates,
                template_versions: s.template_versions,
                presets: s.presets,
                workspaces: s.workspaces,
                agent_stats: s.agent_stats,
                app_stats: s.app_stats,
            };
            match ctx.output {
                OutputFormat::Json => print_json(&out),
                OutputFormat::Table => {
                    println!(
                        "loaded {} organizations, {} users, {} groups, {} templates ({} versions, {} presets), \
                         {} workspaces, {} agent stats, {} app stats",
                        out.organizations,
                        out.users,
                        out.groups,
                        out.templates,
                        out.template_versions,
                        out.presets,
                        out.workspaces,
                        out.agent_stats,
                        out.app_stats
                    );
                    Ok(())
                }
            }
        }
    }
}
