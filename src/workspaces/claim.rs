//! Claiming a ready prebuilt workspace for a user: a workspace creation that takes over an
//! existing workspace instead of building a new one (upstream's create-workspace with a
//! preset). The API's workspace creation and `coderlite prebuilds claim` both come here; the
//! checks of the request are those of [`create`](crate::workspaces::create).

use crate::database::Store;
use crate::database::TxOptions;
use crate::database::in_tx;
use crate::database::models::ClaimPrebuild;
use crate::database::models::ClaimedPrebuild;
use crate::database::models::WorkspaceTransition;
use crate::workspaces::builds;
use crate::workspaces::builds::BuildJob;
use crate::workspaces::builds::NewBuild;
use crate::workspaces::builds::insert_build;
use crate::workspaces::builds::next_build_of;
use crate::workspaces::create::WorkspaceError;
use crate::workspaces::create::check_owner_name_and_schedule;
use crate::workspaces::schedule::next_allowed_autostart;
use crate::workspaces::schedule::valid_ttl_ms;

/// A successful claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub workspace_id: String,
    pub name: String,
    /// The claimant's start build.
    pub build_id: String,
}

/// What a claim asks for, as upstream's create-workspace request: the preset, the claiming
/// user, the workspace's new name, and its schedule (autostart cron, TTL; none → the
/// template's default TTL).
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest<'a> {
    pub preset_id: &'a str,
    pub user_id: &'a str,
    pub name: &'a str,
    pub autostart_schedule: Option<&'a str>,
    pub ttl_ms: Option<i64>,
}

/// Claims the oldest ready prebuild of the preset for the user, in one write transaction, as
/// upstream's workspace creation does: the workspace changes owner and name, gets the
/// autostart schedule (the next start on a day the template allows), the TTL (or the
/// template's default) and loses any dormancy, and the claimant's start build is queued
/// (initiated by the user, the prebuild's parameters kept). `None` when none is claimable
/// (the caller creates an ordinary workspace instead). Bad input (name, schedule, TTL, a
/// system user, a name the user already has) is an error and nothing is written.
pub fn claim_prebuilt_workspace(store: &dyn Store, req: &ClaimRequest<'_>) -> Result<Option<Claimed>, WorkspaceError> {
    let (user, schedule) = check_owner_name_and_schedule(store, req.user_id, req.name, req.autostart_schedule)?;
    in_tx(store, TxOptions::write("claim prebuilt workspace"), |tx| {
        let now = tx.clock().now();
        let preset = tx.get_preset_by_id(req.preset_id)?;
        let version = tx.get_template_version_by_id(&preset.template_version_id)?;
        let Some(template_id) = version.template_id.as_deref() else { return Ok(None) };
        let template = tx.get_template_by_id(template_id)?;
        let ttl_ms = valid_ttl_ms(req.ttl_ms, &template.scheduling).map_err(WorkspaceError::InvalidTtl)?;
        let next_start_at = schedule.as_ref().and_then(|s| next_allowed_autostart(now, s, &template.scheduling));
        let claim = ClaimPrebuild {
            preset_id: req.preset_id,
            new_owner_id: req.user_id,
            new_name: req.name,
            now,
            autostart_schedule: schedule.as_ref().and(req.autostart_schedule),
            next_start_at,
            ttl_ms,
        };
        let ClaimedPrebuild { workspace_id, name } = match tx.claim_prebuilt_workspace(&claim) {
            Ok(Some(claimed)) => claimed,
            Ok(None) => return Ok(None),
            Err(e) if e.is_unique_violation_of("workspaces_owner_id_lower_idx") => {
                return Err(WorkspaceError::NameTaken { username: user.username.clone(), name: req.name.to_owned() });
            }
            Err(e) => return Err(e.into()),
        };
        let workspace = tx.get_workspace_by_id(&workspace_id)?;
        let previous = tx.get_workspace_builds_by_workspace_id(&workspace_id)?.into_iter().next();
        let (version_id, number) = next_build_of(tx, &workspace)?;
        let mut input = serde_json::Map::new();
        input.insert("prebuilt_workspace_build_stage".to_owned(), serde_json::Value::String("claim".to_owned()));
        let build = insert_build(
            tx,
            &NewBuild {
                workspace: &workspace,
                template_version_id: &version_id,
                build_number: number,
                transition: WorkspaceTransition::Start,
                template_version_preset_id: Some(req.preset_id),
                initiator_id: req.user_id,
                reason: "initiator",
                job_input: input,
                job: BuildJob::Pending,
            },
        )?;
        if let Some(previous) = previous {
            builds::copy_build_parameters(tx, &previous.id, &build.id)?;
        }
        Ok(Some(Claimed { workspace_id, name, build_id: build.id }))
    })
}
