//! The audit log.

use rusqlite::params;

use crate::clock::to_micros;
use crate::database::AuditStore;
use crate::database::Result;
use crate::database::models::AuditLog;
use crate::database::models::AuditLogFilter;
use crate::database::models::InsertAuditLog;
use crate::database::models::Page;
use crate::database::rows;
use crate::database::rows::AUDIT_LOG_COLUMNS;
use crate::database::sqlite::queries::opt_micros;
use crate::database::sqlite::tx::SqliteTx;

impl AuditStore for SqliteTx<'_> {
    fn insert_audit_log(&self, p: &InsertAuditLog<'_>) -> Result<()> {
        self.exec(
            "insert audit log",
            "INSERT INTO audit_logs (id, time, user_id, organization_id, resource_type, resource_id, resource_target,
                                     action, diff, status_code, additional_fields)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, '{}')",
            params![
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
            ],
        )
    }

    fn get_audit_logs_page(&self, f: &AuditLogFilter<'_>) -> Result<Page<AuditLog>> {
        let page = self.all(
            "get audit logs page",
            &format!(
                "SELECT {AUDIT_LOG_COLUMNS}, COUNT(*) OVER ()
                 FROM audit_logs
                 WHERE (?1 IS NULL OR resource_type = ?1) AND (?2 IS NULL OR resource_id = ?2)
                   AND (?3 IS NULL OR resource_target = ?3) AND (?4 IS NULL OR action = ?4)
                   AND (?5 IS NULL OR user_id = ?5) AND (?6 IS NULL OR organization_id = ?6)
                   AND (?7 IS NULL OR time >= ?7) AND (?8 IS NULL OR time <= ?8)
                 ORDER BY time DESC, rowid DESC LIMIT ?9 OFFSET ?10"
            ),
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
            |r| Ok((rows::audit_log(r)?, r.i64(10)?)),
        )?;
        // An empty page counts 0, as upstream's window count.
        Page::from_counted(page, 0, || Ok(0))
    }
}
