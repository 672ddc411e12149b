//! Prebuild schedules: a cron expression read as a time range in the preset's time zone
//! (reference/prebuilds.md §3.6). `* 2-4 * * 1-5` covers 02:00-04:59, Monday to Friday: a time
//! is inside when its hour, day of month, month and weekday match (the minute field is `*`).

use chrono::Datelike;
use chrono::Timelike;
use chrono_tz::Tz;

use crate::clock::Timestamp;

/// One parsed cron field: the allowed values, and whether it was `*` (unrestricted).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    allowed: Vec<bool>,
    any: bool,
}

impl Field {
    fn parse(text: &str, min: u32, max: u32) -> Result<Field, String> {
        let mut allowed = vec![false; max as usize + 1];
        let any = text == "*";
        for part in text.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => (r, s.parse::<u32>().map_err(|_| format!("invalid step in {part:?}"))?),
                None => (part, 1),
            };
            if step == 0 {
                return Err(format!("zero step in {part:?}"));
            }
            let (lo, hi) = if range == "*" {
                (min, max)
            } else if let Some((a, b)) = range.split_once('-') {
                (parse_value(a, part)?, parse_value(b, part)?)
            } else {
                let v = parse_value(range, part)?;
                (v, if part.contains('/') { max } else { v })
            };
            if lo < min || hi > max || lo > hi {
                return Err(format!("{part:?} is outside {min}-{max}"));
            }
            for v in (lo..=hi).step_by(step as usize) {
                allowed[v as usize] = true;
            }
        }
        Ok(Field { allowed, any })
    }

    fn matches(&self, v: u32) -> bool {
        self.allowed.get(v as usize).copied().unwrap_or(false)
    }

    fn intersects(&self, other: &Field) -> bool {
        self.allowed.iter().zip(&other.allowed).any(|(a, b)| *a && *b)
    }
}

fn parse_value(text: &str, part: &str) -> Result<u32, String> {
    text.parse().map_err(|_| format!("invalid value in {part:?}"))
}

/// A cron expression as a time range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronRange {
    hour: Field,
    day_of_month: Field,
    month: Field,
    day_of_week: Field,
}

impl CronRange {
    /// Parses the five standard fields; the minute field must be `*` (a range covers whole
    /// hours). Weekday 7 means Sunday, like 0.
    pub fn parse(expr: &str) -> Result<CronRange, String> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = fields[..] else {
            return Err(format!("cron {expr:?}: expected 5 fields, got {}", fields.len()));
        };
        if minute != "*" {
            return Err(format!("cron {expr:?}: the minute field must be * for a time range"));
        }
        let mut day_of_week = Field::parse(dow, 0, 7).map_err(|e| format!("cron {expr:?}: day of week: {e}"))?;
        if day_of_week.allowed[7] {
            day_of_week.allowed[0] = true;
        }
        Ok(CronRange {
            hour: Field::parse(hour, 0, 23).map_err(|e| format!("cron {expr:?}: hour: {e}"))?,
            day_of_month: Field::parse(dom, 1, 31).map_err(|e| format!("cron {expr:?}: day of month: {e}"))?,
            month: Field::parse(month, 1, 12).map_err(|e| format!("cron {expr:?}: month: {e}"))?,
            day_of_week,
        })
    }

    /// Whether `at`, read in `tz`, lies inside the range. As in cron, when both day fields are
    /// restricted either one matching is enough.
    pub fn contains(&self, at: Timestamp, tz: Tz) -> bool {
        let local = at.with_timezone(&tz);
        let dom = self.day_of_month.matches(local.day());
        let dow = self.day_of_week.matches(local.weekday().num_days_from_sunday());
        let day = match (self.day_of_month.any, self.day_of_week.any) {
            (false, false) => dom || dow,
            _ => dom && dow,
        };
        day && self.hour.matches(local.hour()) && self.month.matches(local.month())
    }

    /// Whether some time could lie inside both ranges.
    pub fn overlaps(&self, other: &CronRange) -> bool {
        self.hour.intersects(&other.hour)
            && self.month.intersects(&other.month)
            && self.day_of_month.intersects(&other.day_of_month)
            && self.day_of_week.intersects(&other.day_of_week)
    }
}

/// A preset's schedule rows: (cron expression, desired instances).
pub type ScheduleRow = (String, i64);

