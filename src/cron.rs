//! Cron expressions with robfig/cron's standard grammar, as upstream Coder parses them
//! (`coderd/schedule/cron`): five fields (minute, hour, day of month, month, day of week) of
//! numbers, ranges, lists, steps, `*` and `?`, with month and weekday names (`jan`,
//! `mon-fri`); weekdays are 0-6 (7 is refused). Day of month and day of week combine as in
//! cron: both must match when either field is unrestricted (`*`, `?`), else either is
//! enough. Used by prebuild schedules (as time ranges) and workspace autostart (`weekly`).
//!
//! Why no cron crate: the crates at hand accept more than upstream (`L`, `W`, `#`, 7 for
//! Sunday, a seconds field) and differ in when a day field counts as unrestricted (robfig
//! treats `*/1` as unrestricted and `*/2` as restricted); matching upstream exactly takes a
//! grammar of our own either way, and matching is a bitset test. Pure: no I/O, no clock.

use chrono::DateTime;
use chrono::Datelike;
use chrono::Timelike;
use chrono_tz::Tz;

use crate::clock::Timestamp;

/// The values of a field (bit n = value n) and robfig's "star bit": the field is
/// unrestricted (`*` or `?`, alone or in a list, or with step 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldSet {
    pub(crate) bits: u64,
    pub(crate) star: bool,
}

impl FieldSet {
    pub(crate) fn contains(self, v: u32) -> bool {
        v < 64 && self.bits & (1 << v) != 0
    }
}

/// A field's range and its names (robfig's `bounds`).
pub(crate) struct Bounds {
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const MONTH_NAMES: &[(&str, u32)] = &[
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("may", 5),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
];
const DOW_NAMES: &[(&str, u32)] = &[("sun", 0), ("mon", 1), ("tue", 2), ("wed", 3), ("thu", 4), ("fri", 5), ("sat", 6)];
const MINUTES: Bounds = Bounds { min: 0, max: 59, names: &[] };
pub(crate) const HOURS: Bounds = Bounds { min: 0, max: 23, names: &[] };
pub(crate) const DOM: Bounds = Bounds { min: 1, max: 31, names: &[] };
pub(crate) const MONTHS: Bounds = Bounds { min: 1, max: 12, names: MONTH_NAMES };
pub(crate) const DOW: Bounds = Bounds { min: 0, max: 6, names: DOW_NAMES };

/// Go's `strconv.Atoi` on a cron value: an optional sign and decimal digits.
pub(crate) fn atoi(text: &str) -> Result<i64, String> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid syntax: {text:?}"));
    }
    text.parse::<i64>().map_err(|_| format!("value out of range: {text:?}"))
}

/// A non-negative number, or a name of the field (case-insensitive).
fn int_or_name(text: &str, bounds: &Bounds) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some((_, v)) = bounds.names.iter().find(|(name, _)| *name == lower) {
        return Ok(*v);
    }
    let n = atoi(text).map_err(|e| format!("failed to parse int from {text}: {e}"))?;
    if n < 0 {
        return Err(format!("negative number ({n}) not allowed: {text}"));
    }
    u32::try_from(n).map_err(|_| format!("value out of range: {text}"))
}

/// One comma-separated part of a field: `*`, `?`, `N`, `N-M`, each optionally `/step`
/// (`N/step` meaning `N-max/step`).
fn parse_range(part: &str, bounds: &Bounds) -> Result<FieldSet, String> {
    let range_and_step: Vec<&str> = part.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_and_high.len() == 1;
    let (start, mut end, mut star) = if low_and_high[0] == "*" || low_and_high[0] == "?" {
        (bounds.min, bounds.max, true)
    } else {
        let start = int_or_name(low_and_high[0], bounds)?;
        let end = match low_and_high.len() {
            1 => start,
            2 => int_or_name(low_and_high[1], bounds)?,
            _ => return Err(format!("too many hyphens: {part}")),
        };
        (start, end, false)
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let n = atoi(range_and_step[1]).map_err(|e| format!("failed to parse int from {part}: {e}"))?;
            let step = u32::try_from(n).map_err(|_| format!("negative number ({n}) not allowed: {part}"))?;
            if single {
                end = bounds.max;
            }
            if step > 1 {
                star = false;
            }
            step
        }
        _ => return Err(format!("too many slashes: {part}")),
    };
    if start < bounds.min {
        return Err(format!("beginning of range ({start}) below minimum ({}): {part}", bounds.min));
    }
    if end > bounds.max {
        return Err(format!("end of range ({end}) above maximum ({}): {part}", bounds.max));
    }
    if start > end {
        return Err(format!("beginning of range ({start}) beyond end of range ({end}): {part}"));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {part}"));
    }
    let bits = (start..=end).step_by(step as usize).fold(0u64, |bits, v| bits | (1 << v));
    Ok(FieldSet { bits, star })
}

/// A whole field: its comma-separated parts unioned.
pub(crate) fn parse_field(text: &str, bounds: &Bounds) -> Result<FieldSet, String> {
    text.split(',').try_fold(FieldSet { bits: 0, star: false }, |acc, part| {
        let set = parse_range(part, bounds)?;
        Ok(FieldSet { bits: acc.bits | set.bits, star: acc.star || set.star })
    })
}

