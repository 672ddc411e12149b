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

/// The prebuilds system user's fixed ID (SPEC §4).
pub const PREBUILDS_SYSTEM_USER_ID: &str = "c42fdf75-3097-471c-8c33-fb52454d81c0";

text_enum! {
    /// `users.status`.
    UserStatus {
        Active => "active",
        Suspended => "suspended",
        Dormant => "dormant",
    }
}

text_enum! {
    /// `users.login_type`.
    LoginType {
        Password => "password",
        Github => "github",
        Oidc => "oidc",
        Token => "token",
        None => "none",
    }
}

/// A row of `organizations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub is_default: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Parameters of `insert_organization`.
#[derive(Debug, Clone)]
pub struct InsertOrganization<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub display_name: &'a str,
    pub description: &'a str,
    pub created_at: Timestamp,
}

/// A row of `users`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub username: String,
    pub name: String,
    pub status: UserStatus,
    pub login_type: LoginType,
    pub is_system: bool,
    pub deleted: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_seen_at: Timestamp,
}

/// Parameters of `insert_user` (never a system user: those come from migrations).
#[derive(Debug, Clone)]
pub struct InsertUser<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub username: &'a str,
    pub name: &'a str,
    pub status: UserStatus,
    pub login_type: LoginType,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
}

/// Parameters of `get_users`: a page after `after_username` (exclusive), ordered by username.
#[derive(Debug, Clone)]
pub struct GetUsersParams<'a> {
    pub include_system: bool,
    pub status: Option<UserStatus>,
    pub after_username: Option<&'a str>,
    /// 0 means no limit.
    pub limit: u32,
}

/// A row of `organization_members` with its user's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationMember {
    pub organization_id: String,
    pub user_id: String,
    pub username: String,
    pub roles: Vec<String>,
    pub created_at: Timestamp,
}

/// A row of `groups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub organization_id: String,
    pub avatar_url: String,
    pub quota_allowance: i64,
}

/// Parameters of `insert_group`.
#[derive(Debug, Clone)]
pub struct InsertGroup<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub display_name: &'a str,
    pub organization_id: &'a str,
    pub avatar_url: &'a str,
    pub quota_allowance: i64,
}

/// A row of `group_members_expanded`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub user_id: String,
    pub user_username: String,
    pub user_email: String,
    pub user_is_system: bool,
    pub organization_id: String,
    pub group_id: String,
    pub group_name: String,
}