/// The desired instance count at `at`: the first schedule whose range contains `at`, else
/// the preset's default. Falls back to the default (with the reason) when the time zone is
/// empty or unknown, or the schedules are invalid or overlap; a schedule whose cron cannot be
/// parsed is skipped.
pub fn desired_at(default: i64, timezone: &str, schedules: &[ScheduleRow], at: Timestamp) -> (i64, Option<String>) {
    if schedules.is_empty() {
        return (default, None);
    }
    if timezone.is_empty() {
        return (default, Some("preset has schedules but no scheduling time zone".to_owned()));
    }
    let Ok(tz) = timezone.parse::<Tz>() else {
        return (default, Some(format!("unknown scheduling time zone {timezone:?}")));
    };
    let parsed: Vec<Option<CronRange>> = schedules.iter().map(|(cron, _)| CronRange::parse(cron).ok()).collect();
    let valid: Vec<&CronRange> = parsed.iter().flatten().collect();
    for (i, a) in valid.iter().enumerate() {
        if valid[i + 1..].iter().any(|b| a.overlaps(b)) {
            return (default, Some("preset schedules overlap".to_owned()));
        }
    }
    let note = parsed.iter().any(Option::is_none).then(|| "a preset schedule's cron could not be parsed".to_owned());
    for (range, (_, desired)) in parsed.iter().zip(schedules) {
        if range.as_ref().is_some_and(|r| r.contains(at, tz)) {
            return (*desired, note);
        }
    }
    (default, note)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use chrono::Utc;

    use super::*;

    fn at(h: u32) -> Timestamp {
        // 2025-06-02 is a Monday.
        Utc.with_ymd_and_hms(2025, 6, 2, h, 0, 0).unwrap()
    }

    #[test]
    fn hour_and_weekday_ranges() {
        let r = CronRange::parse("* 2-4 * * 1-5").unwrap();
        assert!(!r.contains(at(1), Tz::UTC));
        assert!(r.contains(at(2), Tz::UTC));
        assert!(r.contains(at(4) + chrono::Duration::minutes(59), Tz::UTC));
        assert!(!r.contains(at(5), Tz::UTC));
        let saturday = Utc.with_ymd_and_hms(2025, 6, 7, 3, 0, 0).unwrap();
        assert!(!r.contains(saturday, Tz::UTC));
        // 03:00 UTC is 05:00 in Berlin (summer): outside 2-4 there.
        assert!(!r.contains(at(3), Tz::Europe__Berlin));
        assert!(r.contains(at(1), Tz::Europe__Berlin));
    }

    #[test]
    fn parse_errors_name_the_field() {
        assert!(CronRange::parse("0 2 * * *").unwrap_err().contains("minute"));
        assert!(CronRange::parse("* 25 * * *").unwrap_err().contains("hour"));
        assert!(CronRange::parse("* * * *").unwrap_err().contains("5 fields"));
        assert!(CronRange::parse("* */6 * * 0,6").is_ok());
        assert!(
            CronRange::parse("* * * * 7")
                .unwrap()
                .contains(Utc.with_ymd_and_hms(2025, 6, 8, 3, 0, 0).unwrap(), Tz::UTC)
        );
    }

    /// reference §8.1 scenario 15 (the desired counts).
    #[test]
    fn scenario_15_desired_counts() {
        let p1 = [("* 2-4 * * 1-5".to_owned(), 2), ("* 6-8 * * 1-5".to_owned(), 3)];
        let p2 = [("* 10-12 * * 1-5".to_owned(), 4), ("* 14-16 * * 1-5".to_owned(), 5)];
        let counts: Vec<(i64, i64)> = [1, 3, 7, 11, 15]
            .iter()
            .map(|h| (desired_at(1, "UTC", &p1, at(*h)).0, desired_at(1, "UTC", &p2, at(*h)).0))
            .collect();
        assert_eq!(counts, [(1, 1), (2, 1), (3, 1), (1, 4), (1, 5)]);
    }

    #[test]
    fn fallbacks_to_the_default() {
        let s = [("* 2-4 * * *".to_owned(), 5)];
        assert_eq!(desired_at(1, "", &s, at(3)).0, 1);
        assert_eq!(desired_at(1, "Mars/Olympus", &s, at(3)).0, 1);
        let overlapping = [("* 2-4 * * *".to_owned(), 5), ("* 4-6 * * *".to_owned(), 7)];
        let (n, note) = desired_at(1, "UTC", &overlapping, at(3));
        assert_eq!((n, note.as_deref()), (1, Some("preset schedules overlap")));
        let broken = [("nonsense".to_owned(), 9), ("* 2-4 * * *".to_owned(), 5)];
        assert_eq!(desired_at(1, "UTC", &broken, at(3)).0, 5, "an unparsable schedule is skipped");
    }
}
