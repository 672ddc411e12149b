//! Provisioner jobs, templates, template versions and their parameters, presets, preset
//! parameters and prebuild schedules.

use rusqlite::Connection;
use rusqlite::Row;
use rusqlite::params;

use crate::clock::Timestamp;
use crate::clock::to_micros;
use crate::database::Result;
use crate::database::TemplateStore;
use crate::database::models::InsertPreset;
use crate::database::models::InsertProvisionerJob;
use crate::database::models::InsertTemplate;
use crate::database::models::InsertTemplateVersion;
use crate::database::models::Preset;
use crate::database::models::PresetParameter;
use crate::database::models::PresetPrebuildSchedule;
use crate::database::models::ProvisionerJob;
use crate::database::models::Template;
use crate::database::models::TemplateMeta;
use crate::database::models::TemplateVersion;
use crate::database::models::TemplateVersionParameter;
use crate::database::models::TemplateWithNames;
use crate::database::rows;
use crate::database::rows::JOB_COLUMNS;
use crate::database::rows::PRESET_COLUMNS;
use crate::database::rows::TEMPLATE_COLUMN_COUNT;
use crate::database::rows::TEMPLATE_COLUMNS;
use crate::database::rows::VERSION_COLUMNS;
use crate::database::sqlite::errors::OpContext;
use crate::database::sqlite::queries::from_row;
use crate::database::sqlite::queries::json_ids;
use crate::database::sqlite::queries::opt_micros;
use crate::database::sqlite::tx::SqliteTx;

pub(crate) fn job_from_row(r: &Row<'_>) -> rusqlite::Result<ProvisionerJob> {
    from_row(rows::job, r)
}

pub(crate) fn insert_provisioner_job(conn: &Connection, p: &InsertProvisionerJob<'_>) -> Result<ProvisionerJob> {
    let op = "insert provisioner job";
    conn.prepare_cached(&format!(
        "INSERT INTO provisioner_jobs (id, created_at, updated_at, started_at, completed_at, canceled_at, error,
                                       worker_id, initiator_id, organization_id, type, input, file_id)
         VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING {JOB_COLUMNS}"
    ))
    .op(op)?
    .query_row(
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
        job_from_row,
    )
    .op(op)
}

pub(crate) fn get_provisioner_job_by_id(conn: &Connection, id: &str) -> Result<ProvisionerJob> {
    let op = "get provisioner job by id";
    conn.prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM provisioner_jobs WHERE id = ?1"))
        .op(op)?
        .query_row([id], job_from_row)
        .op(op)
}

pub(crate) fn get_provisioner_jobs_by_ids(conn: &Connection, ids: &[String]) -> Result<Vec<ProvisionerJob>> {
    let op = "get provisioner jobs by ids";
    conn.prepare_cached(&format!(
        "SELECT {JOB_COLUMNS} FROM provisioner_jobs WHERE id IN (SELECT value FROM json_each(?1))"
    ))
    .op(op)?
    .query_map([json_ids(ids)], job_from_row)
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

fn template_from_row(r: &Row<'_>) -> rusqlite::Result<Template> {
    from_row(rows::template, r)
}

pub(crate) fn insert_template(conn: &Connection, p: &InsertTemplate<'_>) -> Result<Template> {
    let op = "insert template";
    let s = &p.scheduling;
    conn.prepare_cached(&format!(
        "INSERT INTO templates (id, organization_id, name, display_name, created_at, updated_at, created_by,
                                deprecated, active_version_id, description, icon, default_ttl_ms, activity_bump_ms,
                                autostart_block_days_of_week, autostop_requirement_days_of_week,
                                autostop_requirement_weeks, allow_user_autostart, allow_user_autostop, failure_ttl_ms,
                                time_til_dormant_ms, time_til_dormant_autodelete_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)
         RETURNING {TEMPLATE_COLUMNS}"
    ))
    .op(op)?
    .query_row(
        params![
            p.id,
            p.organization_id,
            p.name,
            p.display_name,
            to_micros(p.created_at),
            p.created_by,
            p.deprecated,
            p.active_version_id,
            p.description,
            p.icon,
            s.default_ttl_ms,
            s.activity_bump_ms,
            s.autostart_block_days_of_week,
            s.autostop_requirement_days_of_week,
            s.autostop_requirement_weeks,
            s.allow_user_autostart,
            s.allow_user_autostop,
            s.failure_ttl_ms,
            s.time_til_dormant_ms,
            s.time_til_dormant_autodelete_ms,
        ],
        template_from_row,
    )
    .op(op)
}

