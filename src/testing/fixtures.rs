//! Fixture builders: one per entity, with defaults for everything, in the spirit of
//! upstream's `dbgen`: `fixtures::template(&store).org(&org).build()?`.
//!
//! Every default satisfies the foreign keys by creating or picking the parent (the default
//! organization, a fresh owner); names are random and unique; timestamps come from the store's
//! clock. Entities made of several rows are built in one write transaction, and every builder
//! returns the stored rows.

use crate::clock::Timestamp;
use crate::database::Error;
use crate::database::Result;
use crate::database::Store;
use crate::database::TxOptions;
use crate::database::in_tx;
use crate::database::models::AgentLifecycle;
use crate::database::models::Group;
use crate::database::models::InsertGroup;
use crate::database::models::InsertOrganization;
use crate::database::models::InsertPreset;
use crate::database::models::InsertProvisionerJob;
use crate::database::models::InsertTemplate;
use crate::database::models::InsertTemplateVersion;
use crate::database::models::InsertUser;
use crate::database::models::InsertWorkspace;
use crate::database::models::InsertWorkspaceAgent;
use crate::database::models::InsertWorkspaceBuild;
use crate::database::models::JobStatus;
use crate::database::models::LoginType;
use crate::database::models::Organization;
use crate::database::models::Preset;
use crate::database::models::ProvisionerJob;
use crate::database::models::ProvisionerJobType;
use crate::database::models::Template;
use crate::database::models::TemplateScheduling;
use crate::database::models::TemplateVersion;
use crate::database::models::User;
use crate::database::models::UserStatus;
use crate::database::models::Workspace;
use crate::database::models::WorkspaceAgentStat;
use crate::database::models::WorkspaceAppStat;
use crate::database::models::WorkspaceBuild;
use crate::database::models::WorkspaceTransition;

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A short random suffix for unique default names.
fn suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

// --- organizations ----------------------------------------------------------------------

pub fn organization(store: &dyn Store) -> OrganizationBuilder<'_> {
    OrganizationBuilder { store, name: None, display_name: String::new() }
}

pub struct OrganizationBuilder<'a> {
    store: &'a dyn Store,
    name: Option<String>,
    display_name: String,
}

impl OrganizationBuilder<'_> {
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    pub fn display_name(mut self, display_name: &str) -> Self {
        self.display_name = display_name.to_owned();
        self
    }

    pub fn build(self) -> Result<Organization> {
        let name = self.name.unwrap_or_else(|| format!("org-{}", suffix()));
        self.store.insert_organization(&InsertOrganization {
            id: &new_id(),
            name: &name,
            display_name: &self.display_name,
            description: "",
            created_at: self.store.clock().now(),
        })
    }
}

// --- users ------------------------------------------------------------------------------

/// A human user, member of the default organization unless `org` names others.
pub fn user(store: &dyn Store) -> UserBuilder<'_> {
    UserBuilder {
        store,
        username: None,
        email: None,
        name: String::new(),
        status: UserStatus::Active,
        orgs: Vec::new(),
        last_seen_at: None,
        roles: Vec::new(),
        password: None,
    }
}

pub struct UserBuilder<'a> {
    store: &'a dyn Store,
    username: Option<String>,
    email: Option<String>,
    name: String,
    status: UserStatus,
    orgs: Vec<String>,
    last_seen_at: Option<Timestamp>,
    roles: Vec<String>,
    password: Option<String>,
}

