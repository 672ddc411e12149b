//! A workspace's next build and its provisioner job, written in the caller's transaction.

use crate::database::Result;
use crate::database::Store;
use crate::database::models::InsertProvisionerJob;
use crate::database::models::InsertWorkspaceBuild;
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
