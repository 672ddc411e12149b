//! Shared row mappers of the system domain's queries.

use crate::database::Result;
use crate::database::models::AiProviderKey;
use crate::database::models::AuditLog;
use crate::database::models::BoundaryUsageSummary;
use crate::database::models::TelemetrySnapshot;
use crate::database::rows::RowReader;

pub(crate) const PROVIDER_KEY_COLUMNS: &str = "id, provider_id, api_key, created_at";

pub(crate) fn ai_provider_key(r: &dyn RowReader) -> Result<AiProviderKey> {
    Ok(AiProviderKey { id: r.id(0)?, provider_id: r.id(1)?, api_key: r.text(2)?, created_at: r.time(3)? })
}

pub(crate) const AUDIT_LOG_COLUMNS: &str =
    "id, time, user_id, resource_type, resource_id, resource_target, action, diff, organization_id, status_code";

pub(crate) fn audit_log(r: &dyn RowReader) -> Result<AuditLog> {
    Ok(AuditLog {
        id: r.id(0)?,
        time: r.time(1)?,
        user_id: r.id(2)?,
        resource_type: r.text(3)?,
        resource_id: r.id(4)?,
        resource_target: r.text(5)?,
        action: r.text(6)?,
        diff: r.json(7)?,
        organization_id: r.id(8)?,
        status_code: r.i64(9)?,
    })
}

/// The four sums of a boundary usage summary query.
pub(crate) fn boundary_usage_summary(r: &dyn RowReader) -> Result<BoundaryUsageSummary> {
    Ok(BoundaryUsageSummary {
        unique_workspaces: r.i64(0)?,
        unique_users: r.i64(1)?,
        allowed_requests: r.i64(2)?,
        denied_requests: r.i64(3)?,
    })
}

pub(crate) const TELEMETRY_SNAPSHOT_COLUMNS: &str =
    "id, event_type, period_ending_at, collected_at, replica_id, snapshot";

pub(crate) fn telemetry_snapshot(r: &dyn RowReader) -> Result<TelemetrySnapshot> {
    Ok(TelemetrySnapshot {
        id: r.i64(0)?,
        event_type: r.text(1)?,
        period_ending_at: r.time(2)?,
        collected_at: r.time(3)?,
        replica_id: r.text(4)?,
        snapshot: r.json(5)?,
    })
}
