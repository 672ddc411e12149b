//! `ai_providers`, `ai_provider_keys`, and `audit_logs` on PostgreSQL.

use postgres::Row;

use crate::clock::Timestamp;
use crate::database::AiProviderStore;
use crate::database::Result;
use crate::database::models::AiProvider;
use crate::database::models::AiProviderKey;
use crate::database::models::AuditLog;
use crate::database::models::AuditLogFilter;
use crate::database::models::InsertAiProvider;
use crate::database::models::InsertAuditLog;
use crate::database::postgres::queries::get;
use crate::database::postgres::queries::get_id;
use crate::database::postgres::queries::new_id;
use crate::database::postgres::statements::PgRow;
use crate::database::postgres::tx::PgTx;
use crate::database::rows;
use crate::database::rows::PROVIDER_COLUMNS;

fn provider(op: &'static str, r: &Row) -> Result<AiProvider> {
    rows::ai_provider(&PgRow { op, row: r })
}

pub(crate) fn list_ai_providers(tx: &PgTx<'_>, include_deleted: bool) -> Result<Vec<AiProvider>> {
    let op = "list ai providers";
    let rows = tx.query(
        op,
        &format!("SELECT {PROVIDER_COLUMNS} FROM ai_providers WHERE ($1 OR NOT deleted) ORDER BY name COLLATE \"C\""),
        &[&include_deleted],
    )?;
    rows.iter().map(|r| provider(op, r)).collect()
}

pub(crate) fn insert_ai_provider(tx: &PgTx<'_>, p: &InsertAiProvider<'_>) -> Result<AiProvider> {
    let op = "insert ai provider";
    let row = tx.query_one(
        op,
        &format!(
            "INSERT INTO ai_providers (id, type, name, display_name, enabled, deleted, base_url, settings, created_at,
                                       updated_at)
             VALUES ($1, $2, $3, $4, true, false, $5, $6::text::jsonb, $7, $7) RETURNING {PROVIDER_COLUMNS}"
        ),
        &[
            &new_id(op, "id", p.id)?,
            &p.provider_type.as_str(),
            &p.name,
            &p.display_name,
            &p.base_url,
            &p.settings,
            &p.created_at,
        ],
    )?;
    provider(op, &row)
}

pub(crate) fn insert_ai_provider_key(
    tx: &PgTx<'_>,
    key_id: &str,
    provider_id: &str,
    api_key: &str,
    created_at: Timestamp,
) -> Result<()> {
    let op = "insert ai provider key";
    tx.execute(
        op,
        "INSERT INTO ai_provider_keys (id, provider_id, api_key, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
        &[&new_id(op, "id", key_id)?, &new_id(op, "provider_id", provider_id)?, &api_key, &created_at],
    )?;
    Ok(())
}

pub(crate) fn list_ai_provider_keys(tx: &PgTx<'_>) -> Result<Vec<AiProviderKey>> {
    let op = "list ai provider keys";
    let rows = tx.query(
        op,
        "SELECT id, provider_id, api_key, created_at FROM ai_provider_keys ORDER BY provider_id, created_at, id",
        &[],
    )?;
    rows.iter()
        .map(|r| {
            Ok(AiProviderKey {
                id: get_id(op, r, 0)?,
                provider_id: get_id(op, r, 1)?,
                api_key: get(op, r, 2)?,
                created_at: get(op, r, 3)?,
            })
        })
        .collect()
}

pub(crate) fn soft_delete_ai_provider(tx: &PgTx<'_>, name: &str, updated_at: Timestamp) -> Result<Option<AiProvider>> {
    let op = "delete ai provider";
    tx.query_opt(
        op,
        &format!(
            "UPDATE ai_providers SET deleted = true, enabled = false, updated_at = $2 WHERE name = $1 AND NOT deleted
             RETURNING {PROVIDER_COLUMNS}"
        ),
        &[&name, &updated_at],
    )?
    .map(|r| provider(op, &r))
    .transpose()
}

pub(crate) fn insert_audit_log(tx: &PgTx<'_>, p: &InsertAuditLog<'_>) -> Result<()> {
    let op = "insert audit log";
    tx.execute(
        op,
        "INSERT INTO audit_logs (id, time, user_id, organization_id, resource_type, resource_id, resource_target,
                                 action, diff, status_code, additional_fields)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, '{}')",
        &[
            &new_id(op, "id", p.id)?,
            &p.time,
            &new_id(op, "user_id", p.user_id)?,
            &new_id(op, "organization_id", p.organization_id)?,
            &p.resource_type,
            &new_id(op, "resource_id", p.resource_id)?,
            &p.resource_target,
            &p.action,
            p.diff,
            &p.status_code,
        ],
    )?;
    Ok(())
}

