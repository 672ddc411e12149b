//! Workspaces, builds and their parameters, resources, agents, and the agent and app stats
//! the rollup reads.

use std::sync::Arc;

use rusqlite::params;

use crate::clock::Timestamp;
use crate::clock::to_micros;
use crate::database::Result;
use crate::database::WorkspaceStore;
use crate::database::models::InsertWorkspace;
use crate::database::models::InsertWorkspaceAgent;
use crate::database::models::InsertWorkspaceBuild;
use crate::database::models::InsertWorkspaceBuildParameter;
use crate::database::models::InsertWorkspaceResource;
use crate::database::models::JobStatus;
use crate::database::models::PREBUILDS_SYSTEM_USER_ID;
use crate::database::models::Page;
use crate::database::models::RunningWorkspaceAgent;
use crate::database::models::Workspace;
use crate::database::models::WorkspaceAgent;
use crate::database::models::WorkspaceAgentStat;
use crate::database::models::WorkspaceAppStat;
use crate::database::models::WorkspaceBuild;
use crate::database::models::WorkspaceBuildParameter;
use crate::database::models::WorkspacePageParams;
use crate::database::models::WorkspaceResource;
use crate::database::models::WorkspaceTransition;
use crate::database::rows;
use crate::database::rows::AGENT_COLUMNS;
use crate::database::rows::BUILD_COLUMNS;
use crate::database::rows::RESOURCE_COLUMNS;
use crate::database::rows::WORKSPACE_COLUMNS;
use crate::database::sqlite::errors::OpContext;
use crate::database::sqlite::queries::json_ids;
use crate::database::sqlite::queries::opt_micros;
use crate::database::sqlite::tx::SqliteTx;

/// A live workspace with what the listing filters and sorts on.
#[derive(Debug, Clone)]
pub(crate) struct ListingEntry {
    id: String,
    owner_id: String,
    owner_username_lower: String,
    name_lower: String,
    template_name_lower: String,
    job_status: Option<JobStatus>,
    transition: Option<WorkspaceTransition>,
    /// The latest build is a succeeded start (upstream lists those first).
    running: bool,
}

/// Every live workspace, in upstream's listing order (running first, then owner username,
/// then name). One set-based read; 20,000 workspaces take a few tens of milliseconds.
fn load_listing(tx: &SqliteTx<'_>) -> Result<Vec<ListingEntry>> {
    let mut entries = tx.all(
        "load workspace listing",
        "SELECT w.id, w.owner_id, lower(u.username), lower(w.name), lower(t.name), j.job_status, b.transition,
                    (j.completed_at IS NOT NULL AND j.canceled_at IS NULL AND COALESCE(j.error, '') = ''
                     AND b.transition = 'start')
             FROM workspaces w
             JOIN users u ON u.id = w.owner_id
             JOIN templates t ON t.id = w.template_id
             LEFT JOIN workspace_builds b ON b.workspace_id = w.id
              AND b.build_number = (SELECT MAX(m.build_number) FROM workspace_builds m WHERE m.workspace_id = w.id)
             LEFT JOIN provisioner_jobs j ON j.id = b.job_id
             WHERE w.deleted = 0",
        [],
        |r| {
            Ok(ListingEntry {
                id: r.id(0)?,
                owner_id: r.id(1)?,
                owner_username_lower: r.text(2)?,
                name_lower: r.text(3)?,
                template_name_lower: r.text(4)?,
                job_status: rows::opt_text_enum(r, 5, "provisioner_jobs.job_status")?,
                transition: rows::opt_text_enum(r, 6, "workspace_builds.transition")?,
                running: r.opt_bool(7)?.unwrap_or(false),
            })
        },
    )?;
    entries.sort_by(|a, b| {
        b.running
            .cmp(&a.running)
            .then_with(|| a.owner_username_lower.cmp(&b.owner_username_lower))
            .then_with(|| a.name_lower.cmp(&b.name_lower))
    });
    Ok(entries)
}

/// The page `p` selects from the sorted listing, and the number of all matches (0 for an
/// empty page, as upstream's window count).
fn page_of(entries: &[ListingEntry], p: &WorkspacePageParams<'_>) -> (Vec<String>, i64) {
    let name = p.name_contains.map(str::to_lowercase);
    let template = p.template_name.map(str::to_lowercase);
    let matches = entries.iter().filter(|e| {
        p.owner_id.is_none_or(|o| e.owner_id == o)
            && p.visible_owner_id.is_none_or(|o| e.owner_id == o)
            && template.as_deref().is_none_or(|t| e.template_name_lower == t)
            && name.as_deref().is_none_or(|n| e.name_lower.contains(n))
            && p.ids.is_none_or(|ids| ids.contains(&e.id))
            && p.job_status.is_none_or(|s| e.job_status == Some(s))
            && p.transition.is_none_or(|t| e.transition == Some(t))
    });
    let mut count = 0i64;
    let mut page = Vec::new();
    let limit = if p.limit == 0 { usize::MAX } else { p.limit as usize };
    for (i, e) in matches.enumerate() {
        count += 1;
        if i >= p.offset as usize && page.len() < limit {
            page.push(e.id.clone());
        }
    }
    if page.is_empty() {
        count = 0;
    }
    (page, count)
}

