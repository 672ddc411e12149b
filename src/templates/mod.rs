//! Templates as their admins manage them through upstream's API: creating one from a
//! version (`create_template`), changing its settings (`update_meta`, upstream's
//! `PATCH /templates/{id}` with its no-op and validation rules), and importing a version from
//! an uploaded archive (`import`).

pub mod import;

use crate::database;
use crate::database::Store;
use crate::database::TxOptions;
use crate::database::in_tx;
use crate::database::models::InsertTemplate;
use crate::database::models::Template;
use crate::database::models::TemplateMeta;
use crate::database::models::TemplateScheduling;

/// The most weeks an autostop requirement may span (upstream's limit).
pub const MAX_AUTOSTOP_REQUIREMENT_WEEKS: i64 = 16;

/// Why a template was not created or changed.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// Fields that break upstream's rules: (field, detail).
    #[error("invalid template settings")]
    Invalid(Vec<(String, String)>),
    /// Another live template of the organization has the name.
    #[error("Template with name {0:?} already exists.")]
    NameTaken(String),
    #[error("Template version {0:?} does not exist.")]
    VersionNotFound(String),
    /// The version belongs to a template already.
    #[error("Template version {0} is already part of a template")]
    VersionAttached(String),
    #[error(transparent)]
    Database(#[from] database::Error),
}

/// Upstream's `autostop_requirement`: the days a workspace must stop on, every `weeks` weeks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutostopRequirement {
    pub days_of_week: Vec<String>,
    pub weeks: i64,
}

/// Every setting of a template a request may give; `None` keeps the default (create) or the
/// current value (update) where upstream does.
#[derive(Debug, Clone, Default)]
pub struct TemplateSettings {
    pub display_name: String,
    pub description: String,
    pub icon: String,
    pub default_ttl_ms: Option<i64>,
    pub activity_bump_ms: Option<i64>,
    pub autostop_requirement: Option<AutostopRequirement>,
    /// Days autostart may run.
    pub autostart_days: Option<Vec<String>>,
    pub allow_user_autostart: Option<bool>,
    pub allow_user_autostop: Option<bool>,
    pub allow_user_cancel_workspace_jobs: Option<bool>,
    pub failure_ttl_ms: Option<i64>,
    pub time_til_dormant_ms: Option<i64>,
    pub time_til_dormant_autodelete_ms: Option<i64>,
    pub require_active_version: bool,
}

/// A bitmap of days (Monday bit 0) from upstream's lowercase day names.
fn day_bits(field: &str, days: &[String], problems: &mut Vec<(String, String)>) -> u8 {
    let mut bits = 0u8;
    for day in days {
        match day
            .parse::<chrono::Weekday>()
            .ok()
            .filter(|_| day.len() > 3 && day.chars().all(|c| c.is_ascii_lowercase()))
        {
            Some(d) => bits |= 1 << d.num_days_from_monday(),
            None => problems.push((field.to_owned(), format!("invalid weekday {day:?}"))),
        }
    }
    bits
}

