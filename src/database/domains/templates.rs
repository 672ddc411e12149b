//! Templates, versions, parameters and presets: `TemplateStore` and its rows.

use crate::clock::Timestamp;
use crate::database::Result;

store_domain! {
    /// Templates, versions, parameters, presets and their schedules, and provisioner jobs.
    pub trait TemplateStore {

        /// Inserts a template (its active version may be inserted later in the same transaction).
        write fn insert_template(&self, params: &InsertTemplate<'_>) -> Result<Template>;

        /// The template with `id`, deleted or not; `NotFound` when absent.
        read fn get_template_by_id(&self, id: &str) -> Result<Template>;

        /// How many templates exist, deleted ones included.
        read fn count_templates(&self) -> Result<i64>;

        /// Every template with its organization's and active version's names, by organization
        /// and template name; deleted ones only with `include_deleted`.
        read fn get_templates(&self, include_deleted: bool) -> Result<Vec<TemplateWithNames>>;

        /// The non-deleted template of an organization named `name`; `NotFound` when absent.
        read fn get_template_by_organization_and_name(&self, organization_id: &str, name: &str) -> Result<Template>;

        /// Promotes a version to the template's active version.
        write fn update_template_active_version(&self, template_id: &str, version_id: &str, updated_at: Timestamp) -> Result<()>;

        /// Soft-deletes or restores a template and sets its deprecation message ('' = none).
        write fn update_template_deleted_and_deprecated(&self, template_id: &str, deleted: bool, deprecated: &str, updated_at: Timestamp) -> Result<()>;

        /// Sets every settable field of a template; a name another template of the organization
        /// has is `UniqueViolation { templates_organization_id_name_idx }`.
        write fn update_template_meta(&self, template_id: &str, meta: &TemplateMeta<'_>, updated_at: Timestamp) -> Result<()>;

        /// Attaches a version made without a template to `template_id`.
        write fn update_template_version_template_id(&self, version_id: &str, template_id: &str) -> Result<()>;

        /// Marks a version's builds to fail or succeed (what its import found).
        write fn update_template_version_fail_builds(&self, version_id: &str, fail_builds: bool) -> Result<()>;

        /// Inserts a template version.
        write fn insert_template_version(&self, params: &InsertTemplateVersion<'_>) -> Result<TemplateVersion>;

        /// The version with `id`; `NotFound` when absent.
        read fn get_template_version_by_id(&self, id: &str) -> Result<TemplateVersion>;

        /// The template versions with these ids, in no particular order.
        read fn get_template_versions_by_ids(&self, ids: &[String]) -> Result<Vec<TemplateVersion>>;

        /// A template's versions, oldest first.
        read fn get_template_versions_by_template_id(&self, template_id: &str) -> Result<Vec<TemplateVersion>>;

        /// Declares a parameter of a version.
        write fn insert_template_version_parameter(&self, params: &InsertTemplateVersionParameter<'_>) -> Result<()>;

        /// A version's parameters by name.
        read fn get_template_version_parameters(&self, template_version_id: &str) -> Result<Vec<TemplateVersionParameter>>;

        /// Inserts a preset.
        write fn insert_preset(&self, params: &InsertPreset<'_>) -> Result<Preset>;

        /// The preset with `id`; `NotFound` when absent.
        read fn get_preset_by_id(&self, id: &str) -> Result<Preset>;

        /// A version's presets by name.
        read fn get_presets_by_template_version_id(&self, template_version_id: &str) -> Result<Vec<Preset>>;

        /// Sets a parameter value of a preset.
        write fn insert_preset_parameter(&self, params: &InsertPresetParameter<'_>) -> Result<()>;

        /// Every preset parameter of a version's presets (callers filter by preset).
        read fn get_preset_parameters_by_template_version_id(&self, template_version_id: &str) -> Result<Vec<PresetParameter>>;

        /// Adds a prebuild schedule (cron, desired instances) to a preset.
        write fn insert_preset_prebuild_schedule(&self, params: &InsertPresetPrebuildSchedule<'_>) -> Result<()>;

        /// A preset's prebuild schedules.
        read fn get_preset_prebuild_schedules(&self, preset_id: &str) -> Result<Vec<PresetPrebuildSchedule>>;
    }
}

text_enum! {
    /// `template_version_presets.prebuild_status`.
    PrebuildStatus {
        Healthy => "healthy",
        HardLimited => "hard_limited",
        ValidationFailed => "validation_failed",
    }
}

/// Parameters of `insert_template`.
#[derive(Debug, Clone)]
pub struct InsertTemplate<'a> {
    pub id: &'a str,
    pub organization_id: &'a str,
    pub name: &'a str,
    pub display_name: &'a str,
    pub created_at: Timestamp,
    pub created_by: Option<&'a str>,
    pub active_version_id: &'a str,
    /// '' means not deprecated.
    pub deprecated: &'a str,
    pub description: &'a str,
    pub icon: &'a str,
    pub scheduling: TemplateScheduling,
}

/// What `update_template_meta` writes: every settable field of a template at once.
#[derive(Debug, Clone)]
pub struct TemplateMeta<'a> {
    pub name: &'a str,
    pub display_name: &'a str,
    pub description: &'a str,
    pub icon: &'a str,
    /// '' means not deprecated.
    pub deprecated: &'a str,
    pub scheduling: TemplateScheduling,
    pub allow_user_cancel_workspace_jobs: bool,
    pub require_active_version: bool,
}

/// A template's scheduling settings (upstream's template schedule); durations in
/// milliseconds, day bitmaps with Monday as bit 0 and Sunday as bit 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateScheduling {
    /// The TTL a workspace gets when its creator gives none; 0 = none.
    pub default_ttl_ms: i64,
    pub activity_bump_ms: i64,
    /// Days autostart may not run; 0 = every day allowed.
    pub autostart_block_days_of_week: u8,
    pub autostop_requirement_days_of_week: u8,
    pub autostop_requirement_weeks: i64,
    pub allow_user_autostart: bool,
    pub allow_user_autostop: bool,
    pub failure_ttl_ms: i64,
    pub time_til_dormant_ms: i64,
    pub time_til_dormant_autodelete_ms: i64,
}

impl TemplateScheduling {
    /// What a template created through upstream's API starts with.
    pub const DEFAULT: TemplateScheduling = TemplateScheduling {
        default_ttl_ms: 0,
        activity_bump_ms: 3_600_000,
        autostart_block_days_of_week: 0,
        autostop_requirement_days_of_week: 0,
        autostop_requirement_weeks: 0,
        allow_user_autostart: true,
        allow_user_autostop: true,
        failure_ttl_ms: 0,
        time_til_dormant_ms: 0,
        time_til_dormant_autodelete_ms: 0,
    };

    /// Whether autostart may run on `day`.
    pub fn autostart_allowed(&self, day: chrono::Weekday) -> bool {
        self.autostart_block_days_of_week & (1 << day.num_days_from_monday()) == 0
    }
}

/// A row of `templates`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub display_name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub created_by: Option<String>,
    pub deleted: bool,
    pub deprecated: String,
    pub active_version_id: String,
    pub description: String,
    pub icon: String,
    pub scheduling: TemplateScheduling,
    pub allow_user_cancel_workspace_jobs: bool,
    pub require_active_version: bool,
}

/// A template with the names a listing shows beside it (upstream's `template_with_names`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateWithNames {
    pub template: Template,
    pub organization_name: String,
    pub organization_display_name: String,
    pub active_version_name: String,
    /// The creator's username; `None` when unknown.
    pub created_by_username: Option<String>,
}

/// Parameters of `insert_template_version`.
#[derive(Debug, Clone)]
pub struct InsertTemplateVersion<'a> {
    pub id: &'a str,
    pub template_id: Option<&'a str>,
    pub organization_id: &'a str,
    pub name: &'a str,
    pub created_at: Timestamp,
    pub created_by: Option<&'a str>,
    pub job_id: &'a str,
    pub fail_builds: bool,
}

/// A row of `template_versions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateVersion {
    pub id: String,
    pub template_id: Option<String>,
    pub organization_id: String,
    pub name: String,
    pub created_at: Timestamp,
    pub job_id: String,
    pub fail_builds: bool,
}

