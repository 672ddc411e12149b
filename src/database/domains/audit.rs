//! The audit log: `AuditStore` and its rows.

use crate::clock::Timestamp;
use crate::database::Result;
use crate::database::models::Page;

store_domain! {
    /// The audit log: one entry per change made through the API or the provider seed.
    pub trait AuditStore {
        /// Appends an audit entry.
        write fn insert_audit_log(&self, params: &InsertAuditLog<'_>) -> Result<()>;

        /// One page of the audit entries `filter` selects, newest first, and how many it
        /// selects in all (0 for an empty page, as upstream's window count).
        read fn get_audit_logs_page(&self, filter: &AuditLogFilter<'_>) -> Result<Page<AuditLog>>;
    }
}

/// Parameters of `insert_audit_log`.
#[derive(Debug, Clone)]
pub struct InsertAuditLog<'a> {
    pub id: &'a str,
    pub time: Timestamp,
    pub user_id: &'a str,
    pub organization_id: &'a str,
    pub resource_type: &'a str,
    pub resource_id: &'a str,
    pub resource_target: &'a str,
    pub action: &'a str,
    pub diff: &'a serde_json::Value,
    pub status_code: i64,
}

/// A row of `audit_logs`.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditLog {
    pub id: String,
    pub time: Timestamp,
    pub user_id: String,
    pub resource_type: String,
    pub resource_id: String,
    pub resource_target: String,
    pub action: String,
    pub diff: serde_json::Value,
    pub organization_id: String,
    pub status_code: i64,
}

/// What `get_audit_logs_page` selects (every `Some` must match) and which page.
#[derive(Debug, Clone, Default)]
pub struct AuditLogFilter<'a> {
    pub resource_type: Option<&'a str>,
    pub resource_id: Option<&'a str>,
    pub resource_target: Option<&'a str>,
    pub action: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub organization_id: Option<&'a str>,
    /// Entries at or after this time.
    pub time_from: Option<Timestamp>,
    /// Entries at or before this time.
    pub time_to: Option<Timestamp>,
    /// 0: all.
    pub limit: u32,
    pub offset: u32,
}
