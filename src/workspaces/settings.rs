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
            return Err(WorkspaceError::InvalidAutostart(
                "autostart is not allowed for workspaces using this template".to_owned(),
            ));
        }
        let now = tx.clock().now();
        let next = parsed.as_ref().and_then(|s| next_allowed_autostart(now, s, &template.scheduling));
        tx.update_workspace_autostart(workspace_id, raw, next, now)?;
        Ok(())
    })
}

/// Sets the workspace's time to shutdown with upstream's rules (a minute to 30 days, whole
/// minutes; none or 0: the template's default). A template that does not let users set
/// autostop refuses a change.
pub fn set_ttl(store: &dyn Store, workspace_id: &str, ttl_ms: Option<i64>) -> Result<(), WorkspaceError> {
    in_tx(store, TxOptions::write("set workspace ttl"), |tx| {
        let workspace = tx.get_workspace_by_id(workspace_id)?;
        let template = tx.get_template_by_id(&workspace.template_id)?;
        if !template.scheduling.allow_user_autostop {
            return Err(WorkspaceError::InvalidTtl(
                "custom autostop TTL is not allowed for workspaces using this template".to_owned(),
            ));
        }
        let ttl = valid_ttl_ms(ttl_ms, &template.scheduling).map_err(WorkspaceError::InvalidTtl)?;
        tx.update_workspace_ttl(workspace_id, ttl, tx.clock().now())?;
        Ok(())
    })
}