pub(crate) fn get_template_by_id(conn: &Connection, id: &str) -> Result<Template> {
    let op = "get template by id";
    conn.prepare_cached(&format!("SELECT {TEMPLATE_COLUMNS} FROM templates WHERE id = ?1"))
        .op(op)?
        .query_row([id], template_from_row)
        .op(op)
}

/// How many templates exist, deleted ones included.
pub(crate) fn count_templates(conn: &Connection) -> Result<i64> {
    let op = "count templates";
    conn.prepare_cached("SELECT COUNT(*) FROM templates").op(op)?.query_row([], |r| r.get(0)).op(op)
}

/// Every template, live ones or all, with the names a listing shows, by organization name
/// and template name.
pub(crate) fn get_templates(conn: &Connection, include_deleted: bool) -> Result<Vec<TemplateWithNames>> {
    let op = "get templates";
    let columns = TEMPLATE_COLUMNS.split(", ").map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", ");
    conn.prepare_cached(&format!(
        "SELECT {columns}, o.name, o.display_name, tv.name, u.username
         FROM templates t
         JOIN organizations o ON o.id = t.organization_id
         JOIN template_versions tv ON tv.id = t.active_version_id
         LEFT JOIN users u ON u.id = t.created_by
         WHERE ?1 OR t.deleted = 0
         ORDER BY o.name, t.name, t.created_at"
    ))
    .op(op)?
    .query_map([include_deleted], |r| {
        Ok(TemplateWithNames {
            template: template_from_row(r)?,
            organization_name: r.get(TEMPLATE_COLUMN_COUNT)?,
            organization_display_name: r.get(TEMPLATE_COLUMN_COUNT + 1)?,
            active_version_name: r.get(TEMPLATE_COLUMN_COUNT + 2)?,
            created_by_username: r.get(TEMPLATE_COLUMN_COUNT + 3)?,
        })
    })
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

/// The non-deleted template of `organization_id` named `name`.
pub(crate) fn get_template_by_organization_and_name(
    conn: &Connection,
    organization_id: &str,
    name: &str,
) -> Result<Template> {
    let op = "get template by organization and name";
    conn.prepare_cached(&format!(
        "SELECT {TEMPLATE_COLUMNS} FROM templates WHERE organization_id = ?1 AND name = ?2 AND deleted = 0"
    ))
    .op(op)?
    .query_row([organization_id, name], template_from_row)
    .op(op)
}

pub(crate) fn update_template_active_version(
    conn: &Connection,
    template_id: &str,
    version_id: &str,
    updated_at: Timestamp,
) -> Result<()> {
    let op = "update template active version";
    let n = conn
        .prepare_cached("UPDATE templates SET active_version_id = ?2, updated_at = ?3 WHERE id = ?1")
        .op(op)?
        .execute(params![template_id, version_id, to_micros(updated_at)])
        .op(op)?;
    if n == 0 {
        return Err(crate::database::Error::NotFound { op });
    }
    Ok(())
}

/// Soft-deletes (or restores) a template and sets its deprecation message ('' = none).
pub(crate) fn update_template_deleted_and_deprecated(
    conn: &Connection,
    template_id: &str,
    deleted: bool,
    deprecated: &str,
    updated_at: Timestamp,
) -> Result<()> {
    let op = "update template";
    let n = conn
        .prepare_cached("UPDATE templates SET deleted = ?2, deprecated = ?3, updated_at = ?4 WHERE id = ?1")
        .op(op)?
        .execute(params![template_id, deleted, deprecated, to_micros(updated_at)])
        .op(op)?;
    if n == 0 {
        return Err(crate::database::Error::NotFound { op });
    }
    Ok(())
}

