//! The rollup computation, pure: raw agent and app
//! stats in, `template_usage_stats` rows out.
//!
//! Minutes are tracked as 30-bit masks per (30-minute bucket, template, user): bit i is minute
//! i of the bucket. Distinct-minute counts are popcounts, unions are ORs, so the result is
//! exactly the reference's set semantics without building sets.

use std::collections::BTreeMap;
use std::collections::HashMap;

use crate::clock::Timestamp;
use crate::clock::from_micros;
use crate::clock::to_micros;
use crate::database::models::RollupAgentStat;
use crate::database::models::RollupAppStat;
use crate::database::models::TemplateUsageStat;

const MINUTE: i64 = 60 * 1_000_000;
const HOUR: i64 = 60 * MINUTE;
/// The bucket length: 30 minutes.
pub const BUCKET: i64 = 30 * MINUTE;

/// The app name of the web terminal, bracketed so it cannot clash with an app slug.
pub const TERMINAL_APP_NAME: &str = "[terminal]";

fn trunc(t: i64, unit: i64) -> i64 {
    t - t.rem_euclid(unit)
}

/// The end of the minute holding `t` (the start of the next minute).
pub fn end_of_minute(t: Timestamp) -> Timestamp {
    from_micros(trunc(to_micros(t), MINUTE) + MINUTE)
}

/// The start of the 30-minute bucket holding `t` (:00 or :30).
pub fn bucket_start(t: Timestamp) -> Timestamp {
    from_micros(trunc(to_micros(t), BUCKET))
}

/// Step A: the recompute window starts one hour before the newest bucket, truncated to the
/// hour; on the first run, at the earliest agent stat (truncated to the hour). `None`: there
/// is nothing to roll up.
pub fn window_start(newest_bucket: Option<Timestamp>, earliest_agent_stat: Option<Timestamp>) -> Option<Timestamp> {
    match (newest_bucket, earliest_agent_stat) {
        (Some(newest), _) => Some(from_micros(trunc(to_micros(newest) - HOUR, HOUR))),
        (None, Some(earliest)) => Some(from_micros(trunc(to_micros(earliest), HOUR))),
        (None, None) => None,
    }
}

/// The app name of a session: `[terminal]` for the web terminal, else the slug or port.
pub fn app_name<'a>(access_method: &str, slug_or_port: &'a str) -> &'a str {
    if access_method == "terminal" { TERMINAL_APP_NAME } else { slug_or_port }
}

/// The continuous median (PERCENTILE_CONT 0.5): the middle value, or the mean of the two
/// middle values. `None` for no values.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 })
}

#[derive(Default)]
struct Bucket {
    sessions: u32,
    ssh: u32,
    reconnecting_pty: u32,
    vscode: u32,
    jetbrains: u32,
    has_connection: bool,
    /// App name → minutes; one slug reached by two access methods is the union of both.
    apps: BTreeMap<String, u32>,
    /// Latencies of agent stats with a positive latency, any sessions, and beside them each
    /// one's minute of the bucket (two vectors: 9 bytes a row rather than a padded 16).
    latencies: Vec<f64>,
    latency_minutes: Vec<u8>,
}

/// Steps B-E over rows visited one at a time: memory grows with the (bucket, template, user)
/// groups and the latencies a median needs, not with the rows read.
pub struct UsageAccumulator {
    window_start: i64,
    now: i64,
    /// Template and user IDs, each stored once; buckets key on their indexes.
    ids: Vec<String>,
    id_index: HashMap<String, u32>,
    buckets: HashMap<(i64, u32, u32), Bucket>,
}

impl UsageAccumulator {
    /// Computes the rows for `[window_start, now)`.
    pub fn new(window_start: Timestamp, now: Timestamp) -> Self {
        Self {
            window_start: to_micros(window_start),
            now: to_micros(now),
            ids: Vec::new(),
            id_index: HashMap::new(),
            buckets: HashMap::new(),
        }
    }

    fn intern(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.id_index.get(id) {
            return i;
        }
        let i = u32::try_from(self.ids.len()).expect("fewer than 2^32 distinct IDs");
        self.ids.push(id.to_owned());
        self.id_index.insert(id.to_owned(), i);
        i
    }

    fn bucket(&mut self, start: i64, template_id: &str, user_id: &str) -> &mut Bucket {
        let key = (start, self.intern(template_id), self.intern(user_id));
        self.buckets.entry(key).or_default()
    }

