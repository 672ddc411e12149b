//! The echo provisioner's job queue: acquisition (one job per write transaction, oldest first),
//! completion, heartbeats and requeues of hung jobs.

use rusqlite::params;

use crate::clock::Timestamp;
use crate::clock::to_micros;
use crate::database::ProvisionerStore;
use crate::database::Result;
use crate::database::models::BuildOfJob;
use crate::database::models::InsertProvisionerJob;
use crate::database::models::NewJobLog;
use crate::database::models::ProvisionerJob;
use crate::database::models::ProvisionerJobLog;
use crate::database::rows;
use crate::database::rows::JOB_COLUMNS;
use crate::database::rows::JOB_LOG_COLUMNS;
use crate::database::sqlite::errors::OpContext;
use crate::database::sqlite::queries::json_ids;
use crate::database::sqlite::queries::opt_micros;
use crate::database::sqlite::tx::SqliteTx;

impl ProvisionerStore for SqliteTx<'_> {
    /// Writers are serialized, so two workers, in any processes, can never take the same job.
    fn acquire_provisioner_job(&self, worker_id: &str, now: Timestamp) -> Result<Option<ProvisionerJob>> {
        let sql = format!(
            "UPDATE provisioner_jobs SET started_at = ?2, updated_at = ?2, worker_id = ?1
             WHERE id = (SELECT id FROM provisioner_jobs
                         WHERE started_at IS NULL AND canceled_at IS NULL AND completed_at IS NULL
                         ORDER BY created_at, id LIMIT 1)
             RETURNING {JOB_COLUMNS}"
        );
        self.opt("acquire provisioner job", &sql, params![worker_id, to_micros(now)], rows::job)
    }

    fn complete_provisioner_job(&self, job_id: &str, now: Timestamp, error: Option<&str>) -> Result<()> {
        self.exec(
            "complete provisioner job",
            "UPDATE provisioner_jobs SET completed_at = ?2, updated_at = ?2, error = ?3 WHERE id = ?1 AND completed_at IS NULL",
            params![job_id, to_micros(now), error],
        )
    }

    fn heartbeat_provisioner_jobs(&self, worker_id: &str, now: Timestamp) -> Result<usize> {
        self.exec_count(
            "heartbeat provisioner jobs",
            "UPDATE provisioner_jobs SET updated_at = ?2
             WHERE completed_at IS NULL AND canceled_at IS NULL AND worker_id = ?1",
            params![worker_id, to_micros(now)],
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
            "UPDATE provisioner_jobs SET started_at = NULL, worker_id = NULL, updated_at = ?3
             WHERE completed_at IS NULL AND canceled_at IS NULL AND started_at IS NOT NULL
               AND updated_at < ?2 AND (?1 IS NULL OR worker_id = ?1)",
            params![worker_id, to_micros(updated_before), to_micros(now)],
        )
    }

    fn insert_provisioner_job_logs(&self, job_id: &str, now: Timestamp, logs: &[NewJobLog<'_>]) -> Result<()> {
        let op = "insert provisioner job logs";
        let mut stmt = self
            .conn
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

    fn get_provisioner_job_logs_after(&self, job_id: &str, after: i64) -> Result<Vec<ProvisionerJobLog>> {
        let sql =
            format!("SELECT {JOB_LOG_COLUMNS} FROM provisioner_job_logs WHERE job_id = ?1 AND id > ?2 ORDER BY id");
        self.all("get provisioner job logs after", &sql, params![job_id, after], rows::provisioner_job_log)
    }

    fn cancel_provisioner_job(&self, job_id: &str, now: Timestamp) -> Result<bool> {
        let n = self.exec_count(
            "cancel provisioner job",
            "UPDATE provisioner_jobs
             SET canceled_at = ?2, updated_at = ?2, completed_at = CASE WHEN worker_id IS NULL THEN ?2 END
             WHERE id = ?1 AND completed_at IS NULL AND canceled_at IS NULL",
            params![job_id, to_micros(now)],
        )?;
        Ok(n > 0)
    }

    fn get_running_provisioner_job_ids(&self) -> Result<Vec<String>> {
        self.all(
            "get running provisioner job ids",
            "SELECT id FROM provisioner_jobs
             WHERE started_at IS NOT NULL AND completed_at IS NULL AND canceled_at IS NULL ORDER BY created_at, id",
            [],
            |r| r.id(0),
        )
    }

    fn get_workspace_build_by_job_id(&self, job_id: &str) -> Result<Option<BuildOfJob>> {
        self.opt(
            "get workspace build by job id",
            "SELECT wb.id, wb.workspace_id, wb.transition, tv.fail_builds FROM workspace_builds wb
             JOIN template_versions tv ON tv.id = wb.template_version_id WHERE wb.job_id = ?1",
            [job_id],
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
        self.one(
            "insert provisioner job",
            &format!(
                "INSERT INTO provisioner_jobs (id, created_at, updated_at, started_at, completed_at, canceled_at, error,
                                               worker_id, initiator_id, organization_id, type, input, file_id)
                 VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING {JOB_COLUMNS}"
            ),
            params![
                p.id,
                to_micros(p.created_at),
                opt_micros(p.started_at),
                opt_micros(p.completed_at),
                opt_micros(p.canceled_at),
                p.error,
                p.worker_id,
                p.initiator_id,
                p.organization_id,
                p.job_type.as_str(),
                p.input.to_string(),
                p.file_id,
            ],
            rows::job,
        )
    }

    fn get_provisioner_job_by_id(&self, id: &str) -> Result<ProvisionerJob> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM provisioner_jobs WHERE id = ?1");
        self.one("get provisioner job by id", &sql, [id], rows::job)
    }

    fn get_provisioner_jobs_by_ids(&self, ids: &[String]) -> Result<Vec<ProvisionerJob>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM provisioner_jobs WHERE id IN (SELECT value FROM json_each(?1))");
        self.all("get provisioner jobs by ids", &sql, [json_ids(ids)], rows::job)
    }
}
