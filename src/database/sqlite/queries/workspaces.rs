//! Workspaces, builds and their parameters, resources, agents, and the agent and app stats
//! the rollup reads.

use std::sync::Arc;

use rusqlite::Connection;
use rusqlite::Row;
use rusqlite::params;

use crate::clock::Timestamp;
use crate::clock::to_micros;
use crate::database::Result;
use crate::database::WorkspaceStore;
use crate::database::models::InsertWorkspace;
use crate::database::models::InsertWorkspaceAgent;
use crate::database::models::InsertWorkspaceBuild;
use crate::database::models::JobStatus;
use crate::database::models::PREBUILDS_SYSTEM_USER_ID;
use crate::database::models::RunningWorkspaceAgent;
use crate::database::models::Workspace;
use crate::database::models::WorkspaceAgent;
use crate::database::models::WorkspaceAgentStat;
use crate::database::models::WorkspaceAppStat;
use crate::database::models::WorkspaceBuild;
use crate::database::models::WorkspacePageParams;
use crate::database::models::WorkspaceResource;
use crate::database::models::WorkspaceTransition;
use crate::database::rows;
use crate::database::rows::BUILD_COLUMNS;
use crate::database::rows::WORKSPACE_COLUMNS;
use crate::database::sqlite::errors::OpContext;
use crate::database::sqlite::queries::from_row;
use crate::database::sqlite::queries::json_ids;
use crate::database::sqlite::queries::opt_micros;
use crate::database::sqlite::queries::opt_timestamp_at;
use crate::database::sqlite::queries::text_enum_at;
use crate::database::sqlite::queries::timestamp_at;
use crate::database::sqlite::tx::SqliteTx;

pub(crate) fn workspace_from_row(r: &Row<'_>) -> rusqlite::Result<Workspace> {
    from_row(rows::workspace, r)
}

pub(crate) fn insert_workspace(conn: &Connection, p: &InsertWorkspace<'_>) -> Result<Workspace> {
    let op = "insert workspace";
    conn.prepare_cached(&format!(
        "INSERT INTO workspaces (id, created_at, updated_at, owner_id, organization_id, template_id, name,
                                 last_used_at, autostart_schedule, ttl_ms)
         VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING {WORKSPACE_COLUMNS}"
    ))
    .op(op)?
    .query_row(
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
        workspace_from_row,
    )
    .op(op)
}

