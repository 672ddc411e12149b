//! The audit log: a row per change made through the API (who, on what, which action), as
//! upstream's `audit_logs`; `GET /api/v2/audit` reads them with upstream's filters.

use crate::database;
use crate::database::Store;
use crate::database::models::InsertAuditLog;

/// Records that user `actor_id` did `action` (`create`, `write`, `delete`, `start`, `stop`) to
/// a resource; in the caller's transaction when `store` is one.
pub fn record(
    store: &dyn Store,
    actor_id: &str,
    organization_id: &str,
    resource_type: &str,
    resource_id: &str,
    target: &str,
    action: &str,
) -> database::Result<()> {
    store.insert_audit_log(&InsertAuditLog {
        id: &uuid::Uuid::new_v4().to_string(),
        time: store.clock().now(),
        user_id: actor_id,
        organization_id,
        resource_type,
        resource_id,
        resource_target: target,
        action,
        diff: &serde_json::json!({}),
        status_code: 200,
    })
}
