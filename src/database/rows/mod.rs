//! One column list and one mapper per row type, for both engines (sqlx's `FromRow` idea).
//! A mapper reads a row through [`RowReader`], whose typed getters each engine implements
//! over its own row type, converting its storage types: IDs (TEXT / `uuid`), timestamps
//! (INTEGER microseconds / `timestamptz`), booleans (INTEGER / `boolean`), JSON (TEXT /
//! `jsonb`). So the engines differ in SQL and in those conversions, never in which column
//! fills which field.

mod identity;
mod prebuilds;
mod system;
mod templates;

use std::str::FromStr;

use crate::clock::Timestamp;
use crate::database::Error;
use crate::database::Result;
use crate::database::models::AiProvider;
use crate::database::models::ApiKey;
use crate::database::models::Group;
use crate::database::models::GroupMember;
use crate::database::models::Organization;
use crate::database::models::Preset;
use crate::database::models::ProvisionerJob;
use crate::database::models::ReplicaRow;
use crate::database::models::RunningWorkspaceAgent;
use crate::database::models::Template;
use crate::database::models::TemplateScheduling;
use crate::database::models::TemplateVersion;
use crate::database::models::User;
use crate::database::models::Workspace;
use crate::database::models::WorkspaceAgent;
use crate::database::models::WorkspaceBuild;
use crate::database::models::WorkspaceResource;
pub(crate) use crate::database::rows::identity::*;
pub(crate) use crate::database::rows::prebuilds::*;
pub(crate) use crate::database::rows::system::*;
pub(crate) use crate::database::rows::templates::*;

/// Typed reads of one row's columns by index; a value of the wrong type is
/// `Error::InvalidValue`, never a panic.
pub(crate) trait RowReader {
    /// The operation reading the row, for errors.
    fn op(&self) -> &'static str;
    fn text(&self, idx: usize) -> Result<String>;
    fn opt_text(&self, idx: usize) -> Result<Option<String>>;
    /// A UUID column as the lowercase hyphenated text every ID is in the domain.
    fn id(&self, idx: usize) -> Result<String>;
    fn opt_id(&self, idx: usize) -> Result<Option<String>>;
    fn bool(&self, idx: usize) -> Result<bool>;
    fn i64(&self, idx: usize) -> Result<i64>;
    fn opt_i64(&self, idx: usize) -> Result<Option<i64>>;
    fn time(&self, idx: usize) -> Result<Timestamp>;
    fn opt_time(&self, idx: usize) -> Result<Option<Timestamp>>;
    fn opt_bool(&self, idx: usize) -> Result<Option<bool>>;
    fn opt_f64(&self, idx: usize) -> Result<Option<f64>>;
    fn bytes(&self, idx: usize) -> Result<Vec<u8>>;
    /// A JSON column as a value.
    fn json(&self, idx: usize) -> Result<serde_json::Value>;
    /// A nullable JSON column as compact JSON text.
    fn opt_json_text(&self, idx: usize) -> Result<Option<String>>;
}

/// A TEXT enum column, naming the column when the stored value is unknown.
pub(crate) fn text_enum<T: FromStr<Err = String>>(r: &dyn RowReader, idx: usize, column: &'static str) -> Result<T> {
    r.text(idx)?.parse().map_err(|message| Error::InvalidValue { op: r.op(), column, message })
}

/// A nullable TEXT enum column.
pub(crate) fn opt_text_enum<T: FromStr<Err = String>>(
    r: &dyn RowReader,
    idx: usize,
    column: &'static str,
) -> Result<Option<T>> {
    r.opt_text(idx)?
        .map(|t| t.parse().map_err(|message| Error::InvalidValue { op: r.op(), column, message }))
        .transpose()
}

/// A JSON column decoded into `T`.
pub(crate) fn json_as<T: serde::de::DeserializeOwned>(
    r: &dyn RowReader,
    idx: usize,
    column: &'static str,
) -> Result<T> {
    serde_json::from_value(r.json(idx)?).map_err(|e| Error::InvalidValue { op: r.op(), column, message: e.to_string() })
}