/// Whether a day matches: both day fields when either is unrestricted, else either one.
pub(crate) fn day_matches(dom: FieldSet, dow: FieldSet, day: u32, weekday: u32) -> bool {
    let (d, w) = (dom.contains(day), dow.contains(weekday));
    if dom.star || dow.star { d && w } else { d || w }
}

/// A weekly schedule (upstream's `cron.Weekly`): an optional `CRON_TZ=<zone> ` prefix
/// (default UTC) and five fields whose day of month and month are `*`. Workspace autostart
/// schedules are these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklySchedule {
    location: Tz,
    minute: FieldSet,
    hour: FieldSet,
    day_of_week: FieldSet,
}

impl WeeklySchedule {
    /// Parses `raw`; errors say what upstream's would.
    pub fn parse(raw: &str) -> Result<WeeklySchedule, String> {
        let mut fields: Vec<&str> = raw.split_whitespace().collect();
        let shape = "validate weekly schedule: expected schedule to consist of 5 fields with an optional \
                     CRON_TZ=<timezone> prefix";
        if fields.len() < 5 || fields.len() > 6 {
            return Err(shape.to_owned());
        }
        let location = if fields.len() == 6 {
            let zone = fields.remove(0);
            let Some(name) = zone.strip_prefix("CRON_TZ=").or_else(|| zone.strip_prefix("TZ=")) else {
                return Err(shape.to_owned());
            };
            name.parse::<Tz>()
                .map_err(|_| format!("parse schedule: provided bad location {name}: unknown time zone {name}"))?
        } else {
            Tz::UTC
        };
        if fields[2] != "*" || fields[3] != "*" {
            return Err("validate weekly schedule: expected day-of-month and month to be *".to_owned());
        }
        let parse = |text: &str, bounds: &Bounds| parse_field(text, bounds).map_err(|e| format!("parse schedule: {e}"));
        Ok(WeeklySchedule {
            location,
            minute: parse(fields[0], &MINUTES)?,
            hour: parse(fields[1], &HOURS)?,
            day_of_week: parse(fields[4], &DOW)?,
        })
    }

    /// The schedule's time zone.
    pub fn location(&self) -> Tz {
        self.location
    }

    /// The first minute strictly after `after` that the schedule fires at (robfig's `Next`,
    /// which for a weekly schedule is always within a week); `None` if it never fires.
    pub fn next(&self, after: Timestamp) -> Option<Timestamp> {
        // From the next whole minute; in hour steps while the hour or day does not match.
        let mut t = DateTime::from_timestamp(after.timestamp() - after.timestamp().rem_euclid(60) + 60, 0)?;
        let limit = after + chrono::Duration::days(8);
        while t <= limit {
            let local = t.with_timezone(&self.location);
            let day_ok = self.day_of_week.contains(local.weekday().num_days_from_sunday());
            if !day_ok || !self.hour.contains(local.hour()) {
                t += chrono::Duration::minutes(i64::from(60 - local.minute()));
                continue;
            }
            if self.minute.contains(local.minute()) {
                return Some(t);
            }
            t += chrono::Duration::minutes(1);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use chrono::Utc;

    use super::*;

    fn t(d: u32, h: u32, m: u32) -> Timestamp {
        // June 2025: the 2nd is a Monday.
        Utc.with_ymd_and_hms(2025, 6, d, h, m, 0).unwrap()
    }

    #[test]
    fn weekly_needs_star_day_of_month_and_month() {
        assert!(WeeklySchedule::parse("30 9 * * 1-5").is_ok());
        assert!(WeeklySchedule::parse("CRON_TZ=Europe/Berlin 30 9 * * mon-fri").is_ok());
        assert!(WeeklySchedule::parse("30 9 1 * 1-5").unwrap_err().contains("day-of-month and month to be *"));
        assert!(WeeklySchedule::parse("30 9 * *").unwrap_err().contains("5 fields"));
        assert!(WeeklySchedule::parse("CRON_TZ=Mars/Olympus 30 9 * * 1").unwrap_err().contains("bad location"));
        assert!(WeeklySchedule::parse("30 9 * * 7").unwrap_err().contains("above maximum"));
        assert!(WeeklySchedule::parse("61 9 * * 1").is_err());
    }

    #[test]
    fn next_finds_the_following_minute_in_the_zone() {
        let s = WeeklySchedule::parse("30 9 * * 1-5").unwrap();
        assert_eq!(s.next(t(2, 8, 0)), Some(t(2, 9, 30)));
        assert_eq!(s.next(t(2, 9, 30)), Some(t(3, 9, 30)), "strictly after");
        // Friday after 9:30 → Monday.
        assert_eq!(s.next(t(6, 10, 0)), Some(t(9, 9, 30)));
        let berlin = WeeklySchedule::parse("CRON_TZ=Europe/Berlin 0 9 * * *").unwrap();
        assert_eq!(berlin.next(t(2, 0, 0)), Some(t(2, 7, 0)), "09:00 in Berlin summer is 07:00 UTC");
        let every = WeeklySchedule::parse("*/15 * * * *").unwrap();
        assert_eq!(every.next(t(2, 8, 7) + chrono::Duration::seconds(30)), Some(t(2, 8, 15)));
    }
}
