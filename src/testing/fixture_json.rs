//! The JSON fixture format (documented in `fixtures/README.md`) and its loader.
//!
//! **API boundary:** the format is a contract with other test suites. Entities refer to each
//! other by name; timestamps are RFC 3339 or relative to the load time (`"now"`,
//! `"now-2h30m"`, `"now+1d"`). Unknown fields are errors. Loading runs every file in one
//! write transaction: all or nothing. An error names the file and the JSON location
//! (`fixtures/x.json: templates[1].versions[0].presets[2].name: ...`).

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

use crate::clock::Timestamp;
use crate::clock::parse_duration;
use crate::clock::parse_interval;
pub use crate::clock::parse_time;
use crate::database;
use crate::database::Store;
use crate::database::TxOptions;
use crate::database::in_tx;
use crate::database::models::AgentLifecycle;
use crate::database::models::JobStatus;
use crate::database::models::PREBUILDS_SYSTEM_USER_ID;
use crate::database::models::Template;
use crate::database::models::TemplateScheduling;
use crate::database::models::UserStatus;
use crate::database::models::Workspace;
use crate::database::models::WorkspaceAgentStat;
use crate::database::models::WorkspaceAppStat;
use crate::database::models::WorkspaceTransition;
use crate::names;
use crate::prebuilds::schedule;
use crate::prebuilds::schedule::ScheduleRow;
use crate::testing::fixtures;

/// The demo fixture set, embedded in the binary.
pub const DEMO_JSON: &str = include_str!("../../fixtures/demo.json");

/// A fixture that could not be loaded: which file, where in it, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureError {
    pub file: String,
    /// The JSON path of the problem (`templates[2].name`), or "" for the whole file.
    pub location: String,
    pub message: String,
}

impl fmt::Display for FixtureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.location, self.message)
        }
    }
}

impl std::error::Error for FixtureError {}

/// What a load inserted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadSummary {
    pub organizations: usize,
    pub users: usize,
    pub groups: usize,
    pub templates: usize,
    pub template_versions: usize,
    pub presets: usize,
    pub workspaces: usize,
    pub agent_stats: usize,
    pub app_stats: usize,
}

/// The IDs a load created, by name: organizations and templates by name, users by
/// username, groups as `organization/group`, template versions as `template/version`,
/// presets as `template/version/preset`, workspaces as `owner/workspace`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LoadedIds {
    pub organizations: BTreeMap<String, String>,
    pub users: BTreeMap<String, String>,
    pub groups: BTreeMap<String, String>,
    pub templates: BTreeMap<String, String>,
    pub template_versions: BTreeMap<String, String>,
    pub presets: BTreeMap<String, String>,
    pub workspaces: BTreeMap<String, String>,
}

/// One fixture file's text and the name errors will use for it.
#[derive(Debug, Clone)]
pub struct FixtureSource {
    pub name: String,
    pub text: String,
}

impl FixtureSource {
    /// Reads a file.
    pub fn from_path(path: &Path) -> Result<Self, FixtureError> {
        let text = std::fs::read_to_string(path).map_err(|e| FixtureError {
            file: path.display().to_string(),
            location: String::new(),
            message: format!("read: {e}"),
        })?;
        Ok(Self { name: path.display().to_string(), text })
    }

    /// An embedded set by name (`demo`), or a file path.
    pub fn named(name: &str) -> Result<Self, FixtureError> {
        match name {
            "demo" => Ok(Self { name: "demo.json (embedded)".to_owned(), text: DEMO_JSON.to_owned() }),
            path => Self::from_path(Path::new(path)),
        }
    }
}

/// Parses every source, then loads them all in one write transaction (all or nothing).
pub fn load(store: &dyn Store, sources: &[FixtureSource]) -> Result<LoadSummary, FixtureError> {
    load_with_ids(store, sources).map(|(summary, _)| summary)
}

/// As [`load`], also answering the IDs it created by name.
pub fn load_with_ids(store: &dyn Store, sources: &[FixtureSource]) -> Result<(LoadSummary, LoadedIds), FixtureError> {
    load_checked(store, sources, false).map(|s| s.expect("loaded unconditionally"))
}

/// As [`load`], but only into a database without templates (checked in the same write
/// transaction, so two processes racing on one fresh file load once). `None`: not empty.
pub fn load_into_empty(store: &dyn Store, sources: &[FixtureSource]) -> Result<Option<LoadSummary>, FixtureError> {
    load_checked(store, sources, true).map(|s| s.map(|(summary, _)| summary))
}