impl UserBuilder<'_> {
    pub fn username(mut self, username: &str) -> Self {
        self.username = Some(username.to_owned());
        self
    }

    pub fn email(mut self, email: &str) -> Self {
        self.email = Some(email.to_owned());
        self
    }

    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_owned();
        self
    }

    pub fn status(mut self, status: UserStatus) -> Self {
        self.status = status;
        self
    }

    /// Adds membership of `org` (may be called several times).
    pub fn org(mut self, org: &Organization) -> Self {
        self.orgs.push(org.id.clone());
        self
    }

    pub fn last_seen_at(mut self, at: Timestamp) -> Self {
        self.last_seen_at = Some(at);
        self
    }

    /// Site roles (`owner`, `template-admin`, `user-admin`, `auditor`).
    pub fn roles(mut self, roles: &[String]) -> Self {
        self.roles = roles.to_vec();
        self
    }

    /// A password for the API's login (stored hashed).
    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.to_owned());
        self
    }

    pub fn build(self) -> Result<User> {
        let username = self.username.unwrap_or_else(|| format!("user-{}", suffix()));
        let email = self.email.unwrap_or_else(|| format!("{username}@example.com"));
        let now = self.store.clock().now();
        // Hashed before the transaction: Argon2 takes its time, a write transaction should not.
        let hashed = self.password.as_deref().map(crate::identity::password::hash_password);
        in_tx(self.store, TxOptions::write("fixture user"), |tx| {
            let user = tx.insert_user(&InsertUser {
                id: &new_id(),
                email: &email,
                username: &username,
                name: &self.name,
                status: self.status,
                login_type: LoginType::Password,
                created_at: now,
                last_seen_at: self.last_seen_at.unwrap_or(now),
            })?;
            let orgs = if self.orgs.is_empty() { vec![tx.get_default_organization()?.id] } else { self.orgs.clone() };
            for org in &orgs {
                tx.insert_organization_member(&crate::database::models::InsertOrganizationMember {
                    organization_id: org,
                    user_id: &user.id,
                    roles: &["organization-member"],
                    created_at: now,
                })?;
            }
            if let Some(password) = &hashed {
                tx.update_user_hashed_password(&user.id, password, now)?;
            }
            if self.roles.is_empty() { Ok(user) } else { tx.update_user_roles(&user.id, &self.roles, now) }
        })
    }
}

// --- groups -----------------------------------------------------------------------------

pub fn group(store: &dyn Store) -> GroupBuilder<'_> {
    GroupBuilder { store, org: None, name: None, display_name: String::new(), quota_allowance: 0, members: Vec::new() }
}

pub struct GroupBuilder<'a> {
    store: &'a dyn Store,
    org: Option<String>,
    name: Option<String>,
    display_name: String,
    quota_allowance: i64,
    members: Vec<String>,
}

impl GroupBuilder<'_> {
    pub fn org(mut self, org: &Organization) -> Self {
        self.org = Some(org.id.clone());
        self
    }

    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    pub fn display_name(mut self, display_name: &str) -> Self {
        self.display_name = display_name.to_owned();
        self
    }

    pub fn quota_allowance(mut self, quota: i64) -> Self {
        self.quota_allowance = quota;
        self
    }

    /// Adds an explicit member by user ID (system users included).
    pub fn member(mut self, user_id: &str) -> Self {
        self.members.push(user_id.to_owned());
        self
    }

    pub fn build(self) -> Result<Group> {
        let name = self.name.clone().unwrap_or_else(|| format!("group-{}", suffix()));
        in_tx(self.store, TxOptions::write("fixture group"), |tx| {
            let org = match &self.org {
                Some(id) => id.clone(),
                None => tx.get_default_organization()?.id,
            };
            let group = tx.insert_group(&InsertGroup {
                id: &new_id(),
                name: &name,
                display_name: &self.display_name,
                organization_id: &org,
                avatar_url: "",
                quota_allowance: self.quota_allowance,
            })?;
            for member in &self.members {
                tx.insert_group_member(&group.id, member)?;
            }
            Ok(group)
        })
    }
}

// --- templates and versions -------------------------------------------------------------

/// A parameter a version declares.
#[derive(Debug, Clone)]
pub struct ParameterSpec {
    pub name: String,
    pub required: bool,
    pub default_value: String,
}

/// A template with its active version (and that version's successful import job).
pub fn template(store: &dyn Store) -> TemplateBuilder<'_> {
    TemplateBuilder {
        store,
        org: None,
        name: None,
        display_name: String::new(),
        created_by: None,
        version_name: None,
        parameters: Vec::new(),
        fail_builds: false,
        deprecated: String::new(),
        description: String::new(),
        icon: String::new(),
        scheduling: TemplateScheduling::DEFAULT,
    }
}

pub struct TemplateBuilder<'a> {
    store: &'a dyn Store,
    org: Option<String>,
    name: Option<String>,
    display_name: String,
    created_by: Option<String>,
    version_name: Option<String>,
    parameters: Vec<ParameterSpec>,
    fail_builds: bool,
    deprecated: String,
    description: String,
    icon: String,
    scheduling: TemplateScheduling,
}

