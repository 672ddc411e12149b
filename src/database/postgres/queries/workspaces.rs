//! Workspaces, builds and their parameters, resources, agents, and the agent and app stats,
//! on PostgreSQL. Stats go in as arrays (`unnest`), a few thousand rows per statement.

use uuid::Uuid;

use crate::clock::Timestamp;
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
use crate::database::postgres::queries::get;
use crate::database::postgres::queries::get_id;
use crate::database::postgres::queries::id;
use crate::database::postgres::queries::ids;
use crate::database::postgres::queries::new_id;
use crate::database::postgres::queries::opt_id;
use crate::database::postgres::queries::opt_new_id;
use crate::database::postgres::tx::PgTx;
use crate::database::rows;
use crate::database::rows::AGENT_COLUMNS;
use crate::database::rows::BUILD_COLUMNS;
use crate::database::rows::RESOURCE_COLUMNS;
use crate::database::rows::WORKSPACE_COLUMNS;

/// Rows per array insert.
const CHUNK: usize = 5_000;

fn get_workspaces_page(tx: &PgTx<'_>, p: &WorkspacePageParams<'_>) -> Result<(Vec<String>, i64)> {
    let op = "get workspaces page";
    let limit: Option<i64> = (p.limit > 0).then_some(i64::from(p.limit));
    let id_list: Option<Vec<Uuid>> = p.ids.map(ids);
    let rows = tx.query(
        op,
        "SELECT w.id, COUNT(*) OVER ()
         FROM workspaces w
         JOIN users u ON u.id = w.owner_id
         JOIN templates t ON t.id = w.template_id
         LEFT JOIN LATERAL (
             SELECT b.job_id, b.transition FROM workspace_builds b
             WHERE b.workspace_id = w.id ORDER BY b.build_number DESC LIMIT 1) b ON true
         LEFT JOIN provisioner_jobs j ON j.id = b.job_id
         WHERE NOT w.deleted
           AND ($1::uuid IS NULL OR w.owner_id = $1)
           AND ($2::text IS NULL OR lower(t.name) = lower($2))
           AND ($3::text IS NULL OR strpos(lower(w.name), lower($3)) > 0)
           AND ($4::uuid[] IS NULL OR w.id = ANY($4))
           AND ($5::text IS NULL OR j.job_status = $5)
           AND ($6::text IS NULL OR b.transition = $6)
           AND ($7::uuid IS NULL OR w.owner_id = $7)
         ORDER BY (j.completed_at IS NOT NULL AND j.canceled_at IS NULL AND COALESCE(j.error, '') = ''
                   AND b.transition = 'start') DESC,
                  lower(u.username COLLATE \"C\"), lower(w.name COLLATE \"C\")
         LIMIT $8 OFFSET $9",
        &[
            &opt_id(p.owner_id),
            &p.template_name,
            &p.name_contains,
            &id_list,
            &p.job_status.map(JobStatus::as_str),
            &p.transition.map(WorkspaceTransition::as_str),
            &opt_id(p.visible_owner_id),
            &limit,
            &i64::from(p.offset),
        ],
    )?;
    let count = match rows.first() {
        Some(r) => get(op, r, 1)?,
        None => 0,
    };
    Ok((rows.iter().map(|r| get_id(op, r, 0)).collect::<Result<_>>()?, count))
}

/// Inserts agent stats as arrays, a few thousand rows per statement.
fn insert_workspace_agent_stats(tx: &PgTx<'_>, stats: &[WorkspaceAgentStat]) -> Result<()> {
    let op = "insert workspace agent stats";
    for chunk in stats.chunks(CHUNK) {
        let ids = |f: fn(&WorkspaceAgentStat) -> &str, column| -> Result<Vec<Uuid>> {
            chunk.iter().map(|s| new_id(op, column, f(s))).collect()
        };
        let ints = |f: fn(&WorkspaceAgentStat) -> i64| -> Vec<i64> { chunk.iter().map(f).collect() };
        let created: Vec<Timestamp> = chunk.iter().map(|s| s.created_at).collect();
        let latency: Vec<f64> = chunk.iter().map(|s| s.connection_median_latency_ms).collect();
        tx.execute(
            op,
            "INSERT INTO workspace_agent_stats (id, created_at, user_id, agent_id, workspace_id, template_id,
                 connection_count, connection_median_latency_ms, rx_bytes, tx_bytes, session_count_vscode,
                 session_count_jetbrains, session_count_reconnecting_pty, session_count_ssh)
             SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $4::uuid[], $5::uuid[], $6::uuid[],
                                  $7::bigint[], $8::float8[], $9::bigint[], $10::bigint[], $11::bigint[],
                                  $12::bigint[], $13::bigint[], $14::bigint[])",
            &[
                &ids(|s| &s.id, "id")?,
                &created,
                &ids(|s| &s.user_id, "user_id")?,
                &ids(|s| &s.agent_id, "agent_id")?,
                &ids(|s| &s.workspace_id, "workspace_id")?,
                &ids(|s| &s.template_id, "template_id")?,
                &ints(|s| s.connection_count),
                &latency,
                &ints(|s| s.rx_bytes),
                &ints(|s| s.tx_bytes),
                &ints(|s| s.session_count_vscode),
                &ints(|s| s.session_count_jetbrains),
                &ints(|s| s.session_count_reconnecting_pty),
                &ints(|s| s.session_count_ssh),
            ],
        )?;
    }
    Ok(())
}

