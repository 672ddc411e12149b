//! `ai_providers`, `ai_provider_keys`, and `audit_logs`.

use rusqlite::Connection;
use rusqlite::OptionalExtension;
use rusqlite::Row;
use rusqlite::params;

use crate::clock::Timestamp;
use crate::clock::to_micros;
use crate::database::AiProviderStore;
use crate::database::Result;
use crate::database::models::AiProvider;
use crate::database::models::AiProviderKey;
use crate::database::models::AuditLog;
use crate::database::models::AuditLogFilter;
use crate::database::models::InsertAiProvider;
use crate::database::models::InsertAuditLog;
use crate::database::rows;
use crate::database::rows::PROVIDER_COLUMNS;
use crate::database::sqlite::errors::OpContext;
use crate::database::sqlite::queries::from_row;
use crate::database::sqlite::queries::json_at;
use crate::database::sqlite::queries::opt_micros;
use crate::database::sqlite::queries::timestamp_at;
use crate::database::sqlite::tx::SqliteTx;

fn provider_from_row(r: &Row<'_>) -> rusqlite::Result<AiProvider> {
    from_row(rows::ai_provider, r)
}

/// Providers by name; soft-deleted ones only with `include_deleted`.
pub(crate) fn list_ai_providers(conn: &Connection, include_deleted: bool) -> Result<Vec<AiProvider>> {
    let op = "list ai providers";
    conn.prepare_cached(&format!("SELECT {PROVIDER_COLUMNS} FROM ai_providers WHERE (?1 OR deleted = 0) ORDER BY name"))
        .op(op)?
        .query_map([include_deleted], provider_from_row)
        .op(op)?
        .collect::<rusqlite::Result<_>>()
        .op(op)
}

pub(crate) fn insert_ai_provider(conn: &Connection, p: &InsertAiProvider<'_>) -> Result<AiProvider> {
    let op = "insert ai provider";
    conn.prepare_cached(&format!(
        "INSERT INTO ai_providers (id, type, name, display_name, enabled, deleted, base_url, settings, created_at,
                                   updated_at)
         VALUES (?1, ?2, ?3, ?4, 1, 0, ?5, ?6, ?7, ?7) RETURNING {PROVIDER_COLUMNS}"
    ))
    .op(op)?
    .query_row(
        params![
            p.id,
            p.provider_type.as_str(),
            p.name,
            p.display_name,
            p.base_url,
            p.settings,
            to_micros(p.created_at)
        ],
        provider_from_row,
    )
    .op(op)
}

pub(crate) fn insert_ai_provider_key(
    conn: &Connection,
    id: &str,
    provider_id: &str,
    api_key: &str,
    created_at: Timestamp,
) -> Result<()> {
    let op = "insert ai provider key";
    conn.prepare_cached(
        "INSERT INTO ai_provider_keys (id, provider_id, api_key, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
    )
    .op(op)?
    .execute(params![id, provider_id, api_key, to_micros(created_at)])
    .op(op)?;
    Ok(())
}

/// Keys of every provider, oldest first within each provider (one statement for all).
pub(crate) fn list_ai_provider_keys(conn: &Connection) -> Result<Vec<AiProviderKey>> {
    let op = "list ai provider keys";
    conn.prepare_cached(
        "SELECT id, provider_id, api_key, created_at FROM ai_provider_keys ORDER BY provider_id, created_at, id",
    )
    .op(op)?
    .query_map([], |r| {
        Ok(AiProviderKey { id: r.get(0)?, provider_id: r.get(1)?, api_key: r.get(2)?, created_at: timestamp_at(r, 3)? })
    })
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

/// Soft-deletes the live provider named `name` (deleted, disabled); `None` when there is none.
pub(crate) fn soft_delete_ai_provider(
    conn: &Connection,
    name: &str,
    updated_at: Timestamp,
) -> Result<Option<AiProvider>> {
    let op = "delete ai provider";
    conn.prepare_cached(&format!(
        "UPDATE ai_providers SET deleted = 1, enabled = 0, updated_at = ?2 WHERE name = ?1 AND deleted = 0
         RETURNING {PROVIDER_COLUMNS}"
    ))
    .op(op)?
    .query_row(params![name, to_micros(updated_at)], provider_from_row)
    .optional()
    .op(op)
}

pub(crate) fn insert_audit_log(conn: &Connection, p: &InsertAuditLog<'_>) -> Result<()> {
    let op = "insert audit log";
    conn.prepare_cached(
        "INSERT INTO audit_logs (id, time, user_id, organization_id, resource_type, resource_id, resource_target,
                                 action, diff, status_code, additional_fields)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, '{}')",
    )
    .op(op)?
    .execute(params![
        p.id,
        to_micros(p.time),
        p.user_id,
        p.organization_id,
        p.resource_type,
        p.resource_id,
        p.resource_target,
        p.action,
        p.diff.to_string(),
        p.status_code,
    ])
    .op(op)?;
    Ok(())
}

/// Audit entries of a resource type, oldest first.
pub(crate) fn list_audit_logs(conn: &Connection, resource_type: &str) -> Result<Vec<AuditLog>> {
    let op = "list audit logs";
    conn.prepare_cached(
        "SELECT id, time, user_id, resource_type, resource_id, resource_target, action, diff, organization_id, status_code
         FROM audit_logs WHERE resource_type = ?1 ORDER BY time, rowid",
    )
    .op(op)?
    .query_map([resource_type], audit_from_row)
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

fn audit_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditLog> {
    Ok(AuditLog {
        id: r.get(0)?,
        time: timestamp_at(r, 1)?,
        user_id: r.get(2)?,
        resource_type: r.get(3)?,
        resource_id: r.get(4)?,
        resource_target: r.get(5)?,
        action: r.get(6)?,
        diff: json_at(r, 7)?,
        organization_id: r.get(8)?,
        status_code: r.get(9)?,
    })
}

pub(crate) fn get_audit_logs_page(conn: &Connection, f: &AuditLogFilter<'_>) -> Result<(Vec<AuditLog>, i64)> {
    let op = "get audit logs page";
    let mut count = 0i64;
    let rows = conn
        .prepare_cached(
            "SELECT id, time, user_id, resource_type, resource_id, resource_target, action, diff, organization_id,
                    status_code, COUNT(*) OVER ()
             FROM audit_logs
             WHERE (?1 IS NULL OR resource_type = ?1) AND (?2 IS NULL OR resource_id = ?2)
               AND (?3 IS NULL OR resource_target = ?3) AND (?4 IS NULL OR action = ?4)
               AND (?5 IS NULL OR user_id = ?5) AND (?6 IS NULL OR organization_id = ?6)
               AND (?7 IS NULL OR time >= ?7) AND (?8 IS NULL OR time <= ?8)
             ORDER BY time DESC, rowid DESC LIMIT ?9 OFFSET ?10",
        )
        .op(op)?
        .query_map(
            params![
                f.resource_type,
                f.resource_id,
                f.resource_target,
                f.action,
                f.user_id,
                f.organization_id,
                opt_micros(f.time_from),
                opt_micros(f.time_to),
                if f.limit == 0 { -1 } else { i64::from(f.limit) },
                i64::from(f.offset),
            ],
            |r| Ok((audit_from_row(r)?, r.get::<_, i64>(10)?)),
        )
        .op(op)?
        .map(|row| {
            row.map(|(log, total)| {
                count = total;
                log
            })
        })
        .collect::<rusqlite::Result<Vec<_>>>()
        .op(op)?;
    Ok((rows, count))
}

impl AiProviderStore for SqliteTx<'_> {
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
