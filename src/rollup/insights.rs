//! Insights reads over `template_usage_stats` and the "today"
//! validation of their time range (§2.6). The aggregations are pure functions over the rows
//! `Store::get_template_usage_stats` returns for the range.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::collections::HashMap;

use chrono::DateTime;
use chrono::Datelike;
use chrono::FixedOffset;
use chrono::Timelike;

use crate::clock::Timestamp;
use crate::database::models::TemplateUsageStat;
use crate::rollup::compute::TERMINAL_APP_NAME;

/// Minutes are capped per half hour across templates: two workspaces used in the same half
/// hour are assumed to have been used one after the other.
const CAP: i64 = 30;

/// `GetTemplateInsights`: one summary over the rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateInsights {
    pub template_ids: Vec<String>,
    pub ssh_template_ids: Vec<String>,
    pub sftp_template_ids: Vec<String>,
    pub reconnecting_pty_template_ids: Vec<String>,
    pub vscode_template_ids: Vec<String>,
    pub jetbrains_template_ids: Vec<String>,
    pub active_users: i64,
    pub usage_total_seconds: i64,
    pub ssh_seconds: i64,
    pub sftp_seconds: i64,
    pub reconnecting_pty_seconds: i64,
    pub vscode_seconds: i64,
    pub jetbrains_seconds: i64,
}

pub fn template_insights(rows: &[TemplateUsageStat]) -> TemplateInsights {
    // Templates and users become small indexes once per row, so the per-(bucket, user) sums
    // and the per-category template sets cost no string comparisons (a week over a hundred
    // templates is thousands of rows per request).
    let mut template_index: HashMap<&str, usize> = HashMap::new();
    let mut user_index: HashMap<&str, usize> = HashMap::new();
    let mut in_category: Vec<[bool; 6]> = Vec::new();
    let mut per_user_bucket: HashMap<(i64, usize), [i64; 6]> = HashMap::new();
    for r in rows {
        let next = template_index.len();
        let t = *template_index.entry(r.template_id.as_str()).or_insert(next);
        if t == in_category.len() {
            in_category.push([false; 6]);
        }
        let next = user_index.len();
        let u = *user_index.entry(r.user_id.as_str()).or_insert(next);
        let values = [r.usage_mins, r.ssh_mins, r.sftp_mins, r.reconnecting_pty_mins, r.vscode_mins, r.jetbrains_mins];
        let sums = per_user_bucket.entry((r.start_time.timestamp_micros(), u)).or_default();
        for (i, v) in values.iter().enumerate() {
            sums[i] += v;
            if i == 0 || *v > 0 {
                in_category[t][i] = true;
            }
        }
    }
    let mut seconds = [0i64; 6];
    for sums in per_user_bucket.values() {
        for (i, s) in sums.iter().enumerate() {
            seconds[i] += s.min(&CAP) * 60;
        }
    }
    let ids_in = |category: usize| {
        let mut ids: Vec<String> =
            template_index.iter().filter(|(_, t)| in_category[**t][category]).map(|(id, _)| (*id).to_owned()).collect();
        ids.sort_unstable();
        ids
    };
    TemplateInsights {
        template_ids: ids_in(0),
        ssh_template_ids: ids_in(1),
        sftp_template_ids: ids_in(2),
        reconnecting_pty_template_ids: ids_in(3),
        vscode_template_ids: ids_in(4),
        jetbrains_template_ids: ids_in(5),
        active_users: user_index.len() as i64,
        usage_total_seconds: seconds[0],
        ssh_seconds: seconds[1],
        sftp_seconds: seconds[2],
        reconnecting_pty_seconds: seconds[3],
        vscode_seconds: seconds[4],
        jetbrains_seconds: seconds[5],
    }
}

/// One app of `GetTemplateAppInsights`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppInsight {
    pub app_name: String,
    /// False for ports and the web terminal. coderlite keeps no `workspace_apps` metadata, so
    /// an app is any name that is neither `[terminal]` nor a port number.
    pub is_app: bool,
    pub template_ids: Vec<String>,
    pub active_users: i64,
    pub usage_seconds: i64,
}

pub fn app_insights(rows: &[TemplateUsageStat]) -> Vec<AppInsight> {
    let mut per: BTreeMap<(&str, Timestamp, &str), i64> = BTreeMap::new();
    let mut templates: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut users: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for r in rows {
        for (app, mins) in r.app_usage_mins.iter().flatten() {
            *per.entry((app.as_str(), r.start_time, r.user_id.as_str())).or_default() += mins;
            templates.entry(app).or_default().insert(&r.template_id);
            users.entry(app).or_default().insert(&r.user_id);
        }
    }
    let mut seconds: BTreeMap<&str, i64> = BTreeMap::new();
    for ((app, _, _), mins) in per {
        *seconds.entry(app).or_default() += mins.min(CAP) * 60;
    }
    seconds
        .into_iter()
        .map(|(app, usage_seconds)| AppInsight {
            app_name: app.to_owned(),
            is_app: app != TERMINAL_APP_NAME && app.parse::<u16>().is_err(),
            template_ids: templates[app].iter().map(|s| (*s).to_owned()).collect(),
            active_users: users[app].len() as i64,
            usage_seconds,
        })
        .collect()
}