/// `settings` applied over `base` with upstream's checks: on `update` omitted numbers and
/// flags read as 0 and false (upstream's quirk), on create they keep `base`'s defaults. An
/// autostop requirement of 0 weeks means 1, as upstream reads it.
fn apply(base: TemplateScheduling, s: &TemplateSettings, update: bool) -> Result<TemplateScheduling, TemplateError> {
    let mut problems = Vec::new();
    let base = normalized(base);
    let mut out = base;
    let positive = |field: &str, v: Option<i64>, problems: &mut Vec<(String, String)>| {
        if v.is_some_and(|v| v < 0) {
            problems.push((field.to_owned(), "Must be a positive integer.".to_owned()));
        }
    };
    positive("default_ttl_ms", s.default_ttl_ms, &mut problems);
    positive("activity_bump_ms", s.activity_bump_ms, &mut problems);
    let minute = |field: &str, v: Option<i64>, problems: &mut Vec<(String, String)>| {
        if v.is_some_and(|v| v < 0 || (1..60_000).contains(&v)) {
            let detail = if update { "Value must be at least one minute." } else { "Must be a positive integer." };
            problems.push((field.to_owned(), detail.to_owned()));
        }
    };
    let (dormant, autodelete) = if update {
        ("time_til_dormant_ms", "time_til_dormant_autodelete_ms")
    } else {
        // Upstream's create names both dormancy checks by the autodelete field.
        ("time_til_dormant_autodeletion_ms", "time_til_dormant_autodeletion_ms")
    };
    minute("failure_ttl_ms", s.failure_ttl_ms, &mut problems);
    minute(dormant, s.time_til_dormant_ms, &mut problems);
    minute(autodelete, s.time_til_dormant_autodelete_ms, &mut problems);
    if let Some(req) = &s.autostop_requirement {
        out.autostop_requirement_days_of_week =
            day_bits("autostop_requirement.days_of_week", &req.days_of_week, &mut problems);
        if req.weeks < 0 {
            problems.push(("autostop_requirement.weeks".to_owned(), "Must be a positive integer.".to_owned()));
        } else if req.weeks > MAX_AUTOSTOP_REQUIREMENT_WEEKS {
            problems.push((
                "autostop_requirement.weeks".to_owned(),
                format!("Must be less than {MAX_AUTOSTOP_REQUIREMENT_WEEKS}."),
            ));
        }
        out.autostop_requirement_weeks = req.weeks.max(1);
    }
    if let Some(days) = &s.autostart_days {
        out.autostart_block_days_of_week =
            !day_bits("autostart_requirement.days_of_week", days, &mut problems) & 0b111_1111;
    }
    if !problems.is_empty() {
        return Err(TemplateError::Invalid(problems));
    }
    let or = |v: Option<i64>, current: i64| if update { v.unwrap_or(0) } else { v.unwrap_or(current) };
    out.default_ttl_ms = or(s.default_ttl_ms, base.default_ttl_ms);
    out.activity_bump_ms = or(s.activity_bump_ms, base.activity_bump_ms);
    out.failure_ttl_ms = or(s.failure_ttl_ms, base.failure_ttl_ms);
    out.time_til_dormant_ms = or(s.time_til_dormant_ms, base.time_til_dormant_ms);
    out.time_til_dormant_autodelete_ms = or(s.time_til_dormant_autodelete_ms, base.time_til_dormant_autodelete_ms);
    let flag = |v: Option<bool>, current: bool| if update { v.unwrap_or(false) } else { v.unwrap_or(current) };
    out.allow_user_autostart = flag(s.allow_user_autostart, base.allow_user_autostart);
    out.allow_user_autostop = flag(s.allow_user_autostop, base.allow_user_autostop);
    Ok(out)
}

/// `s` with an autostop requirement of 0 weeks written as the 1 it means.
fn normalized(mut s: TemplateScheduling) -> TemplateScheduling {
    s.autostop_requirement_weeks = s.autostop_requirement_weeks.max(1);
    s
}

/// Creates template `name` in `organization_id` around the version `version_id` (one made
/// without a template), which becomes its active version.
pub fn create_template(
    store: &dyn Store,
    organization_id: &str,
    name: &str,
    version_id: &str,
    created_by: &str,
    settings: &TemplateSettings,
) -> Result<Template, TemplateError> {
    let scheduling = apply(TemplateScheduling::DEFAULT, settings, false)?;
    in_tx(store, TxOptions::write("create template"), |tx| {
        if tx.get_template_by_organization_and_name(organization_id, name).is_ok() {
            return Err(TemplateError::NameTaken(name.to_owned()));
        }
        let version = match tx.get_template_version_by_id(version_id) {
            Ok(v) if v.organization_id == organization_id => v,
            Ok(_) => return Err(TemplateError::VersionNotFound(version_id.to_owned())),
            Err(e) if e.is_not_found() => return Err(TemplateError::VersionNotFound(version_id.to_owned())),
            Err(e) => return Err(e.into()),
        };
        if version.template_id.is_some() {
            return Err(TemplateError::VersionAttached(version_id.to_owned()));
        }
        let now = tx.clock().now();
        let id = uuid::Uuid::new_v4().to_string();
        tx.insert_template(&InsertTemplate {
            id: &id,
            organization_id,
            name,
            display_name: &settings.display_name,
            created_at: now,
            created_by: Some(created_by),
            active_version_id: version_id,
            deprecated: "",
            description: &settings.description,
            icon: &settings.icon,
            scheduling,
        })
        .map_err(|e| name_taken(e, name))?;
        tx.update_template_version_template_id(version_id, &id)?;
        let allow_cancel = settings.allow_user_cancel_workspace_jobs.unwrap_or(false);
        if allow_cancel || settings.require_active_version {
            let t = tx.get_template_by_id(&id)?;
            tx.update_template_meta(&id, &meta_of(&t, allow_cancel, settings.require_active_version), now)?;
        }
        Ok(tx.get_template_by_id(&id)?)
    })
}

