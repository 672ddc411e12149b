//! The echo provisioner's job queue: acquisition (one job per write transaction, oldest first),
//! completion, heartbeats and requeues of hung jobs.

use rusqlite::Connection;
use rusqlite::OptionalExtension;
use rusqlite::params;

use crate::clock::Timestamp;
use crate::clock::to_micros;
use crate::database::ProvisionerStore;
use crate::database::Result;
use crate::database::models::NewJobLog;
use crate::database::models::ProvisionerJob;
use crate::database::models::ProvisionerJobLog;
use crate::database::models::WorkspaceTransition;
use crate::database::rows::JOB_COLUMNS;
use crate::database::sqlite::errors::OpContext;
use crate::database::sqlite::queries::text_enum_at;
use crate::database::sqlite::queries::timestamp_at;
use crate::database::sqlite::tx::SqliteTx;

/// Takes the oldest pending job for `worker_id` (started_at = now). Writers are serialized,
/// so two workers, in any processes, can never take the same job.
pub(crate) fn acquire_provisioner_job(
    conn: &Connection,
    worker_id: &str,
    now: Timestamp,
) -> Result<Option<crate::database::models::ProvisionerJob>> {
    let op = "acquire provisioner job";
    conn.prepare_cached(&format!(
        "UPDATE provisioner_jobs SET started_at = ?2, updated_at = ?2, worker_id = ?1
         WHERE id = (SELECT id FROM provisioner_jobs
                     WHERE started_at IS NULL AND canceled_at IS NULL AND completed_at IS NULL
                     ORDER BY created_at, id LIMIT 1)
         RETURNING {JOB_COLUMNS}"
    ))
    .op(op)?
    .query_row(params![worker_id, to_micros(now)], crate::database::sqlite::queries::templates::job_from_row)
    .optional()
    .op(op)
}

/// Completes a job: succeeded, or failed with `error`.
pub(crate) fn complete_provisioner_job(
    conn: &Connection,
    job_id: &str,
    now: Timestamp,
    error: Option<&str>,
) -> Result<()> {
    let op = "complete provisioner job";
    conn.prepare_cached("UPDATE provisioner_jobs SET completed_at = ?2, updated_at = ?2, error = ?3 WHERE id = ?1 AND completed_at IS NULL")
        .op(op)?
        .execute(params![job_id, to_micros(now), error])
        .op(op)?;
    Ok(())
}

/// The provisioner's heartbeat: touches `updated_at` of the unfinished jobs `worker_id` holds.
pub(crate) fn heartbeat_provisioner_jobs(conn: &Connection, worker_id: &str, now: Timestamp) -> Result<usize> {
    let op = "heartbeat provisioner jobs";
    conn.prepare_cached(
        "UPDATE provisioner_jobs SET updated_at = ?2
         WHERE completed_at IS NULL AND canceled_at IS NULL AND worker_id = ?1",
    )
    .op(op)?
    .execute(params![worker_id, to_micros(now)])
    .op(op)
}

/// Puts started, unfinished jobs not updated since `updated_before` (of `worker_id` only,
/// when given) back to pending.
pub(crate) fn requeue_provisioner_jobs(
    conn: &Connection,
    worker_id: Option<&str>,
    updated_before: Timestamp,
    now: Timestamp,
) -> Result<usize> {
    let op = "requeue provisioner jobs";
    conn.prepare_cached(
        "UPDATE provisioner_jobs SET started_at = NULL, worker_id = NULL, updated_at = ?3
         WHERE completed_at IS NULL AND canceled_at IS NULL AND started_at IS NOT NULL
           AND updated_at < ?2 AND (?1 IS NULL OR worker_id = ?1)",
    )
    .op(op)?
    .execute(params![worker_id, to_micros(updated_before), to_micros(now)])
    .op(op)
}

/// The build a job belongs to, with its version's fail flag: (build id, workspace id,
/// transition, fail_builds).
pub(crate) fn get_workspace_build_by_job_id(
    conn: &Connection,
    job_id: &str,
) -> Result<Option<(String, String, crate::database::models::WorkspaceTransition, bool)>> {
    let op = "get workspace build by job id";
    conn.prepare_cached(
        "SELECT wb.id, wb.workspace_id, wb.transition, tv.fail_builds FROM workspace_builds wb
         JOIN template_versions tv ON tv.id = wb.template_version_id WHERE wb.job_id = ?1",
    )
    .op(op)?
    .query_row([job_id], |r| Ok((r.get(0)?, r.get(1)?, text_enum_at(r, 2)?, r.get(3)?)))
    .optional()
    .op(op)
}

