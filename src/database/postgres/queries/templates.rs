//! Provisioner jobs, templates, template versions and their parameters, presets, preset
//! parameters and prebuild schedules, on PostgreSQL.

use postgres::Row;

use crate::clock::Timestamp;
use crate::database::Error;
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
use crate::database::postgres::queries::get;
use crate::database::postgres::queries::get_id;
use crate::database::postgres::queries::id;
use crate::database::postgres::queries::ids;
use crate::database::postgres::queries::new_id;
use crate::database::postgres::queries::opt_new_id;
use crate::database::postgres::statements::PgRow;
use crate::database::postgres::tx::PgTx;
use crate::database::rows;
use crate::database::rows::JOB_COLUMNS;
use crate::database::rows::PRESET_COLUMNS;
use crate::database::rows::TEMPLATE_COLUMN_COUNT;
use crate::database::rows::TEMPLATE_COLUMNS;
use crate::database::rows::VERSION_COLUMNS;

pub(crate) fn job(op: &'static str, r: &Row) -> Result<ProvisionerJob> {
    rows::job(&PgRow { op, row: r })
}

pub(crate) fn insert_provisioner_job(tx: &PgTx<'_>, p: &InsertProvisionerJob<'_>) -> Result<ProvisionerJob> {
    let op = "insert provisioner job";
    let row = tx.query_one(
        op,
        &format!(
            "INSERT INTO provisioner_jobs (id, created_at, updated_at, started_at, completed_at, canceled_at, error,
                                           worker_id, initiator_id, organization_id, type, input, file_id)
             VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {JOB_COLUMNS}"
        ),
        &[
            &new_id(op, "id", p.id)?,
            &p.created_at,
            &p.started_at,
            &p.completed_at,
            &p.canceled_at,
            &p.error,
            &p.worker_id,
            &new_id(op, "initiator_id", p.initiator_id)?,
            &new_id(op, "organization_id", p.organization_id)?,
            &p.job_type.as_str(),
            p.input,
            &p.file_id.map(|f| new_id(op, "file_id", f)).transpose()?,
        ],
    )?;
    job(op, &row)
}

pub(crate) fn get_provisioner_job_by_id(tx: &PgTx<'_>, job_id: &str) -> Result<ProvisionerJob> {
    let op = "get provisioner job by id";
    job(op, &tx.query_one(op, &format!("SELECT {JOB_COLUMNS} FROM provisioner_jobs WHERE id = $1"), &[&id(job_id)])?)
}

pub(crate) fn get_provisioner_jobs_by_ids(tx: &PgTx<'_>, job_ids: &[String]) -> Result<Vec<ProvisionerJob>> {
    let op = "get provisioner jobs by ids";
    let rows =
        tx.query(op, &format!("SELECT {JOB_COLUMNS} FROM provisioner_jobs WHERE id = ANY($1)"), &[&ids(job_ids)])?;
    rows.iter().map(|r| job(op, r)).collect()
}

fn template(op: &'static str, r: &Row) -> Result<Template> {
    rows::template(&PgRow { op, row: r })
}

pub(crate) fn insert_template(tx: &PgTx<'_>, p: &InsertTemplate<'_>) -> Result<Template> {
    let op = "insert template";
    let s = &p.scheduling;
    let row = tx.query_one(
        op,
        &format!(
            "INSERT INTO templates (id, organization_id, name, display_name, created_at, updated_at, created_by,
                                    deprecated, active_version_id, description, icon, default_ttl_ms, activity_bump_ms,
                                    autostart_block_days_of_week, autostop_requirement_days_of_week,
                                    autostop_requirement_weeks, allow_user_autostart, allow_user_autostop,
                                    failure_ttl_ms, time_til_dormant_ms, time_til_dormant_autodelete_ms)
             VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
             RETURNING {TEMPLATE_COLUMNS}"
        ),
        &[
            &new_id(op, "id", p.id)?,
            &new_id(op, "organization_id", p.organization_id)?,
            &p.name,
            &p.display_name,
            &p.created_at,
            &opt_new_id(op, "created_by", p.created_by)?,
            &p.deprecated,
            &new_id(op, "active_version_id", p.active_version_id)?,
            &p.description,
            &p.icon,
            &s.default_ttl_ms,
            &s.activity_bump_ms,
            &i64::from(s.autostart_block_days_of_week),
            &i64::from(s.autostop_requirement_days_of_week),
            &s.autostop_requirement_weeks,
            &s.allow_user_autostart,
            &s.allow_user_autostop,
            &s.failure_ttl_ms,
            &s.time_til_dormant_ms,
            &s.time_til_dormant_autodelete_ms,
        ],
    )?;
    template(op, &row)
}

