//! Row types returned by the `Store`, and the enums stored as TEXT (each with `as_str` and
//! `FromStr`, the one place their spelling lives).

use std::fmt;
use std::str::FromStr;

use crate::clock::Timestamp;

/// Declares a TEXT-stored enum with its spellings.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            /// Every variant.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("unknown {} {other:?}", stringify!($name))),
                }
            }
        }
    };
}

text_enum! {
    /// The kind of a row in `locks`.
    LockKind {
        Transaction => "transaction",
        Lease => "lease",
    }
}

/// A committed row of the `locks` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRow {
    /// The stored number; a known one maps to `LockId::from_i64`.
    pub lock_id: i64,
    pub holder: String,
    pub kind: LockKind,
    pub acquired_at: Timestamp,
    /// Set for leases.
    pub expires_at: Option<Timestamp>,
}

/// The result of `check_integrity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrityReport {
    pub schema_version: i64,
    /// "ok", or the problems SQLite reported, joined with "; ".
    pub integrity: String,
    /// "ok", or the violations found, joined with "; ".
    pub foreign_keys: String,
}

impl IntegrityReport {
    pub fn is_ok(&self) -> bool {
        self.integrity == "ok" && self.foreign_keys == "ok"
    }
}

/// Parameters of `upsert_boundary_usage_stats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertBoundaryUsageStats<'a> {
    pub replica_id: &'a str,
    /// Unique IDs seen since the last flush: the unique counts of a newly inserted row.
    pub unique_workspaces_delta: i64,
    pub unique_users_delta: i64,
    /// Unique IDs seen this period: replace the unique counts of an existing row.
    pub unique_workspaces_count: i64,
    pub unique_users_count: i64,
    /// Requests since the last flush: added to the stored counts.
    pub allowed_requests: i64,
    pub denied_requests: i64,
}

/// Sums over `boundary_usage_stats` rows (each 0 when there are none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BoundaryUsageSummary {
    pub unique_workspaces: i64,
    pub unique_users: i64,
    pub allowed_requests: i64,
    pub denied_requests: i64,
}

/// A stored telemetry snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetrySnapshot {
    pub id: i64,
    pub event_type: String,
    pub period_ending_at: Timestamp,
    pub collected_at: Timestamp,
    pub replica_id: String,
    pub snapshot: serde_json::Value,
}
