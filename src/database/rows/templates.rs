//! Shared row mappers of the templates domain's queries, and of the provisioner's.

use crate::database::Result;
use crate::database::models::PresetParameter;
use crate::database::models::PresetPrebuildSchedule;
use crate::database::models::ProvisionerJobLog;
use crate::database::models::TemplateVersionParameter;
use crate::database::models::TemplateWithNames;
use crate::database::rows::RowReader;
use crate::database::rows::TEMPLATE_COLUMN_COUNT;
use crate::database::rows::template;

/// The template's columns, then (organization name, organization display name, active
/// version name, creator's username).
pub(crate) fn template_with_names(r: &dyn RowReader) -> Result<TemplateWithNames> {
    Ok(TemplateWithNames {
        template: template(r)?,
        organization_name: r.text(TEMPLATE_COLUMN_COUNT)?,
        organization_display_name: r.text(TEMPLATE_COLUMN_COUNT + 1)?,
        active_version_name: r.text(TEMPLATE_COLUMN_COUNT + 2)?,
        created_by_username: r.opt_text(TEMPLATE_COLUMN_COUNT + 3)?,
    })
}

pub(crate) const VERSION_PARAMETER_COLUMNS: &str = "template_version_id, name, required, default_value";

pub(crate) fn template_version_parameter(r: &dyn RowReader) -> Result<TemplateVersionParameter> {
    Ok(TemplateVersionParameter {
        template_version_id: r.id(0)?,
        name: r.text(1)?,
        required: r.bool(2)?,
        default_value: r.text(3)?,
    })
}

/// (id, preset id, name, value).
pub(crate) fn preset_parameter(r: &dyn RowReader) -> Result<PresetParameter> {
    Ok(PresetParameter { id: r.id(0)?, template_version_preset_id: r.id(1)?, name: r.text(2)?, value: r.text(3)? })
}

pub(crate) const PREBUILD_SCHEDULE_COLUMNS: &str = "id, preset_id, cron_expression, desired_instances";

pub(crate) fn preset_prebuild_schedule(r: &dyn RowReader) -> Result<PresetPrebuildSchedule> {
    Ok(PresetPrebuildSchedule {
        id: r.id(0)?,
        preset_id: r.id(1)?,
        cron_expression: r.text(2)?,
        desired_instances: r.i64(3)?,
    })
}

pub(crate) const JOB_LOG_COLUMNS: &str = "id, job_id, created_at, source, level, stage, output";

pub(crate) fn provisioner_job_log(r: &dyn RowReader) -> Result<ProvisionerJobLog> {
    Ok(ProvisionerJobLog {
        id: r.i64(0)?,
        job_id: r.id(1)?,
        created_at: r.time(2)?,
        source: r.text(3)?,
        level: r.text(4)?,
        stage: r.text(5)?,
        output: r.text(6)?,
    })
}