/// Inserts app stats; a repeated (agent, session) updates the session's end and request
/// count, as agents report a session again while it lasts. Rows of one statement must not
/// repeat a session (a command cannot affect a row twice), so each chunk is merged first.
fn insert_workspace_app_stats(tx: &PgTx<'_>, stats: &[WorkspaceAppStat]) -> Result<()> {
    let op = "insert workspace app stats";
    for chunk in stats.chunks(CHUNK) {
        let mut merged: Vec<WorkspaceAppStat> = Vec::with_capacity(chunk.len());
        let mut index: std::collections::HashMap<(&str, &str), usize> = std::collections::HashMap::new();
        for s in chunk {
            match index.get(&(s.agent_id.as_str(), s.session_id.as_str())) {
                Some(&i) => {
                    merged[i].session_ended_at = s.session_ended_at;
                    merged[i].requests += s.requests;
                }
                None => {
                    index.insert((&s.agent_id, &s.session_id), merged.len());
                    merged.push(s.clone());
                }
            }
        }
        let ids = |f: fn(&WorkspaceAppStat) -> &str, column| -> Result<Vec<Uuid>> {
            merged.iter().map(|s| new_id(op, column, f(s))).collect()
        };
        let texts = |f: fn(&WorkspaceAppStat) -> &str| -> Vec<&str> { merged.iter().map(f).collect() };
        let started: Vec<Timestamp> = merged.iter().map(|s| s.session_started_at).collect();
        let ended: Vec<Timestamp> = merged.iter().map(|s| s.session_ended_at).collect();
        let requests: Vec<i64> = merged.iter().map(|s| s.requests).collect();
        tx.execute(
            op,
            "INSERT INTO workspace_app_stats AS s (user_id, workspace_id, agent_id, access_method, slug_or_port,
                 session_id, session_started_at, session_ended_at, requests)
             SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::uuid[],
                                  $7::timestamptz[], $8::timestamptz[], $9::bigint[])
             ON CONFLICT (agent_id, session_id) DO UPDATE SET
                 session_ended_at = excluded.session_ended_at,
                 requests = s.requests + excluded.requests",
            &[
                &ids(|s| &s.user_id, "user_id")?,
                &ids(|s| &s.workspace_id, "workspace_id")?,
                &ids(|s| &s.agent_id, "agent_id")?,
                &texts(|s| &s.access_method),
                &texts(|s| &s.slug_or_port),
                &ids(|s| &s.session_id, "session_id")?,
                &started,
                &ended,
                &requests,
            ],
        )?;
    }
    Ok(())
}

