//! The one place that interprets PostgreSQL errors: SQLSTATEs become the same typed
//! [`Error`]s the SQLite store returns, with the constraint names PostgreSQL reports (the
//! schema uses upstream's names, so both engines report the same ones).

use postgres::error::SqlState;

use crate::database::Error;

/// What an error means for the transaction that met it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Serialization failure or deadlock: roll back and run the transaction again.
    Retry,
    /// Anything else: the error stands.
    Final,
}

/// Converts a postgres error for operation `op` into a typed error, and says whether the
/// transaction should be retried.
pub(crate) fn interpret(op: &'static str, err: &postgres::Error) -> (Error, Kind) {
    let Some(db) = err.as_db_error() else {
        let message = without_secrets(err);
        return (Error::Postgres { op, message: format!("postgres connection: {message}") }, Kind::Final);
    };
    let message = db.message().to_owned();
    let code = db.code();
    let error = if *code == SqlState::UNIQUE_VIOLATION {
        let constraint = db.constraint().map(str::to_owned).unwrap_or_else(|| message.clone());
        return (Error::UniqueViolation { op, constraint }, Kind::Final);
    } else if *code == SqlState::FOREIGN_KEY_VIOLATION {
        Error::ForeignKey { op }
    } else if *code == SqlState::CHECK_VIOLATION || *code == SqlState::NOT_NULL_VIOLATION {
        Error::Constraint { op, message }
    } else if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED {
        return (Error::Busy { op }, Kind::Retry);
    } else if *code == SqlState::LOCK_NOT_AVAILABLE {
        Error::Busy { op }
    } else if *code == SqlState::READ_ONLY_SQL_TRANSACTION {
        Error::ReadOnlyTransaction { op }
    } else if *code == SqlState::CHARACTER_NOT_IN_REPERTOIRE || *code == SqlState::UNTRANSLATABLE_CHARACTER {
        Error::InvalidText { op, message }
    } else if *code == SqlState::UNDEFINED_TABLE {
        Error::Postgres { op, message: format!("{message} (is this a coderlite database?)") }
    } else {
        Error::Postgres { op, message }
    };
    (error, Kind::Final)
}

/// An error's text. The postgres crate never puts the connection password in its errors;
/// this is the one place to strip it should that ever change.
pub(crate) fn without_secrets(err: &postgres::Error) -> String {
    err.to_string()
}

/// Why a connection could not be made, in one line that says which: authentication failed,
/// the database is missing, the host cannot be reached, or TLS. The postgres crate's own
/// text for a server's refusal is only "db error"; the reason is in the server's message.
pub(crate) fn describe_connect_error(err: &postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        let code = db.code();
        let what = if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
            "authentication failed"
        } else if *code == SqlState::INVALID_CATALOG_NAME {
            "database missing"
        } else if *code == SqlState::TOO_MANY_CONNECTIONS {
            "too many connections"
        } else {
            "refused"
        };
        return format!("{what}: {}", db.message());
    }
    let mut text = without_secrets(err);
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    let lower = text.to_lowercase();
    let what = if lower.contains("tls") || lower.contains("ssl") {
        "TLS"
    } else if lower.contains("timed out") || lower.contains("timeout") {
        "host unreachable (timed out)"
    } else {
        "host unreachable"
    };
    format!("{what}: {text}")
}
