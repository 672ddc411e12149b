//! The audit log.

use crate::database::AuditStore;
use crate::database::Result;
use crate::database::models::AuditLog;
use crate::database::models::AuditLogFilter;
use crate::database::models::InsertAuditLog;
use crate::database::models::Page;
use crate::database::postgres::queries::new_id;
use crate::database::postgres::queries::opt_id;
use crate::database::postgres::tx::PgTx;
use crate::database::rows;
use crate::database::rows::AUDIT_LOG_COLUMNS;

impl AuditStore for PgTx<'_> {
    fn insert_audit_log(&self, p: &InsertAuditLog<'_>) -> Result<()> {
        let op = "insert audit log";
        self.exec(
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
        )
    }

    fn get_audit_logs_page(&self, f: &AuditLogFilter<'_>) -> Result<Page<AuditLog>> {
        let page = self.all(
            "get audit logs page",
            &format!(
                "SELECT {AUDIT_LOG_COLUMNS}, COUNT(*) OVER ()
                 FROM audit_logs
                 WHERE ($1::text IS NULL OR resource_type = $1) AND ($2::uuid IS NULL OR resource_id = $2)
                   AND ($3::text IS NULL OR resource_target = $3) AND ($4::text IS NULL OR action = $4)
                   AND ($5::uuid IS NULL OR user_id = $5) AND ($6::uuid IS NULL OR organization_id = $6)
                   AND ($7::timestamptz IS NULL OR time >= $7) AND ($8::timestamptz IS NULL OR time <= $8)
                 ORDER BY time DESC, seq DESC LIMIT $9 OFFSET $10"
            ),
            &[
                &f.resource_type,
                &opt_id(f.resource_id),
                &f.resource_target,
                &f.action,
                &opt_id(f.user_id),
                &opt_id(f.organization_id),
                &f.time_from,
                &f.time_to,
                &(if f.limit == 0 { None } else { Some(i64::from(f.limit)) }),
                &i64::from(f.offset),
            ],
            |r| Ok((rows::audit_log(r)?, r.i64(10)?)),
        )?;
        // An empty page counts 0, as upstream's window count.
        Page::from_counted(page, 0, || Ok(0))
    }
}
