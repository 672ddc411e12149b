//! A workspace's own schedule, as its owner changes it (upstream's `PUT /workspaces/{id}/autostart`
//! and `/ttl`): checked against the template's rules, written in one transaction.

use crate::cron::WeeklySchedule;
use crate::database::Store;
use crate::database::TxOptions;
use crate::database::in_tx;
use crate::workspaces::create::WorkspaceError;
use crate::workspaces::schedule::next_allowed_autostart;
use crate::workspaces::schedule::valid_ttl_ms;

/// Sets (or with `None` or an empty text, clears) the workspace's autostart schedule and its
/// next start on a day the template allows. A template that does not let users set autostart
/// refuses a schedule.
pub fn set_autostart(store: &dyn Store, workspace_id: &str, schedule: Option<&str>) -> Result<(), WorkspaceError> {
    let raw = schedule.filter(|s| !s.trim().is_empty());
    let parsed = match raw {
        Some(text) => Some(WeeklySchedule::parse(text).map_err(WorkspaceError::InvalidAutostart)?),
        None => None,
    };
    in_tx(store, TxOptions::write("set workspace autostart"), |tx| {
        let workspace = tx.get_workspace_by_id(workspace_id)?;
        let template = tx.get_template_by_id(&workspace.template_id)?;
        if parsed.is_some() && !template.scheduling.allow_user_autostart {
            return Err(WorkspaceError::AutostartNotAllowed);
        }
        let now = tx.clock().now();
        let next = parsed.as_ref().and_then(|s| next_allowed_autostart(now, s, &template.scheduling));
        tx.update_workspace_autostart(workspace_id, raw, next, now)?;
        Ok(())
    })
}

/// Sets the workspace's time to shutdown with upstream's rules (a minute to 30 days, whole
/// minutes; none or 0: no autostop, never the template's default here). A template that does
/// not let users set autostop refuses a change.
pub fn set_ttl(store: &dyn Store, workspace_id: &str, ttl_ms: Option<i64>) -> Result<(), WorkspaceError> {
    in_tx(store, TxOptions::write("set workspace ttl"), |tx| {
        let workspace = tx.get_workspace_by_id(workspace_id)?;
        let template = tx.get_template_by_id(&workspace.template_id)?;
        if !template.scheduling.allow_user_autostop {
            return Err(WorkspaceError::InvalidTtl(
                "Custom autostop TTL is not allowed for workspaces using this template.".to_owned(),
            ));
        }
        let no_default = crate::database::models::TemplateScheduling { default_ttl_ms: 0, ..template.scheduling };
        let ttl = valid_ttl_ms(ttl_ms, &no_default).map_err(WorkspaceError::InvalidTtl)?;
        tx.update_workspace_ttl(workspace_id, ttl, tx.clock().now())?;
        Ok(())
    })
}

/// Renames a workspace (upstream's rule: only where the deployment allows renames, which the
/// caller says): the name is checked as at creation, and one the owner already has is
/// `NameTaken`.
pub fn rename(store: &dyn Store, workspace_id: &str, name: &str) -> Result<(), WorkspaceError> {
    crate::names::name_valid(name).map_err(|why| WorkspaceError::InvalidName { name: name.to_owned(), why })?;
    in_tx(store, TxOptions::write("rename workspace"), |tx| {
        let workspace = tx.get_workspace_by_id(workspace_id)?;
        if workspace.deleted {
            return Err(WorkspaceError::Deleted("rename"));
        }
        tx.update_workspace_name(workspace_id, name, tx.clock().now()).map_err(|e| {
            if e.is_unique_violation_of("workspaces_owner_id_lower_idx") {
                WorkspaceError::NameTaken { username: String::new(), name: name.to_owned() }
            } else {
                e.into()
            }
        })
    })
}

/// Why a deadline was not moved (upstream's `putExtendWorkspace` checks and messages).
#[derive(Debug, thiserror::Error)]
pub enum ExtendError {
    /// The latest build is not a start (409).
    #[error("Workspace must be started, current status: {0}")]
    NotStarted(String),
    /// The latest build's job has not completed (409).
    #[error("Workspace is still building!")]
    StillBuilding,
    /// The running workspace has no deadline to move (409).
    #[error("Workspace shutdown is manual.")]
    Manual,
    /// The new deadline is too early (400).
    #[error("Cannot extend workspace: {0}")]
    TooEarly(&'static str),
    #[error(transparent)]
    Database(#[from] crate::database::Error),
}

/// Moves the deadline of the workspace's latest (started) build to `deadline`: at least 30
/// minutes from now (upstream allows a minute of slack: 29) and not before the build
/// finished.
pub fn extend_deadline(
    store: &dyn Store,
    workspace_id: &str,
    deadline: crate::clock::Timestamp,
) -> Result<(), ExtendError> {
    use crate::database::models::WorkspaceTransition;
    in_tx(store, TxOptions::write("extend workspace deadline"), |tx| {
        let Some(build) = tx.get_workspace_builds_by_workspace_id(workspace_id)?.into_iter().next() else {
            return Err(ExtendError::NotStarted("none".to_owned()));
        };
        if build.transition != WorkspaceTransition::Start {
            return Err(ExtendError::NotStarted(build.transition.as_str().to_owned()));
        }
        let job = tx.get_provisioner_job_by_id(&build.job_id)?;
        let Some(completed) = job.completed_at else {
            return Err(ExtendError::StillBuilding);
        };
        if build.deadline.is_none() {
            return Err(ExtendError::Manual);
        }
        let now = tx.clock().now();
        if deadline < now + chrono::Duration::minutes(29) {
            return Err(ExtendError::TooEarly("new deadline must be at least 30 minutes in the future"));
        }
        if deadline < completed {
            // Upstream's wording, "before" where it means "after".
            return Err(ExtendError::TooEarly("new deadline must be before workspace start time"));
        }
        tx.update_workspace_build_deadline(&build.id, Some(crate::clock::truncate_to_micros(deadline)))?;
        Ok(())
    })
}
