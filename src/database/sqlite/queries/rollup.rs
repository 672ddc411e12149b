//! Inputs and output of the template usage rollup, and range reads for insights.

use rusqlite::params;

use crate::clock::Timestamp;
use crate::clock::to_micros;
use crate::database::Result;
use crate::database::RollupStore;
use crate::database::models::RollupAgentStat;
use crate::database::models::RollupAppStat;
use crate::database::models::RollupWindowInputs;
use crate::database::models::TemplateUsageStat;
use crate::database::rows;
use crate::database::rows::USAGE_STAT_COLUMNS;
use crate::database::sqlite::errors::OpContext;
use crate::database::sqlite::queries::json_ids;
use crate::database::sqlite::queries::str_at;
use crate::database::sqlite::queries::timestamp_at;
use crate::database::sqlite::tx::SqliteTx;

impl RollupStore for SqliteTx<'_> {
    fn get_rollup_window_inputs(&self) -> Result<RollupWindowInputs> {
        let sql = "SELECT (SELECT MAX(start_time) FROM template_usage_stats),
                          (SELECT MIN(created_at) FROM workspace_agent_stats)";
        self.one("get rollup window inputs", sql, [], |r| {
            Ok(RollupWindowInputs { newest_bucket_start: r.opt_time(0)?, earliest_agent_stat: r.opt_time(1)? })
        })
    }

    /// Each row's text is borrowed from the row: no allocation per row.
    fn visit_agent_stats_for_rollup(
        &self,
        start: Timestamp,
        end: Timestamp,
        visit: &mut dyn FnMut(&RollupAgentStat<'_>),
    ) -> Result<()> {
        let op = "get agent stats for rollup";
        let sql = "SELECT created_at, template_id, user_id, connection_count, connection_median_latency_ms,
                          session_count_ssh, session_count_reconnecting_pty, session_count_vscode,
                          session_count_jetbrains
                   FROM workspace_agent_stats WHERE created_at >= ?1 AND created_at < ?2";
        let mut stmt = self.conn.prepare_cached(sql).op(op)?;
        let mut rows = stmt.query([to_micros(start), to_micros(end)]).op(op)?;
        while let Some(r) = rows.next().op(op)? {
            visit(&RollupAgentStat {
                created_at: timestamp_at(r, 0).op(op)?,
                template_id: str_at(r, 1).op(op)?,
                user_id: str_at(r, 2).op(op)?,
                connection_count: r.get(3).op(op)?,
                connection_median_latency_ms: r.get(4).op(op)?,
                session_count_ssh: r.get(5).op(op)?,
                session_count_reconnecting_pty: r.get(6).op(op)?,
                session_count_vscode: r.get(7).op(op)?,
                session_count_jetbrains: r.get(8).op(op)?,
            });
        }
        Ok(())
    }

    /// As `visit_agent_stats_for_rollup`, borrowed from the row.
    fn visit_app_stats_for_rollup(
        &self,
        start: Timestamp,
        end: Timestamp,
        visit: &mut dyn FnMut(&RollupAppStat<'_>),
    ) -> Result<()> {
        let op = "get app stats for rollup";
        let sql = "SELECT w.template_id, s.user_id, s.access_method, s.slug_or_port, s.session_started_at,
                          s.session_ended_at
                   FROM workspace_app_stats s JOIN workspaces w ON w.id = s.workspace_id
                   WHERE s.session_ended_at > ?1 AND s.session_started_at < ?2";
        let mut stmt = self.conn.prepare_cached(sql).op(op)?;
        let mut rows = stmt.query([to_micros(start), to_micros(end)]).op(op)?;
        while let Some(r) = rows.next().op(op)? {
            visit(&RollupAppStat {
                template_id: str_at(r, 0).op(op)?,
                user_id: str_at(r, 1).op(op)?,
                access_method: str_at(r, 2).op(op)?,
                slug_or_port: str_at(r, 3).op(op)?,
                session_started_at: timestamp_at(r, 4).op(op)?,
                session_ended_at: timestamp_at(r, 5).op(op)?,
            });
        }
        Ok(())
    }

    /// One cached statement for all rows.
    fn upsert_template_usage_stats(&self, rows: &[TemplateUsageStat]) -> Result<usize> {
        let op = "upsert template usage stats";
        let sql = "INSERT INTO template_usage_stats (start_time, end_time, template_id, user_id, median_latency_ms,
                       usage_mins, ssh_mins, sftp_mins, reconnecting_pty_mins, vscode_mins, jetbrains_mins,
                       app_usage_mins)
                   VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                   ON CONFLICT (start_time, template_id, user_id) DO UPDATE SET
                       median_latency_ms = excluded.median_latency_ms,
                       usage_mins = excluded.usage_mins,
                       ssh_mins = excluded.ssh_mins,
                       sftp_mins = excluded.sftp_mins,
                       reconnecting_pty_mins = excluded.reconnecting_pty_mins,
                       vscode_mins = excluded.vscode_mins,
                       jetbrains_mins = excluded.jetbrains_mins,
                       app_usage_mins = excluded.app_usage_mins
                   WHERE median_latency_ms IS NOT excluded.median_latency_ms
                      OR usage_mins IS NOT excluded.usage_mins
                      OR ssh_mins IS NOT excluded.ssh_mins
                      OR sftp_mins IS NOT excluded.sftp_mins
                      OR reconnecting_pty_mins IS NOT excluded.reconnecting_pty_mins
                      OR vscode_mins IS NOT excluded.vscode_mins
                      OR jetbrains_mins IS NOT excluded.jetbrains_mins
                      OR app_usage_mins IS NOT excluded.app_usage_mins";
        let mut stmt = self.conn.prepare_cached(sql).op(op)?;
        let mut written = 0;
        for r in rows {
            // BTreeMap serializes with sorted keys: equal usage gives equal text.
            let apps = r.app_usage_mins.as_ref().map(|m| serde_json::to_string(m).expect("app usage serializes"));
            written += stmt
                .execute(params![
                    to_micros(r.start_time),
                    to_micros(r.end_time),
                    r.template_id,
                    r.user_id,
                    r.median_latency_ms,
                    r.usage_mins,
                    r.ssh_mins,
                    r.sftp_mins,
                    r.reconnecting_pty_mins,
                    r.vscode_mins,
                    r.jetbrains_mins,
                    apps,
                ])
                .op(op)?;
        }
        Ok(written)
    }

    fn get_template_usage_stats(
        &self,
        start: Timestamp,
        end: Timestamp,
        template_ids: &[String],
    ) -> Result<Vec<TemplateUsageStat>> {
        let sql = format!(
            "SELECT {USAGE_STAT_COLUMNS} FROM template_usage_stats
             WHERE start_time >= ?1 AND end_time <= ?2
               AND (json_array_length(?3) = 0 OR template_id IN (SELECT value FROM json_each(?3)))
             ORDER BY start_time, template_id, user_id"
        );
        let params = params![to_micros(start), to_micros(end), json_ids(template_ids)];
        self.all("get template usage stats", &sql, params, rows::template_usage_stat)
    }
}
