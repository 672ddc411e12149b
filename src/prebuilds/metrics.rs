//! Prebuild metrics, computed from a snapshot and the lifetime
//! counters (Q13), renderable as Prometheus text (prefix `coderd_prebuilt_workspaces_`).

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::clock::Timestamp;
use crate::database;
use crate::database::Store;
use crate::database::TxOptions;
use crate::database::in_tx;
use crate::database::models::PrebuildMetricsRow;
use crate::prebuilds::reconciler::ReconcilerConfig;
use crate::prebuilds::reconciler::is_paused;
use crate::prebuilds::snapshot::load_snapshot;

/// Gauges of one preset on an active version of a live template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresetGauges {
    pub template_name: String,
    pub preset_name: String,
    pub organization_name: String,
    pub desired: i64,
    /// Running prebuilds, expired ones included.
    pub running: i64,
    pub eligible: i64,
}

/// A metrics snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrebuildMetrics {
    pub counters: Vec<PrebuildMetricsRow>,
    pub presets: Vec<PresetGauges>,
    /// (organization, template, preset name) of hard-limited presets on active versions.
    pub hard_limited: BTreeSet<(String, String, String)>,
    pub paused: bool,
    pub last_updated: Timestamp,
}

/// Reads everything in one read transaction and computes the metrics.
pub fn collect_metrics(store: &dyn Store, config: &ReconcilerConfig) -> database::Result<PrebuildMetrics> {
    in_tx(store, TxOptions::read("prebuild metrics"), |tx| {
        let now = tx.clock().now();
        let paused = is_paused(&tx.get_prebuilds_settings()?);
        let snapshot = load_snapshot(tx, now, config.backoff_lookback, config.failure_hard_limit, None)?;
        let mut presets = Vec::new();
        let mut hard_limited = BTreeSet::new();
        for ps in snapshot.by_preset(now).into_iter().filter(|ps| ps.preset.using_active_version && !ps.preset.deleted)
        {
            let p = ps.preset;
            let state = ps.calculate_state();
            presets.push(PresetGauges {
                template_name: p.template_name.clone(),
                preset_name: p.preset_name.clone(),
                organization_name: p.organization_name.clone(),
                desired: state.desired,
                running: state.actual,
                eligible: state.eligible,
            });
            if ps.is_hard_limited {
                hard_limited.insert((p.organization_name.clone(), p.template_name.clone(), p.preset_name.clone()));
            }
        }
        Ok(PrebuildMetrics { counters: tx.get_prebuild_metrics()?, presets, hard_limited, paused, last_updated: now })
    })
}

/// (metric name, help, value) of the per-counter-row series.
type CounterSeries = (&'static str, &'static str, fn(&PrebuildMetricsRow) -> i64);
/// (metric name, help, value) of the per-preset gauges.
type GaugeSeries = (&'static str, &'static str, fn(&PresetGauges) -> i64);

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn labels(template: &str, preset: &str, org: &str) -> String {
    format!(
        r#"template_name="{}",preset_name="{}",organization_name="{}""#,
        escape(template),
        escape(preset),
        escape(org)
    )
}

impl PrebuildMetrics {
    /// The Prometheus text exposition of these metrics.
    pub fn render_prometheus(&self) -> String {
        const P: &str = "coderd_prebuilt_workspaces_";
        let mut out = String::new();
        let counters: [CounterSeries; 3] = [
            ("created_total", "Prebuilt workspaces created.", |r| r.created_count),
            ("failed_total", "Prebuilt workspaces whose first build failed.", |r| r.failed_count),
            ("claimed_total", "Prebuilt workspaces claimed by users.", |r| r.claimed_count),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {P}{name} {help}\n# TYPE {P}{name} counter");
            for r in &self.counters {
                let _ = writeln!(
                    out,
                    "{P}{name}{{{}}} {}",
                    labels(&r.template_name, &r.preset_name, &r.organization_name),
                    value(r)
                );
            }
        }
        let gauges: [GaugeSeries; 3] = [
            ("desired", "Prebuilt workspaces wanted now.", |g| g.desired),
            ("running", "Running prebuilt workspaces.", |g| g.running),
            ("eligible", "Running prebuilt workspaces ready to be claimed.", |g| g.eligible),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {P}{name} {help}\n# TYPE {P}{name} gauge");
            for g in &self.presets {
                let _ = writeln!(
                    out,
                    "{P}{name}{{{}}} {}",
                    labels(&g.template_name, &g.preset_name, &g.organization_name),
                    value(g)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP {P}preset_hard_limited Presets at the prebuild failure hard limit.\n# TYPE {P}preset_hard_limited gauge"
        );
        for (org, template, preset) in &self.hard_limited {
            let _ = writeln!(out, "{P}preset_hard_limited{{{}}} 1", labels(template, preset, org));
        }
        let _ = writeln!(
            out,
            "# HELP {P}reconciliation_paused Whether reconciliation is paused.\n# TYPE {P}reconciliation_paused gauge\n{P}reconciliation_paused {}",
            i64::from(self.paused)
        );
        let _ = writeln!(
            out,
            "# HELP {P}metrics_last_updated Unix time of these metrics.\n# TYPE {P}metrics_last_updated gauge\n{P}metrics_last_updated {}",
            self.last_updated.timestamp()
        );
        out
    }
}