/// What `template(..).build()` returns.
#[derive(Debug, Clone)]
pub struct TemplateWithVersion {
    pub template: Template,
    pub version: TemplateVersion,
}

impl TemplateBuilder<'_> {
    pub fn org(mut self, org: &Organization) -> Self {
        self.org = Some(org.id.clone());
        self
    }

    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    pub fn display_name(mut self, display_name: &str) -> Self {
        self.display_name = display_name.to_owned();
        self
    }

    pub fn created_by(mut self, user: &User) -> Self {
        self.created_by = Some(user.id.clone());
        self
    }

    /// Names the active version (default: a random name).
    pub fn version_name(mut self, name: &str) -> Self {
        self.version_name = Some(name.to_owned());
        self
    }

    /// Declares a parameter on the active version.
    pub fn parameter(mut self, name: &str, required: bool, default_value: &str) -> Self {
        self.parameters.push(ParameterSpec {
            name: name.to_owned(),
            required,
            default_value: default_value.to_owned(),
        });
        self
    }

    /// Builds of the active version fail in the echo provisioner.
    pub fn fail_builds(mut self, fail: bool) -> Self {
        self.fail_builds = fail;
        self
    }

    pub fn deprecated(mut self, message: &str) -> Self {
        self.deprecated = message.to_owned();
        self
    }

    pub fn description(mut self, description: &str) -> Self {
        self.description = description.to_owned();
        self
    }

    pub fn icon(mut self, icon: &str) -> Self {
        self.icon = icon.to_owned();
        self
    }

    /// The template's scheduling settings (default: upstream's defaults for a new template).
    pub fn scheduling(mut self, scheduling: TemplateScheduling) -> Self {
        self.scheduling = scheduling;
        self
    }

    pub fn build(self) -> Result<TemplateWithVersion> {
        let name = self.name.clone().unwrap_or_else(|| format!("template-{}", suffix()));
        let version_name = self.version_name.clone().unwrap_or_else(|| format!("v-{}", suffix()));
        let now = self.store.clock().now();
        in_tx(self.store, TxOptions::write("fixture template"), |tx| {
            let org = match &self.org {
                Some(id) => id.clone(),
                None => tx.get_default_organization()?.id,
            };
            let template_id = new_id();
            let version = insert_version(
                tx,
                &VersionRows {
                    template_id: &template_id,
                    organization_id: &org,
                    name: &version_name,
                    created_by: self.created_by.as_deref(),
                    parameters: &self.parameters,
                    fail_builds: self.fail_builds,
                    created_at: now,
                },
            )?;
            let template = tx.insert_template(&InsertTemplate {
                id: &template_id,
                organization_id: &org,
                name: &name,
                display_name: &self.display_name,
                created_at: now,
                created_by: self.created_by.as_deref(),
                active_version_id: &version.id,
                deprecated: &self.deprecated,
                description: &self.description,
                icon: &self.icon,
                scheduling: self.scheduling,
            })?;
            Ok(TemplateWithVersion { template, version })
        })
    }
}

struct VersionRows<'a> {
    template_id: &'a str,
    organization_id: &'a str,
    name: &'a str,
    created_by: Option<&'a str>,
    parameters: &'a [ParameterSpec],
    fail_builds: bool,
    created_at: Timestamp,
}

/// A version with its succeeded import job and parameters, in the caller's transaction.
fn insert_version(tx: &dyn Store, v: &VersionRows<'_>) -> Result<TemplateVersion> {
    let job = tx.insert_provisioner_job(&InsertProvisionerJob {
        id: &new_id(),
        created_at: v.created_at,
        initiator_id: v.created_by.unwrap_or(crate::database::models::PREBUILDS_SYSTEM_USER_ID),
        organization_id: v.organization_id,
        job_type: ProvisionerJobType::TemplateVersionImport,
        input: &serde_json::json!({}),
        started_at: Some(v.created_at),
        completed_at: Some(v.created_at),
        canceled_at: None,
        error: None,
        worker_id: None,
        file_id: None,
    })?;
    let version = tx.insert_template_version(&InsertTemplateVersion {
        id: &new_id(),
        template_id: Some(v.template_id),
        organization_id: v.organization_id,
        name: v.name,
        created_at: v.created_at,
        created_by: v.created_by,
        job_id: &job.id,
        fail_builds: v.fail_builds,
    })?;
    for p in v.parameters {
        tx.insert_template_version_parameter(&crate::database::models::InsertTemplateVersionParameter {
            template_version_id: &version.id,
            name: &p.name,
            required: p.required,
            default_value: &p.default_value,
        })?;
    }
    Ok(version)
}