/// A days-of-week bitmap column (bit 0 = Monday).
fn day_bitmap(r: &dyn RowReader, idx: usize, column: &'static str) -> Result<u8> {
    let v = r.i64(idx)?;
    u8::try_from(v).map_err(|_| Error::InvalidValue { op: r.op(), column, message: format!("{v} out of range") })
}

/// A column list with every column qualified by a table alias, for joins.
pub(crate) fn prefixed(alias: &str, columns: &str) -> String {
    columns.split(", ").map(|c| format!("{alias}.{c}")).collect::<Vec<_>>().join(", ")
}

pub(crate) const PROVIDER_COLUMNS: &str =
    "id, type, name, display_name, enabled, deleted, base_url, settings, created_at, updated_at";

pub(crate) fn ai_provider(r: &dyn RowReader) -> Result<AiProvider> {
    Ok(AiProvider {
        id: r.id(0)?,
        provider_type: text_enum(r, 1, "ai_providers.type")?,
        name: r.text(2)?,
        display_name: r.text(3)?,
        enabled: r.bool(4)?,
        deleted: r.bool(5)?,
        base_url: r.text(6)?,
        settings: r.opt_json_text(7)?,
        created_at: r.time(8)?,
        updated_at: r.time(9)?,
    })
}

pub(crate) const API_KEY_COLUMNS: &str = "id, hashed_secret, user_id, last_used, expires_at, created_at, updated_at, \
                                          login_type, lifetime_seconds, token_name, scope";

pub(crate) fn api_key(r: &dyn RowReader) -> Result<ApiKey> {
    Ok(ApiKey {
        // Upstream's 10-character key ID, not a UUID.
        id: r.text(0)?,
        hashed_secret: r.bytes(1)?,
        user_id: r.id(2)?,
        last_used: r.time(3)?,
        expires_at: r.time(4)?,
        created_at: r.time(5)?,
        updated_at: r.time(6)?,
        login_type: text_enum(r, 7, "api_keys.login_type")?,
        lifetime_seconds: r.i64(8)?,
        token_name: r.text(9)?,
        scope: r.text(10)?,
    })
}

pub(crate) const ORGANIZATION_COLUMNS: &str = "id, name, display_name, description, is_default, created_at, updated_at";

pub(crate) fn organization(r: &dyn RowReader) -> Result<Organization> {
    Ok(Organization {
        id: r.id(0)?,
        name: r.text(1)?,
        display_name: r.text(2)?,
        description: r.text(3)?,
        is_default: r.bool(4)?,
        created_at: r.time(5)?,
        updated_at: r.time(6)?,
    })
}

pub(crate) const USER_COLUMNS: &str = "id, email, username, name, status, login_type, is_system, deleted, created_at, \
     updated_at, last_seen_at, rbac_roles, avatar_url";

pub(crate) fn user(r: &dyn RowReader) -> Result<User> {
    Ok(User {
        id: r.id(0)?,
        email: r.text(1)?,
        username: r.text(2)?,
        name: r.text(3)?,
        status: text_enum(r, 4, "users.status")?,
        login_type: text_enum(r, 5, "users.login_type")?,
        is_system: r.bool(6)?,
        deleted: r.bool(7)?,
        created_at: r.time(8)?,
        updated_at: r.time(9)?,
        last_seen_at: r.time(10)?,
        rbac_roles: json_as(r, 11, "users.rbac_roles")?,
        avatar_url: r.text(12)?,
    })
}

pub(crate) const GROUP_COLUMNS: &str = "id, name, display_name, organization_id, avatar_url, quota_allowance";

pub(crate) fn group(r: &dyn RowReader) -> Result<Group> {
    Ok(Group {
        id: r.id(0)?,
        name: r.text(1)?,
        display_name: r.text(2)?,
        organization_id: r.id(3)?,
        avatar_url: r.text(4)?,
        quota_allowance: r.i64(5)?,
    })
}

pub(crate) const GROUP_MEMBER_COLUMNS: &str =
    "user_id, user_username, user_email, user_is_system, organization_id, group_id, group_name";

pub(crate) fn group_member(r: &dyn RowReader) -> Result<GroupMember> {
    Ok(GroupMember {
        user_id: r.id(0)?,
        user_username: r.text(1)?,
        user_email: r.text(2)?,
        user_is_system: r.bool(3)?,
        organization_id: r.id(4)?,
        group_id: r.id(5)?,
        group_name: r.text(6)?,
    })
}