/// The workspace listing, from the store's cache while the data generation (bumped by
/// triggers on workspaces, builds, jobs, templates and users) is the one it was read at.
fn get_workspaces_page(tx: &SqliteTx<'_>, p: &WorkspacePageParams<'_>) -> Result<(Vec<String>, i64)> {
    let generation = crate::database::PrebuildsStore::get_prebuilds_data_generation(tx)?.unwrap_or(-1);
    let cached = {
        let cache = tx.inner.workspace_listing.lock().unwrap_or_else(|e| e.into_inner());
        cache.as_ref().filter(|(g, _)| *g == generation).map(|(_, l)| Arc::clone(l))
    };
    let listing = match cached {
        Some(l) => l,
        None => {
            let l = Arc::new(load_listing(tx)?);
            *tx.inner.workspace_listing.lock().unwrap_or_else(|e| e.into_inner()) = Some((generation, Arc::clone(&l)));
            l
        }
    };
    Ok(page_of(&listing, p))
}

impl WorkspaceStore for SqliteTx<'_> {
    fn insert_workspace(&self, p: &InsertWorkspace<'_>) -> Result<Workspace> {
        self.one(
            "insert workspace",
            &format!(
                "INSERT INTO workspaces (id, created_at, updated_at, owner_id, organization_id, template_id, name,
                                         last_used_at, autostart_schedule, ttl_ms)
                 VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING {WORKSPACE_COLUMNS}"
            ),
            params![
                p.id,
                to_micros(p.created_at),
                p.owner_id,
                p.organization_id,
                p.template_id,
                p.name,
                to_micros(p.last_used_at),
                p.autostart_schedule,
                p.ttl_ms,
            ],
            rows::workspace,
        )
    }

    fn get_workspace_by_id(&self, id: &str) -> Result<Workspace> {
        let sql = format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = ?1");
        self.one("get workspace by id", &sql, [id], rows::workspace)
    }

    fn get_workspaces_page(&self, params: &WorkspacePageParams<'_>) -> Result<Page<String>> {
        let (rows, count) = get_workspaces_page(self, params)?;
        Ok(Page { rows, count })
    }

    fn get_workspaces_by_ids(&self, ids: &[String]) -> Result<Vec<Workspace>> {
        let sql = format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id IN (SELECT value FROM json_each(?1))");
        self.all("get workspaces by ids", &sql, [json_ids(ids)], rows::workspace)
    }

    /// The latest build of each workspace.
    fn get_latest_workspace_builds(&self, workspace_ids: &[String]) -> Result<Vec<WorkspaceBuild>> {
        let sql = format!(
            "SELECT {BUILD_COLUMNS} FROM workspace_builds b
             WHERE b.workspace_id IN (SELECT value FROM json_each(?1))
               AND b.build_number = (SELECT MAX(m.build_number) FROM workspace_builds m WHERE m.workspace_id = b.workspace_id)"
        );
        self.all("get latest workspace builds", &sql, [json_ids(workspace_ids)], rows::workspace_build)
    }

    fn get_workspace_build_by_id(&self, id: &str) -> Result<WorkspaceBuild> {
        let sql = format!("SELECT {BUILD_COLUMNS} FROM workspace_builds WHERE id = ?1");
        self.one("get workspace build by id", &sql, [id], rows::workspace_build)
    }

    fn get_workspace_resources_by_job_ids(&self, job_ids: &[String]) -> Result<Vec<WorkspaceResource>> {
        let sql = format!(
            "SELECT {RESOURCE_COLUMNS} FROM workspace_resources WHERE job_id IN (SELECT value FROM json_each(?1))"
        );
        self.all("get workspace resources by job ids", &sql, [json_ids(job_ids)], rows::workspace_resource)
    }

    fn get_workspace_agents_by_resource_ids(&self, resource_ids: &[String]) -> Result<Vec<WorkspaceAgent>> {
        let sql = format!(
            "SELECT {AGENT_COLUMNS} FROM workspace_agents
             WHERE deleted = 0 AND resource_id IN (SELECT value FROM json_each(?1))"
        );
        self.all("get workspace agents by resource ids", &sql, [json_ids(resource_ids)], rows::workspace_agent)
    }

    /// Compared as the unique index does.
    fn get_workspace_by_owner_and_name(&self, owner_id: &str, name: &str) -> Result<Workspace> {
        let sql = format!(
            "SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE owner_id = ?1 AND lower(name) = lower(?2) AND deleted = 0"
        );
        self.one("get workspace by owner and name", &sql, [owner_id, name], rows::workspace)
    }

    fn get_workspace_agents_by_workspace_id(&self, workspace_id: &str) -> Result<Vec<WorkspaceAgent>> {
        let sql = format!(
            "SELECT {} FROM workspace_builds b
             JOIN workspace_resources r ON r.job_id = b.job_id
             JOIN workspace_agents a ON a.resource_id = r.id AND a.deleted = 0
             WHERE b.workspace_id = ?1
               AND b.build_number = (SELECT MAX(build_number) FROM workspace_builds WHERE workspace_id = ?1)
             ORDER BY a.created_at, a.id",
            rows::prefixed("a", AGENT_COLUMNS)
        );
        self.all("get workspace agents by workspace id", &sql, [workspace_id], rows::workspace_agent)
    }

    fn get_workspaces_by_template_id(&self, template_id: &str) -> Result<Vec<Workspace>> {
        let sql = format!(
            "SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE template_id = ?1 AND deleted = 0 ORDER BY created_at, id"
        );
        self.all("get workspaces by template id", &sql, [template_id], rows::workspace)
    }

    fn update_workspace_deleted(&self, id: &str, deleted: bool, updated_at: Timestamp) -> Result<()> {
        self.exec_found(
            "update workspace deleted",
            "UPDATE workspaces SET deleted = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, deleted, to_micros(updated_at)],
        )
    }

    fn update_workspace_autostart(
        &self,
        id: &str,
        autostart_schedule: Option<&str>,
        next_start_at: Option<Timestamp>,
        updated_at: Timestamp,
    ) -> Result<()> {
        self.exec_found(
            "update workspace autostart",
            "UPDATE workspaces SET autostart_schedule = ?2, next_start_at = ?3, updated_at = ?4 WHERE id = ?1",
            params![id, autostart_schedule, opt_micros(next_start_at), to_micros(updated_at)],
        )
    }

    fn update_workspace_ttl(&self, id: &str, ttl_ms: Option<i64>, updated_at: Timestamp) -> Result<()> {
        self.exec_found(
            "update workspace ttl",
            "UPDATE workspaces SET ttl_ms = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, ttl_ms, to_micros(updated_at)],
        )
    }

    fn update_workspace_name(&self, id: &str, name: &str, updated_at: Timestamp) -> Result<()> {
        self.exec_found(
            "update workspace name",
            "UPDATE workspaces SET name = ?2, updated_at = ?3 WHERE id = ?1 AND deleted = 0",
            params![id, name, to_micros(updated_at)],
        )
    }

    fn update_workspace_build_deadline(&self, build_id: &str, deadline: Option<Timestamp>) -> Result<()> {
        self.exec_found(
            "update workspace build deadline",
            "UPDATE workspace_builds SET deadline = ?2 WHERE id = ?1",
            params![build_id, opt_micros(deadline)],
        )
    }

    fn insert_workspace_build(&self, p: &InsertWorkspaceBuild<'_>) -> Result<WorkspaceBuild> {
        self.one(
            "insert workspace build",
            &format!(
                "INSERT INTO workspace_builds (id, created_at, updated_at, workspace_id, template_version_id, build_number,
                                               transition, initiator_id, job_id, reason, template_version_preset_id)
                 VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING {BUILD_COLUMNS}"
            ),
            params![
                p.id,
                to_micros(p.created_at),
                p.workspace_id,
                p.template_version_id,
                p.build_number,
                p.transition.as_str(),
                p.initiator_id,
                p.job_id,
                p.reason,
                p.template_version_preset_id,
            ],
            rows::workspace_build,
        )
    }

    fn get_workspace_builds_by_workspace_id(&self, workspace_id: &str) -> Result<Vec<WorkspaceBuild>> {
        let sql =
            format!("SELECT {BUILD_COLUMNS} FROM workspace_builds WHERE workspace_id = ?1 ORDER BY build_number DESC");
        self.all("get workspace builds by workspace id", &sql, [workspace_id], rows::workspace_build)
    }

    fn insert_workspace_build_parameter(&self, params: &InsertWorkspaceBuildParameter<'_>) -> Result<()> {
        let InsertWorkspaceBuildParameter { workspace_build_id, name, value } = *params;
        self.exec(
            "insert workspace build parameter",
            "INSERT INTO workspace_build_parameters (workspace_build_id, name, value) VALUES (?1, ?2, ?3)",
            [workspace_build_id, name, value],
        )
    }

    fn get_workspace_build_parameters(&self, workspace_build_id: &str) -> Result<Vec<WorkspaceBuildParameter>> {
        self.all(
            "get workspace build parameters",
            "SELECT name, value FROM workspace_build_parameters WHERE workspace_build_id = ?1 ORDER BY name",
            [workspace_build_id],
            |r| Ok(WorkspaceBuildParameter { name: r.text(0)?, value: r.text(1)? }),
        )
    }

    fn insert_workspace_resource(&self, params: &InsertWorkspaceResource<'_>) -> Result<()> {
        let InsertWorkspaceResource { id, job_id, transition, created_at } = *params;
        self.exec(
            "insert workspace resource",
            "INSERT INTO workspace_resources (id, created_at, job_id, transition) VALUES (?1, ?2, ?3, ?4)",
            params![id, to_micros(created_at), job_id, transition.as_str()],
        )
    }

    fn insert_workspace_agent(&self, p: &InsertWorkspaceAgent<'_>) -> Result<()> {
        self.exec(
            "insert workspace agent",
            "INSERT INTO workspace_agents (id, created_at, updated_at, resource_id, name, lifecycle_state, ready_at,
                                           parent_id)
             VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                p.id,
                to_micros(p.created_at),
                p.resource_id,
                p.name,
                p.lifecycle_state.as_str(),
                opt_micros(p.ready_at),
                p.parent_id,
            ],
        )
    }

    /// One cached statement for all rows.
    fn insert_workspace_agent_stats(&self, stats: &[WorkspaceAgentStat]) -> Result<()> {
        let op = "insert workspace agent stats";
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO workspace_agent_stats (id, created_at, user_id, agent_id, workspace_id, template_id,
                     connection_count, connection_median_latency_ms, rx_bytes, tx_bytes, session_count_vscode,
                     session_count_jetbrains, session_count_reconnecting_pty, session_count_ssh)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )
            .op(op)?;
        for s in stats {
            stmt.execute(params![
                s.id,
                to_micros(s.created_at),
                s.user_id,
                s.agent_id,
                s.workspace_id,
                s.template_id,
                s.connection_count,
                s.connection_median_latency_ms,
                s.rx_bytes,
                s.tx_bytes,
                s.session_count_vscode,
                s.session_count_jetbrains,
                s.session_count_reconnecting_pty,
                s.session_count_ssh,
            ])
            .op(op)?;
        }
        Ok(())
    }

    /// A repeated (agent, session) updates the session's end and request count, as agents
    /// report a session again while it lasts.
    fn insert_workspace_app_stats(&self, stats: &[WorkspaceAppStat]) -> Result<()> {
        let op = "insert workspace app stats";
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO workspace_app_stats (user_id, workspace_id, agent_id, access_method, slug_or_port,
                     session_id, session_started_at, session_ended_at, requests)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (agent_id, session_id) DO UPDATE SET
                     session_ended_at = excluded.session_ended_at,
                     requests = workspace_app_stats.requests + excluded.requests",
            )
            .op(op)?;
        for s in stats {
            stmt.execute(params![
                s.user_id,
                s.workspace_id,
                s.agent_id,
                s.access_method,
                s.slug_or_port,
                s.session_id,
                to_micros(s.session_started_at),
                to_micros(s.session_ended_at),
                s.requests,
            ])
            .op(op)?;
        }
        Ok(())
    }

    fn get_running_workspace_agents(&self) -> Result<Vec<RunningWorkspaceAgent>> {
        self.all(
            "get running workspace agents",
            "SELECT lb.workspace_id, w.owner_id, w.template_id, a.id
             FROM workspace_latest_builds lb
             JOIN workspaces w ON w.id = lb.workspace_id
             JOIN workspace_resources r ON r.job_id = lb.job_id
             JOIN workspace_agents a ON a.resource_id = r.id
             WHERE lb.transition = 'start' AND lb.job_status = 'succeeded' AND w.owner_id <> ?1
               AND a.deleted = 0 AND a.parent_id IS NULL AND a.lifecycle_state = 'ready'
             ORDER BY lb.workspace_id, a.id",
            [PREBUILDS_SYSTEM_USER_ID],
            rows::running_workspace_agent,
        )
    }
}