/// Another version of an existing template (not active unless `active(true)`).
pub fn template_version<'a>(store: &'a dyn Store, template: &Template) -> TemplateVersionBuilder<'a> {
    TemplateVersionBuilder {
        store,
        template_id: template.id.clone(),
        organization_id: template.organization_id.clone(),
        name: None,
        parameters: Vec::new(),
        fail_builds: false,
        active: false,
    }
}

pub struct TemplateVersionBuilder<'a> {
    store: &'a dyn Store,
    template_id: String,
    organization_id: String,
    name: Option<String>,
    parameters: Vec<ParameterSpec>,
    fail_builds: bool,
    active: bool,
}

impl TemplateVersionBuilder<'_> {
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    pub fn parameter(mut self, name: &str, required: bool, default_value: &str) -> Self {
        self.parameters.push(ParameterSpec {
            name: name.to_owned(),
            required,
            default_value: default_value.to_owned(),
        });
        self
    }

    pub fn fail_builds(mut self, fail: bool) -> Self {
        self.fail_builds = fail;
        self
    }

    /// Makes this the template's active version.
    pub fn active(mut self, active: bool) -> Self {
        self.active = active;
        self
    }

    pub fn build(self) -> Result<TemplateVersion> {
        let name = self.name.clone().unwrap_or_else(|| format!("v-{}", suffix()));
        let now = self.store.clock().now();
        in_tx(self.store, TxOptions::write("fixture template version"), |tx| {
            let version = insert_version(
                tx,
                &VersionRows {
                    template_id: &self.template_id,
                    organization_id: &self.organization_id,
                    name: &name,
                    created_by: None,
                    parameters: &self.parameters,
                    fail_builds: self.fail_builds,
                    created_at: now,
                },
            )?;
            if self.active {
                tx.update_template_active_version(&self.template_id, &version.id, now)?;
            }
            Ok(version)
        })
    }
}

// --- presets ----------------------------------------------------------------------------

/// A preset of a version, with parameters and prebuild schedules.
pub fn preset<'a>(store: &'a dyn Store, version: &TemplateVersion) -> PresetBuilder<'a> {
    PresetBuilder {
        store,
        template_version_id: version.id.clone(),
        name: None,
        desired_instances: None,
        invalidate_after_secs: None,
        scheduling_timezone: String::new(),
        parameters: Vec::new(),
        schedules: Vec::new(),
        is_default: false,
    }
}

pub struct PresetBuilder<'a> {
    store: &'a dyn Store,
    template_version_id: String,
    name: Option<String>,
    desired_instances: Option<i64>,
    invalidate_after_secs: Option<i64>,
    scheduling_timezone: String,
    parameters: Vec<(String, String)>,
    schedules: Vec<(String, i64)>,
    is_default: bool,
}

impl PresetBuilder<'_> {
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// How many prebuilds this preset wants (default: none, i.e. NULL).
    pub fn desired_instances(mut self, n: i64) -> Self {
        self.desired_instances = Some(n);
        self
    }

    /// Prebuilds older than this are expired (the TTL).
    pub fn invalidate_after_secs(mut self, secs: i64) -> Self {
        self.invalidate_after_secs = Some(secs);
        self
    }

    pub fn scheduling_timezone(mut self, tz: &str) -> Self {
        self.scheduling_timezone = tz.to_owned();
        self
    }

    pub fn parameter(mut self, name: &str, value: &str) -> Self {
        self.parameters.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn schedule(mut self, cron_expression: &str, desired_instances: i64) -> Self {
        self.schedules.push((cron_expression.to_owned(), desired_instances));
        self
    }

    pub fn is_default(mut self, is_default: bool) -> Self {
        self.is_default = is_default;
        self
    }

    pub fn build(self) -> Result<Preset> {
        let name = self.name.clone().unwrap_or_else(|| format!("preset-{}", suffix()));
        let now = self.store.clock().now();
        in_tx(self.store, TxOptions::write("fixture preset"), |tx| {
            let preset = tx.insert_preset(&InsertPreset {
                id: &new_id(),
                template_version_id: &self.template_version_id,
                name: &name,
                created_at: now,
                desired_instances: self.desired_instances,
                invalidate_after_secs: self.invalidate_after_secs,
                scheduling_timezone: &self.scheduling_timezone,
                is_default: self.is_default,
            })?;
            for (name, value) in &self.parameters {
                tx.insert_preset_parameter(&crate::database::models::InsertPresetParameter {
                    id: &new_id(),
                    preset_id: &preset.id,
                    name,
                    value,
                })?;
            }
            for (cron, n) in &self.schedules {
                tx.insert_preset_prebuild_schedule(&crate::database::models::InsertPresetPrebuildSchedule {
                    id: &new_id(),
                    preset_id: &preset.id,
                    cron_expression: cron,
                    desired_instances: *n,
                })?;
            }
            Ok(preset)
        })
    }
}