pub(crate) const REPLICA_COLUMNS: &str = "id, hostname, pid, version, started_at, updated_at, stopped_at";

pub(crate) fn replica(r: &dyn RowReader) -> Result<ReplicaRow> {
    Ok(ReplicaRow {
        // Replica IDs are text on both engines (a restore registers `restore:<uuid>`).
        id: r.text(0)?,
        hostname: r.text(1)?,
        pid: r.i64(2)?,
        version: r.text(3)?,
        started_at: r.time(4)?,
        updated_at: r.time(5)?,
        stopped_at: r.opt_time(6)?,
    })
}

pub(crate) const JOB_COLUMNS: &str = "id, created_at, started_at, completed_at, canceled_at, error, worker_id, \
                                      initiator_id, organization_id, type, input, job_status, file_id";

pub(crate) fn job(r: &dyn RowReader) -> Result<ProvisionerJob> {
    Ok(ProvisionerJob {
        id: r.id(0)?,
        created_at: r.time(1)?,
        started_at: r.opt_time(2)?,
        completed_at: r.opt_time(3)?,
        canceled_at: r.opt_time(4)?,
        error: r.opt_text(5)?,
        worker_id: r.opt_text(6)?,
        initiator_id: r.id(7)?,
        organization_id: r.id(8)?,
        job_type: text_enum(r, 9, "provisioner_jobs.type")?,
        input: r.json(10)?,
        job_status: text_enum(r, 11, "provisioner_jobs.job_status")?,
        file_id: r.opt_id(12)?,
    })
}

pub(crate) const TEMPLATE_COLUMNS: &str = "id, organization_id, name, display_name, created_at, updated_at, created_by, \
     deleted, deprecated, active_version_id, description, icon, default_ttl_ms, activity_bump_ms, \
     autostart_block_days_of_week, autostop_requirement_days_of_week, autostop_requirement_weeks, \
     allow_user_autostart, allow_user_autostop, failure_ttl_ms, time_til_dormant_ms, time_til_dormant_autodelete_ms, \
     allow_user_cancel_workspace_jobs, require_active_version";

/// How many columns `TEMPLATE_COLUMNS` names: where a join's extra columns start.
pub(crate) const TEMPLATE_COLUMN_COUNT: usize = 24;

pub(crate) fn template(r: &dyn RowReader) -> Result<Template> {
    Ok(Template {
        id: r.id(0)?,
        organization_id: r.id(1)?,
        name: r.text(2)?,
        display_name: r.text(3)?,
        created_at: r.time(4)?,
        updated_at: r.time(5)?,
        created_by: r.opt_id(6)?,
        deleted: r.bool(7)?,
        deprecated: r.text(8)?,
        active_version_id: r.id(9)?,
        description: r.text(10)?,
        icon: r.text(11)?,
        scheduling: TemplateScheduling {
            default_ttl_ms: r.i64(12)?,
            activity_bump_ms: r.i64(13)?,
            autostart_block_days_of_week: day_bitmap(r, 14, "templates.autostart_block_days_of_week")?,
            autostop_requirement_days_of_week: day_bitmap(r, 15, "templates.autostop_requirement_days_of_week")?,
            autostop_requirement_weeks: r.i64(16)?,
            allow_user_autostart: r.bool(17)?,
            allow_user_autostop: r.bool(18)?,
            failure_ttl_ms: r.i64(19)?,
            time_til_dormant_ms: r.i64(20)?,
            time_til_dormant_autodelete_ms: r.i64(21)?,
        },
        allow_user_cancel_workspace_jobs: r.bool(22)?,
        require_active_version: r.bool(23)?,
    })
}

pub(crate) const VERSION_COLUMNS: &str = "id, template_id, organization_id, name, created_at, job_id, fail_builds";

pub(crate) fn template_version(r: &dyn RowReader) -> Result<TemplateVersion> {
    Ok(TemplateVersion {
        id: r.id(0)?,
        template_id: r.opt_id(1)?,
        organization_id: r.id(2)?,
        name: r.text(3)?,
        created_at: r.time(4)?,
        job_id: r.id(5)?,
        fail_builds: r.bool(6)?,
    })
}

