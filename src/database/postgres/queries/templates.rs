//! Provisioner jobs, templates, template versions and their parameters, presets, preset
//! parameters and prebuild schedules, on PostgreSQL.

use crate::clock::Timestamp;
use crate::database::Result;
use crate::database::TemplateStore;
use crate::database::models::InsertPreset;
use crate::database::models::InsertPresetParameter;
use crate::database::models::InsertPresetPrebuildSchedule;
use crate::database::models::InsertTemplate;
use crate::database::models::InsertTemplateVersion;
use crate::database::models::InsertTemplateVersionParameter;
use crate::database::models::Preset;
use crate::database::models::PresetParameter;
use crate::database::models::PresetPrebuildSchedule;
use crate::database::models::Template;
use crate::database::models::TemplateMeta;
use crate::database::models::TemplateVersion;
use crate::database::models::TemplateVersionParameter;
use crate::database::models::TemplateWithNames;
use crate::database::postgres::queries::id;
use crate::database::postgres::queries::ids;
use crate::database::postgres::queries::new_id;
use crate::database::postgres::queries::opt_new_id;
use crate::database::postgres::tx::PgTx;
use crate::database::rows;
use crate::database::rows::PREBUILD_SCHEDULE_COLUMNS;
use crate::database::rows::PRESET_COLUMNS;
use crate::database::rows::TEMPLATE_COLUMNS;
use crate::database::rows::VERSION_COLUMNS;
use crate::database::rows::VERSION_PARAMETER_COLUMNS;

