//! Turns what a user typed into the entity it names: a user by ID or username, a template
//! by ID or `[ORG/]NAME`, a preset by ID or `[ORG/]TEMPLATE/PRESET`. An unknown name is an
//! error that says what was looked for and how to find valid ones; an ambiguous one lists
//! the candidates.

use coderlite::database::Store;
use coderlite::database::models::Preset;
use coderlite::database::models::Template;
use coderlite::database::models::TemplateWithNames;
use coderlite::database::models::User;

use crate::cli::CliError;

/// Whether `text` is a UUID (an ID) rather than a name.
fn is_id(text: &str) -> bool {
    uuid::Uuid::parse_str(text).is_ok()
}

/// A live user by ID or username.
pub fn user(store: &dyn Store, text: &str) -> Result<User, CliError> {
    let found = if is_id(text) { store.get_user_by_id(text) } else { store.get_user_by_username(text) };
    match found {
        Ok(user) if !user.deleted => Ok(user),
        Ok(_) => Err(CliError::new(format!("user {text:?}"), "the user is deleted")),
        Err(e) if e.is_not_found() => Err(CliError::new(
            format!("user {text:?} does not exist"),
            "give a user ID or username (coderlite users list)",
        )),
        Err(e) => Err(CliError::new(format!("find user {text:?}"), e)),
    }
}

/// Live templates matching `[ORG/]NAME`, or the template with that ID.
fn templates_named(store: &dyn Store, text: &str) -> Result<Vec<TemplateWithNames>, CliError> {
    let all = store.get_templates(false).map_err(|e| CliError::new("list templates", e))?;
    if is_id(text) {
        return Ok(all.into_iter().filter(|t| t.template.id == text).collect());
    }
    let (org, name) = match text.split_once('/') {
        Some((org, name)) => (Some(org), name),
        None => (None, text),
    };
    Ok(all.into_iter().filter(|t| t.template.name == name && org.is_none_or(|o| o == t.organization_name)).collect())
}

/// Organization names of `templates`, for the message of an ambiguous name.
fn organization_names(templates: &[TemplateWithNames]) -> String {
    templates.iter().map(|t| t.organization_name.as_str()).collect::<Vec<_>>().join(", ")
}

/// A live template by ID or `[ORG/]NAME`.
pub fn template(store: &dyn Store, text: &str) -> Result<Template, CliError> {
    let mut found = templates_named(store, text)?;
    match found.len() {
        1 => Ok(found.remove(0).template),
        0 => Err(CliError::new(
            format!("template {text:?} does not exist"),
            "give a template ID or [ORG/]NAME (coderlite templates list)",
        )),
        _ => Err(CliError::new(
            format!("template {text:?} is ambiguous"),
            format!("it exists in organizations {}; write ORG/NAME", organization_names(&found)),
        )),
    }
}

/// A preset by ID, or by `[ORG/]TEMPLATE/PRESET` among the presets of the template's active
/// version.
pub fn preset(store: &dyn Store, text: &str) -> Result<Preset, CliError> {
    let missing = || {
        CliError::new(
            format!("preset {text:?} does not exist"),
            "give a preset ID, or TEMPLATE/PRESET (ORG/TEMPLATE/PRESET when the template name is in several \
             organizations); see coderlite prebuilds status",
        )
    };
    if is_id(text) {
        return match store.get_preset_by_id(text) {
            Ok(p) => Ok(p),
            Err(e) if e.is_not_found() => Err(missing()),
            Err(e) => Err(CliError::new(format!("find preset {text:?}"), e)),
        };
    }
    let Some((template_part, preset_name)) = text.rsplit_once('/') else { return Err(missing()) };
    let templates = templates_named(store, template_part)?;
    if templates.len() > 1 {
        return Err(CliError::new(
            format!("preset {text:?} is ambiguous"),
            format!(
                "template {template_part:?} exists in organizations {}; write ORG/TEMPLATE/PRESET",
                organization_names(&templates)
            ),
        ));
    }
    let Some(template) = templates.first() else { return Err(missing()) };
    let presets = store
        .get_presets_by_template_version_id(&template.template.active_version_id)
        .map_err(|e| CliError::new(format!("find preset {text:?}"), e))?;
    presets.into_iter().find(|p| p.name == preset_name).ok_or_else(missing)
}
