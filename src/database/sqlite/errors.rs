//! The one place that interprets SQLite errors: rusqlite errors become typed [`Error`]s,
//! matched on result codes, never on message text, except to extract a constraint's name.

use rusqlite::ErrorCode;
use rusqlite::ffi;

use crate::database::Error;

/// Unique constraints whose upstream name differs from PostgreSQL's default
/// `<table>_<columns>_key` pattern: (table, columns as SQLite lists them, upstream name).
/// SQLite names the table and columns, never the constraint, so callers that match on
/// upstream names need this map. Every entry is covered by a test.
const CONSTRAINT_NAMES: &[(&str, &[&str], &str)] = &[
    // Upstream has no primary key here, only a unique constraint on `key`.
    ("site_configs", &["key"], "site_configs_key_key"),
    ("groups", &["organization_id", "name"], "groups_name_organization_id_key"),
    ("organizations", &["name"], "idx_organization_name"),
    ("users", &["email"], "idx_users_email"),
    ("users", &["username"], "idx_users_username"),
    ("ai_providers", &["name"], "ai_providers_name_key"),
    ("workspaces", &["owner_id", "name"], "workspaces_owner_id_lower_idx"),
    ("templates", &["organization_id", "name"], "templates_organization_id_name_idx"),
    ("api_keys", &["user_id", "token_name"], "idx_api_key_name"),
    ("files", &["hash", "created_by"], "files_hash_created_by_key"),
];

/// Converts a rusqlite error into a typed error for operation `op`.
pub(crate) fn interpret(op: &'static str, err: rusqlite::Error) -> Error {
    match &err {
        rusqlite::Error::QueryReturnedNoRows => Error::NotFound { op },
        rusqlite::Error::SqliteFailure(code, message) => {
            let message = message.clone().unwrap_or_else(|| code.to_string());
            match code.code {
                ErrorCode::ConstraintViolation => match code.extended_code {
                    ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                        Error::UniqueViolation { op, constraint: constraint_name(code.extended_code, &message) }
                    }
                    ffi::SQLITE_CONSTRAINT_FOREIGNKEY => Error::ForeignKey { op },
                    _ => Error::Constraint { op, message },
                },
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => Error::Busy { op },
                ErrorCode::ReadOnly => Error::ReadOnlyTransaction { op },
                ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => Error::Corrupt { op, message },
                _ => Error::Sqlite { op, message },
            }
        }
        // The message without the statement: a migration's statement is hundreds of lines.
        rusqlite::Error::SqlInputError { msg, offset, .. } => {
            Error::Sqlite { op, message: format!("{msg} (at offset {offset} of the statement)") }
        }
        _ => Error::Sqlite { op, message: err.to_string() },
    }
}

/// Adds the operation name to rusqlite results: `stmt.execute(..).op("insert group")?`.
pub(crate) trait OpContext<T> {
    fn op(self, op: &'static str) -> Result<T, Error>;
}

impl<T> OpContext<T> for Result<T, rusqlite::Error> {
    fn op(self, op: &'static str) -> Result<T, Error> {
        self.map_err(|e| interpret(op, e))
    }
}

/// Derives the constraint name from SQLite's "UNIQUE constraint failed: t.a, t.b" text.
fn constraint_name(extended_code: i32, message: &str) -> String {
    let Some(detail) = message.split_once("constraint failed: ").map(|(_, d)| d.trim()) else {
        return message.to_owned();
    };
    // Expression indexes are reported by name: "index 'idx_users_email_lower'".
    if let Some(index) = detail.strip_prefix("index '").and_then(|d| d.strip_suffix('\'')) {
        return index.to_owned();
    }
    let mut table = "";
    let mut columns = Vec::new();
    for part in detail.split(", ") {
        let (t, c) = part.split_once('.').unwrap_or(("", part));
        table = t;
        columns.push(c);
    }
    if let Some((_, _, name)) = CONSTRAINT_NAMES.iter().find(|(t, c, _)| *t == table && *c == columns.as_slice()) {
        return (*name).to_owned();
    }
    if extended_code == ffi::SQLITE_CONSTRAINT_PRIMARYKEY {
        return format!("{table}_pkey");
    }
    format!("{table}_{}_key", columns.join("_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_key_names_follow_postgres() {
        let name = constraint_name(
            ffi::SQLITE_CONSTRAINT_PRIMARYKEY,
            "UNIQUE constraint failed: telemetry_locks.event_type, telemetry_locks.period_ending_at",
        );
        assert_eq!(name, "telemetry_locks_pkey");
        let name = constraint_name(
            ffi::SQLITE_CONSTRAINT_PRIMARYKEY,
            "UNIQUE constraint failed: group_members.group_id, group_members.user_id",
        );
        assert_eq!(name, "group_members_pkey");
    }

    #[test]
    fn unique_names_use_the_map_then_the_default_pattern() {
        for (table, columns, expected) in CONSTRAINT_NAMES {
            let detail: Vec<String> = columns.iter().map(|c| format!("{table}.{c}")).collect();
            let message = format!("UNIQUE constraint failed: {}", detail.join(", "));
            assert_eq!(constraint_name(ffi::SQLITE_CONSTRAINT_UNIQUE, &message), *expected);
        }
        let name = constraint_name(ffi::SQLITE_CONSTRAINT_UNIQUE, "UNIQUE constraint failed: things.a, things.b");
        assert_eq!(name, "things_a_b_key");
        let name = constraint_name(ffi::SQLITE_CONSTRAINT_UNIQUE, "UNIQUE constraint failed: index 'idx_lower'");
        assert_eq!(name, "idx_lower");
    }
}