pub(crate) fn list_audit_logs(tx: &PgTx<'_>, resource_type: &str) -> Result<Vec<AuditLog>> {
    let op = "list audit logs";
    let rows = tx.query(
        op,
        "SELECT id, time, user_id, resource_type, resource_id, resource_target, action, diff, organization_id, status_code
         FROM audit_logs WHERE resource_type = $1 ORDER BY time, seq",
        &[&resource_type],
    )?;
    rows.iter().map(|r| audit(op, r)).collect()
}

fn audit(op: &'static str, r: &postgres::Row) -> Result<AuditLog> {
    Ok(AuditLog {
        id: get_id(op, r, 0)?,
        time: get(op, r, 1)?,
        user_id: get_id(op, r, 2)?,
        resource_type: get(op, r, 3)?,
        resource_id: get_id(op, r, 4)?,
        resource_target: get(op, r, 5)?,
        action: get(op, r, 6)?,
        diff: get(op, r, 7)?,
        organization_id: get_id(op, r, 8)?,
        status_code: get(op, r, 9)?,
    })
}

pub(crate) fn get_audit_logs_page(tx: &PgTx<'_>, f: &AuditLogFilter<'_>) -> Result<(Vec<AuditLog>, i64)> {
    let op = "get audit logs page";
    let uuid = |v: Option<&str>| v.map(|s| uuid::Uuid::parse_str(s).unwrap_or(uuid::Uuid::nil()));
    let rows = tx.query(
        op,
        "SELECT id, time, user_id, resource_type, resource_id, resource_target, action, diff, organization_id,
                status_code, COUNT(*) OVER ()
         FROM audit_logs
         WHERE ($1::text IS NULL OR resource_type = $1) AND ($2::uuid IS NULL OR resource_id = $2)
           AND ($3::text IS NULL OR resource_target = $3) AND ($4::text IS NULL OR action = $4)
           AND ($5::uuid IS NULL OR user_id = $5) AND ($6::uuid IS NULL OR organization_id = $6)
           AND ($7::timestamptz IS NULL OR time >= $7) AND ($8::timestamptz IS NULL OR time <= $8)
         ORDER BY time DESC, seq DESC LIMIT $9 OFFSET $10",
        &[
            &f.resource_type,
            &uuid(f.resource_id),
            &f.resource_target,
            &f.action,
            &uuid(f.user_id),
            &uuid(f.organization_id),
            &f.time_from,
            &f.time_to,
            &(if f.limit == 0 { None } else { Some(i64::from(f.limit)) }),
            &i64::from(f.offset),
        ],
    )?;
    let count = rows.first().map(|r| get::<i64>(op, r, 10)).transpose()?.unwrap_or(0);
    Ok((rows.iter().map(|r| audit(op, r)).collect::<Result<_>>()?, count))
}

impl AiProviderStore for PgTx<'_> {
    run_query! {
        fn list_ai_providers(&self, include_deleted: bool) -> Result<Vec<AiProvider>> => list_ai_providers;
        fn insert_ai_provider(&self, params: &InsertAiProvider<'_>) -> Result<AiProvider> => insert_ai_provider;
        fn insert_ai_provider_key(&self, id: &str, provider_id: &str, api_key: &str, created_at: Timestamp) -> Result<()> => insert_ai_provider_key;
        fn list_ai_provider_keys(&self) -> Result<Vec<AiProviderKey>> => list_ai_provider_keys;
        fn soft_delete_ai_provider(&self, name: &str, updated_at: Timestamp) -> Result<Option<AiProvider>> => soft_delete_ai_provider;
        fn insert_audit_log(&self, params: &InsertAuditLog<'_>) -> Result<()> => insert_audit_log;
        fn list_audit_logs(&self, resource_type: &str) -> Result<Vec<AuditLog>> => list_audit_logs;
        fn get_audit_logs_page(&self, filter: &AuditLogFilter<'_>) -> Result<(Vec<AuditLog>, i64)> => get_audit_logs_page;
    }
}
