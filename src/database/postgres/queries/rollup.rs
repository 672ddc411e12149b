//! Inputs and output of the template usage rollup, and range reads for insights, on
//! PostgreSQL. The upsert goes in as arrays, skipping rows whose stored values are equal.

use uuid::Uuid;

use crate::clock::Timestamp;
use crate::database::Error;
use crate::database::Result;
use crate::database::RollupStore;
use crate::database::models::RollupAgentStat;
use crate::database::models::RollupAppStat;
use crate::database::models::RollupWindowInputs;
use crate::database::models::TemplateUsageStat;
use crate::database::postgres::queries::get;
use crate::database::postgres::queries::id;
use crate::database::postgres::queries::new_id;
use crate::database::postgres::tx::PgTx;
use crate::database::rows;
use crate::database::rows::USAGE_STAT_COLUMNS;

/// Rows per array upsert.
const CHUNK: usize = 5_000;

/// A uuid column as the domain's lowercase hyphenated text, written into a reused buffer so
/// a visited row costs no allocation.
struct IdText([u8; uuid::fmt::Hyphenated::LENGTH]);

impl IdText {
    fn new() -> Self {
        Self([0; uuid::fmt::Hyphenated::LENGTH])
    }

    fn encode(&mut self, id: Uuid) -> &str {
        id.hyphenated().encode_lower(&mut self.0)
    }
}

impl RollupStore for PgTx<'_> {
    fn get_rollup_window_inputs(&self) -> Result<RollupWindowInputs> {
        let sql = "SELECT (SELECT MAX(start_time) FROM template_usage_stats),
                          (SELECT MIN(created_at) FROM workspace_agent_stats)";
        self.one("get rollup window inputs", sql, &[], |r| {
            Ok(RollupWindowInputs { newest_bucket_start: r.opt_time(0)?, earliest_agent_stat: r.opt_time(1)? })
        })
    }

    /// Ids go through reused buffers and text is borrowed from the row: no allocation per row.
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
                   FROM workspace_agent_stats WHERE created_at >= $1 AND created_at < $2";
        let (mut template_id, mut user_id) = (IdText::new(), IdText::new());
        self.query_each(op, sql, &[&start, &end], &mut |r| {
            visit(&RollupAgentStat {
                created_at: get(op, r, 0)?,
                template_id: template_id.encode(get(op, r, 1)?),
                user_id: user_id.encode(get(op, r, 2)?),
                connection_count: get(op, r, 3)?,
                connection_median_latency_ms: get(op, r, 4)?,
                session_count_ssh: get(op, r, 5)?,
                session_count_reconnecting_pty: get(op, r, 6)?,
                session_count_vscode: get(op, r, 7)?,
                session_count_jetbrains: get(op, r, 8)?,
            });
            Ok(())
        })
    }

    /// As `visit_agent_stats_for_rollup`, with no allocation per row.
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
                   WHERE s.session_ended_at > $1 AND s.session_started_at < $2";
        let (mut template_id, mut user_id) = (IdText::new(), IdText::new());
        self.query_each(op, sql, &[&start, &end], &mut |r| {
            visit(&RollupAppStat {
                template_id: template_id.encode(get(op, r, 0)?),
                user_id: user_id.encode(get(op, r, 1)?),
                access_method: get(op, r, 2)?,
                slug_or_port: get(op, r, 3)?,
                session_started_at: get(op, r, 4)?,
                session_ended_at: get(op, r, 5)?,
            });
            Ok(())
        })
    }

    /// `CHUNK` rows per statement, as arrays.
    fn upsert_template_usage_stats(&self, rows: &[TemplateUsageStat]) -> Result<usize> {
        let op = "upsert template usage stats";
        let sql = "INSERT INTO template_usage_stats AS t (start_time, end_time, template_id, user_id,
                       median_latency_ms, usage_mins, ssh_mins, sftp_mins, reconnecting_pty_mins, vscode_mins,
                       jetbrains_mins, app_usage_mins)
                   SELECT * FROM unnest($1::timestamptz[], $2::timestamptz[], $3::uuid[], $4::uuid[], $5::float8[],
                                        $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[],
                                        $11::bigint[], $12::jsonb[])
                   ON CONFLICT (start_time, template_id, user_id) DO UPDATE SET
                       median_latency_ms = excluded.median_latency_ms,
                       usage_mins = excluded.usage_mins,
                       ssh_mins = excluded.ssh_mins,
                       sftp_mins = excluded.sftp_mins,
                       reconnecting_pty_mins = excluded.reconnecting_pty_mins,
                       vscode_mins = excluded.vscode_mins,
                       jetbrains_mins = excluded.jetbrains_mins,
                       app_usage_mins = excluded.app_usage_mins
                   WHERE (t.median_latency_ms, t.usage_mins, t.ssh_mins, t.sftp_mins, t.reconnecting_pty_mins,
                          t.vscode_mins, t.jetbrains_mins, t.app_usage_mins)
                      IS DISTINCT FROM
                         (excluded.median_latency_ms, excluded.usage_mins, excluded.ssh_mins, excluded.sftp_mins,
                          excluded.reconnecting_pty_mins, excluded.vscode_mins, excluded.jetbrains_mins,
                          excluded.app_usage_mins)";
        let mut written = 0;
        for chunk in rows.chunks(CHUNK) {
            let times = |f: fn(&TemplateUsageStat) -> Timestamp| -> Vec<Timestamp> { chunk.iter().map(f).collect() };
            let ids = |f: fn(&TemplateUsageStat) -> &str, column| -> Result<Vec<Uuid>> {
                chunk.iter().map(|r| new_id(op, column, f(r))).collect()
            };
            let mins = |f: fn(&TemplateUsageStat) -> i64| -> Vec<i64> { chunk.iter().map(f).collect() };
            let latency: Vec<Option<f64>> = chunk.iter().map(|r| r.median_latency_ms).collect();
            let apps = chunk
                .iter()
                .map(|r| r.app_usage_mins.as_ref().map(serde_json::to_value).transpose())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| Error::InvalidValue { op, column: "app_usage_mins", message: e.to_string() })?;
            written += self.exec_count(
                op,
                sql,
                &[
                    &times(|r| r.start_time),
                    &times(|r| r.end_time),
                    &ids(|r| &r.template_id, "template_id")?,
                    &ids(|r| &r.user_id, "user_id")?,
                    &latency,
                    &mins(|r| r.usage_mins),
                    &mins(|r| r.ssh_mins),
                    &mins(|r| r.sftp_mins),
                    &mins(|r| r.reconnecting_pty_mins),
                    &mins(|r| r.vscode_mins),
                    &mins(|r| r.jetbrains_mins),
                    &apps,
                ],
            )?;
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
             WHERE start_time >= $1 AND end_time <= $2 AND (cardinality($3::uuid[]) = 0 OR template_id = ANY($3))
             ORDER BY start_time, template_id, user_id"
        );
        let ids: Vec<Uuid> = template_ids.iter().map(|t| id(t)).collect();
        self.all("get template usage stats", &sql, &[&start, &end, &ids], rows::template_usage_stat)
    }
}