fn load_checked(
    store: &dyn Store,
    sources: &[FixtureSource],
    only_if_empty: bool,
) -> Result<Option<(LoadSummary, LoadedIds)>, FixtureError> {
    let parsed: Vec<(String, FixtureFile)> =
        sources.iter().map(|s| parse(&s.name, &s.text).map(|f| (s.name.clone(), f))).collect::<Result<_, _>>()?;
    let now = store.clock().now();
    in_tx(store, TxOptions::write("load fixtures"), |tx| {
        if only_if_empty && tx.count_templates()? > 0 {
            return Ok(None);
        }
        let mut loader =
            Loader { tx, now, summary: LoadSummary::default(), ids: LoadedIds::default(), workspaces: HashMap::new() };
        for (name, file) in &parsed {
            loader.load_file(file).map_err(|(location, message)| {
                LoadError::Fixture(FixtureError { file: name.clone(), location, message })
            })?;
        }
        Ok(Some((loader.summary, loader.ids)))
    })
    .map_err(|e| match e {
        LoadError::Fixture(e) => e,
        LoadError::Database(e) => {
            FixtureError { file: "fixtures".to_owned(), location: String::new(), message: e.to_string() }
        }
    })
}

/// Parses one file's text; structural errors carry their JSON path. The top level must be an
/// object (an array would otherwise load as nothing).
pub fn parse(name: &str, text: &str) -> Result<FixtureFile, FixtureError> {
    parse_object(name, text)
}

/// Parses a JSON object document (a fixture file, a version document) with the checks and
/// error locations of [`parse`].
fn parse_object<T: serde::de::DeserializeOwned>(name: &str, text: &str) -> Result<T, FixtureError> {
    if !text.trim_start().starts_with('{') {
        return Err(FixtureError {
            file: name.to_owned(),
            location: String::new(),
            message: "the top level must be a JSON object of sections (organizations, users, groups, templates, \
                      workspaces, agent_stats, ...)"
                .to_owned(),
        });
    }
    // No stored text may hold NUL (PostgreSQL cannot store it): named by its JSON path.
    if text.contains("\\u0000")
        && let Ok(value) = serde_json::from_str::<serde_json::Value>(text)
        && let Some(location) = crate::names::first_nul_in_json(&value)
    {
        return Err(FixtureError {
            file: name.to_owned(),
            location,
            message: "text must not contain NUL characters".to_owned(),
        });
    }
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let location = match e.path().to_string() {
            dot if dot == "." => String::new(),
            path => path,
        };
        FixtureError { file: name.to_owned(), location, message: e.into_inner().to_string() }
    })
}

/// The file a template archive carries its version document in (at the archive's root).
pub const VERSION_DOCUMENT: &str = "coderlite.json";

/// A template version's content as an uploaded archive gives it (`coderlite.json`): the
/// fixture format of one version without its name (parameters, presets with prebuilds and
/// schedules, whether its builds fail).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionDocument {
    #[serde(default)]
    pub parameters: Vec<ParameterJson>,
    #[serde(default)]
    pub presets: Vec<PresetJson>,
    #[serde(default)]
    pub fail_builds: bool,
}

/// Parses a version document; errors name `name` and the JSON location.
pub fn parse_version_document(name: &str, text: &str) -> Result<VersionDocument, FixtureError> {
    parse_object(name, text)
}

/// Writes a version document's content into `version` (made without parameters or presets),
/// in the caller's transaction, with the fixture loader's checks and messages.
pub fn load_version_document(
    tx: &dyn Store,
    version: &crate::database::models::TemplateVersion,
    doc: &VersionDocument,
    file: &str,
) -> Result<(), FixtureError> {
    let fail = |(location, message): Located| FixtureError { file: file.to_owned(), location, message };
    let loader = Loader {
        tx,
        now: tx.clock().now(),
        summary: LoadSummary::default(),
        ids: LoadedIds::default(),
        workspaces: HashMap::new(),
    };
    let db = |location: String| {
        move |e: database::Error| FixtureError { file: file.to_owned(), location, message: e.to_string() }
    };
    for (i, p) in doc.parameters.iter().enumerate() {
        tx.insert_template_version_parameter(&crate::database::models::InsertTemplateVersionParameter {
            template_version_id: &version.id,
            name: &p.name,
            required: p.required,
            default_value: &p.default,
        })
        .map_err(db(format!("parameters[{i}]")))?;
    }
    for (k, p) in doc.presets.iter().enumerate() {
        let location = format!("presets[{k}]");
        loader.check_preset(&location, p).map_err(fail)?;
        build_preset(tx, version, p).map_err(db(location))?;
    }
    if doc.fail_builds {
        tx.update_template_version_fail_builds(&version.id, true).map_err(db(String::new()))?;
    }
    Ok(())
}

/// Inserts a (checked) preset of a version with its parameters and schedules.
fn build_preset(
    tx: &dyn Store,
    version: &crate::database::models::TemplateVersion,
    p: &PresetJson,
) -> database::Result<crate::database::models::Preset> {
    let mut pb = fixtures::preset(tx, version)
        .name(&p.name)
        .scheduling_timezone(&p.scheduling_timezone)
        .is_default(p.is_default);
    if let Some(n) = p.desired_instances {
        pb = pb.desired_instances(n);
    }
    if let Some(secs) = p.invalidate_after_secs {
        pb = pb.invalidate_after_secs(secs);
    }
    for (name, value) in &p.parameters {
        pb = pb.parameter(name, value);
    }
    for s in &p.schedules {
        pb = pb.schedule(&s.cron, s.desired_instances);
    }
    pb.build()
}

