//! The template usage rollup: `RollupStore` and its rows.

use crate::clock::Timestamp;
use crate::database::Result;

store_domain! {
    /// The template usage rollup and insights reads.
    pub trait RollupStore {
        /// The inputs of the rollup window.
        read fn get_rollup_window_inputs(&self) -> Result<RollupWindowInputs>;

        /// Hands each agent stat created in `[start, end)` to `visit` as it is read: the window
        /// holds hours of rows, and the rollup's memory must not grow with them. Call it inside
        /// a transaction (a transaction that runs again visits the rows again).
        read fn visit_agent_stats_for_rollup(&self, start: Timestamp, end: Timestamp, visit: &mut dyn FnMut(&RollupAgentStat<'_>)) -> Result<()>;

        /// Hands each app session overlapping `[start, end)`, with its workspace's template,
        /// to `visit` as it is read (as `visit_agent_stats_for_rollup`).
        read fn visit_app_stats_for_rollup(&self, start: Timestamp, end: Timestamp, visit: &mut dyn FnMut(&RollupAppStat<'_>)) -> Result<()>;

        /// Upserts rollup rows, skipping unchanged ones; returns the number written.
        write fn upsert_template_usage_stats(&self, rows: &[TemplateUsageStat]) -> Result<usize>;

        /// Rollup rows entirely inside `[start, end]` for the templates (empty: all).
        read fn get_template_usage_stats(&self, start: Timestamp, end: Timestamp, template_ids: &[String]) -> Result<Vec<TemplateUsageStat>>;
    }
}

/// A row of `template_usage_stats`.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateUsageStat {
    pub start_time: Timestamp,
    pub end_time: Timestamp,
    pub template_id: String,
    pub user_id: String,
    pub median_latency_ms: Option<f64>,
    pub usage_mins: i64,
    pub ssh_mins: i64,
    pub sftp_mins: i64,
    pub reconnecting_pty_mins: i64,
    pub vscode_mins: i64,
    pub jetbrains_mins: i64,
    /// Keys sorted (a BTreeMap); `None` when there was no app usage.
    pub app_usage_mins: Option<std::collections::BTreeMap<String, i64>>,
}

/// An agent stats row as the rollup reads it, borrowed from the row being read (the rollup
/// window holds hours of rows; they are visited one at a time, never collected).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RollupAgentStat<'a> {
    pub created_at: Timestamp,
    pub template_id: &'a str,
    pub user_id: &'a str,
    pub connection_count: i64,
    pub connection_median_latency_ms: f64,
    pub session_count_ssh: i64,
    pub session_count_reconnecting_pty: i64,
    pub session_count_vscode: i64,
    pub session_count_jetbrains: i64,
}

/// An app session as the rollup reads it (template from the workspace), borrowed from the
/// row being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollupAppStat<'a> {
    pub template_id: &'a str,
    pub user_id: &'a str,
    pub access_method: &'a str,
    pub slug_or_port: &'a str,
    pub session_started_at: Timestamp,
    pub session_ended_at: Timestamp,
}

/// The inputs of the rollup window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollupWindowInputs {
    /// The start of the newest bucket already rolled up.
    pub newest_bucket_start: Option<Timestamp>,
    /// The creation time of the earliest agent stat.
    pub earliest_agent_stat: Option<Timestamp>,
}