/// One interval of `GetTemplateInsightsByInterval`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntervalInsight {
    pub start_time: Timestamp,
    pub end_time: Timestamp,
    pub template_ids: Vec<String>,
    pub active_users: i64,
}

/// Intervals from `start` every `interval_days`, the last one clamped to `end`; each holds the
/// rows lying entirely inside it, and every interval appears, also with no users.
pub fn insights_by_interval(
    rows: &[TemplateUsageStat],
    start: Timestamp,
    end: Timestamp,
    interval_days: i64,
) -> Vec<IntervalInsight> {
    let step = chrono::Duration::days(interval_days.max(1));
    let mut out = Vec::new();
    let mut from = start;
    while from < end {
        let to = (from + step).min(end);
        let inside: Vec<&TemplateUsageStat> =
            rows.iter().filter(|r| r.start_time >= from && r.end_time <= to).collect();
        let templates: BTreeSet<&str> = inside.iter().map(|r| r.template_id.as_str()).collect();
        let users: BTreeSet<&str> = inside.iter().map(|r| r.user_id.as_str()).collect();
        out.push(IntervalInsight {
            start_time: from,
            end_time: to,
            template_ids: templates.into_iter().map(str::to_owned).collect(),
            active_users: users.len() as i64,
        });
        from = to;
    }
    out
}

/// `GetUserLatencyInsights`: per user the 50th and 95th continuous percentiles of the rows'
/// median latency, or -1 when there is none.
#[derive(Debug, Clone, PartialEq)]
pub struct UserLatency {
    pub user_id: String,
    pub template_ids: Vec<String>,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

pub fn user_latency(rows: &[TemplateUsageStat]) -> Vec<UserLatency> {
    let mut per: BTreeMap<&str, (BTreeSet<&str>, Vec<f64>)> = BTreeMap::new();
    for r in rows {
        let e = per.entry(&r.user_id).or_default();
        e.0.insert(&r.template_id);
        e.1.extend(r.median_latency_ms);
    }
    per.into_iter()
        .map(|(user, (templates, mut values))| {
            values.sort_by(f64::total_cmp);
            UserLatency {
                user_id: user.to_owned(),
                template_ids: templates.into_iter().map(str::to_owned).collect(),
                p50_ms: percentile_cont(&values, 0.5).unwrap_or(-1.0),
                p95_ms: percentile_cont(&values, 0.95).unwrap_or(-1.0),
            }
        })
        .collect()
}

/// `GetUserActivityInsights`: per user the capped usage seconds and templates used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserActivity {
    pub user_id: String,
    pub template_ids: Vec<String>,
    pub usage_seconds: i64,
}

pub fn user_activity(rows: &[TemplateUsageStat]) -> Vec<UserActivity> {
    let mut per_bucket: BTreeMap<(&str, Timestamp), i64> = BTreeMap::new();
    let mut templates: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for r in rows {
        *per_bucket.entry((&r.user_id, r.start_time)).or_default() += r.usage_mins;
        templates.entry(&r.user_id).or_default().insert(&r.template_id);
    }
    let mut seconds: BTreeMap<&str, i64> = BTreeMap::new();
    for ((user, _), mins) in per_bucket {
        *seconds.entry(user).or_default() += mins.min(CAP) * 60;
    }
    seconds
        .into_iter()
        .map(|(user, usage_seconds)| UserActivity {
            user_id: user.to_owned(),
            template_ids: templates[user].iter().map(|s| (*s).to_owned()).collect(),
            usage_seconds,
        })
        .collect()
}

/// The continuous percentile of sorted values (PERCENTILE_CONT).
pub fn percentile_cont(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = p * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64))
}

// --- the "today" rule ---------------------------------------------------------------------

/// A rejected insights request (an HTTP 400 upstream); the text says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InsightsRangeError(pub String);

/// The report interval of `insights interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportInterval {
    Day,
    Week,
}

impl ReportInterval {
    pub fn days(self) -> i64 {
        match self {
            ReportInterval::Day => 1,
            ReportInterval::Week => 7,
        }
    }
}

/// The longest range insights answer (a coderlite bound; upstream sets none). Upstream's
/// dashboard asks for at most 48 weeks (its week picker; the day picker's presets reach 30
/// days), and upstream prunes usage older than about six months; a year keeps every range a
/// client asks in practice, while a range of centuries (hundreds of thousands of daily
/// intervals) is refused before any work.
pub const MAX_RANGE_DAYS: i64 = 366;