fn meta_of(t: &Template, allow_cancel: bool, require_active_version: bool) -> TemplateMeta<'_> {
    TemplateMeta {
        name: &t.name,
        display_name: &t.display_name,
        description: &t.description,
        icon: &t.icon,
        deprecated: &t.deprecated,
        scheduling: t.scheduling,
        allow_user_cancel_workspace_jobs: allow_cancel,
        require_active_version,
    }
}

fn name_taken(e: database::Error, name: &str) -> TemplateError {
    if e.is_unique_violation_of("templates_organization_id_name_idx") {
        TemplateError::NameTaken(name.to_owned())
    } else {
        e.into()
    }
}

/// Upstream's `PATCH /templates/{id}`: `name` (empty keeps it), the texts, the scheduling
/// (omitted numbers and flags are 0 and false, as upstream reads them; omitted requirements
/// keep theirs) and `deprecation_message` (`None` keeps it, "" un-deprecates). `Ok(None)`
/// when nothing would change (upstream's 304).
pub fn update_meta(
    store: &dyn Store,
    template_id: &str,
    name: &str,
    settings: &TemplateSettings,
    deprecation_message: Option<&str>,
) -> Result<Option<Template>, TemplateError> {
    in_tx(store, TxOptions::write("update template meta"), |tx| {
        let t = tx.get_template_by_id(template_id)?;
        let scheduling = apply(t.scheduling, settings, true)?;
        let name = if name.is_empty() { t.name.as_str() } else { name };
        let meta = TemplateMeta {
            name,
            display_name: &settings.display_name,
            description: &settings.description,
            icon: &settings.icon,
            deprecated: deprecation_message.unwrap_or(&t.deprecated),
            scheduling,
            allow_user_cancel_workspace_jobs: settings.allow_user_cancel_workspace_jobs.unwrap_or(false),
            require_active_version: settings.require_active_version,
        };
        let unchanged = meta.name == t.name
            && meta.display_name == t.display_name
            && meta.description == t.description
            && meta.icon == t.icon
            && meta.deprecated == t.deprecated
            && meta.scheduling == normalized(t.scheduling)
            && meta.allow_user_cancel_workspace_jobs == t.allow_user_cancel_workspace_jobs
            && meta.require_active_version == t.require_active_version;
        if unchanged {
            return Ok(None);
        }
        tx.update_template_meta(template_id, &meta, tx.clock().now()).map_err(|e| name_taken(e, name))?;
        Ok(Some(tx.get_template_by_id(template_id)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_bounds_follow_upstream() {
        let s = TemplateSettings {
            autostop_requirement: Some(AutostopRequirement { days_of_week: vec!["saturday".into()], weeks: 2 }),
            autostart_days: Some(vec!["monday".into(), "tuesday".into()]),
            ..TemplateSettings::default()
        };
        let out = apply(TemplateScheduling::DEFAULT, &s, false).unwrap();
        assert_eq!(out.autostop_requirement_days_of_week, 1 << 5);
        assert_eq!(out.autostop_requirement_weeks, 2);
        assert_eq!(out.autostart_block_days_of_week, 0b111_1100);
        assert!(out.allow_user_autostart, "create keeps the default");
        let updated = apply(out, &TemplateSettings::default(), true).unwrap();
        assert!(!updated.allow_user_autostart, "an update reads an omitted flag as false");
        assert_eq!(updated.autostop_requirement_weeks, 2, "an omitted requirement is kept");

        let bad = TemplateSettings {
            default_ttl_ms: Some(-1),
            failure_ttl_ms: Some(30_000),
            autostop_requirement: Some(AutostopRequirement { days_of_week: vec!["Sunday".into()], weeks: 17 }),
            ..TemplateSettings::default()
        };
        let TemplateError::Invalid(problems) = apply(TemplateScheduling::DEFAULT, &bad, true).unwrap_err() else {
            panic!("invalid")
        };
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            ["default_ttl_ms", "failure_ttl_ms", "autostop_requirement.days_of_week", "autostop_requirement.weeks"]
        );
        assert_eq!(problems[3].1, "Must be less than 16.");
    }
}
