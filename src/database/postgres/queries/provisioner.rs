//! The echo provisioner's job queue on PostgreSQL: acquisition skips rows other transactions
//! hold (`FOR UPDATE SKIP LOCKED`), so workers in several processes never take one job twice
//! and never wait on each other.

use crate::clock::Timestamp;
use crate::database::ProvisionerStore;
use crate::database::Result;
use crate::database::models::NewJobLog;
use crate::database::models::ProvisionerJob;
use crate::database::models::ProvisionerJobLog;
use crate::database::models::WorkspaceTransition;
use crate::database::postgres::queries::get;
use crate::database::postgres::queries::get_enum;
use crate::database::postgres::queries::get_id;
use crate::database::postgres::queries::id;
use crate::database::postgres::queries::templates::job;
use crate::database::postgres::tx::PgTx;
use crate::database::rows::JOB_COLUMNS;

pub(crate) fn acquire_provisioner_job(
    tx: &PgTx<'_>,
    worker_id: &str,
    now: Timestamp,
) -> Result<Option<ProvisionerJob>> {
    let op = "acquire provisioner job";
    tx.query_opt(
        op,
        &format!(
            "UPDATE provisioner_jobs SET started_at = $2, updated_at = $2, worker_id = $1
             WHERE id = (SELECT id FROM provisioner_jobs
                         WHERE started_at IS NULL AND canceled_at IS NULL AND completed_at IS NULL
                         ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING {JOB_COLUMNS}"
        ),
        &[&worker_id, &now],
    )?
    .map(|r| job(op, &r))
    .transpose()
}

pub(crate) fn complete_provisioner_job(tx: &PgTx<'_>, job_id: &str, now: Timestamp, error: Option<&str>) -> Result<()> {
    tx.execute(
        "complete provisioner job",
        "UPDATE provisioner_jobs SET completed_at = $2, updated_at = $2, error = $3 WHERE id = $1 AND completed_at IS NULL",
        &[&id(job_id), &now, &error],
    )?;
    Ok(())
}

pub(crate) fn heartbeat_provisioner_jobs(tx: &PgTx<'_>, worker_id: &str, now: Timestamp) -> Result<usize> {
    let n = tx.execute(
        "heartbeat provisioner jobs",
        "UPDATE provisioner_jobs SET updated_at = $2
         WHERE completed_at IS NULL AND canceled_at IS NULL AND worker_id = $1",
        &[&worker_id, &now],
    )?;
    Ok(n as usize)
}

pub(crate) fn requeue_provisioner_jobs(
    tx: &PgTx<'_>,
    worker_id: Option<&str>,
    updated_before: Timestamp,
    now: Timestamp,
) -> Result<usize> {
    let n = tx.execute(
        "requeue provisioner jobs",
        "UPDATE provisioner_jobs SET started_at = NULL, worker_id = NULL, updated_at = $3
         WHERE completed_at IS NULL AND canceled_at IS NULL AND started_at IS NOT NULL
           AND updated_at < $2 AND ($1::text IS NULL OR worker_id = $1)",
        &[&worker_id, &updated_before, &now],
    )?;
    Ok(n as usize)
}

pub(crate) fn get_workspace_build_by_job_id(
    tx: &PgTx<'_>,
    job_id: &str,
) -> Result<Option<(String, String, WorkspaceTransition, bool)>> {
    let op = "get workspace build by job id";
    tx.query_opt(
        op,
        "SELECT wb.id, wb.workspace_id, wb.transition, tv.fail_builds FROM workspace_builds wb
         JOIN template_versions tv ON tv.id = wb.template_version_id WHERE wb.job_id = $1",
        &[&id(job_id)],
    )?
    .map(|r| {
        Ok((
            get_id(op, &r, 0)?,
            get_id(op, &r, 1)?,
            get_enum(op, "workspace_builds.transition", &r, 2)?,
            get(op, &r, 3)?,
        ))
    })
    .transpose()
}

pub(crate) fn get_running_provisioner_job_ids(tx: &PgTx<'_>) -> Result<Vec<String>> {
    let rows = tx.query(
        "get running provisioner job ids",
        "SELECT id::text FROM provisioner_jobs
         WHERE started_at IS NOT NULL AND completed_at IS NULL AND canceled_at IS NULL ORDER BY created_at, id",
        &[],
    )?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

pub(crate) fn insert_provisioner_job_logs(
    tx: &PgTx<'_>,
    job_id: &str,
    now: Timestamp,
    logs: &[NewJobLog<'_>],
) -> Result<()> {
    let sources: Vec<&str> = logs.iter().map(|l| l.source).collect();
    let levels: Vec<&str> = logs.iter().map(|l| l.level).collect();
    let stages: Vec<&str> = logs.iter().map(|l| l.stage).collect();
    let outputs: Vec<&str> = logs.iter().map(|l| l.output).collect();
    tx.execute(
        "insert provisioner job logs",
        "INSERT INTO provisioner_job_logs (job_id, created_at, source, level, stage, output)
         SELECT $1, $2, s, l, st, o FROM unnest($3::text[], $4::text[], $5::text[], $6::text[])
             WITH ORDINALITY AS t(s, l, st, o, n) ORDER BY n",
        &[&id(job_id), &now, &sources, &levels, &stages, &outputs],
    )?;
    Ok(())
}

pub(crate) fn get_provisioner_job_logs_after(
    tx: &PgTx<'_>,
    job_id: &str,
    after: i64,
) -> Result<Vec<ProvisionerJobLog>> {
    let op = "get provisioner job logs after";
    tx.query(
        op,
        "SELECT id, job_id, created_at, source, level, stage, output FROM provisioner_job_logs
         WHERE job_id = $1 AND id > $2 ORDER BY id",
        &[&id(job_id), &after],
    )?
    .iter()
    .map(|r| {
        Ok(ProvisionerJobLog {
            id: get(op, r, 0)?,
            job_id: get_id(op, r, 1)?,
            created_at: get(op, r, 2)?,
            source: get(op, r, 3)?,
            level: get(op, r, 4)?,
            stage: get(op, r, 5)?,
            output: get(op, r, 6)?,
        })
    })
    .collect()
}

pub(crate) fn cancel_provisioner_job(tx: &PgTx<'_>, job_id: &str, now: Timestamp) -> Result<bool> {
    let n = tx.execute(
        "cancel provisioner job",
        "UPDATE provisioner_jobs
         SET canceled_at = $2, updated_at = $2, completed_at = CASE WHEN worker_id IS NULL THEN $2::timestamptz END
         WHERE id = $1 AND completed_at IS NULL AND canceled_at IS NULL",
        &[&id(job_id), &now],
    )?;
    Ok(n > 0)
}

impl ProvisionerStore for PgTx<'_> {
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
