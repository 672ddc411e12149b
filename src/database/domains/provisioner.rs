//! Provisioner jobs and their queue: `ProvisionerStore` and its rows.

use crate::clock::Timestamp;
use crate::database::Result;
use crate::database::domains::workspaces::WorkspaceTransition;

store_domain! {
    /// The echo provisioner's job queue.
    pub trait ProvisionerStore {
        /// Takes the oldest pending job for `worker_id`; never the same job twice, across processes too.
        write fn acquire_provisioner_job(&self, worker_id: &str, now: Timestamp) -> Result<Option<ProvisionerJob>>;

        /// Completes a job: succeeded, or failed with `error`.
        write fn complete_provisioner_job(&self, job_id: &str, now: Timestamp, error: Option<&str>) -> Result<()>;

        /// Touches `updated_at` of the unfinished jobs `worker_id` holds (the provisioner's
        /// heartbeat); returns how many.
        write fn heartbeat_provisioner_jobs(&self, worker_id: &str, now: Timestamp) -> Result<usize>;

        /// Puts started, unfinished jobs last updated before `updated_before` back to pending
        /// (of `worker_id` only, when given); returns how many.
        write fn requeue_provisioner_jobs(&self, worker_id: Option<&str>, updated_before: Timestamp, now: Timestamp) -> Result<usize>;

        /// Appends log lines to a job, in order, stamped `now`.
        write fn insert_provisioner_job_logs(&self, job_id: &str, now: Timestamp, logs: &[NewJobLog<'_>]) -> Result<()>;

        /// A job's log lines with an id above `after`, in id order.
        read fn get_provisioner_job_logs_after(&self, job_id: &str, after: i64) -> Result<Vec<ProvisionerJobLog>>;

        /// Marks an unfinished, uncanceled job canceled; a job no provisioner holds yet is
        /// completed too (canceled), a running one is left for its provisioner to finish
        /// (canceling). False when the job was finished or canceled already.
        write fn cancel_provisioner_job(&self, job_id: &str, now: Timestamp) -> Result<bool>;

        /// The IDs of jobs a provisioner has started and not finished (nor canceled), oldest first.
        read fn get_running_provisioner_job_ids(&self) -> Result<Vec<String>>;

        /// The build of a job: (build id, workspace id, transition, the version's fail_builds).
        read fn get_workspace_build_by_job_id(&self, job_id: &str) -> Result<Option<BuildOfJob>>;

        /// Inserts a provisioner job in the state its timestamps describe.
        write fn insert_provisioner_job(&self, params: &InsertProvisionerJob<'_>) -> Result<ProvisionerJob>;

        /// The job with `id`; `NotFound` when absent.
        read fn get_provisioner_job_by_id(&self, id: &str) -> Result<ProvisionerJob>;

        /// The provisioner jobs with these ids, in no particular order.
        read fn get_provisioner_jobs_by_ids(&self, ids: &[String]) -> Result<Vec<ProvisionerJob>>;
    }
}

text_enum! {
    /// `provisioner_jobs.type`.
    ProvisionerJobType {
        TemplateVersionImport => "template_version_import",
        WorkspaceBuild => "workspace_build",
        TemplateVersionDryRun => "template_version_dry_run",
    }
}

text_enum! {
    /// `provisioner_jobs.job_status` (generated from the job's timestamps and error).
    JobStatus {
        Pending => "pending",
        Running => "running",
        Succeeded => "succeeded",
        Failed => "failed",
        Canceling => "canceling",
        Canceled => "canceled",
    }
}

/// Parameters of `insert_provisioner_job`. The state fields let fixtures insert jobs in any
/// state; the generated `job_status` follows from them.
#[derive(Debug, Clone)]
pub struct InsertProvisionerJob<'a> {
    pub id: &'a str,
    pub created_at: Timestamp,
    pub initiator_id: &'a str,
    pub organization_id: &'a str,
    pub job_type: ProvisionerJobType,
    pub input: &'a serde_json::Value,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub canceled_at: Option<Timestamp>,
    pub error: Option<&'a str>,
    pub worker_id: Option<&'a str>,
    /// The uploaded archive a template import reads.
    pub file_id: Option<&'a str>,
}

/// A row of `provisioner_jobs`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvisionerJob {
    pub id: String,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub canceled_at: Option<Timestamp>,
    pub error: Option<String>,
    pub worker_id: Option<String>,
    pub initiator_id: String,
    pub organization_id: String,
    pub job_type: ProvisionerJobType,
    pub input: serde_json::Value,
    pub job_status: JobStatus,
    pub file_id: Option<String>,
}

/// A log line of a provisioner job (upstream's `provisioner_job_logs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionerJobLog {
    pub id: i64,
    pub job_id: String,
    pub created_at: Timestamp,
    /// `provisioner_daemon` or `provisioner`.
    pub source: String,
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub level: String,
    pub stage: String,
    pub output: String,
}

/// A log line to append to a job (`insert_provisioner_job_logs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewJobLog<'a> {
    pub source: &'a str,
    pub level: &'a str,
    pub stage: &'a str,
    pub output: &'a str,
}

/// The build a provisioner job runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOfJob {
    pub build_id: String,
    pub workspace_id: String,
    pub transition: WorkspaceTransition,
    /// The build's template version is marked to fail its builds.
    pub fail_builds: bool,
}
