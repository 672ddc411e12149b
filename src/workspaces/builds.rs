//! A workspace's next build and its provisioner job, written in the caller's transaction.

use crate::database::Result;
use crate::database::Store;
use crate::database::models::InsertProvisionerJob;
use crate::database::models::InsertWorkspaceBuild;
use crate::database::models::InsertWorkspaceBuildParameter;
use crate::database::models::ProvisionerJobType;
use crate::database::models::Workspace;
use crate::database::models::WorkspaceBuild;
use crate::database::models::WorkspaceTransition;

/// The state a build's new job starts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildJob {
    /// For the provisioner to take.
    Pending,
    /// Started and completed now (an orphan delete: nothing to tear down).
    Completed,
}

/// What a new build is: its workspace, version, number, transition and who asked for it.
#[derive(Debug, Clone)]
pub struct NewBuild<'a> {
    pub workspace: &'a Workspace,
    pub template_version_id: &'a str,
    pub build_number: i64,
    pub transition: WorkspaceTransition,
    pub template_version_preset_id: Option<&'a str>,
    pub initiator_id: &'a str,
    /// Upstream's build reason: `initiator`, `autostart`, ...
    pub reason: &'a str,
    /// Extra fields of the job's input beside `workspace_build_id` (prebuild markers).
    pub job_input: serde_json::Map<String, serde_json::Value>,
    pub job: BuildJob,
}

/// (version, build number) of a workspace's next build: its latest build's version, else the
/// template's active version, and the number after the latest.
pub fn next_build_of(tx: &dyn Store, workspace: &Workspace) -> Result<(String, i64)> {
    match tx.get_workspace_builds_by_workspace_id(&workspace.id)?.into_iter().next() {
        Some(b) => Ok((b.template_version_id, b.build_number + 1)),
        None => Ok((tx.get_template_by_id(&workspace.template_id)?.active_version_id, 1)),
    }
}

/// Inserts the build and its job, in the caller's transaction.
pub fn insert_build(tx: &dyn Store, b: &NewBuild<'_>) -> Result<WorkspaceBuild> {
    let now = tx.clock().now();
    let build_id = uuid::Uuid::new_v4().to_string();
    let done = (b.job == BuildJob::Completed).then_some(now);
    let mut input = b.job_input.clone();
    input.insert("workspace_build_id".to_owned(), serde_json::Value::String(build_id.clone()));
    let job = tx.insert_provisioner_job(&InsertProvisionerJob {
        id: &uuid::Uuid::new_v4().to_string(),
        created_at: now,
        initiator_id: b.initiator_id,
        organization_id: &b.workspace.organization_id,
        job_type: ProvisionerJobType::WorkspaceBuild,
        input: &serde_json::Value::Object(input),
        started_at: done,
        completed_at: done,
        canceled_at: None,
        error: None,
        worker_id: None,
        file_id: None,
    })?;
    tx.insert_workspace_build(&InsertWorkspaceBuild {
        id: &build_id,
        created_at: now,
        workspace_id: &b.workspace.id,
        template_version_id: b.template_version_id,
        build_number: b.build_number,
        transition: b.transition,
        initiator_id: b.initiator_id,
        job_id: &job.id,
        reason: b.reason,
        template_version_preset_id: b.template_version_preset_id,
    })
}

/// Why a build's job was not canceled (upstream's checks, in its order).
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    /// Canceling a running job takes the owner role unless the template allows users to.
    #[error("User is not allowed to cancel workspace builds. Owner role is required.")]
    NotAllowed,
    #[error("Job has already completed!")]
    Completed,
    #[error("Job has already been marked as canceled!")]
    AlreadyCanceled,
    /// The job is not in the state the caller expected (`expect_status`).
    #[error("Job is not in the expected state.")]
    NotExpected,
    #[error(transparent)]
    Database(#[from] crate::database::Error),
}

/// Cancels the job of build `build_id`: a pending job ends canceled at once, a running one is
/// canceling until its provisioner stops it. `expect` (pending or running) makes the call
/// fail when the job has moved on; expecting pending needs no permission, else the template
/// must allow users to cancel or `is_owner`.
pub fn cancel_build(
    store: &dyn Store,
    build_id: &str,
    expect: Option<crate::database::models::JobStatus>,
    is_owner: bool,
) -> std::result::Result<(), CancelError> {
    use crate::database::models::JobStatus;
    crate::database::in_tx(store, crate::database::TxOptions::write("cancel workspace build"), |tx| {
        let build = tx.get_workspace_build_by_id(build_id)?;
        let workspace = tx.get_workspace_by_id(&build.workspace_id)?;
        if expect != Some(JobStatus::Pending) {
            let template = tx.get_template_by_id(&workspace.template_id)?;
            if !template.allow_user_cancel_workspace_jobs && !is_owner {
                return Err(CancelError::NotAllowed);
            }
        }
        let job = tx.get_provisioner_job_by_id(&build.job_id)?;
        if job.completed_at.is_some() {
            return Err(CancelError::Completed);
        }
        if job.canceled_at.is_some() {
            return Err(CancelError::AlreadyCanceled);
        }
        if expect.is_some_and(|s| s != job.job_status) {
            return Err(CancelError::NotExpected);
        }
        tx.cancel_provisioner_job(&job.id, tx.clock().now())?;
        Ok(())
    })
}

/// Gives build `to` the parameter values of build `from` (a new build keeps what the one
/// before it was given), in the caller's transaction.
pub fn copy_build_parameters(tx: &dyn Store, from: &str, to: &str) -> Result<()> {
    for p in tx.get_workspace_build_parameters(from)? {
        tx.insert_workspace_build_parameter(&InsertWorkspaceBuildParameter {
            workspace_build_id: to,
            name: &p.name,
            value: &p.value,
        })?;
    }
    Ok(())
}