pub(crate) fn get_template_by_id(tx: &PgTx<'_>, template_id: &str) -> Result<Template> {
    let op = "get template by id";
    template(
        op,
        &tx.query_one(op, &format!("SELECT {TEMPLATE_COLUMNS} FROM templates WHERE id = $1"), &[&id(template_id)])?,
    )
}

pub(crate) fn count_templates(tx: &PgTx<'_>) -> Result<i64> {
    let op = "count templates";
    get(op, &tx.query_one(op, "SELECT COUNT(*) FROM templates", &[])?, 0)
}

pub(crate) fn get_templates(tx: &PgTx<'_>, include_deleted: bool) -> Result<Vec<TemplateWithNames>> {
    let op = "get templates";
    let columns = TEMPLATE_COLUMNS.split(", ").map(|c| format!("t.{}", c.trim())).collect::<Vec<_>>().join(", ");
    let rows = tx.query(
        op,
        &format!(
            "SELECT {columns}, o.name, o.display_name, tv.name, u.username
             FROM templates t
             JOIN organizations o ON o.id = t.organization_id
             JOIN template_versions tv ON tv.id = t.active_version_id
             LEFT JOIN users u ON u.id = t.created_by
             WHERE $1 OR NOT t.deleted
             ORDER BY o.name COLLATE \"C\", t.name COLLATE \"C\", t.created_at"
        ),
        &[&include_deleted],
    )?;
    rows.iter()
        .map(|r| {
            Ok(TemplateWithNames {
                template: template(op, r)?,
                organization_name: get(op, r, TEMPLATE_COLUMN_COUNT)?,
                organization_display_name: get(op, r, TEMPLATE_COLUMN_COUNT + 1)?,
                active_version_name: get(op, r, TEMPLATE_COLUMN_COUNT + 2)?,
                created_by_username: get(op, r, TEMPLATE_COLUMN_COUNT + 3)?,
            })
        })
        .collect()
}

pub(crate) fn get_template_by_organization_and_name(
    tx: &PgTx<'_>,
    organization_id: &str,
    name: &str,
) -> Result<Template> {
    let op = "get template by organization and name";
    let row = tx.query_one(
        op,
        &format!("SELECT {TEMPLATE_COLUMNS} FROM templates WHERE organization_id = $1 AND name = $2 AND NOT deleted"),
        &[&id(organization_id), &name],
    )?;
    template(op, &row)
}

pub(crate) fn update_template_active_version(
    tx: &PgTx<'_>,
    template_id: &str,
    version_id: &str,
    updated_at: Timestamp,
) -> Result<()> {
    let op = "update template active version";
    let n = tx.execute(
        op,
        "UPDATE templates SET active_version_id = $2, updated_at = $3 WHERE id = $1",
        &[&id(template_id), &new_id(op, "active_version_id", version_id)?, &updated_at],
    )?;
    if n == 0 {
        return Err(Error::NotFound { op });
    }
    Ok(())
}

pub(crate) fn update_template_meta(
    tx: &PgTx<'_>,
    template_id: &str,
    m: &TemplateMeta<'_>,
    updated_at: Timestamp,
) -> Result<()> {
    let op = "update template meta";
    let s = &m.scheduling;
    let n = tx.execute(
        op,
        "UPDATE templates SET name = $2, display_name = $3, description = $4, icon = $5, deprecated = $6,
             default_ttl_ms = $7, activity_bump_ms = $8, autostart_block_days_of_week = $9,
             autostop_requirement_days_of_week = $10, autostop_requirement_weeks = $11,
             allow_user_autostart = $12, allow_user_autostop = $13, failure_ttl_ms = $14,
             time_til_dormant_ms = $15, time_til_dormant_autodelete_ms = $16,
             allow_user_cancel_workspace_jobs = $17, require_active_version = $18, updated_at = $19
         WHERE id = $1",
        &[
            &id(template_id),
            &m.name,
            &m.display_name,
            &m.description,
            &m.icon,
            &m.deprecated,
            &s.default_ttl_ms,
            &s.activity_bump_ms,
            &i64::from(s.autostart_block_days_of_week),
            &i64::from(s.autostop_requirement_days_of_week),
            &s.autostop_requirement_weeks,
            &s.allow_user_autostart,
            &s.allow_user_autostop,
            &s.failure_ttl_ms,
            &s.time_til_dormant_ms,
            &s.time_til_dormant_autodelete_ms,
            &m.allow_user_cancel_workspace_jobs,
            &m.require_active_version,
            &updated_at,
        ],
    )?;
    if n == 0 {
        return Err(Error::NotFound { op });
    }
    Ok(())
}

pub(crate) fn update_template_version_template_id(tx: &PgTx<'_>, version_id: &str, template_id: &str) -> Result<()> {
    let op = "update template version template id";
    let n = tx.execute(
        op,
        "UPDATE template_versions SET template_id = $2 WHERE id = $1",
        &[&id(version_id), &id(template_id)],
    )?;
    if n == 0 {
        return Err(Error::NotFound { op });
    }
    Ok(())
}