pub(crate) fn update_template_meta(
    conn: &Connection,
    template_id: &str,
    m: &TemplateMeta<'_>,
    updated_at: Timestamp,
) -> Result<()> {
    let op = "update template meta";
    let s = &m.scheduling;
    let n = conn
        .prepare_cached(
            "UPDATE templates SET name = ?2, display_name = ?3, description = ?4, icon = ?5, deprecated = ?6,
                 default_ttl_ms = ?7, activity_bump_ms = ?8, autostart_block_days_of_week = ?9,
                 autostop_requirement_days_of_week = ?10, autostop_requirement_weeks = ?11,
                 allow_user_autostart = ?12, allow_user_autostop = ?13, failure_ttl_ms = ?14,
                 time_til_dormant_ms = ?15, time_til_dormant_autodelete_ms = ?16,
                 allow_user_cancel_workspace_jobs = ?17, require_active_version = ?18, updated_at = ?19
             WHERE id = ?1",
        )
        .op(op)?
        .execute(params![
            template_id,
            m.name,
            m.display_name,
            m.description,
            m.icon,
            m.deprecated,
            s.default_ttl_ms,
            s.activity_bump_ms,
            s.autostart_block_days_of_week,
            s.autostop_requirement_days_of_week,
            s.autostop_requirement_weeks,
            s.allow_user_autostart,
            s.allow_user_autostop,
            s.failure_ttl_ms,
            s.time_til_dormant_ms,
            s.time_til_dormant_autodelete_ms,
            m.allow_user_cancel_workspace_jobs,
            m.require_active_version,
            to_micros(updated_at),
        ])
        .op(op)?;
    if n == 0 {
        return Err(crate::database::Error::NotFound { op });
    }
    Ok(())
}

pub(crate) fn update_template_version_template_id(
    conn: &Connection,
    version_id: &str,
    template_id: &str,
) -> Result<()> {
    let op = "update template version template id";
    let n = conn
        .prepare_cached("UPDATE template_versions SET template_id = ?2 WHERE id = ?1")
        .op(op)?
        .execute([version_id, template_id])
        .op(op)?;
    if n == 0 {
        return Err(crate::database::Error::NotFound { op });
    }
    Ok(())
}

pub(crate) fn update_template_version_fail_builds(
    conn: &Connection,
    version_id: &str,
    fail_builds: bool,
) -> Result<()> {
    let op = "update template version fail builds";
    let n = conn
        .prepare_cached("UPDATE template_versions SET fail_builds = ?2 WHERE id = ?1")
        .op(op)?
        .execute(params![version_id, fail_builds])
        .op(op)?;
    if n == 0 {
        return Err(crate::database::Error::NotFound { op });
    }
    Ok(())
}

fn version_from_row(r: &Row<'_>) -> rusqlite::Result<TemplateVersion> {
    from_row(rows::template_version, r)
}

pub(crate) fn insert_template_version(conn: &Connection, p: &InsertTemplateVersion<'_>) -> Result<TemplateVersion> {
    let op = "insert template version";
    conn.prepare_cached(&format!(
        "INSERT INTO template_versions (id, template_id, organization_id, name, created_at, updated_at, created_by,
                                        job_id, fail_builds)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8) RETURNING {VERSION_COLUMNS}"
    ))
    .op(op)?
    .query_row(
        params![
            p.id,
            p.template_id,
            p.organization_id,
            p.name,
            to_micros(p.created_at),
            p.created_by,
            p.job_id,
            p.fail_builds,
        ],
        version_from_row,
    )
    .op(op)
}

