//! `templates list`: templates with their IDs, for the commands that take a template or a
//! preset.

use clap::Subcommand;
use coderlite::clock::format_rfc3339;
use coderlite::database::prelude::*;
use serde::Serialize;

use crate::cli::CliError;
use crate::cli::Context;
use crate::cli::GlobalArgs;
use crate::cli::OutputFormat;
use crate::cli::output::print_json;
use crate::cli::output::print_table;

#[derive(Debug, Subcommand)]
pub enum TemplatesCommand {
    /// List templates with their IDs, organizations and active versions.
    List {
        /// Include deleted templates.
        #[arg(long)]
        include_deleted: bool,
    },
}

/// One `templates list -o json` row.
#[derive(Serialize)]
struct TemplateOutput {
    id: String,
    organization_name: String,
    name: String,
    display_name: String,
    active_version_id: String,
    active_version_name: String,
    deprecated: bool,
    deleted: bool,
    created_at: String,
}

pub fn run(ctx: &GlobalArgs, command: TemplatesCommand) -> Result<(), CliError> {
    let TemplatesCommand::List { include_deleted } = command;
    let store = ctx.open()?;
    let templates = store.get_templates(include_deleted).context(|| "list templates".to_owned())?;
    let out: Vec<TemplateOutput> = templates
        .into_iter()
        .map(|t| TemplateOutput {
            id: t.template.id,
            organization_name: t.organization_name,
            name: t.template.name,
            display_name: t.template.display_name,
            active_version_id: t.template.active_version_id,
            active_version_name: t.active_version_name,
            deprecated: !t.template.deprecated.is_empty(),
            deleted: t.template.deleted,
            created_at: format_rfc3339(t.template.created_at),
        })
        .collect();
    match ctx.output {
        OutputFormat::Json => print_json(&out),
        OutputFormat::Table => {
            let rows: Vec<Vec<String>> = out
                .iter()
                .map(|t| {
                    let mut notes = Vec::new();
                    if t.deprecated {
                        notes.push("deprecated");
                    }
                    if t.deleted {
                        notes.push("deleted");
                    }
                    vec![
                        t.organization_name.clone(),
                        t.name.clone(),
                        t.active_version_name.clone(),
                        notes.join(", "),
                        t.id.clone(),
                    ]
                })
                .collect();
            print_table(&["ORG", "TEMPLATE", "ACTIVE VERSION", "NOTES", "ID"], &rows);
            Ok(())
        }
    }
}
