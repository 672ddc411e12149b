//! The echo provisioner's job queue on PostgreSQL: acquisition skips rows other transactions
//! hold (`FOR UPDATE SKIP LOCKED`), so workers in several processes never take one job twice
//! and never wait on each other.

use crate::clock::Timestamp;
use crate::database::ProvisionerStore;
use crate::database::Result;
use crate::database::models::BuildOfJob;
use crate::database::models::InsertProvisionerJob;
use crate::database::models::NewJobLog;
use crate::database::models::ProvisionerJob;
use crate::database::models::ProvisionerJobLog;
use crate::database::postgres::queries::id;
use crate::database::postgres::queries::ids;
use crate::database::postgres::queries::new_id;
use crate::database::postgres::queries::opt_new_id;
use crate::database::postgres::tx::PgTx;
use crate::database::rows;
use crate::database::rows::JOB_COLUMNS;
use crate::database::rows::JOB_LOG_COLUMNS;

impl ProvisionerStore for PgTx<'_> {
    fn acquire_provisioner_job(&self, worker_id: &str, now: Timestamp) -> Result<Option<ProvisionerJob>> {
        let sql = format!(
            "UPDATE provisioner_jobs SET started_at = $2, updated_at = $2, worker_id = $1
             WHERE id = (SELECT id FROM provisioner_jobs
                         WHERE started_at IS NULL AND canceled_at IS NULL AND completed_at IS NULL
                         ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING {JOB_COLUMNS}"
        );
        self.opt("acquire provisioner job", &sql, &[&worker_id, &now], rows::job)
    }

    fn complete_provisioner_job(&self, job_id: &str, now: Timestamp, error: Option<&str>) -> Result<()> {
        self.exec(
            "complete provisioner job",
            "UPDATE provisioner_jobs SET completed_at = $2, updated_at = $2, error = $3 WHERE id = $1 AND completed_at IS NULL",
            &[&id(job_id), &now, &error],
        )
    }

    fn heartbeat_provisioner_jobs(&self, worker_id: &str, now: Timestamp) -> Result<usize> {
        self.exec_count(
            "heartbeat provisioner jobs",
            "UPDATE provisioner_jobs SET updated_at = $2
             WHERE completed_at IS NULL AND canceled_at IS NULL AND worker_id = $1",
            &[&worker_id, &now],
        )
    }

    fn requeue_provisioner_jobs(
        &self,
        worker_id: Option<&str>,
        updated_before: Timestamp,
        now: Timestamp,
    ) -> Result<usize> {
        self.exec_count(
            "requeue provisioner jobs",
            "UPDATE provisioner_jobs SET started_at = NULL, worker_id = NULL, updated_at = $3
             WHERE completed_at IS NULL AND canceled_at IS NULL AND started_at IS NOT NULL
               AND updated_at < $2 AND ($1::text IS NULL OR worker_id = $1)",
            &[&worker_id, &updated_before, &now],
        )
    }

    fn insert_provisioner_job_logs(&self, job_id: &str, now: Timestamp, logs: &[NewJobLog<'_>]) -> Result<()> {
        let sources: Vec<&str> = logs.iter().map(|l| l.source).collect();
        let levels: Vec<&str> = logs.iter().map(|l| l.level).collect();
        let stages: Vec<&str> = logs.iter().map(|l| l.stage).collect();
        let outputs: Vec<&str> = logs.iter().map(|l| l.output).collect();
        self.exec(
            "insert provisioner job logs",
            "INSERT INTO provisioner_job_logs (job_id, created_at, source, level, stage, output)
             SELECT $1, $2, s, l, st, o FROM unnest($3::text[], $4::text[], $5::text[], $6::text[])
                 WITH ORDINALITY AS t(s, l, st, o, n) ORDER BY n",
            &[&id(job_id), &now, &sources, &levels, &stages, &outputs],
        )
    }

    fn get_provisioner_job_logs_after(&self, job_id: &str, after: i64) -> Result<Vec<ProvisionerJobLog>> {
        let sql =
            format!("SELECT {JOB_LOG_COLUMNS} FROM provisioner_job_logs WHERE job_id = $1 AND id > $2 ORDER BY id");
        self.all("get provisioner job logs after", &sql, &[&id(job_id), &after], rows::provisioner_job_log)
    }

    fn cancel_provisioner_job(&self, job_id: &str, now: Timestamp) -> Result<bool> {
        let n = self.exec_count(
            "cancel provisioner job",
            "UPDATE provisioner_jobs
             SET canceled_at = $2, updated_at = $2, completed_at = CASE WHEN worker_id IS NULL THEN $2::timestamptz END
             WHERE id = $1 AND completed_at IS NULL AND canceled_at IS NULL",
            &[&id(job_id), &now],
        )?;
        Ok(n > 0)
    }

    fn get_running_provisioner_job_ids(&self) -> Result<Vec<String>> {
        self.all(
            "get running provisioner job ids",
            "SELECT id::text FROM provisioner_jobs
             WHERE started_at IS NOT NULL AND completed_at IS NULL AND canceled_at IS NULL ORDER BY created_at, id",
            &[],
            |r| r.text(0),
        )
    }

    fn get_workspace_build_by_job_id(&self, job_id: &str) -> Result<Option<BuildOfJob>> {
        self.opt(
            "get workspace build by job id",
            "SELECT wb.id, wb.workspace_id, wb.transition, tv.fail_builds FROM workspace_builds wb
             JOIN template_versions tv ON tv.id = wb.template_version_id WHERE wb.job_id = $1",
            &[&id(job_id)],
            |r| {
                Ok(BuildOfJob {
                    build_id: r.id(0)?,
                    workspace_id: r.id(1)?,
                    transition: rows::text_enum(r, 2, "workspace_builds.transition")?,
                    fail_builds: r.bool(3)?,
                })
            },
        )
    }

    fn insert_provisioner_job(&self, p: &InsertProvisionerJob<'_>) -> Result<ProvisionerJob> {
        let op = "insert provisioner job";
        self.one(
            op,
            &format!(
                "INSERT INTO provisioner_jobs (id, created_at, updated_at, started_at, completed_at, canceled_at, error,
                                               worker_id, initiator_id, organization_id, type, input, file_id)
                 VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {JOB_COLUMNS}"
            ),
            &[
                &new_id(op, "id", p.id)?,
                &p.created_at,
                &p.started_at,
                &p.completed_at,
                &p.canceled_at,
                &p.error,
                &p.worker_id,
                &new_id(op, "initiator_id", p.initiator_id)?,
                &new_id(op, "organization_id", p.organization_id)?,
                &p.job_type.as_str(),
                p.input,
                &opt_new_id(op, "file_id", p.file_id)?,
            ],
            rows::job,
        )
    }

    fn get_provisioner_job_by_id(&self, job_id: &str) -> Result<ProvisionerJob> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM provisioner_jobs WHERE id = $1");
        self.one("get provisioner job by id", &sql, &[&id(job_id)], rows::job)
    }

    fn get_provisioner_jobs_by_ids(&self, job_ids: &[String]) -> Result<Vec<ProvisionerJob>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM provisioner_jobs WHERE id = ANY($1)");
        self.all("get provisioner jobs by ids", &sql, &[&ids(job_ids)], rows::job)
    }
}