pub(crate) const PRESET_COLUMNS: &str = "id, template_version_id, name, created_at, desired_instances, \
     invalidate_after_secs, scheduling_timezone, prebuild_status, last_invalidated_at, is_default";

pub(crate) fn preset(r: &dyn RowReader) -> Result<Preset> {
    Ok(Preset {
        id: r.id(0)?,
        template_version_id: r.id(1)?,
        name: r.text(2)?,
        created_at: r.time(3)?,
        desired_instances: r.opt_i64(4)?,
        invalidate_after_secs: r.opt_i64(5)?,
        scheduling_timezone: r.text(6)?,
        prebuild_status: text_enum(r, 7, "template_version_presets.prebuild_status")?,
        last_invalidated_at: r.opt_time(8)?,
        is_default: r.bool(9)?,
    })
}

pub(crate) const WORKSPACE_COLUMNS: &str = "id, created_at, updated_at, owner_id, organization_id, template_id, name, \
     deleted, last_used_at, autostart_schedule, ttl_ms, next_start_at, dormant_at, deleting_at";

pub(crate) fn workspace(r: &dyn RowReader) -> Result<Workspace> {
    Ok(Workspace {
        id: r.id(0)?,
        created_at: r.time(1)?,
        updated_at: r.time(2)?,
        owner_id: r.id(3)?,
        organization_id: r.id(4)?,
        template_id: r.id(5)?,
        name: r.text(6)?,
        deleted: r.bool(7)?,
        last_used_at: r.time(8)?,
        autostart_schedule: r.opt_text(9)?,
        ttl_ms: r.opt_i64(10)?,
        next_start_at: r.opt_time(11)?,
        dormant_at: r.opt_time(12)?,
        deleting_at: r.opt_time(13)?,
    })
}

pub(crate) const BUILD_COLUMNS: &str = "id, created_at, workspace_id, template_version_id, build_number, transition, \
                                        initiator_id, job_id, reason, template_version_preset_id, deadline";

pub(crate) fn workspace_build(r: &dyn RowReader) -> Result<WorkspaceBuild> {
    Ok(WorkspaceBuild {
        id: r.id(0)?,
        created_at: r.time(1)?,
        workspace_id: r.id(2)?,
        template_version_id: r.id(3)?,
        build_number: r.i64(4)?,
        transition: text_enum(r, 5, "workspace_builds.transition")?,
        initiator_id: r.id(6)?,
        job_id: r.id(7)?,
        reason: r.text(8)?,
        template_version_preset_id: r.opt_id(9)?,
        deadline: r.opt_time(10)?,
    })
}

pub(crate) const RESOURCE_COLUMNS: &str = "id, created_at, job_id, transition, type, name";

pub(crate) fn workspace_resource(r: &dyn RowReader) -> Result<WorkspaceResource> {
    Ok(WorkspaceResource {
        id: r.id(0)?,
        created_at: r.time(1)?,
        job_id: r.id(2)?,
        transition: text_enum(r, 3, "workspace_resources.transition")?,
        resource_type: r.text(4)?,
        name: r.text(5)?,
    })
}

pub(crate) const AGENT_COLUMNS: &str =
    "id, created_at, updated_at, resource_id, name, lifecycle_state, ready_at, parent_id";

pub(crate) fn workspace_agent(r: &dyn RowReader) -> Result<WorkspaceAgent> {
    Ok(WorkspaceAgent {
        id: r.id(0)?,
        created_at: r.time(1)?,
        updated_at: r.time(2)?,
        resource_id: r.id(3)?,
        name: r.text(4)?,
        lifecycle_state: text_enum(r, 5, "workspace_agents.lifecycle_state")?,
        ready_at: r.opt_time(6)?,
        parent_id: r.opt_id(7)?,
    })
}

/// (workspace id, owner id, template id, agent id).
pub(crate) fn running_workspace_agent(r: &dyn RowReader) -> Result<RunningWorkspaceAgent> {
    Ok(RunningWorkspaceAgent { workspace_id: r.id(0)?, owner_id: r.id(1)?, template_id: r.id(2)?, agent_id: r.id(3)? })
}