impl TemplateStore for PgTx<'_> {
    fn insert_template(&self, p: &InsertTemplate<'_>) -> Result<Template> {
        let op = "insert template";
        self.one(
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
                &p.scheduling.default_ttl_ms,
                &p.scheduling.activity_bump_ms,
                &i64::from(p.scheduling.autostart_block_days_of_week),
                &i64::from(p.scheduling.autostop_requirement_days_of_week),
                &p.scheduling.autostop_requirement_weeks,
                &p.scheduling.allow_user_autostart,
                &p.scheduling.allow_user_autostop,
                &p.scheduling.failure_ttl_ms,
                &p.scheduling.time_til_dormant_ms,
                &p.scheduling.time_til_dormant_autodelete_ms,
            ],
            rows::template,
        )
    }

    fn get_template_by_id(&self, template_id: &str) -> Result<Template> {
        let sql = format!("SELECT {TEMPLATE_COLUMNS} FROM templates WHERE id = $1");
        self.one("get template by id", &sql, &[&id(template_id)], rows::template)
    }

    fn count_templates(&self) -> Result<i64> {
        self.one("count templates", "SELECT COUNT(*) FROM templates", &[], |r| r.i64(0))
    }

    fn get_templates(&self, include_deleted: bool) -> Result<Vec<TemplateWithNames>> {
        let sql = format!(
            "SELECT {}, o.name, o.display_name, tv.name, u.username
             FROM templates t
             JOIN organizations o ON o.id = t.organization_id
             JOIN template_versions tv ON tv.id = t.active_version_id
             LEFT JOIN users u ON u.id = t.created_by
             WHERE $1 OR NOT t.deleted
             ORDER BY o.name COLLATE \"C\", t.name COLLATE \"C\", t.created_at",
            rows::prefixed("t", TEMPLATE_COLUMNS)
        );
        self.all("get templates", &sql, &[&include_deleted], rows::template_with_names)
    }

    fn get_template_by_organization_and_name(&self, organization_id: &str, name: &str) -> Result<Template> {
        let sql = format!(
            "SELECT {TEMPLATE_COLUMNS} FROM templates WHERE organization_id = $1 AND name = $2 AND NOT deleted"
        );
        self.one("get template by organization and name", &sql, &[&id(organization_id), &name], rows::template)
    }

    fn update_template_active_version(&self, template_id: &str, version_id: &str, updated_at: Timestamp) -> Result<()> {
        let op = "update template active version";
        self.exec_found(
            op,
            "UPDATE templates SET active_version_id = $2, updated_at = $3 WHERE id = $1",
            &[&id(template_id), &new_id(op, "active_version_id", version_id)?, &updated_at],
        )
    }

    fn update_template_deleted_and_deprecated(
        &self,
        template_id: &str,
        deleted: bool,
        deprecated: &str,
        updated_at: Timestamp,
    ) -> Result<()> {
        self.exec_found(
            "update template",
            "UPDATE templates SET deleted = $2, deprecated = $3, updated_at = $4 WHERE id = $1",
            &[&id(template_id), &deleted, &deprecated, &updated_at],
        )
    }

    fn update_template_meta(&self, template_id: &str, m: &TemplateMeta<'_>, updated_at: Timestamp) -> Result<()> {
        self.exec_found(
            "update template meta",
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
                &m.scheduling.default_ttl_ms,
                &m.scheduling.activity_bump_ms,
                &i64::from(m.scheduling.autostart_block_days_of_week),
                &i64::from(m.scheduling.autostop_requirement_days_of_week),
                &m.scheduling.autostop_requirement_weeks,
                &m.scheduling.allow_user_autostart,
                &m.scheduling.allow_user_autostop,
                &m.scheduling.failure_ttl_ms,
                &m.scheduling.time_til_dormant_ms,
                &m.scheduling.time_til_dormant_autodelete_ms,
                &m.allow_user_cancel_workspace_jobs,
                &m.require_active_version,
                &updated_at,
            ],
        )
    }

    fn update_template_version_template_id(&self, version_id: &str, template_id: &str) -> Result<()> {
        self.exec_found(
            "update template version template id",
            "UPDATE template_versions SET template_id = $2 WHERE id = $1",
            &[&id(version_id), &id(template_id)],
        )
    }

    fn update_template_version_fail_builds(&self, version_id: &str, fail_builds: bool) -> Result<()> {
        self.exec_found(
            "update template version fail builds",
            "UPDATE template_versions SET fail_builds = $2 WHERE id = $1",
            &[&id(version_id), &fail_builds],
        )
    }

    fn insert_template_version(&self, p: &InsertTemplateVersion<'_>) -> Result<TemplateVersion> {
        let op = "insert template version";
        self.one(
            op,
            &format!(
                "INSERT INTO template_versions (id, template_id, organization_id, name, created_at, updated_at,
                     created_by, job_id, fail_builds)
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
            rows::template_version,
        )
    }

    fn get_template_version_by_id(&self, version_id: &str) -> Result<TemplateVersion> {
        let sql = format!("SELECT {VERSION_COLUMNS} FROM template_versions WHERE id = $1");
        self.one("get template version by id", &sql, &[&id(version_id)], rows::template_version)
    }

    fn get_template_versions_by_ids(&self, version_ids: &[String]) -> Result<Vec<TemplateVersion>> {
        let sql = format!("SELECT {VERSION_COLUMNS} FROM template_versions WHERE id = ANY($1)");
        self.all("get template versions by ids", &sql, &[&ids(version_ids)], rows::template_version)
    }

    fn get_template_versions_by_template_id(&self, template_id: &str) -> Result<Vec<TemplateVersion>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM template_versions WHERE template_id = $1 ORDER BY created_at, name COLLATE \"C\""
        );
        self.all("get template versions by template id", &sql, &[&id(template_id)], rows::template_version)
    }

    fn insert_template_version_parameter(&self, params: &InsertTemplateVersionParameter<'_>) -> Result<()> {
        let InsertTemplateVersionParameter { template_version_id, name, required, default_value } = *params;
        let op = "insert template version parameter";
        self.exec(
            op,
            "INSERT INTO template_version_parameters (template_version_id, name, required, default_value)
             VALUES ($1, $2, $3, $4)",
            &[&new_id(op, "template_version_id", template_version_id)?, &name, &required, &default_value],
        )
    }

    fn get_template_version_parameters(&self, template_version_id: &str) -> Result<Vec<TemplateVersionParameter>> {
        let sql = format!(
            "SELECT {VERSION_PARAMETER_COLUMNS} FROM template_version_parameters
             WHERE template_version_id = $1 ORDER BY name COLLATE \"C\""
        );
        self.all("get template version parameters", &sql, &[&id(template_version_id)], rows::template_version_parameter)
    }

    fn insert_preset(&self, p: &InsertPreset<'_>) -> Result<Preset> {
        let op = "insert preset";
        self.one(
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
            rows::preset,
        )
    }

    fn get_preset_by_id(&self, preset_id: &str) -> Result<Preset> {
        let sql = format!("SELECT {PRESET_COLUMNS} FROM template_version_presets WHERE id = $1");
        self.one("get preset by id", &sql, &[&id(preset_id)], rows::preset)
    }

    fn get_presets_by_template_version_id(&self, template_version_id: &str) -> Result<Vec<Preset>> {
        let sql = format!(
            "SELECT {PRESET_COLUMNS} FROM template_version_presets WHERE template_version_id = $1
             ORDER BY name COLLATE \"C\""
        );
        self.all("get presets by template version id", &sql, &[&id(template_version_id)], rows::preset)
    }

    fn insert_preset_parameter(&self, params: &InsertPresetParameter<'_>) -> Result<()> {
        let InsertPresetParameter { id: param_id, preset_id, name, value } = *params;
        let op = "insert preset parameter";
        self.exec(
            op,
            "INSERT INTO template_version_preset_parameters (id, template_version_preset_id, name, value)
             VALUES ($1, $2, $3, $4)",
            &[&new_id(op, "id", param_id)?, &new_id(op, "template_version_preset_id", preset_id)?, &name, &value],
        )
    }

    fn get_preset_parameters_by_template_version_id(&self, template_version_id: &str) -> Result<Vec<PresetParameter>> {
        self.all(
            "get preset parameters by template version id",
            "SELECT pp.id, pp.template_version_preset_id, pp.name, pp.value
             FROM template_version_preset_parameters pp
             JOIN template_version_presets p ON p.id = pp.template_version_preset_id
             WHERE p.template_version_id = $1 ORDER BY p.name COLLATE \"C\", pp.name COLLATE \"C\"",
            &[&id(template_version_id)],
            rows::preset_parameter,
        )
    }

    fn insert_preset_prebuild_schedule(&self, params: &InsertPresetPrebuildSchedule<'_>) -> Result<()> {
        let InsertPresetPrebuildSchedule { id, preset_id, cron_expression, desired_instances } = *params;
        let op = "insert preset prebuild schedule";
        self.exec(
            op,
            "INSERT INTO template_version_preset_prebuild_schedules (id, preset_id, cron_expression, desired_instances)
             VALUES ($1, $2, $3, $4)",
            &[&new_id(op, "id", id)?, &new_id(op, "preset_id", preset_id)?, &cron_expression, &desired_instances],
        )
    }

    fn get_preset_prebuild_schedules(&self, preset_id: &str) -> Result<Vec<PresetPrebuildSchedule>> {
        let sql = format!(
            "SELECT {PREBUILD_SCHEDULE_COLUMNS} FROM template_version_preset_prebuild_schedules
             WHERE preset_id = $1 ORDER BY cron_expression COLLATE \"C\", id"
        );
        self.all("get preset prebuild schedules", &sql, &[&id(preset_id)], rows::preset_prebuild_schedule)
    }
}