/// A row of `template_version_parameters`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateVersionParameter {
    pub template_version_id: String,
    pub name: String,
    pub required: bool,
    pub default_value: String,
}

/// Parameters of `insert_preset`.
#[derive(Debug, Clone)]
pub struct InsertPreset<'a> {
    pub id: &'a str,
    pub template_version_id: &'a str,
    pub name: &'a str,
    pub created_at: Timestamp,
    /// None: the preset wants no prebuilds.
    pub desired_instances: Option<i64>,
    pub invalidate_after_secs: Option<i64>,
    pub scheduling_timezone: &'a str,
    pub is_default: bool,
}

/// A row of `template_version_presets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preset {
    pub id: String,
    pub template_version_id: String,
    pub name: String,
    pub created_at: Timestamp,
    pub desired_instances: Option<i64>,
    pub invalidate_after_secs: Option<i64>,
    pub scheduling_timezone: String,
    pub prebuild_status: PrebuildStatus,
    pub last_invalidated_at: Option<Timestamp>,
    pub is_default: bool,
}

/// A row of `template_version_preset_parameters`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresetParameter {
    pub id: String,
    pub template_version_preset_id: String,
    pub name: String,
    pub value: String,
}

/// A row of `template_version_preset_prebuild_schedules`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresetPrebuildSchedule {
    pub id: String,
    pub preset_id: String,
    pub cron_expression: String,
    pub desired_instances: i64,
}

#[derive(Debug, Clone)]
pub struct InsertTemplateVersionParameter<'a> {
    pub template_version_id: &'a str,
    pub name: &'a str,
    pub required: bool,
    pub default_value: &'a str,
}

#[derive(Debug, Clone)]
pub struct InsertPresetParameter<'a> {
    pub id: &'a str,
    pub preset_id: &'a str,
    pub name: &'a str,
    pub value: &'a str,
}

#[derive(Debug, Clone)]
pub struct InsertPresetPrebuildSchedule<'a> {
    pub id: &'a str,
    pub preset_id: &'a str,
    pub cron_expression: &'a str,
    pub desired_instances: i64,
}