pub(crate) fn get_template_versions_by_ids(conn: &Connection, ids: &[String]) -> Result<Vec<TemplateVersion>> {
    let op = "get template versions by ids";
    conn.prepare_cached(&format!(
        "SELECT {VERSION_COLUMNS} FROM template_versions WHERE id IN (SELECT value FROM json_each(?1))"
    ))
    .op(op)?
    .query_map([json_ids(ids)], version_from_row)
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

pub(crate) fn get_template_version_by_id(conn: &Connection, id: &str) -> Result<TemplateVersion> {
    let op = "get template version by id";
    conn.prepare_cached(&format!("SELECT {VERSION_COLUMNS} FROM template_versions WHERE id = ?1"))
        .op(op)?
        .query_row([id], version_from_row)
        .op(op)
}

pub(crate) fn get_template_versions_by_template_id(
    conn: &Connection,
    template_id: &str,
) -> Result<Vec<TemplateVersion>> {
    let op = "get template versions by template id";
    conn.prepare_cached(&format!(
        "SELECT {VERSION_COLUMNS} FROM template_versions WHERE template_id = ?1 ORDER BY created_at, name"
    ))
    .op(op)?
    .query_map([template_id], version_from_row)
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

pub(crate) fn insert_template_version_parameter(
    conn: &Connection,
    template_version_id: &str,
    name: &str,
    required: bool,
    default_value: &str,
) -> Result<()> {
    let op = "insert template version parameter";
    conn.prepare_cached(
        "INSERT INTO template_version_parameters (template_version_id, name, required, default_value)
         VALUES (?1, ?2, ?3, ?4)",
    )
    .op(op)?
    .execute(params![template_version_id, name, required, default_value])
    .op(op)?;
    Ok(())
}

pub(crate) fn get_template_version_parameters(
    conn: &Connection,
    template_version_id: &str,
) -> Result<Vec<TemplateVersionParameter>> {
    let op = "get template version parameters";
    conn.prepare_cached(
        "SELECT template_version_id, name, required, default_value FROM template_version_parameters
         WHERE template_version_id = ?1 ORDER BY name",
    )
    .op(op)?
    .query_map([template_version_id], |r| {
        Ok(TemplateVersionParameter {
            template_version_id: r.get(0)?,
            name: r.get(1)?,
            required: r.get(2)?,
            default_value: r.get(3)?,
        })
    })
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

fn preset_from_row(r: &Row<'_>) -> rusqlite::Result<Preset> {
    from_row(rows::preset, r)
}

pub(crate) fn insert_preset(conn: &Connection, p: &InsertPreset<'_>) -> Result<Preset> {
    let op = "insert preset";
    conn.prepare_cached(&format!(
        "INSERT INTO template_version_presets (id, template_version_id, name, created_at, desired_instances,
                                               invalidate_after_secs, scheduling_timezone, is_default)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING {PRESET_COLUMNS}"
    ))
    .op(op)?
    .query_row(
        params![
            p.id,
            p.template_version_id,
            p.name,
            to_micros(p.created_at),
            p.desired_instances,
            p.invalidate_after_secs,
            p.scheduling_timezone,
            p.is_default,
        ],
        preset_from_row,
    )
    .op(op)
}

pub(crate) fn get_preset_by_id(conn: &Connection, id: &str) -> Result<Preset> {
    let op = "get preset by id";
    conn.prepare_cached(&format!("SELECT {PRESET_COLUMNS} FROM template_version_presets WHERE id = ?1"))
        .op(op)?
        .query_row([id], preset_from_row)
        .op(op)
}

pub(crate) fn get_presets_by_template_version_id(conn: &Connection, template_version_id: &str) -> Result<Vec<Preset>> {
    let op = "get presets by template version id";
    conn.prepare_cached(&format!(
        "SELECT {PRESET_COLUMNS} FROM template_version_presets WHERE template_version_id = ?1 ORDER BY name"
    ))
    .op(op)?
    .query_map([template_version_id], preset_from_row)
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

pub(crate) fn insert_preset_parameter(
    conn: &Connection,
    id: &str,
    preset_id: &str,
    name: &str,
    value: &str,
) -> Result<()> {
    let op = "insert preset parameter";
    conn.prepare_cached(
        "INSERT INTO template_version_preset_parameters (id, template_version_preset_id, name, value)
         VALUES (?1, ?2, ?3, ?4)",
    )
    .op(op)?
    .execute([id, preset_id, name, value])
    .op(op)?;
    Ok(())
}

/// Every preset parameter of a version's presets (callers filter by preset).
pub(crate) fn get_preset_parameters_by_template_version_id(
    conn: &Connection,
    template_version_id: &str,
) -> Result<Vec<PresetParameter>> {
    let op = "get preset parameters by template version id";
    conn.prepare_cached(
        "SELECT pp.id, pp.template_version_preset_id, pp.name, pp.value
         FROM template_version_preset_parameters pp
         JOIN template_version_presets p ON p.id = pp.template_version_preset_id
         WHERE p.template_version_id = ?1 ORDER BY p.name, pp.name",
    )
    .op(op)?
    .query_map([template_version_id], |r| {
        Ok(PresetParameter { id: r.get(0)?, template_version_preset_id: r.get(1)?, name: r.get(2)?, value: r.get(3)? })
    })
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

pub(crate) fn insert_preset_prebuild_schedule(
    conn: &Connection,
    id: &str,
    preset_id: &str,
    cron_expression: &str,
    desired_instances: i64,
) -> Result<()> {
    let op = "insert preset prebuild schedule";
    conn.prepare_cached(
        "INSERT INTO template_version_preset_prebuild_schedules (id, preset_id, cron_expression, desired_instances)
         VALUES (?1, ?2, ?3, ?4)",
    )
    .op(op)?
    .execute(params![id, preset_id, cron_expression, desired_instances])
    .op(op)?;
    Ok(())
}

pub(crate) fn get_preset_prebuild_schedules(conn: &Connection, preset_id: &str) -> Result<Vec<PresetPrebuildSchedule>> {
    let op = "get preset prebuild schedules";
    conn.prepare_cached(
        "SELECT id, preset_id, cron_expression, desired_instances FROM template_version_preset_prebuild_schedules
         WHERE preset_id = ?1 ORDER BY cron_expression, id",
    )
    .op(op)?
    .query_map([preset_id], |r| {
        Ok(PresetPrebuildSchedule {
            id: r.get(0)?,
            preset_id: r.get(1)?,
            cron_expression: r.get(2)?,
            desired_instances: r.get(3)?,
        })
    })
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

impl TemplateStore for SqliteTx<'_> {
    run_query! {
        fn insert_provisioner_job(&self, params: &InsertProvisionerJob<'_>) -> Result<ProvisionerJob> => insert_provisioner_job;
        fn get_provisioner_job_by_id(&self, id: &str) -> Result<ProvisionerJob> => get_provisioner_job_by_id;
        fn get_provisioner_jobs_by_ids(&self, ids: &[String]) -> Result<Vec<ProvisionerJob>> => get_provisioner_jobs_by_ids;
        fn insert_template(&self, params: &InsertTemplate<'_>) -> Result<Template> => insert_template;
        fn get_template_by_id(&self, id: &str) -> Result<Template> => get_template_by_id;
        fn count_templates(&self) -> Result<i64> => count_templates;
        fn get_templates(&self, include_deleted: bool) -> Result<Vec<TemplateWithNames>> => get_templates;
        fn get_template_by_organization_and_name(&self, organization_id: &str, name: &str) -> Result<Template> => get_template_by_organization_and_name;
        fn update_template_active_version(&self, template_id: &str, version_id: &str, updated_at: Timestamp) -> Result<()> => update_template_active_version;
        fn update_template_deleted_and_deprecated(&self, template_id: &str, deleted: bool, deprecated: &str, updated_at: Timestamp) -> Result<()> => update_template_deleted_and_deprecated;
        fn update_template_meta(&self, template_id: &str, meta: &TemplateMeta<'_>, updated_at: Timestamp) -> Result<()> => update_template_meta;
        fn update_template_version_template_id(&self, version_id: &str, template_id: &str) -> Result<()> => update_template_version_template_id;
        fn update_template_version_fail_builds(&self, version_id: &str, fail_builds: bool) -> Result<()> => update_template_version_fail_builds;
        fn insert_template_version(&self, params: &InsertTemplateVersion<'_>) -> Result<TemplateVersion> => insert_template_version;
        fn get_template_version_by_id(&self, id: &str) -> Result<TemplateVersion> => get_template_version_by_id;
        fn get_template_versions_by_ids(&self, ids: &[String]) -> Result<Vec<TemplateVersion>> => get_template_versions_by_ids;
        fn get_template_versions_by_template_id(&self, template_id: &str) -> Result<Vec<TemplateVersion>> => get_template_versions_by_template_id;
        fn insert_template_version_parameter(&self, template_version_id: &str, name: &str, required: bool, default_value: &str) -> Result<()> => insert_template_version_parameter;
        fn get_template_version_parameters(&self, template_version_id: &str) -> Result<Vec<TemplateVersionParameter>> => get_template_version_parameters;
        fn insert_preset(&self, params: &InsertPreset<'_>) -> Result<Preset> => insert_preset;
        fn get_preset_by_id(&self, id: &str) -> Result<Preset> => get_preset_by_id;
        fn get_presets_by_template_version_id(&self, template_version_id: &str) -> Result<Vec<Preset>> => get_presets_by_template_version_id;
        fn insert_preset_parameter(&self, id: &str, preset_id: &str, name: &str, value: &str) -> Result<()> => insert_preset_parameter;
        fn get_preset_parameters_by_template_version_id(&self, template_version_id: &str) -> Result<Vec<PresetParameter>> => get_preset_parameters_by_template_version_id;
        fn insert_preset_prebuild_schedule(&self, id: &str, preset_id: &str, cron_expression: &str, desired_instances: i64) -> Result<()> => insert_preset_prebuild_schedule;
        fn get_preset_prebuild_schedules(&self, preset_id: &str) -> Result<Vec<PresetPrebuildSchedule>> => get_preset_prebuild_schedules;
    }
}
