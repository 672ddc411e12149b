//! The reconciler's writes: create, delete, cancel pending, the hard-limit status and
//! invalidate (claiming is a workspace creation: `workspaces::claim`). Each runs in its own short write
//! transaction; timestamps come from the store's clock.

use crate::database;
use crate::database::Store;
use crate::database::TxOptions;
use crate::database::in_tx;
use crate::database::models::InsertWorkspace;
use crate::database::models::PREBUILDS_SYSTEM_USER_ID;
use crate::database::models::PrebuildStatus;
use crate::database::models::Workspace;
use crate::database::models::WorkspaceTransition;
use crate::workspaces::builds::BuildJob;
use crate::workspaces::builds::NewBuild;
use crate::workspaces::builds::insert_build;
use crate::workspaces::builds::next_build_of;

/// Why a prebuild write failed.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("build: required parameter {name:?} of template version {version:?} is not set by preset {preset:?}")]
    MissingParameter { name: String, version: String, preset: String },
    #[error("delete prebuilt workspace {id}: owner is no longer the prebuilds user (probably it was claimed)")]
    Claimed { id: String },
    #[error(transparent)]
    Database(#[from] database::Error),
}

/// The notification template of the hard-limit transition.
pub const HARD_LIMIT_NOTIFICATION: &str = "prebuild_failure_limit_reached";

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// `prebuild-` and 15 characters of lowercase base32 (9 random bytes, no padding).
pub fn prebuild_name() -> String {
    let mut bytes = [0u8; 9];
    getrandom::fill(&mut bytes).expect("OS randomness");
    let mut bits: u64 = 0;
    let mut n_bits = 0;
    let mut out = String::with_capacity(24);
    out.push_str("prebuild-");
    for b in bytes {
        bits = (bits << 8) | u64::from(b);
        n_bits += 8;
        while n_bits >= 5 {
            n_bits -= 5;
            out.push(BASE32[((bits >> n_bits) & 31) as usize] as char);
        }
    }
    if n_bits > 0 {
        out.push(BASE32[((bits << (5 - n_bits)) & 31) as usize] as char);
    }
    out
}

/// Creates a prebuilt workspace of `preset_id` and its first build (start, active version,
/// the preset's parameters) in one transaction. A build that cannot be created (a required
/// parameter the preset does not set) rolls the workspace back: no row remains.
pub fn create_prebuilt_workspace(
    store: &dyn Store,
    template_id: &str,
    preset_id: &str,
) -> Result<Workspace, ProvisionError> {
    in_tx(store, TxOptions::write("create prebuilt workspace"), |tx| {
        let now = tx.clock().now();
        let template = tx.get_template_by_id(template_id)?;
        let workspace = tx.insert_workspace(&InsertWorkspace {
            id: &uuid::Uuid::new_v4().to_string(),
            created_at: now,
            owner_id: PREBUILDS_SYSTEM_USER_ID,
            organization_id: &template.organization_id,
            template_id: &template.id,
            name: &prebuild_name(),
            last_used_at: now,
            autostart_schedule: None,
            ttl_ms: None,
        })?;
        let version = &template.active_version_id;
        let preset_params: Vec<(String, String)> = tx
            .get_preset_parameters_by_template_version_id(version)?
            .into_iter()
            .filter(|p| p.template_version_preset_id == preset_id)
            .map(|p| (p.name, p.value))
            .collect();
        for param in tx.get_template_version_parameters(version)? {
            if param.required && !preset_params.iter().any(|(n, _)| *n == param.name) {
                return Err(ProvisionError::MissingParameter {
                    name: param.name,
                    version: version.clone(),
                    preset: preset_id.to_owned(),
                });
            }
        }
        let build = insert_build(
            tx,
            &reconciler_build(&workspace, version, 1, WorkspaceTransition::Start, Some(preset_id), BuildJob::Pending),
        )?;
        for (name, value) in &preset_params {
            tx.insert_workspace_build_parameter(&crate::database::models::InsertWorkspaceBuildParameter {
                workspace_build_id: &build.id,
                name,
                value,
            })?;
        }
        Ok(workspace)
    })
}

