//! `tokens create|list|revoke`: API tokens for scripts and test suites (the API's
//! `Coder-Session-Token`), without going through a login.

use std::time::Duration;

use clap::Subcommand;
use coderlite::clock::format_rfc3339;
use coderlite::database::models::LoginType;
use coderlite::database::prelude::*;
use coderlite::identity::keys::issue_key;
use serde::Serialize;

use crate::cli::CliError;
use crate::cli::Context;
use crate::cli::GlobalArgs;
use crate::cli::OutputFormat;
use crate::cli::output::print_json;
use crate::cli::output::print_table;
use crate::cli::resolve;

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create an API token for a user and print it (only the token; `-o json` also gives
    /// its id and expiry). Send it as the `Coder-Session-Token` header.
    Create {
        /// Username or ID (system users cannot hold tokens).
        #[arg(long)]
        user: String,
        /// How long the token is valid, as a Go-style duration (`30d`, `12h`); at most
        /// upstream's maximum token lifetime (876600h, about 100 years).
        #[arg(long, default_value = "30d", value_parser = parse_lifetime)]
        lifetime: Duration,
        /// The token's name (unique per user; one printable line of at most 64 characters);
        /// default: a random one.
        #[arg(long, value_parser = parse_token_name)]
        name: Option<String>,
    },
    /// List tokens (never their secrets).
    List {
        /// Only this user's tokens (username or ID).
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a token by its ID (the part before the `-`).
    Revoke {
        /// The token's ID.
        id: String,
    },
}

/// A lifetime: a Go-style duration of more than zero, at most upstream's maximum (100
/// years).
fn parse_lifetime(text: &str) -> Result<Duration, String> {
    let d = coderlite::clock::parse_duration(text)?;
    let max = coderlite::api::ApiConfig::default().max_token_lifetime;
    if d.is_zero() || d > max {
        return Err(format!("must be more than 0 and at most {}h", max.as_secs() / 3600));
    }
    Ok(d)
}

fn parse_token_name(text: &str) -> Result<String, String> {
    coderlite::names::token_name_valid(text)?;
    Ok(text.to_owned())
}

#[derive(Serialize)]
struct CreatedOutput {
    id: String,
    token: String,
    expires_at: String,
}

#[derive(Serialize)]
struct TokenOutput {
    id: String,
    user_id: String,
    name: String,
    created_at: String,
    expires_at: String,
    last_used: String,
}

pub fn run(ctx: &GlobalArgs, command: TokensCommand) -> Result<(), CliError> {
    let store = ctx.open()?;
    match command {
        TokensCommand::Create { user, lifetime, name } => {
            let user = resolve::user(&store, &user)?;
            if user.is_system {
                return Err(CliError::new(
                    "create token",
                    format!("user {:?} is a system user, and system users never authenticate", user.username),
                ));
            }
            let name = name.unwrap_or_else(|| format!("cli-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
            let (token, key) = issue_key(&store, &user, LoginType::Token, lifetime, &name).map_err(|e| {
                if e.is_unique_violation_of("idx_api_key_name") {
                    CliError::new(
                        "create token",
                        format!("user {:?} already has a token named {name:?}", user.username),
                    )
                } else {
                    CliError::new("create token", e)
                }
            })?;
            match ctx.output {
                OutputFormat::Json => {
                    print_json(&CreatedOutput { id: key.id, token, expires_at: format_rfc3339(key.expires_at) })
                }
                OutputFormat::Table => {
                    println!("{token}");
                    Ok(())
                }
            }
        }
        TokensCommand::List { user } => {
            let user_id = match user {
                Some(u) => Some(resolve::user(&store, &u)?.id),
                None => None,
            };
            let keys =
                store.list_api_keys(user_id.as_deref(), LoginType::Token).context(|| "list tokens".to_owned())?;
            let out: Vec<TokenOutput> = keys
                .into_iter()
                .map(|k| TokenOutput {
                    id: k.id,
                    user_id: k.user_id,
                    name: k.token_name,
                    created_at: format_rfc3339(k.created_at),
                    expires_at: format_rfc3339(k.expires_at),
                    last_used: format_rfc3339(k.last_used),
                })
                .collect();
            match ctx.output {
                OutputFormat::Json => print_json(&out),
                OutputFormat::Table => {
                    let rows: Vec<Vec<String>> = out
                        .iter()
                        .map(|t| vec![t.id.clone(), t.name.clone(), t.user_id.clone(), t.expires_at.clone()])
                        .collect();
                    print_table(&["ID", "NAME", "USER ID", "EXPIRES AT"], &rows);
                    Ok(())
                }
            }
        }
        TokensCommand::Revoke { id } => {
            let deleted = store.delete_api_key(&id).context(|| "revoke token".to_owned())?;
            if !deleted {
                return Err(CliError::new("revoke token", format!("no token with ID {id:?}")));
            }
            match ctx.output {
                OutputFormat::Json => print_json(&serde_json::json!({ "revoked": id })),
                OutputFormat::Table => {
                    println!("revoked token {id}");
                    Ok(())
                }
            }
        }
    }
}