// --- workspaces -------------------------------------------------------------------------

/// A workspace of a template with one build (default: a succeeded `start` of the active
/// version, owned by a fresh user, with one ready agent).
pub fn workspace<'a>(store: &'a dyn Store, template: &Template) -> WorkspaceBuilder<'a> {
    WorkspaceBuilder {
        store,
        template: template.clone(),
        owner_id: None,
        initiator_id: None,
        name: None,
        version_id: None,
        preset_id: None,
        transition: WorkspaceTransition::Start,
        job_status: JobStatus::Succeeded,
        agent_lifecycle: AgentLifecycle::Ready,
        created_at: None,
        parameters: Vec::new(),
    }
}

pub struct WorkspaceBuilder<'a> {
    store: &'a dyn Store,
    template: Template,
    owner_id: Option<String>,
    initiator_id: Option<String>,
    name: Option<String>,
    version_id: Option<String>,
    preset_id: Option<String>,
    transition: WorkspaceTransition,
    job_status: JobStatus,
    agent_lifecycle: AgentLifecycle,
    created_at: Option<Timestamp>,
    parameters: Vec<(String, String)>,
}

/// What `workspace(..).build()` returns.
#[derive(Debug, Clone)]
pub struct WorkspaceWithBuild {
    pub workspace: Workspace,
    pub build: WorkspaceBuild,
    pub job: ProvisionerJob,
    /// The agent created for a succeeded start build.
    pub agent_id: Option<String>,
}

impl WorkspaceBuilder<'_> {
    /// The owner by user ID (the prebuilds system user for a prebuild).
    pub fn owner(mut self, user_id: &str) -> Self {
        self.owner_id = Some(user_id.to_owned());
        self
    }

    /// Who started the build (default: the owner).
    pub fn initiator(mut self, user_id: &str) -> Self {
        self.initiator_id = Some(user_id.to_owned());
        self
    }

    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// The version the build uses (default: the template's active version).
    pub fn version(mut self, version: &TemplateVersion) -> Self {
        self.version_id = Some(version.id.clone());
        self
    }

    pub fn preset(mut self, preset: &Preset) -> Self {
        self.preset_id = Some(preset.id.clone());
        self
    }

    pub fn transition(mut self, transition: WorkspaceTransition) -> Self {
        self.transition = transition;
        self
    }

    /// The state of the build's job.
    pub fn job_status(mut self, status: JobStatus) -> Self {
        self.job_status = status;
        self
    }

    /// The lifecycle of the agent a succeeded start build creates.
    pub fn agent_lifecycle(mut self, lifecycle: AgentLifecycle) -> Self {
        self.agent_lifecycle = lifecycle;
        self
    }

    pub fn created_at(mut self, at: Timestamp) -> Self {
        self.created_at = Some(at);
        self
    }

    pub fn build_parameter(mut self, name: &str, value: &str) -> Self {
        self.parameters.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn build(self) -> Result<WorkspaceWithBuild> {
        let created_at = self.created_at.unwrap_or_else(|| self.store.clock().now());
        let name = self.name.clone().unwrap_or_else(|| format!("ws-{}", suffix()));
        in_tx(self.store, TxOptions::write("fixture workspace"), |tx| {
            let owner_id = match &self.owner_id {
                Some(id) => id.clone(),
                None => {
                    let now = created_at;
                    let username = format!("owner-{}", suffix());
                    let user = tx.insert_user(&InsertUser {
                        id: &new_id(),
                        email: &format!("{username}@example.com"),
                        username: &username,
                        name: "",
                        status: UserStatus::Active,
                        login_type: LoginType::Password,
                        created_at: now,
                        last_seen_at: now,
                    })?;
                    tx.insert_organization_member(&crate::database::models::InsertOrganizationMember {
                        organization_id: &self.template.organization_id,
                        user_id: &user.id,
                        roles: &[],
                        created_at: now,
                    })?;
                    user.id
                }
            };
            let workspace = tx.insert_workspace(&InsertWorkspace {
                id: &new_id(),
                created_at,
                owner_id: &owner_id,
                organization_id: &self.template.organization_id,
                template_id: &self.template.id,
                name: &name,
                last_used_at: created_at,
                autostart_schedule: None,
                ttl_ms: None,
            })?;
            let initiator = self.initiator_id.clone().unwrap_or_else(|| owner_id.clone());
            let version_id = self.version_id.clone().unwrap_or_else(|| self.template.active_version_id.clone());
            let (build, job, agent_id) = insert_build(
                tx,
                &BuildRows {
                    workspace: &workspace,
                    version_id: &version_id,
                    build_number: 1,
                    transition: self.transition,
                    initiator_id: &initiator,
                    preset_id: self.preset_id.as_deref(),
                    job_status: self.job_status,
                    agent_lifecycle: self.agent_lifecycle,
                    parameters: &self.parameters,
                    created_at,
                },
            )?;
            Ok(WorkspaceWithBuild { workspace, build, job, agent_id })
        })
    }
}