pub(crate) fn get_running_provisioner_job_ids(conn: &Connection) -> Result<Vec<String>> {
    let op = "get running provisioner job ids";
    conn.prepare_cached(
        "SELECT id FROM provisioner_jobs
         WHERE started_at IS NOT NULL AND completed_at IS NULL AND canceled_at IS NULL ORDER BY created_at, id",
    )
    .op(op)?
    .query_map([], |r| r.get(0))
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

pub(crate) fn insert_provisioner_job_logs(
    conn: &Connection,
    job_id: &str,
    now: Timestamp,
    logs: &[NewJobLog<'_>],
) -> Result<()> {
    let op = "insert provisioner job logs";
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO provisioner_job_logs (job_id, created_at, source, level, stage, output)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .op(op)?;
    for l in logs {
        stmt.execute(params![job_id, to_micros(now), l.source, l.level, l.stage, l.output]).op(op)?;
    }
    Ok(())
}

pub(crate) fn get_provisioner_job_logs_after(
    conn: &Connection,
    job_id: &str,
    after: i64,
) -> Result<Vec<ProvisionerJobLog>> {
    let op = "get provisioner job logs after";
    conn.prepare_cached(
        "SELECT id, job_id, created_at, source, level, stage, output FROM provisioner_job_logs
         WHERE job_id = ?1 AND id > ?2 ORDER BY id",
    )
    .op(op)?
    .query_map(params![job_id, after], |r| {
        Ok(ProvisionerJobLog {
            id: r.get(0)?,
            job_id: r.get(1)?,
            created_at: timestamp_at(r, 2)?,
            source: r.get(3)?,
            level: r.get(4)?,
            stage: r.get(5)?,
            output: r.get(6)?,
        })
    })
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

pub(crate) fn cancel_provisioner_job(conn: &Connection, job_id: &str, now: Timestamp) -> Result<bool> {
    let op = "cancel provisioner job";
    let n = conn
        .prepare_cached(
            "UPDATE provisioner_jobs
             SET canceled_at = ?2, updated_at = ?2, completed_at = CASE WHEN worker_id IS NULL THEN ?2 END
             WHERE id = ?1 AND completed_at IS NULL AND canceled_at IS NULL",
        )
        .op(op)?
        .execute(params![job_id, to_micros(now)])
        .op(op)?;
    Ok(n > 0)
}

impl ProvisionerStore for SqliteTx<'_> {
    run_query! {
        fn acquire_provisioner_job(&self, worker_id: &str, now: Timestamp) -> Result<Option<ProvisionerJob>> => acquire_provisioner_job;
        fn complete_provisioner_job(&self, job_id: &str, now: Timestamp, error: Option<&str>) -> Result<()> => complete_provisioner_job;
        fn heartbeat_provisioner_jobs(&self, worker_id: &str, now: Timestamp) -> Result<usize> => heartbeat_provisioner_jobs;
        fn requeue_provisioner_jobs(&self, worker_id: Option<&str>, updated_before: Timestamp, now: Timestamp) -> Result<usize> => requeue_provisioner_jobs;
        fn insert_provisioner_job_logs(&self, job_id: &str, now: Timestamp, logs: &[NewJobLog<'_>]) -> Result<()> => insert_provisioner_job_logs;
        fn get_provisioner_job_logs_after(&self, job_id: &str, after: i64) -> Result<Vec<ProvisionerJobLog>> => get_provisioner_job_logs_after;
        fn cancel_provisioner_job(&self, job_id: &str, now: Timestamp) -> Result<bool> => cancel_provisioner_job;
        fn get_running_provisioner_job_ids(&self) -> Result<Vec<String>> => get_running_provisioner_job_ids;
        fn get_workspace_build_by_job_id(&self, job_id: &str) -> Result<Option<(String, String, WorkspaceTransition, bool)>> => get_workspace_build_by_job_id;
    }
}
