//! Provisioner jobs, templates, template versions and their parameters, presets, preset
//! parameters and prebuild schedules.

use rusqlite::params;

use crate::clock::Timestamp;
use crate::clock::to_micros;
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
use crate::database::rows;
use crate::database::rows::PREBUILD_SCHEDULE_COLUMNS;
use crate::database::rows::PRESET_COLUMNS;
use crate::database::rows::TEMPLATE_COLUMNS;
use crate::database::rows::VERSION_COLUMNS;
use crate::database::rows::VERSION_PARAMETER_COLUMNS;
use crate::database::sqlite::queries::json_ids;
use crate::database::sqlite::tx::SqliteTx;

impl TemplateStore for SqliteTx<'_> {
    fn insert_template(&self, p: &InsertTemplate<'_>) -> Result<Template> {
        self.one(
            "insert template",
            &format!(
                "INSERT INTO templates (id, organization_id, name, display_name, created_at, updated_at, created_by,
                     deprecated, active_version_id, description, icon, default_ttl_ms, activity_bump_ms,
                     autostart_block_days_of_week, autostop_requirement_days_of_week,
                     autostop_requirement_weeks, allow_user_autostart, allow_user_autostop, failure_ttl_ms,
                     time_til_dormant_ms, time_til_dormant_autodelete_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)
                 RETURNING {TEMPLATE_COLUMNS}"
            ),
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
                p.scheduling.default_ttl_ms,
                p.scheduling.activity_bump_ms,
                p.scheduling.autostart_block_days_of_week,
                p.scheduling.autostop_requirement_days_of_week,
                p.scheduling.autostop_requirement_weeks,
                p.scheduling.allow_user_autostart,
                p.scheduling.allow_user_autostop,
                p.scheduling.failure_ttl_ms,
                p.scheduling.time_til_dormant_ms,
                p.scheduling.time_til_dormant_autodelete_ms,
            ],
            rows::template,
        )
    }

    fn get_template_by_id(&self, id: &str) -> Result<Template> {
        let sql = format!("SELECT {TEMPLATE_COLUMNS} FROM templates WHERE id = ?1");
        self.one("get template by id", &sql, [id], rows::template)
    }

    fn count_templates(&self) -> Result<i64> {
        self.one("count templates", "SELECT COUNT(*) FROM templates", [], |r| r.i64(0))
    }

    fn get_templates(&self, include_deleted: bool) -> Result<Vec<TemplateWithNames>> {
        let sql = format!(
            "SELECT {}, o.name, o.display_name, tv.name, u.username
             FROM templates t
             JOIN organizations o ON o.id = t.organization_id
             JOIN template_versions tv ON tv.id = t.active_version_id
             LEFT JOIN users u ON u.id = t.created_by
             WHERE ?1 OR t.deleted = 0
             ORDER BY o.name, t.name, t.created_at",
            rows::prefixed("t", TEMPLATE_COLUMNS)
        );
        self.all("get templates", &sql, [include_deleted], rows::template_with_names)
    }

    fn get_template_by_organization_and_name(&self, organization_id: &str, name: &str) -> Result<Template> {
        let sql = format!(
            "SELECT {TEMPLATE_COLUMNS} FROM templates WHERE organization_id = ?1 AND name = ?2 AND deleted = 0"
        );
        self.one("get template by organization and name", &sql, [organization_id, name], rows::template)
    }

    fn update_template_active_version(&self, template_id: &str, version_id: &str, updated_at: Timestamp) -> Result<()> {
        self.exec_found(
            "update template active version",
            "UPDATE templates SET active_version_id = ?2, updated_at = ?3 WHERE id = ?1",
            params![template_id, version_id, to_micros(updated_at)],
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
            "UPDATE templates SET deleted = ?2, deprecated = ?3, updated_at = ?4 WHERE id = ?1",
            params![template_id, deleted, deprecated, to_micros(updated_at)],
        )
    }

    fn update_template_meta(&self, template_id: &str, m: &TemplateMeta<'_>, updated_at: Timestamp) -> Result<()> {
        self.exec_found(
            "update template meta",
            "UPDATE templates SET name = ?2, display_name = ?3, description = ?4, icon = ?5, deprecated = ?6,
                 default_ttl_ms = ?7, activity_bump_ms = ?8, autostart_block_days_of_week = ?9,
                 autostop_requirement_days_of_week = ?10, autostop_requirement_weeks = ?11,
                 allow_user_autostart = ?12, allow_user_autostop = ?13, failure_ttl_ms = ?14,
                 time_til_dormant_ms = ?15, time_til_dormant_autodelete_ms = ?16,
                 allow_user_cancel_workspace_jobs = ?17, require_active_version = ?18, updated_at = ?19
             WHERE id = ?1",
            params![
                template_id,
                m.name,
                m.display_name,
                m.description,
                m.icon,
                m.deprecated,
                m.scheduling.default_ttl_ms,
                m.scheduling.activity_bump_ms,
                m.scheduling.autostart_block_days_of_week,
                m.scheduling.autostop_requirement_days_of_week,
                m.scheduling.autostop_requirement_weeks,
                m.scheduling.allow_user_autostart,
                m.scheduling.allow_user_autostop,
                m.scheduling.failure_ttl_ms,
                m.scheduling.time_til_dormant_ms,
                m.scheduling.time_til_dormant_autodelete_ms,
                m.allow_user_cancel_workspace_jobs,
                m.require_active_version,
                to_micros(updated_at),
            ],
        )
    }

    fn update_template_version_template_id(&self, version_id: &str, template_id: &str) -> Result<()> {
        self.exec_found(
            "update template version template id",
            "UPDATE template_versions SET template_id = ?2 WHERE id = ?1",
            [version_id, template_id],
        )
    }

    fn update_template_version_fail_builds(&self, version_id: &str, fail_builds: bool) -> Result<()> {
        self.exec_found(
            "update template version fail builds",
            "UPDATE template_versions SET fail_builds = ?2 WHERE id = ?1",
            params![version_id, fail_builds],
        )
    }

    fn insert_template_version(&self, p: &InsertTemplateVersion<'_>) -> Result<TemplateVersion> {
        self.one(
            "insert template version",
            &format!(
                "INSERT INTO template_versions (id, template_id, organization_id, name, created_at, updated_at,
                     created_by, job_id, fail_builds)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8) RETURNING {VERSION_COLUMNS}"
            ),
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
            rows::template_version,
        )
    }

    fn get_template_version_by_id(&self, id: &str) -> Result<TemplateVersion> {
        let sql = format!("SELECT {VERSION_COLUMNS} FROM template_versions WHERE id = ?1");
        self.one("get template version by id", &sql, [id], rows::template_version)
    }

    fn get_template_versions_by_ids(&self, ids: &[String]) -> Result<Vec<TemplateVersion>> {
        let sql =
            format!("SELECT {VERSION_COLUMNS} FROM template_versions WHERE id IN (SELECT value FROM json_each(?1))");
        self.all("get template versions by ids", &sql, [json_ids(ids)], rows::template_version)
    }

    fn get_template_versions_by_template_id(&self, template_id: &str) -> Result<Vec<TemplateVersion>> {
        let sql =
            format!("SELECT {VERSION_COLUMNS} FROM template_versions WHERE template_id = ?1 ORDER BY created_at, name");
        self.all("get template versions by template id", &sql, [template_id], rows::template_version)
    }

    fn insert_template_version_parameter(&self, params: &InsertTemplateVersionParameter<'_>) -> Result<()> {
        let InsertTemplateVersionParameter { template_version_id, name, required, default_value } = *params;
        self.exec(
            "insert template version parameter",
            "INSERT INTO template_version_parameters (template_version_id, name, required, default_value)
             VALUES (?1, ?2, ?3, ?4)",
            params![template_version_id, name, required, default_value],
        )
    }

    fn get_template_version_parameters(&self, template_version_id: &str) -> Result<Vec<TemplateVersionParameter>> {
        let sql = format!(
            "SELECT {VERSION_PARAMETER_COLUMNS} FROM template_version_parameters
             WHERE template_version_id = ?1 ORDER BY name"
        );
        self.all("get template version parameters", &sql, [template_version_id], rows::template_version_parameter)
    }

    fn insert_preset(&self, p: &InsertPreset<'_>) -> Result<Preset> {
        self.one(
            "insert preset",
            &format!(
                "INSERT INTO template_version_presets (id, template_version_id, name, created_at, desired_instances,
                                                       invalidate_after_secs, scheduling_timezone, is_default)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING {PRESET_COLUMNS}"
            ),
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
            rows::preset,
        )
    }

    fn get_preset_by_id(&self, id: &str) -> Result<Preset> {
        let sql = format!("SELECT {PRESET_COLUMNS} FROM template_version_presets WHERE id = ?1");
        self.one("get preset by id", &sql, [id], rows::preset)
    }

    fn get_presets_by_template_version_id(&self, template_version_id: &str) -> Result<Vec<Preset>> {
        let sql = format!(
            "SELECT {PRESET_COLUMNS} FROM template_version_presets WHERE template_version_id = ?1 ORDER BY name"
        );
        self.all("get presets by template version id", &sql, [template_version_id], rows::preset)
    }

    fn insert_preset_parameter(&self, params: &InsertPresetParameter<'_>) -> Result<()> {
        let InsertPresetParameter { id, preset_id, name, value } = *params;
        self.exec(
            "insert preset parameter",
            "INSERT INTO template_version_preset_parameters (id, template_version_preset_id, name, value)
             VALUES (?1, ?2, ?3, ?4)",
            [id, preset_id, name, value],
        )
    }

    fn get_preset_parameters_by_template_version_id(&self, template_version_id: &str) -> Result<Vec<PresetParameter>> {
        self.all(
            "get preset parameters by template version id",
            "SELECT pp.id, pp.template_version_preset_id, pp.name, pp.value
             FROM template_version_preset_parameters pp
             JOIN template_version_presets p ON p.id = pp.template_version_preset_id
             WHERE p.template_version_id = ?1 ORDER BY p.name, pp.name",
            [template_version_id],
            rows::preset_parameter,
        )
    }

    fn insert_preset_prebuild_schedule(&self, params: &InsertPresetPrebuildSchedule<'_>) -> Result<()> {
        let InsertPresetPrebuildSchedule { id, preset_id, cron_expression, desired_instances } = *params;
        self.exec(
            "insert preset prebuild schedule",
            "INSERT INTO template_version_preset_prebuild_schedules (id, preset_id, cron_expression, desired_instances)
             VALUES (?1, ?2, ?3, ?4)",
            params![id, preset_id, cron_expression, desired_instances],
        )
    }

    fn get_preset_prebuild_schedules(&self, preset_id: &str) -> Result<Vec<PresetPrebuildSchedule>> {
        let sql = format!(
            "SELECT {PREBUILD_SCHEDULE_COLUMNS} FROM template_version_preset_prebuild_schedules
             WHERE preset_id = ?1 ORDER BY cron_expression, id"
        );
        self.all("get preset prebuild schedules", &sql, [preset_id], rows::preset_prebuild_schedule)
    }
}