struct BuildRows<'a> {
    workspace: &'a Workspace,
    version_id: &'a str,
    build_number: i64,
    transition: WorkspaceTransition,
    initiator_id: &'a str,
    preset_id: Option<&'a str>,
    job_status: JobStatus,
    agent_lifecycle: AgentLifecycle,
    parameters: &'a [(String, String)],
    created_at: Timestamp,
}

/// A build with its job in the requested state, and for a succeeded start a resource and an
/// agent, in the caller's transaction.
fn insert_build(tx: &dyn Store, b: &BuildRows<'_>) -> Result<(WorkspaceBuild, ProvisionerJob, Option<String>)> {
    let t = b.created_at;
    let (started_at, completed_at, canceled_at, error) = match b.job_status {
        JobStatus::Pending => (None, None, None, None),
        JobStatus::Running => (Some(t), None, None, None),
        JobStatus::Succeeded => (Some(t), Some(t), None, None),
        JobStatus::Failed => (Some(t), Some(t), None, Some("echo provisioner: build failed")),
        JobStatus::Canceling => (Some(t), None, Some(t), None),
        JobStatus::Canceled => (None, Some(t), Some(t), None),
    };
    let job = tx.insert_provisioner_job(&InsertProvisionerJob {
        id: &new_id(),
        created_at: t,
        initiator_id: b.initiator_id,
        organization_id: &b.workspace.organization_id,
        job_type: ProvisionerJobType::WorkspaceBuild,
        input: &serde_json::json!({}),
        started_at,
        completed_at,
        canceled_at,
        error,
        worker_id: started_at.map(|_| "fixture"),
        file_id: None,
    })?;
    if job.job_status != b.job_status {
        return Err(Error::InvalidValue {
            op: "fixture build",
            column: "provisioner_jobs.job_status",
            message: format!("asked for {}, the job row derives {}", b.job_status, job.job_status),
        });
    }
    let build = tx.insert_workspace_build(&InsertWorkspaceBuild {
        id: &new_id(),
        created_at: t,
        workspace_id: &b.workspace.id,
        template_version_id: b.version_id,
        build_number: b.build_number,
        transition: b.transition,
        initiator_id: b.initiator_id,
        job_id: &job.id,
        reason: "initiator",
        template_version_preset_id: b.preset_id,
    })?;
    for (name, value) in b.parameters {
        tx.insert_workspace_build_parameter(&crate::database::models::InsertWorkspaceBuildParameter {
            workspace_build_id: &build.id,
            name,
            value,
        })?;
    }
    let mut agent_id = None;
    if b.transition == WorkspaceTransition::Start && b.job_status == JobStatus::Succeeded {
        let resource_id = new_id();
        tx.insert_workspace_resource(&crate::database::models::InsertWorkspaceResource {
            id: &resource_id,
            job_id: &job.id,
            transition: b.transition,
            created_at: t,
        })?;
        let id = new_id();
        tx.insert_workspace_agent(&InsertWorkspaceAgent {
            id: &id,
            created_at: t,
            resource_id: &resource_id,
            name: "main",
            lifecycle_state: b.agent_lifecycle,
            ready_at: (b.agent_lifecycle == AgentLifecycle::Ready).then_some(t),
            parent_id: None,
        })?;
        agent_id = Some(id);
    }
    Ok((build, job, agent_id))
}