/// Parses and checks `start_time` and `end_time` against `now`: RFC 3339 (the client's UTC
/// offset is kept), not zero, not past the next full hour, at midnight in the client's offset
/// except that an end on today's date may be any full hour, and end not before start.
/// and at most [`MAX_RANGE_DAYS`] long.
pub fn parse_insights_time_range(
    now: Timestamp,
    start: &str,
    end: &str,
) -> Result<(Timestamp, Timestamp), InsightsRangeError> {
    parse_insights_time_range_named(now, start, end, (r#"query param "start_time""#, r#"query param "end_time""#))
}

/// [`parse_insights_time_range`] with the names errors give the two inputs (the API's query
/// parameters, or the CLI's flags).
pub fn parse_insights_time_range_named(
    now: Timestamp,
    start: &str,
    end: &str,
    (start_name, end_name): (&str, &str),
) -> Result<(Timestamp, Timestamp), InsightsRangeError> {
    let start_t = parse_one(now, start_name, false, start)?;
    let end_t = parse_one(now, end_name, true, end)?;
    if end_t < start_t {
        return Err(InsightsRangeError(format!(
            "{end_name} must be after {}",
            start_name.trim_start_matches("query param ")
        )));
    }
    if end_t - start_t > chrono::Duration::days(MAX_RANGE_DAYS) {
        return Err(InsightsRangeError(format!(
            "{start_name} must be at most {MAX_RANGE_DAYS} days before {}",
            end_name.trim_start_matches("query param ")
        )));
    }
    Ok((start_t.with_timezone(&chrono::Utc), end_t.with_timezone(&chrono::Utc)))
}

fn parse_one(
    now: Timestamp,
    name: &str,
    is_end: bool,
    text: &str,
) -> Result<DateTime<FixedOffset>, InsightsRangeError> {
    let t = DateTime::parse_from_rfc3339(text)
        .map_err(|e| InsightsRangeError(format!("{name} must be a valid RFC 3339 date: {e}")))?;
    if t.timestamp() == DateTime::<chrono::Utc>::MIN_UTC.timestamp() || t.year() <= 1 {
        return Err(InsightsRangeError(format!("{name} must not be zero")));
    }
    let now_local = now.with_timezone(t.offset());
    let next_hour =
        now_local.with_minute(0).and_then(|n| n.with_second(0)).and_then(|n| n.with_nanosecond(0)).expect("valid time")
            + chrono::Duration::hours(1);
    if t > next_hour {
        return Err(InsightsRangeError(format!("{name} must not be in the future")));
    }
    let today = t.date_naive() == now_local.date_naive();
    let wanted_hour = if is_end && today { t.hour() } else { 0 };
    if t.hour() != wanted_hour || t.minute() != 0 || t.second() != 0 || t.nanosecond() != 0 {
        return Err(InsightsRangeError(format!("{name} must have the clock set to {wanted_hour:02}:00:00")));
    }
    Ok(t)
}

/// Checks the interval: `day` (or empty) always; `week` only when the last interval is a full
/// week, at least 6 days, or exactly 6 calendar days (a forward DST change).
pub fn parse_report_interval(
    start: Timestamp,
    end: Timestamp,
    interval: &str,
) -> Result<ReportInterval, InsightsRangeError> {
    match interval {
        "" | "day" => Ok(ReportInterval::Day),
        "week" => {
            let week = chrono::Duration::days(7);
            let span = end - start;
            let last = span - week * (span.num_seconds() / week.num_seconds()) as i32;
            let ok = last.is_zero() || last >= chrono::Duration::days(6) || start + chrono::Duration::days(6) == end;
            if ok {
                Ok(ReportInterval::Week)
            } else {
                Err(InsightsRangeError("Last report interval should have at least 6 days.".to_owned()))
            }
        }
        other => Err(InsightsRangeError(format!("query param \"interval\" must be day or week, not {other:?}"))),
    }
}

#[cfg(test)]
mod range_tests {
    use super::*;

    #[test]
    fn a_range_longer_than_a_year_is_refused_naming_start_time() {
        let now = DateTime::parse_from_rfc3339("2026-12-04T15:30:00Z").unwrap().with_timezone(&chrono::Utc);
        assert!(parse_insights_time_range(now, "2025-12-03T00:00:00Z", "2026-12-04T00:00:00Z").is_ok());
        let err = parse_insights_time_range(now, "2025-12-02T00:00:00Z", "2026-12-04T00:00:00Z").unwrap_err();
        assert!(err.0.starts_with("query param \"start_time\" must be at most 366 days"), "{}", err.0);
        assert!(parse_insights_time_range(now, "0002-01-01T00:00:00Z", "2026-12-04T00:00:00Z").is_err());
    }
}
