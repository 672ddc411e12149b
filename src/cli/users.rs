//! `users list [--include-system]` (with site roles) and `users seats`.

use clap::Subcommand;
use coderlite::database::models::GetUsersParams;
use coderlite::database::prelude::*;
use serde::Serialize;

use crate::cli::CliError;
use crate::cli::Context;
use crate::cli::GlobalArgs;
use crate::cli::OutputFormat;
use crate::cli::output::print_json;
use crate::cli::output::print_table;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List users (system users only with --include-system).
    List {
        /// Include system users (the prebuilds user).
        #[arg(long)]
        include_system: bool,
    },
    /// License seats in use: active, non-deleted human users.
    Seats,
}

/// One `users list -o json` row.
#[derive(Serialize)]
struct UserOutput {
    id: String,
    username: String,
    email: String,
    status: &'static str,
    is_system: bool,
    /// Site roles (`owner`, `template-admin`, `user-admin`, `auditor`).
    roles: Vec<String>,
}

/// `users seats -o json`.
#[derive(Serialize)]
struct SeatsOutput {
    seats: i64,
}

pub fn run(ctx: &GlobalArgs, command: UsersCommand) -> Result<(), CliError> {
    let store = ctx.open()?;
    match command {
        UsersCommand::List { include_system } => {
            let params = GetUsersParams { include_system, status: None, after_username: None, limit: 0 };
            let users = store.get_users(&params).context(|| "list users".to_owned())?;
            let out: Vec<UserOutput> = users
                .into_iter()
                .map(|u| UserOutput {
                    id: u.id,
                    username: u.username,
                    email: u.email,
                    status: u.status.as_str(),
                    is_system: u.is_system,
                    roles: u.rbac_roles,
                })
                .collect();
            match ctx.output {
                OutputFormat::Json => print_json(&out),
                OutputFormat::Table => {
                    let rows: Vec<Vec<String>> = out
                        .iter()
                        .map(|u| {
                            let kind = if u.is_system { "system" } else { "" };
                            vec![
                                u.username.clone(),
                                u.email.clone(),
                                u.status.to_owned(),
                                kind.to_owned(),
                                u.roles.join(","),
                                u.id.clone(),
                            ]
                        })
                        .collect();
                    print_table(&["USERNAME", "EMAIL", "STATUS", "KIND", "ROLES", "ID"], &rows);
                    Ok(())
                }
            }
        }
        UsersCommand::Seats => {
            let seats = store.get_active_user_count(false).context(|| "count seats".to_owned())?;
            match ctx.output {
                OutputFormat::Json => print_json(&SeatsOutput { seats }),
                OutputFormat::Table => {
                    println!("{seats} seats in use (active human users; system users never count)");
                    Ok(())
                }
            }
        }
    }
}