pub(crate) fn get_workspace_by_id(conn: &Connection, id: &str) -> Result<Workspace> {
    let op = "get workspace by id";
    conn.prepare_cached(&format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = ?1"))
        .op(op)?
        .query_row([id], workspace_from_row)
        .op(op)
}

/// The non-deleted workspace of `owner_id` named `name`, compared as the unique index does.
pub(crate) fn get_workspace_by_owner_and_name(conn: &Connection, owner_id: &str, name: &str) -> Result<Workspace> {
    let op = "get workspace by owner and name";
    conn.prepare_cached(&format!(
        "SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE owner_id = ?1 AND lower(name) = lower(?2) AND deleted = 0"
    ))
    .op(op)?
    .query_row([owner_id, name], workspace_from_row)
    .op(op)
}

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
fn load_listing(conn: &Connection) -> Result<Vec<ListingEntry>> {
    let op = "load workspace listing";
    let mut entries = conn
        .prepare_cached(
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
        )
        .op(op)?
        .query_map([], |r| {
            Ok(ListingEntry {
                id: r.get(0)?,
                owner_id: r.get(1)?,
                owner_username_lower: r.get(2)?,
                name_lower: r.get(3)?,
                template_name_lower: r.get(4)?,
                job_status: r.get::<_, Option<String>>(5)?.and_then(|s| s.parse().ok()),
                transition: r.get::<_, Option<String>>(6)?.and_then(|s| s.parse().ok()),
                running: r.get::<_, Option<bool>>(7)?.unwrap_or(false),
            })
        })
        .op(op)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .op(op)?;
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
pub(crate) fn get_workspaces_page(tx: &SqliteTx<'_>, p: &WorkspacePageParams<'_>) -> Result<(Vec<String>, i64)> {
    let generation = crate::database::sqlite::queries::prebuilds::get_prebuilds_data_generation(tx.conn)?.unwrap_or(-1);
    let cached = {
        let cache = tx.inner.workspace_listing.lock().unwrap_or_else(|e| e.into_inner());
        cache.as_ref().filter(|(g, _)| *g == generation).map(|(_, l)| Arc::clone(l))
    };
    let listing = match cached {
        Some(l) => l,
        None => {
            let l = Arc::new(load_listing(tx.conn)?);
            *tx.inner.workspace_listing.lock().unwrap_or_else(|e| e.into_inner()) = Some((generation, Arc::clone(&l)));
            l
        }
    };
    Ok(page_of(&listing, p))
}

pub(crate) fn get_workspaces_by_ids(conn: &Connection, ids: &[String]) -> Result<Vec<Workspace>> {
    let op = "get workspaces by ids";
    conn.prepare_cached(&format!(
        "SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id IN (SELECT value FROM json_each(?1))"
    ))
    .op(op)?
    .query_map([json_ids(ids)], workspace_from_row)
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

fn agent_from_row(r: &Row<'_>) -> rusqlite::Result<WorkspaceAgent> {
    Ok(WorkspaceAgent {
        id: r.get(0)?,
        created_at: timestamp_at(r, 1)?,
        updated_at: timestamp_at(r, 2)?,
        resource_id: r.get(3)?,
        name: r.get(4)?,
        lifecycle_state: text_enum_at(r, 5)?,
        ready_at: opt_timestamp_at(r, 6)?,
        parent_id: r.get(7)?,
    })
}

pub(crate) fn get_workspace_resources_by_job_ids(
    conn: &Connection,
    job_ids: &[String],
) -> Result<Vec<WorkspaceResource>> {
    let op = "get workspace resources by job ids";
    conn.prepare_cached(
        "SELECT id, created_at, job_id, transition, type, name FROM workspace_resources
         WHERE job_id IN (SELECT value FROM json_each(?1))",
    )
    .op(op)?
    .query_map([json_ids(job_ids)], |r| {
        Ok(WorkspaceResource {
            id: r.get(0)?,
            created_at: timestamp_at(r, 1)?,
            job_id: r.get(2)?,
            transition: text_enum_at(r, 3)?,
            resource_type: r.get(4)?,
            name: r.get(5)?,
        })
    })
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

pub(crate) fn get_workspace_agents_by_resource_ids(
    conn: &Connection,
    resource_ids: &[String],
) -> Result<Vec<WorkspaceAgent>> {
    let op = "get workspace agents by resource ids";
    conn.prepare_cached(
        "SELECT id, created_at, updated_at, resource_id, name, lifecycle_state, ready_at, parent_id
         FROM workspace_agents WHERE deleted = 0 AND resource_id IN (SELECT value FROM json_each(?1))",
    )
    .op(op)?
    .query_map([json_ids(resource_ids)], agent_from_row)
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

/// The agents of the resources of a workspace's latest build.
pub(crate) fn get_workspace_agents_by_workspace_id(
    conn: &Connection,
    workspace_id: &str,
) -> Result<Vec<WorkspaceAgent>> {
    let op = "get workspace agents by workspace id";
    conn.prepare_cached(
        "SELECT a.id, a.created_at, a.updated_at, a.resource_id, a.name, a.lifecycle_state, a.ready_at, a.parent_id
         FROM workspace_builds b
         JOIN workspace_resources r ON r.job_id = b.job_id
         JOIN workspace_agents a ON a.resource_id = r.id AND a.deleted = 0
         WHERE b.workspace_id = ?1
           AND b.build_number = (SELECT MAX(build_number) FROM workspace_builds WHERE workspace_id = ?1)
         ORDER BY a.created_at, a.id",
    )
    .op(op)?
    .query_map([workspace_id], |r| {
        Ok(WorkspaceAgent {
            id: r.get(0)?,
            created_at: timestamp_at(r, 1)?,
            updated_at: timestamp_at(r, 2)?,
            resource_id: r.get(3)?,
            name: r.get(4)?,
            lifecycle_state: text_enum_at(r, 5)?,
            ready_at: opt_timestamp_at(r, 6)?,
            parent_id: r.get(7)?,
        })
    })
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

/// Non-deleted workspaces of a template, oldest first.
pub(crate) fn get_workspaces_by_template_id(conn: &Connection, template_id: &str) -> Result<Vec<Workspace>> {
    let op = "get workspaces by template id";
    conn.prepare_cached(&format!(
        "SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE template_id = ?1 AND deleted = 0 ORDER BY created_at, id"
    ))
    .op(op)?
    .query_map([template_id], workspace_from_row)
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

pub(crate) fn update_workspace_autostart(
    conn: &Connection,
    id: &str,
    autostart_schedule: Option<&str>,
    next_start_at: Option<Timestamp>,
    updated_at: Timestamp,
) -> Result<()> {
    let op = "update workspace autostart";
    let n = conn
        .prepare_cached(
            "UPDATE workspaces SET autostart_schedule = ?2, next_start_at = ?3, updated_at = ?4 WHERE id = ?1",
        )
        .op(op)?
        .execute(params![id, autostart_schedule, next_start_at.map(to_micros), to_micros(updated_at)])
        .op(op)?;
    if n == 0 {
        return Err(crate::database::Error::NotFound { op });
    }
    Ok(())
}

pub(crate) fn update_workspace_name(conn: &Connection, id: &str, name: &str, updated_at: Timestamp) -> Result<()> {
    let op = "update workspace name";
    let n = conn
        .prepare_cached("UPDATE workspaces SET name = ?2, updated_at = ?3 WHERE id = ?1 AND deleted = 0")
        .op(op)?
        .execute(params![id, name, to_micros(updated_at)])
        .op(op)?;
    if n == 0 {
        return Err(crate::database::Error::NotFound { op });
    }
    Ok(())
}

pub(crate) fn update_workspace_ttl(
    conn: &Connection,
    id: &str,
    ttl_ms: Option<i64>,
    updated_at: Timestamp,
) -> Result<()> {
    let op = "update workspace ttl";
    let n = conn
        .prepare_cached("UPDATE workspaces SET ttl_ms = ?2, updated_at = ?3 WHERE id = ?1")
        .op(op)?
        .execute(params![id, ttl_ms, to_micros(updated_at)])
        .op(op)?;
    if n == 0 {
        return Err(crate::database::Error::NotFound { op });
    }
    Ok(())
}

pub(crate) fn update_workspace_deleted(
    conn: &Connection,
    id: &str,
    deleted: bool,
    updated_at: Timestamp,
) -> Result<()> {
    let op = "update workspace deleted";
    let n = conn
        .prepare_cached("UPDATE workspaces SET deleted = ?2, updated_at = ?3 WHERE id = ?1")
        .op(op)?
        .execute(params![id, deleted, to_micros(updated_at)])
        .op(op)?;
    if n == 0 {
        return Err(crate::database::Error::NotFound { op });
    }
    Ok(())
}

fn build_from_row(r: &Row<'_>) -> rusqlite::Result<WorkspaceBuild> {
    from_row(rows::workspace_build, r)
}

pub(crate) fn insert_workspace_build(conn: &Connection, p: &InsertWorkspaceBuild<'_>) -> Result<WorkspaceBuild> {
    let op = "insert workspace build";
    conn.prepare_cached(&format!(
        "INSERT INTO workspace_builds (id, created_at, updated_at, workspace_id, template_version_id, build_number,
                                       transition, initiator_id, job_id, reason, template_version_preset_id)
         VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING {BUILD_COLUMNS}"
    ))
    .op(op)?
    .query_row(
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
        build_from_row,
    )
    .op(op)
}

/// Builds of a workspace, newest first.
pub(crate) fn get_latest_workspace_builds(conn: &Connection, workspace_ids: &[String]) -> Result<Vec<WorkspaceBuild>> {
    let op = "get latest workspace builds";
    conn.prepare_cached(&format!(
        "SELECT {BUILD_COLUMNS} FROM workspace_builds b
         WHERE b.workspace_id IN (SELECT value FROM json_each(?1))
           AND b.build_number = (SELECT MAX(m.build_number) FROM workspace_builds m WHERE m.workspace_id = b.workspace_id)"
    ))
    .op(op)?
    .query_map([json_ids(workspace_ids)], build_from_row)
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

pub(crate) fn get_workspace_build_by_id(conn: &Connection, id: &str) -> Result<WorkspaceBuild> {
    let op = "get workspace build by id";
    conn.prepare_cached(&format!("SELECT {BUILD_COLUMNS} FROM workspace_builds WHERE id = ?1"))
        .op(op)?
        .query_row([id], build_from_row)
        .op(op)
}

pub(crate) fn get_workspace_builds_by_workspace_id(
    conn: &Connection,
    workspace_id: &str,
) -> Result<Vec<WorkspaceBuild>> {
    let op = "get workspace builds by workspace id";
    conn.prepare_cached(&format!(
        "SELECT {BUILD_COLUMNS} FROM workspace_builds WHERE workspace_id = ?1 ORDER BY build_number DESC"
    ))
    .op(op)?
    .query_map([workspace_id], build_from_row)
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

pub(crate) fn insert_workspace_build_parameter(
    conn: &Connection,
    workspace_build_id: &str,
    name: &str,
    value: &str,
) -> Result<()> {
    let op = "insert workspace build parameter";
    conn.prepare_cached("INSERT INTO workspace_build_parameters (workspace_build_id, name, value) VALUES (?1, ?2, ?3)")
        .op(op)?
        .execute([workspace_build_id, name, value])
        .op(op)?;
    Ok(())
}

pub(crate) fn get_workspace_build_parameters(
    conn: &Connection,
    workspace_build_id: &str,
) -> Result<Vec<(String, String)>> {
    let op = "get workspace build parameters";
    conn.prepare_cached(
        "SELECT name, value FROM workspace_build_parameters WHERE workspace_build_id = ?1 ORDER BY name",
    )
    .op(op)?
    .query_map([workspace_build_id], |r| Ok((r.get(0)?, r.get(1)?)))
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

pub(crate) fn insert_workspace_resource(
    conn: &Connection,
    id: &str,
    job_id: &str,
    transition: WorkspaceTransition,
    created_at: Timestamp,
) -> Result<()> {
    let op = "insert workspace resource";
    conn.prepare_cached("INSERT INTO workspace_resources (id, created_at, job_id, transition) VALUES (?1, ?2, ?3, ?4)")
        .op(op)?
        .execute(params![id, to_micros(created_at), job_id, transition.as_str()])
        .op(op)?;
    Ok(())
}

pub(crate) fn insert_workspace_agent(conn: &Connection, p: &InsertWorkspaceAgent<'_>) -> Result<()> {
    let op = "insert workspace agent";
    conn.prepare_cached(
        "INSERT INTO workspace_agents (id, created_at, updated_at, resource_id, name, lifecycle_state, ready_at,
                                       parent_id)
         VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .op(op)?
    .execute(params![
        p.id,
        to_micros(p.created_at),
        p.resource_id,
        p.name,
        p.lifecycle_state.as_str(),
        opt_micros(p.ready_at),
        p.parent_id,
    ])
    .op(op)?;
    Ok(())
}

/// Inserts agent stats in the caller's transaction, one cached statement for all rows.
pub(crate) fn insert_workspace_agent_stats(conn: &Connection, stats: &[WorkspaceAgentStat]) -> Result<()> {
    let op = "insert workspace agent stats";
    let mut stmt = conn
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

/// Inserts app stats in the caller's transaction; a repeated (agent, session) updates the
/// session's end and request count, as agents report a session again while it lasts.
pub(crate) fn insert_workspace_app_stats(conn: &Connection, stats: &[WorkspaceAppStat]) -> Result<()> {
    let op = "insert workspace app stats";
    let mut stmt = conn
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

/// (agent stats, app stats) row counts.
pub(crate) fn count_usage_stats(conn: &Connection) -> Result<(i64, i64)> {
    let op = "count usage stats";
    conn.prepare_cached(
        "SELECT (SELECT COUNT(*) FROM workspace_agent_stats), (SELECT COUNT(*) FROM workspace_app_stats)",
    )
    .op(op)?
    .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
    .op(op)
}

/// Ready top-level agents of live, non-prebuilt workspaces whose latest build is a
/// succeeded start.
pub(crate) fn get_running_workspace_agents(conn: &Connection) -> Result<Vec<RunningWorkspaceAgent>> {
    let op = "get running workspace agents";
    conn.prepare_cached(
        "SELECT lb.workspace_id, w.owner_id, w.template_id, a.id
         FROM workspace_latest_builds lb
         JOIN workspaces w ON w.id = lb.workspace_id
         JOIN workspace_resources r ON r.job_id = lb.job_id
         JOIN workspace_agents a ON a.resource_id = r.id
         WHERE lb.transition = 'start' AND lb.job_status = 'succeeded' AND w.owner_id <> ?1
           AND a.deleted = 0 AND a.parent_id IS NULL AND a.lifecycle_state = 'ready'
         ORDER BY lb.workspace_id, a.id",
    )
    .op(op)?
    .query_map([PREBUILDS_SYSTEM_USER_ID], |r| {
        Ok(RunningWorkspaceAgent {
            workspace_id: r.get(0)?,
            owner_id: r.get(1)?,
            template_id: r.get(2)?,
            agent_id: r.get(3)?,
        })
    })
    .op(op)?
    .collect::<rusqlite::Result<_>>()
    .op(op)
}

pub(crate) fn update_workspace_build_deadline(
    conn: &Connection,
    build_id: &str,
    deadline: Option<Timestamp>,
) -> Result<()> {
    let op = "update workspace build deadline";
    let n = conn
        .prepare_cached("UPDATE workspace_builds SET deadline = ?2 WHERE id = ?1")
        .op(op)?
        .execute(params![build_id, opt_micros(deadline)])
        .op(op)?;
    if n == 0 {
        return Err(crate::database::Error::NotFound { op });
    }
    Ok(())
}

impl WorkspaceStore for SqliteTx<'_> {
    fn get_workspaces_page(&self, params: &WorkspacePageParams<'_>) -> Result<(Vec<String>, i64)> {
        get_workspaces_page(self, params)
    }

    run_query! {
        fn insert_workspace(&self, params: &InsertWorkspace<'_>) -> Result<Workspace> => insert_workspace;
        fn get_workspace_by_id(&self, id: &str) -> Result<Workspace> => get_workspace_by_id;
        fn get_workspaces_by_ids(&self, ids: &[String]) -> Result<Vec<Workspace>> => get_workspaces_by_ids;
        fn get_latest_workspace_builds(&self, workspace_ids: &[String]) -> Result<Vec<WorkspaceBuild>> => get_latest_workspace_builds;
        fn get_workspace_build_by_id(&self, id: &str) -> Result<WorkspaceBuild> => get_workspace_build_by_id;
        fn get_workspace_resources_by_job_ids(&self, job_ids: &[String]) -> Result<Vec<WorkspaceResource>> => get_workspace_resources_by_job_ids;
        fn get_workspace_agents_by_resource_ids(&self, resource_ids: &[String]) -> Result<Vec<WorkspaceAgent>> => get_workspace_agents_by_resource_ids;
        fn get_workspace_by_owner_and_name(&self, owner_id: &str, name: &str) -> Result<Workspace> => get_workspace_by_owner_and_name;
        fn get_workspace_agents_by_workspace_id(&self, workspace_id: &str) -> Result<Vec<WorkspaceAgent>> => get_workspace_agents_by_workspace_id;
        fn get_workspaces_by_template_id(&self, template_id: &str) -> Result<Vec<Workspace>> => get_workspaces_by_template_id;
        fn update_workspace_deleted(&self, id: &str, deleted: bool, updated_at: Timestamp) -> Result<()> => update_workspace_deleted;
        fn update_workspace_autostart(&self, id: &str, autostart_schedule: Option<&str>, next_start_at: Option<Timestamp>, updated_at: Timestamp) -> Result<()> => update_workspace_autostart;
        fn update_workspace_ttl(&self, id: &str, ttl_ms: Option<i64>, updated_at: Timestamp) -> Result<()> => update_workspace_ttl;
        fn update_workspace_name(&self, id: &str, name: &str, updated_at: Timestamp) -> Result<()> => update_workspace_name;
        fn update_workspace_build_deadline(&self, build_id: &str, deadline: Option<Timestamp>) -> Result<()> => update_workspace_build_deadline;
        fn insert_workspace_build(&self, params: &InsertWorkspaceBuild<'_>) -> Result<WorkspaceBuild> => insert_workspace_build;
        fn get_workspace_builds_by_workspace_id(&self, workspace_id: &str) -> Result<Vec<WorkspaceBuild>> => get_workspace_builds_by_workspace_id;
        fn insert_workspace_build_parameter(&self, workspace_build_id: &str, name: &str, value: &str) -> Result<()> => insert_workspace_build_parameter;
        fn get_workspace_build_parameters(&self, workspace_build_id: &str) -> Result<Vec<(String, String)>> => get_workspace_build_parameters;
        fn insert_workspace_resource(&self, id: &str, job_id: &str, transition: WorkspaceTransition, created_at: Timestamp) -> Result<()> => insert_workspace_resource;
        fn insert_workspace_agent(&self, params: &InsertWorkspaceAgent<'_>) -> Result<()> => insert_workspace_agent;
        fn insert_workspace_agent_stats(&self, stats: &[WorkspaceAgentStat]) -> Result<()> => insert_workspace_agent_stats;
        fn insert_workspace_app_stats(&self, stats: &[WorkspaceAppStat]) -> Result<()> => insert_workspace_app_stats;
        fn count_usage_stats(&self) -> Result<(i64, i64)> => count_usage_stats;
        fn get_running_workspace_agents(&self) -> Result<Vec<RunningWorkspaceAgent>> => get_running_workspace_agents;
    }
}