// --- usage stats ------------------------------------------------------------------------

/// An agent stats row for a workspace (defaults: one SSH session, 1 connection, 10 ms).
pub fn agent_stat<'a>(store: &'a dyn Store, workspace: &Workspace, agent_id: &str) -> AgentStatBuilder<'a> {
    AgentStatBuilder {
        store,
        stat: WorkspaceAgentStat {
            id: String::new(),
            created_at: store.clock().now(),
            user_id: workspace.owner_id.clone(),
            agent_id: agent_id.to_owned(),
            workspace_id: workspace.id.clone(),
            template_id: workspace.template_id.clone(),
            connection_count: 1,
            connection_median_latency_ms: 10.0,
            rx_bytes: 0,
            tx_bytes: 0,
            session_count_vscode: 0,
            session_count_jetbrains: 0,
            session_count_reconnecting_pty: 0,
            session_count_ssh: 1,
        },
    }
}

pub struct AgentStatBuilder<'a> {
    store: &'a dyn Store,
    stat: WorkspaceAgentStat,
}

impl AgentStatBuilder<'_> {
    pub fn created_at(mut self, at: Timestamp) -> Self {
        self.stat.created_at = at;
        self
    }

    pub fn connections(mut self, count: i64, median_latency_ms: f64) -> Self {
        self.stat.connection_count = count;
        self.stat.connection_median_latency_ms = median_latency_ms;
        self
    }

    /// Session counts: (ssh, vscode, jetbrains, reconnecting pty).
    pub fn sessions(mut self, ssh: i64, vscode: i64, jetbrains: i64, reconnecting_pty: i64) -> Self {
        self.stat.session_count_ssh = ssh;
        self.stat.session_count_vscode = vscode;
        self.stat.session_count_jetbrains = jetbrains;
        self.stat.session_count_reconnecting_pty = reconnecting_pty;
        self
    }

    pub fn build(mut self) -> Result<WorkspaceAgentStat> {
        self.stat.id = new_id();
        self.store.insert_workspace_agent_stats(std::slice::from_ref(&self.stat))?;
        Ok(self.stat)
    }
}

/// An app session of a workspace (defaults: app `code-server` over path access, 1 minute).
pub fn app_stat<'a>(store: &'a dyn Store, workspace: &Workspace, agent_id: &str) -> AppStatBuilder<'a> {
    let now = store.clock().now();
    AppStatBuilder {
        store,
        stat: WorkspaceAppStat {
            user_id: workspace.owner_id.clone(),
            workspace_id: workspace.id.clone(),
            agent_id: agent_id.to_owned(),
            access_method: "path".to_owned(),
            slug_or_port: "code-server".to_owned(),
            session_id: String::new(),
            session_started_at: now - chrono::Duration::minutes(1),
            session_ended_at: now,
            requests: 1,
        },
    }
}

pub struct AppStatBuilder<'a> {
    store: &'a dyn Store,
    stat: WorkspaceAppStat,
}

impl AppStatBuilder<'_> {
    pub fn app(mut self, access_method: &str, slug_or_port: &str) -> Self {
        self.stat.access_method = access_method.to_owned();
        self.stat.slug_or_port = slug_or_port.to_owned();
        self
    }

    pub fn session(mut self, started_at: Timestamp, ended_at: Timestamp) -> Self {
        self.stat.session_started_at = started_at;
        self.stat.session_ended_at = ended_at;
        self
    }

    pub fn build(mut self) -> Result<WorkspaceAppStat> {
        self.stat.session_id = new_id();
        self.store.insert_workspace_app_stats(std::slice::from_ref(&self.stat))?;
        Ok(self.stat)
    }
}