/// Starts a delete build of a prebuilt workspace (on the version of its previous build, no
/// preset); refuses when the owner is no longer the prebuilds user.
pub fn delete_prebuilt_workspace(store: &dyn Store, workspace_id: &str) -> Result<(), ProvisionError> {
    in_tx(store, TxOptions::write("delete prebuilt workspace"), |tx| {
        let workspace = tx.get_workspace_by_id(workspace_id)?;
        if workspace.owner_id != PREBUILDS_SYSTEM_USER_ID {
            return Err(ProvisionError::Claimed { id: workspace.id });
        }
        let (version, number) = next_build_of(tx, &workspace)?;
        insert_build(
            tx,
            &reconciler_build(&workspace, &version, number, WorkspaceTransition::Delete, None, BuildJob::Pending),
        )?;
        Ok(())
    })
}

/// Cancels a preset's pending first builds on inactive versions and deletes their
/// workspaces at once (the canceled jobs never ran, so nothing exists to tear down), in one
/// transaction. Returns how many were canceled.
pub fn cancel_pending_prebuilds(store: &dyn Store, preset_id: &str) -> Result<usize, ProvisionError> {
    in_tx(store, TxOptions::write("cancel pending prebuilds"), |tx| {
        let now = tx.clock().now();
        let canceled = tx.update_prebuild_provisioner_job_with_cancel(preset_id, now)?;
        for job in &canceled {
            let workspace = tx.get_workspace_by_id(&job.workspace_id)?;
            let (version, number) = next_build_of(tx, &workspace)?;
            // An orphan delete: nothing was provisioned, so its job is done at once.
            insert_build(
                tx,
                &reconciler_build(&workspace, &version, number, WorkspaceTransition::Delete, None, BuildJob::Completed),
            )?;
            tx.update_workspace_deleted(&job.workspace_id, true, now)?;
        }
        Ok(canceled.len())
    })
}

/// Marks a preset hard-limited and enqueues one notification per template admin, in one
/// transaction (called only on the healthy → hard_limited transition).
pub fn mark_hard_limited(
    store: &dyn Store,
    preset: &crate::prebuilds::state::PresetInfo,
) -> Result<usize, ProvisionError> {
    in_tx(store, TxOptions::write("mark preset hard limited"), |tx| {
        let now = tx.clock().now();
        tx.update_preset_prebuild_status(&preset.preset_id, PrebuildStatus::HardLimited)?;
        let admins = tx.get_template_admins(&preset.organization_id)?;
        let payload = serde_json::json!({
            "template": preset.template_name,
            "template_version": preset.template_version_id,
            "preset": preset.preset_name,
            "organization": preset.organization_name,
        });
        for admin in &admins {
            tx.insert_notification_message(&crate::database::models::InsertNotificationMessage {
                id: &uuid::Uuid::new_v4().to_string(),
                notification_template_id: HARD_LIMIT_NOTIFICATION,
                user_id: admin,
                payload: &payload,
                created_at: now,
            })?;
        }
        if admins.is_empty() {
            tracing::warn!(preset_id = %preset.preset_id, "preset hit the failure hard limit; no template admin to notify");
        }
        Ok(admins.len())
    })
}

/// Invalidates a template's prebuilds: every running prebuild of its active version's
/// presets created before now counts as expired from the next cycle on.
pub fn invalidate_prebuilds(store: &dyn Store, template_id: &str) -> Result<Vec<String>, ProvisionError> {
    let now = store.clock().now();
    Ok(store.update_presets_last_invalidated_at(template_id, now)?)
}

/// The job input that marks a build as the reconciler's (upstream's prebuild markers).
fn prebuild_input(orphan: bool) -> serde_json::Map<String, serde_json::Value> {
    let mut input = serde_json::Map::new();
    input.insert("is_prebuild".to_owned(), serde_json::Value::Bool(true));
    input.insert("orphan".to_owned(), serde_json::Value::Bool(orphan));
    input
}

/// A build the reconciler starts, as the prebuilds system user.
fn reconciler_build<'a>(
    workspace: &'a Workspace,
    version: &'a str,
    number: i64,
    transition: WorkspaceTransition,
    preset_id: Option<&'a str>,
    job: BuildJob,
) -> NewBuild<'a> {
    NewBuild {
        workspace,
        template_version_id: version,
        build_number: number,
        transition,
        template_version_preset_id: preset_id,
        initiator_id: PREBUILDS_SYSTEM_USER_ID,
        reason: "initiator",
        job_input: prebuild_input(job == BuildJob::Completed),
        job,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_prebuild_and_15_base32_characters() {
        for _ in 0..100 {
            let name = prebuild_name();
            let suffix = name.strip_prefix("prebuild-").unwrap();
            assert_eq!(suffix.len(), 15, "{name}");
            assert!(suffix.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)), "{name}");
        }
    }
}
