//! Demo mode's simulated agent activity: every running (non-prebuilt) workspace's agent
//! reports stats with sessions, an app session, and boundary logs, so insights, the rollup
//! and telemetry have live data.

use std::time::Duration;

use uuid::Uuid;

use crate::boundaryusage::Tracker;
use crate::clock::Cancel;
use crate::clock::SharedClock;
use crate::clock::Ticker;
use crate::clock::Timestamp;
use crate::database;
use crate::database::Store;
use crate::database::TxOptions;
use crate::database::in_tx;
use crate::database::models::RunningWorkspaceAgent;
use crate::database::models::WorkspaceAgentStat;
use crate::database::models::WorkspaceAppStat;

/// A small, fast pseudo-random generator (xorshift64*): the simulation needs variety, not
/// quality, and must not pull in a crate.
#[derive(Debug, Clone)]
pub struct DemoRng(u64);

impl DemoRng {
    /// Seeded from the OS.
    pub fn from_os() -> Self {
        let mut seed = [0u8; 8];
        // Any seed will do; a failed read leaves a fixed one.
        let _ = getrandom::fill(&mut seed);
        Self::seeded(u64::from_le_bytes(seed))
    }

    pub fn seeded(seed: u64) -> Self {
        Self(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        let span = u64::try_from(hi - lo + 1).unwrap_or(1).max(1);
        lo + i64::try_from(self.next() % span).unwrap_or(0)
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// One boundary logs report of a workspace: (workspace, owner, allowed flags).
pub type BoundaryReport = (Uuid, Uuid, Vec<bool>);

/// What the agents report in one tick ending at `now`.
#[derive(Debug, Default)]
pub struct Activity {
    pub agent_stats: Vec<WorkspaceAgentStat>,
    pub app_stats: Vec<WorkspaceAppStat>,
    pub boundary_reports: Vec<BoundaryReport>,
}

/// The activity of `agents` over the `interval` ending at `now` (pure).
pub fn simulate(agents: &[RunningWorkspaceAgent], now: Timestamp, interval: Duration, rng: &mut DemoRng) -> Activity {
    let mut activity = Activity::default();
    let span = chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::seconds(30));
    for agent in agents {
        let vscode = i64::from(rng.chance(60));
        let ssh = i64::from(rng.chance(30));
        let jetbrains = i64::from(rng.chance(15));
        let pty = i64::from(rng.chance(20));
        let sessions = vscode + ssh + jetbrains + pty;
        activity.agent_stats.push(WorkspaceAgentStat {
            id: Uuid::new_v4().to_string(),
            created_at: now,
            user_id: agent.owner_id.clone(),
            agent_id: agent.agent_id.clone(),
            workspace_id: agent.workspace_id.clone(),
            template_id: agent.template_id.clone(),
            connection_count: sessions,
            connection_median_latency_ms: if sessions > 0 { rng.between(15, 90) as f64 } else { -1.0 },
            rx_bytes: rng.between(1_000, 500_000),
            tx_bytes: rng.between(1_000, 500_000),
            session_count_vscode: vscode,
            session_count_jetbrains: jetbrains,
            session_count_reconnecting_pty: pty,
            session_count_ssh: ssh,
        });
        if rng.chance(50) {
            activity.app_stats.push(WorkspaceAppStat {
                user_id: agent.owner_id.clone(),
                workspace_id: agent.workspace_id.clone(),
                agent_id: agent.agent_id.clone(),
                access_method: "path".to_owned(),
                slug_or_port: "code-server".to_owned(),
                session_id: Uuid::new_v4().to_string(),
                session_started_at: now - span,
                session_ended_at: now,
                requests: rng.between(1, 200),
            });
        }
        if let (Ok(workspace), Ok(owner)) = (Uuid::parse_str(&agent.workspace_id), Uuid::parse_str(&agent.owner_id)) {
            let n = rng.between(0, 20);
            let flags: Vec<bool> = (0..n).map(|_| !rng.chance(10)).collect();
            if !flags.is_empty() {
                activity.boundary_reports.push((workspace, owner, flags));
            }
        }
    }
    activity
}

/// Runs one tick: reads the running agents, writes their stats in one write transaction and
/// reports boundary logs to `tracker`. Returns how many agents reported.
pub fn report_agent_activity(
    store: &dyn Store,
    tracker: &Tracker,
    interval: Duration,
    rng: &mut DemoRng,
) -> database::Result<usize> {
    let agents = store.get_running_workspace_agents()?;
    if agents.is_empty() {
        return Ok(0);
    }
    let activity = simulate(&agents, store.clock().now(), interval, rng);
    in_tx(store, TxOptions::write("demo agent activity"), |tx| {
        tx.insert_workspace_agent_stats(&activity.agent_stats)?;
        tx.insert_workspace_app_stats(&activity.app_stats)
    })?;
    for (workspace, owner, flags) in activity.boundary_reports {
        tracker.report_boundary_logs(workspace, owner, flags);
    }
    Ok(agents.len())
}

/// Reports activity every `interval` on `clock` until `cancel` fires.
pub fn run_agent_activity_loop(
    store: &dyn Store,
    clock: SharedClock,
    tracker: &Tracker,
    interval: Duration,
    cancel: &Cancel,
) -> crate::database::Result<()> {
    let mut rng = DemoRng::from_os();
    let mut ticker = Ticker::new(clock, interval);
    while ticker.wait(cancel) {
        match report_agent_activity(store, tracker, interval, &mut rng) {
            Ok(agents) => tracing::debug!(agents, "demo agents reported activity"),
            Err(error) if error.is_fatal() => return Err(error),
            Err(error) => tracing::warn!(%error, "demo agent activity"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use chrono::Utc;

    use super::*;

    fn agent(n: u8) -> RunningWorkspaceAgent {
        RunningWorkspaceAgent {
            workspace_id: Uuid::from_bytes([n; 16]).to_string(),
            owner_id: Uuid::from_bytes([n + 100; 16]).to_string(),
            template_id: "t".to_owned(),
            agent_id: format!("agent-{n}"),
        }
    }

    #[test]
    fn every_agent_reports_one_stats_row_at_now() {
        let now = Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap();
        let agents = [agent(1), agent(2), agent(3)];
        let a = simulate(&agents, now, Duration::from_secs(30), &mut DemoRng::seeded(7));
        assert_eq!(a.agent_stats.len(), 3);
        for (stat, agent) in a.agent_stats.iter().zip(&agents) {
            assert_eq!(stat.created_at, now);
            assert_eq!(stat.agent_id, agent.agent_id);
            assert_eq!(stat.user_id, agent.owner_id);
            let sessions = stat.session_count_vscode
                + stat.session_count_ssh
                + stat.session_count_jetbrains
                + stat.session_count_reconnecting_pty;
            assert_eq!(stat.connection_count, sessions);
            assert_eq!(stat.connection_median_latency_ms < 0.0, sessions == 0);
        }
        for app in &a.app_stats {
            assert_eq!(app.session_ended_at, now);
            assert_eq!(app.session_started_at, now - chrono::Duration::seconds(30));
        }
        assert!(a.boundary_reports.iter().all(|(_, _, flags)| !flags.is_empty()));
    }

    #[test]
    fn over_many_ticks_there_are_sessions_apps_and_denials() {
        let now = Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap();
        let mut rng = DemoRng::seeded(42);
        let (mut sessions, mut apps, mut denied) = (0, 0, 0);
        for _ in 0..50 {
            let a = simulate(&[agent(1)], now, Duration::from_secs(30), &mut rng);
            sessions += a.agent_stats[0].connection_count;
            apps += a.app_stats.len();
            denied += a.boundary_reports.iter().flat_map(|(_, _, f)| f).filter(|allowed| !**allowed).count();
        }
        assert!(sessions > 0 && apps > 0 && denied > 0, "{sessions} {apps} {denied}");
    }
}