    /// Step B for one agent stat.
    pub fn add_agent_stat(&mut self, s: &RollupAgentStat<'_>) {
        let t = to_micros(s.created_at);
        if t < self.window_start || t >= self.now {
            return;
        }
        let start = trunc(t, BUCKET);
        let minute = ((trunc(t, MINUTE) - start) / MINUTE) as u8;
        let bit = 1u32 << minute;
        let b = self.bucket(start, s.template_id, s.user_id);
        if s.connection_median_latency_ms > 0.0 {
            b.latencies.push(s.connection_median_latency_ms);
            b.latency_minutes.push(minute);
        }
        let sessions =
            [s.session_count_ssh, s.session_count_reconnecting_pty, s.session_count_vscode, s.session_count_jetbrains];
        if sessions.iter().all(|n| *n <= 0) {
            return;
        }
        b.sessions |= bit;
        if s.session_count_ssh > 0 {
            b.ssh |= bit;
        }
        if s.session_count_reconnecting_pty > 0 {
            b.reconnecting_pty |= bit;
        }
        if s.session_count_vscode > 0 {
            b.vscode |= bit;
        }
        if s.session_count_jetbrains > 0 {
            b.jetbrains |= bit;
        }
        b.has_connection |= s.connection_count > 0;
    }

    /// Step C for one app session.
    pub fn add_app_stat(&mut self, a: &RollupAppStat<'_>) {
        let (ws, now) = (self.window_start, self.now);
        // Minutes from trunc(start) to trunc(end - 1µs), inclusive, kept inside the window.
        let first = trunc(to_micros(a.session_started_at), MINUTE).max(ws);
        let last = trunc(to_micros(a.session_ended_at) - 1, MINUTE).min(trunc(now - 1, MINUTE));
        if first > last {
            return;
        }
        let name = app_name(a.access_method, a.slug_or_port);
        let mut minute = first;
        while minute <= last {
            let start = trunc(minute, BUCKET);
            let b = self.bucket(start, a.template_id, a.user_id);
            // All minutes of this session inside this bucket at once.
            let bucket_last = last.min(start + BUCKET - MINUTE);
            let from_bit = (minute - start) / MINUTE;
            let to_bit = (bucket_last - start) / MINUTE;
            let mask = ((1u64 << (to_bit + 1)) - (1u64 << from_bit)) as u32;
            match b.apps.get_mut(name) {
                Some(minutes) => *minutes |= mask,
                None => {
                    b.apps.insert(name.to_owned(), mask);
                }
            }
            minute = bucket_last + MINUTE;
        }
    }

    /// Steps D-E: the rows, ordered by (start, template, user).
    pub fn finish(self) -> Vec<TemplateUsageStat> {
        let ids = self.ids;
        let mut rows: Vec<TemplateUsageStat> = self
            .buckets
            .into_iter()
            .filter_map(|((start, template, user), b)| {
                let agent = if b.has_connection { b.sessions } else { 0 };
                let apps = b.apps.values().fold(0, |acc, m| acc | m);
                if agent == 0 && b.apps.is_empty() {
                    return None;
                }
                let active = agent | apps;
                let mut latencies: Vec<f64> = b
                    .latencies
                    .iter()
                    .zip(&b.latency_minutes)
                    .filter(|(_, minute)| active & (1u32 << **minute) != 0)
                    .map(|(l, _)| *l)
                    .collect();
                let ide = |mask: u32| if b.has_connection { i64::from(mask.count_ones()) } else { 0 };
                Some(TemplateUsageStat {
                    start_time: from_micros(start),
                    end_time: from_micros(start + BUCKET),
                    template_id: ids[template as usize].clone(),
                    user_id: ids[user as usize].clone(),
                    median_latency_ms: median(&mut latencies),
                    usage_mins: i64::from(active.count_ones()),
                    ssh_mins: ide(b.ssh),
                    sftp_mins: 0,
                    reconnecting_pty_mins: ide(b.reconnecting_pty),
                    vscode_mins: ide(b.vscode),
                    jetbrains_mins: ide(b.jetbrains),
                    app_usage_mins: (!b.apps.is_empty())
                        .then(|| b.apps.into_iter().map(|(name, mask)| (name, i64::from(mask.count_ones()))).collect()),
                })
            })
            .collect();
        rows.sort_by(|a, b| {
            (a.start_time, &a.template_id, &a.user_id).cmp(&(b.start_time, &b.template_id, &b.user_id))
        });
        rows
    }
}