pub(crate) fn update_template_version_fail_builds(tx: &PgTx<'_>, version_id: &str, fail_builds: bool) -> Result<()> {
    let op = "update template version fail builds";
    let n = tx.execute(
        op,
        "UPDATE template_versions SET fail_builds = $2 WHERE id = $1",
        &[&id(version_id), &fail_builds],
    )?;
    if n == 0 {
        return Err(Error::NotFound { op });
    }
    Ok(())
}

pub(crate) fn update_template_deleted_and_deprecated(
    tx: &PgTx<'_>,
    template_id: &str,
    deleted: bool,
    deprecated: &str,
    updated_at: Timestamp,
) -> Result<()> {
    let op = "update template";
    let n = tx.execute(
        op,
        "UPDATE templates SET deleted = $2, deprecated = $3, updated_at = $4 WHERE id = $1",
        &[&id(template_id), &deleted, &deprecated, &updated_at],
    )?;
    if n == 0 {
        return Err(Error::NotFound { op });
    }
    Ok(())
}

fn version(op: &'static str, r: &Row) -> Result<TemplateVersion> {
    rows::template_version(&PgRow { op, row: r })
}

pub(crate) fn insert_template_version(tx: &PgTx<'_>, p: &InsertTemplateVersion<'_>) -> Result<TemplateVersion> {
    let op = "insert template version";
    let row = tx.query_one(
        op,
        &format!(
            "INSERT INTO template_versions (id, template_id, organization_id, name, created_at, updated_at, created_by,
                                            job_id, fail_builds)
             VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8) RETURNING {VERSION_COLUMNS}"
        ),
        &[
            &new_id(op, "id", p.id)?,
            &opt_new_id(op, "template_id", p.template_id)?,
            &new_id(op, "organization_id", p.organization_id)?,
            &p.name,
            &p.created_at,
            &opt_new_id(op, "created_by", p.created_by)?,
            &new_id(op, "job_id", p.job_id)?,
            &p.fail_builds,
        ],
    )?;
    version(op, &row)
}

pub(crate) fn get_template_versions_by_ids(tx: &PgTx<'_>, version_ids: &[String]) -> Result<Vec<TemplateVersion>> {
    let op = "get template versions by ids";
    let rows = tx.query(
        op,
        &format!("SELECT {VERSION_COLUMNS} FROM template_versions WHERE id = ANY($1)"),
        &[&ids(version_ids)],
    )?;
    rows.iter().map(|r| version(op, r)).collect()
}

pub(crate) fn get_template_version_by_id(tx: &PgTx<'_>, version_id: &str) -> Result<TemplateVersion> {
    let op = "get template version by id";
    version(
        op,
        &tx.query_one(
            op,
            &format!("SELECT {VERSION_COLUMNS} FROM template_versions WHERE id = $1"),
            &[&id(version_id)],
        )?,
    )
}

pub(crate) fn get_template_versions_by_template_id(tx: &PgTx<'_>, template_id: &str) -> Result<Vec<TemplateVersion>> {
    let op = "get template versions by template id";
    let rows = tx.query(
        op,
        &format!(
            "SELECT {VERSION_COLUMNS} FROM template_versions WHERE template_id = $1 ORDER BY created_at, name COLLATE \"C\""
        ),
        &[&id(template_id)],
    )?;
    rows.iter().map(|r| version(op, r)).collect()
}

pub(crate) fn insert_template_version_parameter(
    tx: &PgTx<'_>,
    template_version_id: &str,
    name: &str,
    required: bool,
    default_value: &str,
) -> Result<()> {
    let op = "insert template version parameter";
    tx.execute(
        op,
        "INSERT INTO template_version_parameters (template_version_id, name, required, default_value)
         VALUES ($1, $2, $3, $4)",
        &[&new_id(op, "template_version_id", template_version_id)?, &name, &required, &default_value],
    )?;
    Ok(())
}

pub(crate) fn get_template_version_parameters(
    tx: &PgTx<'_>,
    template_version_id: &str,
) -> Result<Vec<TemplateVersionParameter>> {
    let op = "get template version parameters";
    let rows = tx.query(
        op,
        "SELECT template_version_id, name, required, default_value FROM template_version_parameters
         WHERE template_version_id = $1 ORDER BY name COLLATE \"C\"",
        &[&id(template_version_id)],
    )?;
    rows.iter()
        .map(|r| {
            Ok(TemplateVersionParameter {
                template_version_id: get_id(op, r, 0)?,
                name: get(op, r, 1)?,
                required: get(op, r, 2)?,
                default_value: get(op, r, 3)?,
            })
        })
        .collect()
}