impl WorkspaceStore for PgTx<'_> {
    fn insert_workspace(&self, p: &InsertWorkspace<'_>) -> Result<Workspace> {
        let op = "insert workspace";
        self.one(
            op,
            &format!(
                "INSERT INTO workspaces (id, created_at, updated_at, owner_id, organization_id, template_id, name,
                                         last_used_at, autostart_schedule, ttl_ms)
                 VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {WORKSPACE_COLUMNS}"
            ),
            &[
                &new_id(op, "id", p.id)?,
                &p.created_at,
                &new_id(op, "owner_id", p.owner_id)?,
                &new_id(op, "organization_id", p.organization_id)?,
                &new_id(op, "template_id", p.template_id)?,
                &p.name,
                &p.last_used_at,
                &p.autostart_schedule,
                &p.ttl_ms,
            ],
            rows::workspace,
        )
    }

    fn get_workspace_by_id(&self, workspace_id: &str) -> Result<Workspace> {
        let sql = format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = $1");
        self.one("get workspace by id", &sql, &[&id(workspace_id)], rows::workspace)
    }

    fn get_workspaces_page(&self, params: &WorkspacePageParams<'_>) -> Result<Page<String>> {
        let (rows, count) = get_workspaces_page(self, params)?;
        Ok(Page { rows, count })
    }

    fn get_workspaces_by_ids(&self, workspace_ids: &[String]) -> Result<Vec<Workspace>> {
        let sql = format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = ANY($1)");
        self.all("get workspaces by ids", &sql, &[&ids(workspace_ids)], rows::workspace)
    }

    fn get_latest_workspace_builds(&self, workspace_ids: &[String]) -> Result<Vec<WorkspaceBuild>> {
        let sql = format!(
            "SELECT DISTINCT ON (workspace_id) {BUILD_COLUMNS} FROM workspace_builds
             WHERE workspace_id = ANY($1) ORDER BY workspace_id, build_number DESC"
        );
        self.all("get latest workspace builds", &sql, &[&ids(workspace_ids)], rows::workspace_build)
    }

    fn get_workspace_build_by_id(&self, build_id: &str) -> Result<WorkspaceBuild> {
        let sql = format!("SELECT {BUILD_COLUMNS} FROM workspace_builds WHERE id = $1");
        self.one("get workspace build by id", &sql, &[&id(build_id)], rows::workspace_build)
    }

    fn get_workspace_resources_by_job_ids(&self, job_ids: &[String]) -> Result<Vec<WorkspaceResource>> {
        let sql = format!("SELECT {RESOURCE_COLUMNS} FROM workspace_resources WHERE job_id = ANY($1)");
        self.all("get workspace resources by job ids", &sql, &[&ids(job_ids)], rows::workspace_resource)
    }

    fn get_workspace_agents_by_resource_ids(&self, resource_ids: &[String]) -> Result<Vec<WorkspaceAgent>> {
        let sql = format!("SELECT {AGENT_COLUMNS} FROM workspace_agents WHERE NOT deleted AND resource_id = ANY($1)");
        self.all("get workspace agents by resource ids", &sql, &[&ids(resource_ids)], rows::workspace_agent)
    }

    fn get_workspace_by_owner_and_name(&self, owner_id: &str, name: &str) -> Result<Workspace> {
        let sql = format!(
            "SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE owner_id = $1 AND lower(name) = lower($2) AND NOT deleted"
        );
        self.one("get workspace by owner and name", &sql, &[&id(owner_id), &name], rows::workspace)
    }

    fn get_workspace_agents_by_workspace_id(&self, workspace_id: &str) -> Result<Vec<WorkspaceAgent>> {
        let sql = format!(
            "SELECT {} FROM (SELECT job_id FROM workspace_builds WHERE workspace_id = $1 ORDER BY build_number DESC LIMIT 1) b
             JOIN workspace_resources r ON r.job_id = b.job_id
             JOIN workspace_agents a ON a.resource_id = r.id AND NOT a.deleted
             ORDER BY a.created_at, a.id",
            rows::prefixed("a", AGENT_COLUMNS)
        );
        self.all("get workspace agents by workspace id", &sql, &[&id(workspace_id)], rows::workspace_agent)
    }

    fn get_workspaces_by_template_id(&self, template_id: &str) -> Result<Vec<Workspace>> {
        let sql = format!(
            "SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE template_id = $1 AND NOT deleted ORDER BY created_at, id"
        );
        self.all("get workspaces by template id", &sql, &[&id(template_id)], rows::workspace)
    }

    fn update_workspace_deleted(&self, workspace_id: &str, deleted: bool, updated_at: Timestamp) -> Result<()> {
        self.exec_found(
            "update workspace deleted",
            "UPDATE workspaces SET deleted = $2, updated_at = $3 WHERE id = $1",
            &[&id(workspace_id), &deleted, &updated_at],
        )
    }

    fn update_workspace_autostart(
        &self,
        workspace_id: &str,
        autostart_schedule: Option<&str>,
        next_start_at: Option<Timestamp>,
        updated_at: Timestamp,
    ) -> Result<()> {
        self.exec_found(
            "update workspace autostart",
            "UPDATE workspaces SET autostart_schedule = $2, next_start_at = $3, updated_at = $4 WHERE id = $1",
            &[&id(workspace_id), &autostart_schedule, &next_start_at, &updated_at],
        )
    }

    fn update_workspace_ttl(&self, workspace_id: &str, ttl_ms: Option<i64>, updated_at: Timestamp) -> Result<()> {
        self.exec_found(
            "update workspace ttl",
            "UPDATE workspaces SET ttl_ms = $2, updated_at = $3 WHERE id = $1",
            &[&id(workspace_id), &ttl_ms, &updated_at],
        )
    }

    fn update_workspace_name(&self, workspace_id: &str, name: &str, updated_at: Timestamp) -> Result<()> {
        self.exec_found(
            "update workspace name",
            "UPDATE workspaces SET name = $2, updated_at = $3 WHERE id = $1 AND NOT deleted",
            &[&id(workspace_id), &name, &updated_at],
        )
    }

    fn update_workspace_build_deadline(&self, build_id: &str, deadline: Option<Timestamp>) -> Result<()> {
        self.exec_found(
            "update workspace build deadline",
            "UPDATE workspace_builds SET deadline = $2 WHERE id = $1",
            &[&id(build_id), &deadline],
        )
    }

    fn insert_workspace_build(&self, p: &InsertWorkspaceBuild<'_>) -> Result<WorkspaceBuild> {
        let op = "insert workspace build";
        self.one(
            op,
            &format!(
                "INSERT INTO workspace_builds (id, created_at, updated_at, workspace_id, template_version_id, build_number,
                                               transition, initiator_id, job_id, reason, template_version_preset_id)
                 VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {BUILD_COLUMNS}"
            ),
            &[
                &new_id(op, "id", p.id)?,
                &p.created_at,
                &new_id(op, "workspace_id", p.workspace_id)?,
                &new_id(op, "template_version_id", p.template_version_id)?,
                &p.build_number,
                &p.transition.as_str(),
                &new_id(op, "initiator_id", p.initiator_id)?,
                &new_id(op, "job_id", p.job_id)?,
                &p.reason,
                &opt_new_id(op, "template_version_preset_id", p.template_version_preset_id)?,
            ],
            rows::workspace_build,
        )
    }

    fn get_workspace_builds_by_workspace_id(&self, workspace_id: &str) -> Result<Vec<WorkspaceBuild>> {
        let sql =
            format!("SELECT {BUILD_COLUMNS} FROM workspace_builds WHERE workspace_id = $1 ORDER BY build_number DESC");
        self.all("get workspace builds by workspace id", &sql, &[&id(workspace_id)], rows::workspace_build)
    }

    fn insert_workspace_build_parameter(&self, params: &InsertWorkspaceBuildParameter<'_>) -> Result<()> {
        let InsertWorkspaceBuildParameter { workspace_build_id, name, value } = *params;
        let op = "insert workspace build parameter";
        self.exec(
            op,
            "INSERT INTO workspace_build_parameters (workspace_build_id, name, value) VALUES ($1, $2, $3)",
            &[&new_id(op, "workspace_build_id", workspace_build_id)?, &name, &value],
        )
    }

    fn get_workspace_build_parameters(&self, workspace_build_id: &str) -> Result<Vec<WorkspaceBuildParameter>> {
        self.all(
            "get workspace build parameters",
            "SELECT name, value FROM workspace_build_parameters WHERE workspace_build_id = $1 ORDER BY name COLLATE \"C\"",
            &[&id(workspace_build_id)],
            |r| Ok(WorkspaceBuildParameter { name: r.text(0)?, value: r.text(1)? }),
        )
    }

    fn insert_workspace_resource(&self, params: &InsertWorkspaceResource<'_>) -> Result<()> {
        let InsertWorkspaceResource { id: resource_id, job_id, transition, created_at } = *params;
        let op = "insert workspace resource";
        self.exec(
            op,
            "INSERT INTO workspace_resources (id, created_at, job_id, transition) VALUES ($1, $2, $3, $4)",
            &[&new_id(op, "id", resource_id)?, &created_at, &new_id(op, "job_id", job_id)?, &transition.as_str()],
        )
    }

    fn insert_workspace_agent(&self, p: &InsertWorkspaceAgent<'_>) -> Result<()> {
        let op = "insert workspace agent";
        self.exec(
            op,
            "INSERT INTO workspace_agents (id, created_at, updated_at, resource_id, name, lifecycle_state, ready_at,
                                           parent_id)
             VALUES ($1, $2, $2, $3, $4, $5, $6, $7)",
            &[
                &new_id(op, "id", p.id)?,
                &p.created_at,
                &new_id(op, "resource_id", p.resource_id)?,
                &p.name,
                &p.lifecycle_state.as_str(),
                &p.ready_at,
                &opt_new_id(op, "parent_id", p.parent_id)?,
            ],
        )
    }

    fn insert_workspace_agent_stats(&self, stats: &[WorkspaceAgentStat]) -> Result<()> {
        insert_workspace_agent_stats(self, stats)
    }

    fn insert_workspace_app_stats(&self, stats: &[WorkspaceAppStat]) -> Result<()> {
        insert_workspace_app_stats(self, stats)
    }

    fn get_running_workspace_agents(&self) -> Result<Vec<RunningWorkspaceAgent>> {
        self.all(
            "get running workspace agents",
            "SELECT lb.workspace_id, w.owner_id, w.template_id, a.id
             FROM workspace_latest_builds lb
             JOIN workspaces w ON w.id = lb.workspace_id
             JOIN workspace_resources r ON r.job_id = lb.job_id
             JOIN workspace_agents a ON a.resource_id = r.id
             WHERE lb.transition = 'start' AND lb.job_status = 'succeeded' AND w.owner_id <> $1
               AND NOT a.deleted AND a.parent_id IS NULL AND a.lifecycle_state = 'ready'
             ORDER BY lb.workspace_id, a.id",
            &[&id(PREBUILDS_SYSTEM_USER_ID)],
            rows::running_workspace_agent,
        )
    }
}