// --- the format -------------------------------------------------------------------------

/// One fixture file. Every section is optional; sections load in this order.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureFile {
    #[serde(default)]
    pub organizations: Vec<OrganizationJson>,
    #[serde(default)]
    pub users: Vec<UserJson>,
    #[serde(default)]
    pub groups: Vec<GroupJson>,
    #[serde(default)]
    pub templates: Vec<TemplateJson>,
    #[serde(default)]
    pub workspaces: Vec<WorkspaceJson>,
    #[serde(default)]
    pub agent_stats: Vec<AgentStatJson>,
    #[serde(default)]
    pub app_stats: Vec<AppStatJson>,
    /// Generated agent stats: one row every `every` between `from` and `to`.
    #[serde(default)]
    pub agent_stats_series: Vec<AgentStatsSeriesJson>,
    /// Generated app sessions: one session of `duration` every `every`.
    #[serde(default)]
    pub app_stats_series: Vec<AppStatsSeriesJson>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationJson {
    pub name: String,
    #[serde(default)]
    pub display_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserJson {
    pub username: String,
    pub email: Option<String>,
    #[serde(default)]
    pub name: String,
    pub status: Option<String>,
    /// Organization names; default: the default organization.
    #[serde(default)]
    pub organizations: Vec<String>,
    pub last_seen_at: Option<String>,
    /// Site roles: `owner`, `template-admin`, `user-admin`, `auditor`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// A password for `POST /api/v2/users/login`; stored hashed.
    pub password: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupJson {
    pub organization: Option<String>,
    pub name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub quota_allowance: i64,
    /// Usernames (`prebuilds` names the system user).
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateJson {
    pub organization: Option<String>,
    pub name: String,
    #[serde(default)]
    pub display_name: String,
    pub created_by: Option<String>,
    #[serde(default)]
    pub deprecated: String,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub icon: String,
    /// The TTL workspaces get when none is asked (`8h`; default `0`, none).
    pub default_ttl: Option<String>,
    /// How long activity extends a running workspace (default `1h`).
    pub activity_bump: Option<String>,
    /// The days autostart may run (`["monday", ...]`; default every day).
    pub autostart_allowed_days: Option<Vec<String>>,
    pub allow_user_autostart: Option<bool>,
    pub allow_user_autostop: Option<bool>,
    /// At least one; the one marked `active` (default: the last) is the active version.
    pub versions: Vec<VersionJson>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionJson {
    pub name: String,
    #[serde(default)]
    pub active: bool,
    #[serde(default)]
    pub fail_builds: bool,
    #[serde(default)]
    pub parameters: Vec<ParameterJson>,
    #[serde(default)]
    pub presets: Vec<PresetJson>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterJson {
    pub name: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetJson {
    pub name: String,
    pub desired_instances: Option<i64>,
    pub invalidate_after_secs: Option<i64>,
    #[serde(default)]
    pub scheduling_timezone: String,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub parameters: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub schedules: Vec<ScheduleJson>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleJson {
    pub cron: String,
    pub desired_instances: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceJson {
    pub organization: Option<String>,
    pub template: String,
    /// Username (`prebuilds` for a prebuild).
    pub owner: String,
    pub name: String,
    /// Version name; default: the active version.
    pub version: Option<String>,
    /// Preset name within the version.
    pub preset: Option<String>,
    pub transition: Option<String>,
    pub job_status: Option<String>,
    pub agent_lifecycle: Option<String>,
    pub created_at: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentStatJson {
    /// `owner/name` of a workspace in the fixtures.
    pub workspace: String,
    pub created_at: String,
    #[serde(default)]
    pub connection_count: i64,
    pub connection_median_latency_ms: Option<f64>,
    #[serde(default)]
    pub session_count_ssh: i64,
    #[serde(default)]
    pub session_count_vscode: i64,
    #[serde(default)]
    pub session_count_jetbrains: i64,
    #[serde(default)]
    pub session_count_reconnecting_pty: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppStatJson {
    pub workspace: String,
    pub access_method: String,
    pub slug_or_port: String,
    pub session_started_at: String,
    pub session_ended_at: String,
    #[serde(default)]
    pub requests: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentStatsSeriesJson {
    pub workspace: String,
    pub from: String,
    pub to: String,
    pub every: String,
    #[serde(default = "one")]
    pub connection_count: i64,
    pub connection_median_latency_ms: Option<f64>,
    #[serde(default)]
    pub session_count_ssh: i64,
    #[serde(default)]
    pub session_count_vscode: i64,
    #[serde(default)]
    pub session_count_jetbrains: i64,
    #[serde(default)]
    pub session_count_reconnecting_pty: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppStatsSeriesJson {
    pub workspace: String,
    pub access_method: String,
    pub slug_or_port: String,
    pub from: String,
    pub to: String,
    pub every: String,
    pub duration: String,
}

fn one() -> i64 {
    1
}

// --- the loader -------------------------------------------------------------------------

enum LoadError {
    Fixture(FixtureError),
    Database(database::Error),
}

impl From<database::Error> for LoadError {
    fn from(e: database::Error) -> Self {
        LoadError::Database(e)
    }
}

/// The counters of one agent stats row, shared by `agent_stats` and `agent_stats_series`
/// (the JSON structs cannot share a flattened struct: serde's `flatten` ignores
/// `deny_unknown_fields`).
#[derive(Clone, Copy)]
struct AgentCounts {
    connection_count: i64,
    connection_median_latency_ms: Option<f64>,
    ssh: i64,
    vscode: i64,
    jetbrains: i64,
    reconnecting_pty: i64,
}

/// (JSON location, message).
type Located = (String, String);

struct Loader<'a> {
    tx: &'a dyn Store,
    now: Timestamp,
    summary: LoadSummary,
    ids: LoadedIds,
    /// `owner/name` → (workspace, agent id) for the stats sections.
    workspaces: HashMap<String, (Workspace, String)>,
}

/// A name checked with upstream's rules, located at `location`.
fn valid_name(location: impl FnOnce() -> String, name: &str) -> Result<(), Located> {
    names::name_valid(name).map_err(|why| (location(), format!("invalid name {name:?}: {why}")))
}

/// A count that must not be negative.
fn non_negative(location: impl FnOnce() -> String, value: i64) -> Result<i64, Located> {
    if value < 0 { Err((location(), format!("must not be negative, got {value}"))) } else { Ok(value) }
}

/// A duration between 0 (exclusive) and a year, as every interval is.
fn interval(location: impl Fn() -> String, text: &str) -> Result<std::time::Duration, Located> {
    parse_interval(text).map_err(|m| (location(), m))
}

/// A template's scheduling fields, checked as upstream's template update checks them.
fn template_scheduling(i: usize, t: &TemplateJson) -> Result<TemplateScheduling, Located> {
    let mut s = TemplateScheduling::DEFAULT;
    let millis = |field: &str, text: &str| -> Result<i64, Located> {
        let d = parse_duration(text).map_err(|m| (format!("templates[{i}].{field}"), m))?;
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        if ms > crate::workspaces::schedule::TTL_MAX_MS {
            return Err((format!("templates[{i}].{field}"), "must be at most 30 days".to_owned()));
        }
        Ok(ms)
    };
    if let Some(ttl) = &t.default_ttl {
        s.default_ttl_ms = millis("default_ttl", ttl)?;
    }
    if let Some(bump) = &t.activity_bump {
        s.activity_bump_ms = millis("activity_bump", bump)?;
    }
    if let Some(days) = &t.autostart_allowed_days {
        let mut allowed = 0u8;
        for (j, day) in days.iter().enumerate() {
            let weekday: chrono::Weekday = day.parse().ok().filter(|_| day.len() > 3).ok_or_else(|| {
                (format!("templates[{i}].autostart_allowed_days[{j}]"), format!("unknown day {day:?} (monday..sunday)"))
            })?;
            allowed |= 1 << weekday.num_days_from_monday();
        }
        s.autostart_block_days_of_week = !allowed & 0b111_1111;
    }
    if let Some(allow) = t.allow_user_autostart {
        s.allow_user_autostart = allow;
    }
    if let Some(allow) = t.allow_user_autostop {
        s.allow_user_autostop = allow;
    }
    Ok(s)
}

/// Adds a location to a database error.
fn at<T>(location: impl FnOnce() -> String, res: database::Result<T>) -> Result<T, Located> {
    res.map_err(|e| (location(), e.to_string()))
}

impl Loader<'_> {
    fn time(&self, location: impl FnOnce() -> String, text: &str) -> Result<Timestamp, Located> {
        parse_time(text, self.now).map_err(|m| (location(), m))
    }

    fn org_id(&self, location: impl Fn() -> String, name: Option<&str>) -> Result<String, Located> {
        match name {
            None => at(&location, self.tx.get_default_organization()).map(|o| o.id),
            Some(name) => self.tx.get_organization_by_name(name).map(|o| o.id).map_err(|e| {
                (location(), if e.is_not_found() { format!("unknown organization {name:?}") } else { e.to_string() })
            }),
        }
    }

    fn user_id(&self, location: impl Fn() -> String, username: &str) -> Result<String, Located> {
        if username == "prebuilds" {
            return Ok(PREBUILDS_SYSTEM_USER_ID.to_owned());
        }
        self.tx.get_user_by_username(username).map(|u| u.id).map_err(|e| {
            (location(), if e.is_not_found() { format!("unknown user {username:?}") } else { e.to_string() })
        })
    }

    fn load_file(&mut self, file: &FixtureFile) -> Result<(), Located> {
        for (i, o) in file.organizations.iter().enumerate() {
            let loc = || format!("organizations[{i}]");
            valid_name(|| format!("organizations[{i}].name"), &o.name)?;
            let org = at(loc, fixtures::organization(self.tx).name(&o.name).display_name(&o.display_name).build())?;
            self.ids.organizations.insert(o.name.clone(), org.id);
            self.summary.organizations += 1;
        }
        for (i, u) in file.users.iter().enumerate() {
            self.load_user(i, u)?;
        }
        for (i, g) in file.groups.iter().enumerate() {
            let loc = || format!("groups[{i}]");
            names::group_name_valid(&g.name)
                .map_err(|why| (format!("groups[{i}].name"), format!("invalid name {:?}: {why}", g.name)))?;
            non_negative(|| format!("groups[{i}].quota_allowance"), g.quota_allowance)?;
            let org = self.org_id(|| format!("groups[{i}].organization"), g.organization.as_deref())?;
            let mut builder = fixtures::group(self.tx)
                .org(&at(loc, self.tx.get_organization_by_id(&org))?)
                .name(&g.name)
                .display_name(&g.display_name)
                .quota_allowance(g.quota_allowance);
            for (j, member) in g.members.iter().enumerate() {
                builder = builder.member(&self.user_id(|| format!("groups[{i}].members[{j}]"), member)?);
            }
            let group = at(loc, builder.build())?;
            let org_name = at(loc, self.tx.get_organization_by_id(&org))?.name;
            self.ids.groups.insert(format!("{org_name}/{}", g.name), group.id);
            self.summary.groups += 1;
        }
        for (i, t) in file.templates.iter().enumerate() {
            self.load_template(i, t)?;
        }
        for (i, w) in file.workspaces.iter().enumerate() {
            self.load_workspace(i, w)?;
        }
        self.load_stats(file)
    }

    fn load_user(&mut self, i: usize, u: &UserJson) -> Result<(), Located> {
        let loc = || format!("users[{i}]");
        valid_name(|| format!("users[{i}].username"), &u.username)?;
        names::user_real_name_valid(&u.name)
            .map_err(|why| (format!("users[{i}].name"), format!("invalid name {:?}: {why}", u.name)))?;
        let mut builder = fixtures::user(self.tx).username(&u.username).name(&u.name);
        if let Some(email) = &u.email {
            builder = builder.email(email);
        }
        if let Some(status) = &u.status {
            let status: UserStatus = status.parse().map_err(|m| (format!("users[{i}].status"), m))?;
            builder = builder.status(status);
        }
        if let Some(seen) = &u.last_seen_at {
            builder = builder.last_seen_at(self.time(|| format!("users[{i}].last_seen_at"), seen)?);
        }
        for (j, org) in u.organizations.iter().enumerate() {
            let id = self.org_id(|| format!("users[{i}].organizations[{j}]"), Some(org))?;
            builder = builder.org(&at(loc, self.tx.get_organization_by_id(&id))?);
        }
        for (j, role) in u.roles.iter().enumerate() {
            if !crate::identity::roles::is_assignable(role) {
                return Err((
                    format!("users[{i}].roles[{j}]"),
                    format!("unknown site role {role:?} (owner, template-admin, user-admin, auditor)"),
                ));
            }
        }
        builder = builder.roles(&u.roles);
        if let Some(password) = &u.password {
            if password.is_empty() {
                return Err((format!("users[{i}].password"), "a password must not be empty".to_owned()));
            }
            builder = builder.password(password);
        }
        let user = at(loc, builder.build())?;
        self.ids.users.insert(u.username.clone(), user.id);
        self.summary.users += 1;
        Ok(())
    }

    fn load_template(&mut self, i: usize, t: &TemplateJson) -> Result<(), Located> {
        let loc = || format!("templates[{i}]");
        valid_name(|| format!("templates[{i}].name"), &t.name)?;
        names::display_name_valid(&t.display_name).map_err(|why| {
            (format!("templates[{i}].display_name"), format!("invalid display name {:?}: {why}", t.display_name))
        })?;
        if t.versions.is_empty() {
            return Err((format!("templates[{i}].versions"), "a template needs at least one version".to_owned()));
        }
        let active_index = match t.versions.iter().filter(|v| v.active).count() {
            0 => t.versions.len() - 1,
            1 => t.versions.iter().position(|v| v.active).unwrap_or(0),
            _ => return Err((format!("templates[{i}].versions"), "more than one version is marked active".to_owned())),
        };
        let org_id = self.org_id(|| format!("templates[{i}].organization"), t.organization.as_deref())?;
        let org = at(loc, self.tx.get_organization_by_id(&org_id))?;
        let scheduling = template_scheduling(i, t)?;
        // The first version is created with the template; the others follow, and the active
        // one is promoted last.
        let first = &t.versions[0];
        let mut builder = fixtures::template(self.tx)
            .org(&org)
            .name(&t.name)
            .display_name(&t.display_name)
            .deprecated(&t.deprecated)
            .description(&t.description)
            .icon(&t.icon)
            .scheduling(scheduling)
            .version_name(&first.name)
            .fail_builds(first.fail_builds);
        if let Some(creator) = &t.created_by {
            let id = self.user_id(|| format!("templates[{i}].created_by"), creator)?;
            builder = builder.created_by(&at(loc, self.tx.get_user_by_id(&id))?);
        }
        for p in &first.parameters {
            builder = builder.parameter(&p.name, p.required, &p.default);
        }
        let created = at(loc, builder.build())?;
        let mut versions = vec![created.version];
        for (j, v) in t.versions.iter().enumerate().skip(1) {
            let mut vb =
                fixtures::template_version(self.tx, &created.template).name(&v.name).fail_builds(v.fail_builds);
            for p in &v.parameters {
                vb = vb.parameter(&p.name, p.required, &p.default);
            }
            versions.push(at(|| format!("templates[{i}].versions[{j}]"), vb.build())?);
        }
        // Activated once its versions exist: never before the template or its last version
        // were created.
        let activated_at =
            versions.iter().map(|v| v.created_at).fold(created.template.created_at.max(self.now), Ord::max);
        at(
            loc,
            self.tx.update_template_active_version(&created.template.id, &versions[active_index].id, activated_at),
        )?;
        for (j, (v, version)) in t.versions.iter().zip(&versions).enumerate() {
            for (k, p) in v.presets.iter().enumerate() {
                let ploc = || format!("templates[{i}].versions[{j}].presets[{k}]");
                self.check_preset(&ploc(), p)?;
                let preset = at(ploc, build_preset(self.tx, version, p))?;
                self.ids.presets.insert(format!("{}/{}/{}", t.name, v.name, p.name), preset.id);
                self.summary.presets += 1;
            }
        }
        if t.deleted {
            at(
                loc,
                self.tx.update_template_deleted_and_deprecated(&created.template.id, true, &t.deprecated, self.now),
            )?;
        }
        self.ids.templates.insert(t.name.clone(), created.template.id.clone());
        for (v, version) in t.versions.iter().zip(&versions) {
            self.ids.template_versions.insert(format!("{}/{}", t.name, v.name), version.id.clone());
        }
        self.summary.templates += 1;
        self.summary.template_versions += versions.len();
        Ok(())
    }

    fn load_workspace(&mut self, i: usize, w: &WorkspaceJson) -> Result<(), Located> {
        let loc = || format!("workspaces[{i}]");
        valid_name(|| format!("workspaces[{i}].name"), &w.name)?;
        let org = self.org_id(|| format!("workspaces[{i}].organization"), w.organization.as_deref())?;
        let template = self.template(|| format!("workspaces[{i}].template"), &org, &w.template)?;
        let owner = self.user_id(|| format!("workspaces[{i}].owner"), &w.owner)?;
        let versions = at(loc, self.tx.get_template_versions_by_template_id(&template.id))?;
        let version = match &w.version {
            None => versions.iter().find(|v| v.id == template.active_version_id),
            Some(name) => versions.iter().find(|v| &v.name == name),
        }
        .cloned()
        .ok_or_else(|| (format!("workspaces[{i}].version"), format!("unknown version {:?}", w.version)))?;
        let mut builder = fixtures::workspace(self.tx, &template).owner(&owner).name(&w.name).version(&version);
        if let Some(preset_name) = &w.preset {
            let presets = at(loc, self.tx.get_presets_by_template_version_id(&version.id))?;
            let preset = presets.iter().find(|p| &p.name == preset_name).ok_or_else(|| {
                (
                    format!("workspaces[{i}].preset"),
                    format!("unknown preset {preset_name:?} in version {:?}", version.name),
                )
            })?;
            builder = builder.preset(preset);
            let params = at(loc, self.tx.get_preset_parameters_by_template_version_id(&version.id))?;
            for p in params.iter().filter(|p| p.template_version_preset_id == preset.id) {
                builder = builder.build_parameter(&p.name, &p.value);
            }
        }
        if let Some(t) = &w.transition {
            let t: WorkspaceTransition = t.parse().map_err(|m| (format!("workspaces[{i}].transition"), m))?;
            builder = builder.transition(t);
        }
        if let Some(s) = &w.job_status {
            let s: JobStatus = s.parse().map_err(|m| (format!("workspaces[{i}].job_status"), m))?;
            builder = builder.job_status(s);
        }
        if let Some(l) = &w.agent_lifecycle {
            let l: AgentLifecycle = l.parse().map_err(|m| (format!("workspaces[{i}].agent_lifecycle"), m))?;
            builder = builder.agent_lifecycle(l);
        }
        if let Some(at_text) = &w.created_at {
            builder = builder.created_at(self.time(|| format!("workspaces[{i}].created_at"), at_text)?);
        }
        let built = at(loc, builder.build())?;
        let agent = built.agent_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        self.ids.workspaces.insert(format!("{}/{}", w.owner, w.name), built.workspace.id.clone());
        self.workspaces.insert(format!("{}/{}", w.owner, w.name), (built.workspace, agent));
        self.summary.workspaces += 1;
        Ok(())
    }

    /// The template of `organization_id` named `name`: the live one, else the newest deleted one
    /// (fixtures may set up workspaces of deleted templates, as prebuild tests need).
    fn template(&self, location: impl Fn() -> String, organization_id: &str, name: &str) -> Result<Template, Located> {
        match self.tx.get_template_by_organization_and_name(organization_id, name) {
            Ok(t) => return Ok(t),
            Err(e) if !e.is_not_found() => return Err((location(), e.to_string())),
            Err(_) => {}
        }
        let all = at(&location, self.tx.get_templates(true))?;
        all.into_iter()
            .filter(|t| t.template.organization_id == organization_id && t.template.name == name)
            .max_by_key(|t| t.template.updated_at)
            .map(|t| t.template)
            .ok_or_else(|| (location(), format!("unknown template {name:?}")))
    }

    /// The checks of one preset that the builders cannot make: counts, time zone.
    fn check_preset(&self, location: &str, p: &PresetJson) -> Result<(), Located> {
        if let Some(n) = p.desired_instances {
            non_negative(|| format!("{location}.desired_instances"), n)?;
        }
        if let Some(secs) = p.invalidate_after_secs {
            non_negative(|| format!("{location}.invalidate_after_secs"), secs)?;
        }
        if p.schedules.is_empty()
            && !p.scheduling_timezone.is_empty()
            && p.scheduling_timezone.parse::<chrono_tz::Tz>().is_err()
        {
            return Err((
                format!("{location}.scheduling_timezone"),
                format!("unknown time zone {:?} (use an IANA name such as Europe/Berlin)", p.scheduling_timezone),
            ));
        }
        for (l, s) in p.schedules.iter().enumerate() {
            non_negative(|| format!("{location}.schedules[{l}].desired_instances"), s.desired_instances)?;
        }
        let rows: Vec<ScheduleRow> = p.schedules.iter().map(|s| (s.cron.clone(), s.desired_instances)).collect();
        schedule::validate_scheduling(&p.scheduling_timezone, &rows).map_err(|e| {
            let where_ = match e.schedule {
                Some(l) => format!("{location}.schedules[{l}].cron"),
                None if e.message.contains("time zone") || e.message.contains("timezone") => {
                    format!("{location}.scheduling_timezone")
                }
                None => format!("{location}.schedules"),
            };
            (where_, e.message)
        })
    }

    /// A workspace named `owner/name`: one of this load, or one already in the database.
    fn workspace(&mut self, location: impl Fn() -> String, key: &str) -> Result<(Workspace, String), Located> {
        if !self.workspaces.contains_key(key) {
            let unknown = || (location(), format!("unknown workspace {key:?} (expected owner/name of a workspace)"));
            let (owner, name) = key.split_once('/').ok_or_else(unknown)?;
            let owner_id = self.user_id(&location, owner)?;
            let workspace = match self.tx.get_workspace_by_owner_and_name(&owner_id, name) {
                Ok(w) => w,
                Err(e) if e.is_not_found() => return Err(unknown()),
                Err(e) => return Err((location(), e.to_string())),
            };
            let agents = at(&location, self.tx.get_workspace_agents_by_workspace_id(&workspace.id))?;
            let agent = agents.first().map_or_else(|| uuid::Uuid::new_v4().to_string(), |a| a.id.clone());
            self.workspaces.insert(key.to_owned(), (workspace, agent));
        }
        Ok(self.workspaces[key].clone())
    }

    fn agent_row(&self, ws: &(Workspace, String), created_at: Timestamp, counts: AgentCounts) -> WorkspaceAgentStat {
        WorkspaceAgentStat {
            id: uuid::Uuid::new_v4().to_string(),
            created_at,
            user_id: ws.0.owner_id.clone(),
            agent_id: ws.1.clone(),
            workspace_id: ws.0.id.clone(),
            template_id: ws.0.template_id.clone(),
            connection_count: counts.connection_count,
            connection_median_latency_ms: counts.connection_median_latency_ms.unwrap_or(-1.0),
            rx_bytes: 0,
            tx_bytes: 0,
            session_count_vscode: counts.vscode,
            session_count_jetbrains: counts.jetbrains,
            session_count_reconnecting_pty: counts.reconnecting_pty,
            session_count_ssh: counts.ssh,
        }
    }

    fn app_row(
        ws: &(Workspace, String),
        access_method: &str,
        slug: &str,
        start: Timestamp,
        end: Timestamp,
    ) -> WorkspaceAppStat {
        WorkspaceAppStat {
            user_id: ws.0.owner_id.clone(),
            workspace_id: ws.0.id.clone(),
            agent_id: ws.1.clone(),
            access_method: access_method.to_owned(),
            slug_or_port: slug.to_owned(),
            session_id: uuid::Uuid::new_v4().to_string(),
            session_started_at: start,
            session_ended_at: end,
            requests: 1,
        }
    }

    fn series(&self, section: &str, i: usize, from: &str, to: &str, every: &str) -> Result<Vec<Timestamp>, Located> {
        let from = self.time(|| format!("{section}[{i}].from"), from)?;
        let to = self.time(|| format!("{section}[{i}].to"), to)?;
        let every = interval(|| format!("{section}[{i}].every"), every)?;
        let mut times = Vec::new();
        let mut t = from;
        while t <= to {
            times.push(t);
            t = crate::clock::add_duration(t, every);
        }
        Ok(times)
    }

    fn load_stats(&mut self, file: &FixtureFile) -> Result<(), Located> {
        let mut agent_rows = Vec::new();
        let mut app_rows = Vec::new();
        for (i, s) in file.agent_stats.iter().enumerate() {
            let ws = self.workspace(|| format!("agent_stats[{i}].workspace"), &s.workspace)?;
            let created_at = self.time(|| format!("agent_stats[{i}].created_at"), &s.created_at)?;
            agent_rows.push(self.agent_row(
                &ws,
                created_at,
                AgentCounts {
                    connection_count: s.connection_count,
                    connection_median_latency_ms: s.connection_median_latency_ms,
                    ssh: s.session_count_ssh,
                    vscode: s.session_count_vscode,
                    jetbrains: s.session_count_jetbrains,
                    reconnecting_pty: s.session_count_reconnecting_pty,
                },
            ));
        }
        for (i, s) in file.agent_stats_series.iter().enumerate() {
            let ws = self.workspace(|| format!("agent_stats_series[{i}].workspace"), &s.workspace)?;
            let counts = AgentCounts {
                connection_count: s.connection_count,
                connection_median_latency_ms: s.connection_median_latency_ms,
                ssh: s.session_count_ssh,
                vscode: s.session_count_vscode,
                jetbrains: s.session_count_jetbrains,
                reconnecting_pty: s.session_count_reconnecting_pty,
            };
            for t in self.series("agent_stats_series", i, &s.from, &s.to, &s.every)? {
                agent_rows.push(self.agent_row(&ws, t, counts));
            }
        }
        for (i, s) in file.app_stats.iter().enumerate() {
            let ws = self.workspace(|| format!("app_stats[{i}].workspace"), &s.workspace)?;
            let start = self.time(|| format!("app_stats[{i}].session_started_at"), &s.session_started_at)?;
            let end = self.time(|| format!("app_stats[{i}].session_ended_at"), &s.session_ended_at)?;
            if end < start {
                return Err((format!("app_stats[{i}].session_ended_at"), "ends before it starts".to_owned()));
            }
            let mut row = Self::app_row(&ws, &s.access_method, &s.slug_or_port, start, end);
            row.requests = s.requests;
            app_rows.push(row);
        }
        for (i, s) in file.app_stats_series.iter().enumerate() {
            let ws = self.workspace(|| format!("app_stats_series[{i}].workspace"), &s.workspace)?;
            let duration = interval(|| format!("app_stats_series[{i}].duration"), &s.duration)?;
            for t in self.series("app_stats_series", i, &s.from, &s.to, &s.every)? {
                let end = crate::clock::add_duration(t, duration);
                app_rows.push(Self::app_row(&ws, &s.access_method, &s.slug_or_port, t, end));
            }
        }
        at(|| "agent_stats".to_owned(), self.tx.insert_workspace_agent_stats(&agent_rows))?;
        at(|| "app_stats".to_owned(), self.tx.insert_workspace_app_stats(&app_rows))?;
        self.summary.agent_stats += agent_rows.len();
        self.summary.app_stats += app_rows.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use chrono::Utc;

    use super::*;

    #[test]
    fn relative_and_absolute_times() {
        let now = Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap();
        assert_eq!(parse_time("now", now), Ok(now));
        assert_eq!(parse_time("now-2h30m", now), Ok(Utc.with_ymd_and_hms(2024, 6, 1, 9, 30, 0).unwrap()));
        assert_eq!(parse_time("now+1d", now), Ok(Utc.with_ymd_and_hms(2024, 6, 2, 12, 0, 0).unwrap()));
        assert_eq!(parse_time("2024-01-02T03:04:05Z", now), Ok(Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap()));
        assert!(parse_time("now*2h", now).unwrap_err().contains("now*2h"));
        assert!(parse_time("yesterday", now).unwrap_err().contains("RFC 3339"));
    }

    #[test]
    fn structural_errors_carry_the_json_path() {
        let err = parse(
            "x.json",
            r#"{"templates": [{"name": "a", "versions": [{"name": "v", "presets": [{"nme": "p"}]}]}]}"#,
        )
        .unwrap_err();
        assert_eq!(err.file, "x.json");
        assert_eq!(err.location, "templates[0].versions[0].presets[0].nme");
        assert!(err.message.contains("nme"), "{err}");
        let err = parse("y.json", r#"{"users": [{"username": 5}]}"#).unwrap_err();
        assert_eq!(err.location, "users[0].username");
    }
}