fn preset(op: &'static str, r: &Row) -> Result<Preset> {
    rows::preset(&PgRow { op, row: r })
}

pub(crate) fn insert_preset(tx: &PgTx<'_>, p: &InsertPreset<'_>) -> Result<Preset> {
    let op = "insert preset";
    let row = tx.query_one(
        op,
        &format!(
            "INSERT INTO template_version_presets (id, template_version_id, name, created_at, desired_instances,
                                                   invalidate_after_secs, scheduling_timezone, is_default)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {PRESET_COLUMNS}"
        ),
        &[
            &new_id(op, "id", p.id)?,
            &new_id(op, "template_version_id", p.template_version_id)?,
            &p.name,
            &p.created_at,
            &p.desired_instances,
            &p.invalidate_after_secs,
            &p.scheduling_timezone,
            &p.is_default,
        ],
    )?;
    preset(op, &row)
}

pub(crate) fn get_preset_by_id(tx: &PgTx<'_>, preset_id: &str) -> Result<Preset> {
    let op = "get preset by id";
    preset(
        op,
        &tx.query_one(
            op,
            &format!("SELECT {PRESET_COLUMNS} FROM template_version_presets WHERE id = $1"),
            &[&id(preset_id)],
        )?,
    )
}

pub(crate) fn get_presets_by_template_version_id(tx: &PgTx<'_>, template_version_id: &str) -> Result<Vec<Preset>> {
    let op = "get presets by template version id";
    let rows = tx.query(
        op,
        &format!(
            "SELECT {PRESET_COLUMNS} FROM template_version_presets WHERE template_version_id = $1
             ORDER BY name COLLATE \"C\""
        ),
        &[&id(template_version_id)],
    )?;
    rows.iter().map(|r| preset(op, r)).collect()
}

pub(crate) fn insert_preset_parameter(
    tx: &PgTx<'_>,
    param_id: &str,
    preset_id: &str,
    name: &str,
    value: &str,
) -> Result<()> {
    let op = "insert preset parameter";
    tx.execute(
        op,
        "INSERT INTO template_version_preset_parameters (id, template_version_preset_id, name, value)
         VALUES ($1, $2, $3, $4)",
        &[&new_id(op, "id", param_id)?, &new_id(op, "template_version_preset_id", preset_id)?, &name, &value],
    )?;
    Ok(())
}

pub(crate) fn get_preset_parameters_by_template_version_id(
    tx: &PgTx<'_>,
    template_version_id: &str,
) -> Result<Vec<PresetParameter>> {
    let op = "get preset parameters by template version id";
    let rows = tx.query(
        op,
        "SELECT pp.id, pp.template_version_preset_id, pp.name, pp.value
         FROM template_version_preset_parameters pp
         JOIN template_version_presets p ON p.id = pp.template_version_preset_id
         WHERE p.template_version_id = $1 ORDER BY p.name COLLATE \"C\", pp.name COLLATE \"C\"",
        &[&id(template_version_id)],
    )?;
    rows.iter()
        .map(|r| {
            Ok(PresetParameter {
                id: get_id(op, r, 0)?,
                template_version_preset_id: get_id(op, r, 1)?,
                name: get(op, r, 2)?,
                value: get(op, r, 3)?,
            })
        })
        .collect()
}

pub(crate) fn insert_preset_prebuild_schedule(
    tx: &PgTx<'_>,
    schedule_id: &str,
    preset_id: &str,
    cron_expression: &str,
    desired_instances: i64,
) -> Result<()> {
    let op = "insert preset prebuild schedule";
    tx.execute(
        op,
        "INSERT INTO template_version_preset_prebuild_schedules (id, preset_id, cron_expression, desired_instances)
         VALUES ($1, $2, $3, $4)",
        &[&new_id(op, "id", schedule_id)?, &new_id(op, "preset_id", preset_id)?, &cron_expression, &desired_instances],
    )?;
    Ok(())
}

pub(crate) fn get_preset_prebuild_schedules(tx: &PgTx<'_>, preset_id: &str) -> Result<Vec<PresetPrebuildSchedule>> {
    let op = "get preset prebuild schedules";
    let rows = tx.query(
        op,
        "SELECT id, preset_id, cron_expression, desired_instances FROM template_version_preset_prebuild_schedules
         WHERE preset_id = $1 ORDER BY cron_expression COLLATE \"C\", id",
        &[&id(preset_id)],
    )?;
    rows.iter()
        .map(|r| {
            Ok(PresetPrebuildSchedule {
                id: get_id(op, r, 0)?,
                preset_id: get_id(op, r, 1)?,
                cron_expression: get(op, r, 2)?,
                desired_instances: get(op, r, 3)?,
            })
        })
        .collect()
}

impl TemplateStore for PgTx<'_> {
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
