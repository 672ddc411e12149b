//! `providers list|delete NAME|seed`. Keys and AWS credentials are always masked.

use clap::Subcommand;
use coderlite::aiproviders;
use coderlite::aiproviders::desired::decode_settings;
use coderlite::database::prelude::*;
use serde::Serialize;

use crate::cli::CliError;
use crate::cli::Context;
use crate::cli::GlobalArgs;
use crate::cli::OutputFormat;
use crate::cli::output::print_json;
use crate::cli::output::print_table;

#[derive(Debug, Subcommand)]
pub enum ProvidersCommand {
    /// List AI providers, soft-deleted ones included (secrets masked).
    List,
    /// Soft-delete a provider: it stays deleted, and the env seed never recreates it.
    Delete {
        /// The provider's name (coderlite providers list).
        name: String,
    },
    /// Seed providers from the CODER_AIBRIDGE_* environment now.
    Seed,
}

/// One `providers list -o json` row.
#[derive(Serialize)]
struct ProviderOutput {
    id: String,
    name: String,
    #[serde(rename = "type")]
    provider_type: &'static str,
    base_url: String,
    enabled: bool,
    deleted: bool,
    bedrock: Option<BedrockOutput>,
    keys: Vec<String>,
}

#[derive(Serialize)]
struct BedrockOutput {
    region: String,
    model: String,
    small_fast_model: String,
    access_key: String,
}

/// `providers seed -o json`.
#[derive(Serialize)]
struct SeedOutput {
    inserted: Vec<String>,
    keys_inserted: usize,
    unchanged: Vec<String>,
    skipped_deleted: Vec<String>,
}

/// Runs the env seed with the process environment; errors carry the startup prefix.
pub fn seed_from_process_env(store: &dyn Store) -> Result<aiproviders::SeedReport, CliError> {
    aiproviders::seed_from_env(store, std::env::vars()).map_err(|e| CliError::new("seed ai providers from env", e))
}

pub fn run(ctx: &GlobalArgs, command: ProvidersCommand) -> Result<(), CliError> {
    let store = if matches!(command, ProvidersCommand::Seed) { ctx.open_or_create_file()? } else { ctx.open()? };
    match command {
        ProvidersCommand::List => list(ctx, &store),
        ProvidersCommand::Delete { name } => {
            let deleted =
                aiproviders::delete_provider(&store, &name).context(|| format!("delete ai provider {name:?}"))?;
            if deleted.is_none() {
                return Err(CliError::new(format!("delete ai provider {name:?}"), "no live provider has that name"));
            }
            if ctx.output == OutputFormat::Json {
                return print_json(&serde_json::json!({ "deleted": name }));
            }
            println!("deleted ai provider {name} (soft delete: the env seed will not recreate it)");
            Ok(())
        }
        ProvidersCommand::Seed => {
            let report = seed_from_process_env(&store)?;
            let out = SeedOutput {
                inserted: report.inserted,
                keys_inserted: report.keys_inserted,
                unchanged: report.unchanged,
                skipped_deleted: report.skipped_deleted,
            };
            match ctx.output {
                OutputFormat::Json => print_json(&out),
                OutputFormat::Table => {
                    println!(
                        "inserted {} providers ({} keys), {} unchanged, {} skipped (soft-deleted)",
                        out.inserted.len(),
                        out.keys_inserted,
                        out.unchanged.len(),
                        out.skipped_deleted.len()
                    );
                    Ok(())
                }
            }
        }
    }
}

fn list(ctx: &GlobalArgs, store: &dyn Store) -> Result<(), CliError> {
    let providers = store.list_ai_providers(true).context(|| "list ai providers".to_owned())?;
    let keys = store.list_ai_provider_keys().context(|| "list ai provider keys".to_owned())?;
    let mut out = Vec::new();
    for p in providers {
        let bedrock = decode_settings(p.settings.as_deref())
            .map_err(|e| CliError::new(format!("decode settings of ai provider {:?}", p.name), e))?
            .map(|b| BedrockOutput {
                region: b.region,
                model: b.model,
                small_fast_model: b.small_fast_model,
                access_key: aiproviders::mask(b.access_key.expose()),
            });
        out.push(ProviderOutput {
            keys: keys.iter().filter(|k| k.provider_id == p.id).map(|k| aiproviders::mask(&k.api_key)).collect(),
            id: p.id,
            name: p.name,
            provider_type: p.provider_type.as_str(),
            base_url: p.base_url,
            enabled: p.enabled,
            deleted: p.deleted,
            bedrock,
        });
    }
    match ctx.output {
        OutputFormat::Json => print_json(&out),
        OutputFormat::Table => {
            let rows: Vec<Vec<String>> = out
                .iter()
                .map(|p| {
                    let state = if p.deleted {
                        "deleted"
                    } else if p.enabled {
                        "enabled"
                    } else {
                        "disabled"
                    };
                    let bedrock = p.bedrock.as_ref().map_or_else(|| "-".to_owned(), |b| b.region.clone());
                    vec![
                        p.name.clone(),
                        p.provider_type.to_owned(),
                        state.to_owned(),
                        p.base_url.clone(),
                        bedrock,
                        p.keys.join(", "),
                    ]
                })
                .collect();
            print_table(&["NAME", "TYPE", "STATE", "BASE URL", "BEDROCK REGION", "KEYS"], &rows);
            Ok(())
        }
    }
}
