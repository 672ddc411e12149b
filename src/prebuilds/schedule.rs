//! Prebuild schedules, with upstream's two grammars, exactly:
//!
//! - **One schedule** is a 5-field cron read as a time range in the preset's time zone
//!   (upstream's `cron.TimeRange`, on robfig/cron's standard parser): the minute field must
//!   be `*`; the other fields take numbers, ranges, lists, steps, `*` and `?`, and month and
//!   weekday names (`jan`, `mon-fri`); weekdays are 0-6 (7 is refused). `* 9-18 * * 1-5` is
//!   09:00:00-18:59:59, Monday to Friday. Day of month and day of week combine as in cron:
//!   both must match when either field is unrestricted (`*`, `?`), else either is enough.
//! - **A set of two or more** is first checked pairwise for overlap by the Terraform
//!   provider's helpers, whose field parser understands only numbers, ranges, lists and a
//!   bare `*`. Anything else (names, steps), or an overlapping pair, makes the whole set
//!   invalid: the preset then uses its default instance count.
//!
//! The single-schedule grammar is `crate::cron`'s. Pure: no I/O.

use chrono::Datelike;
use chrono::Timelike;
use chrono_tz::Tz;

use crate::clock::Timestamp;
use crate::cron::DOM;
use crate::cron::DOW;
use crate::cron::FieldSet;
use crate::cron::HOURS;
use crate::cron::MONTHS;
use crate::cron::atoi;
use crate::cron::day_matches;
use crate::cron::parse_field;

/// One prebuild schedule: a cron expression read as a time range (upstream's `TimeRange`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeRange {
    hour: FieldSet,
    day_of_month: FieldSet,
    month: FieldSet,
    day_of_week: FieldSet,
}

impl TimeRange {
    /// Parses exactly five fields whose minute is `*`; errors name the field.
    pub fn parse(expr: &str) -> Result<TimeRange, String> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = fields[..] else {
            return Err(format!(
                "cron specification should consist of 5 fields (minute hour day-of-month month day-of-week), \
                 got {}",
                fields.len()
            ));
        };
        if minute != "*" {
            return Err("minute field should be * (a schedule covers whole hours)".to_owned());
        }
        Ok(TimeRange {
            hour: parse_field(hour, &HOURS).map_err(|e| format!("hour: {e}"))?,
            day_of_month: parse_field(dom, &DOM).map_err(|e| format!("day of month: {e}"))?,
            month: parse_field(month, &MONTHS).map_err(|e| format!("month: {e}"))?,
            day_of_week: parse_field(dow, &DOW).map_err(|e| format!("day of week: {e}"))?,
        })
    }

    /// Whether `at`, read in `tz`, lies in the range: its hour, month and day match, the two
    /// day fields combined as robfig does.
    pub fn contains(&self, at: Timestamp, tz: Tz) -> bool {
        let local = at.with_timezone(&tz);
        let day = day_matches(self.day_of_month, self.day_of_week, local.day(), local.weekday().num_days_from_sunday());
        day && self.hour.contains(local.hour()) && self.month.contains(local.month())
    }
}

// --- the Terraform provider's set validation ----------------------------------------------

/// The provider's `ParseRange`: a bare `*` (0 to `max`), or comma-separated numbers and
/// `a-b` ranges, each within 0 to `max`. Nothing else (no steps, names or `?`).
fn overlap_range(input: &str, max: i64) -> Result<u64, String> {
    if input == "*" {
        return Ok((0..=max).fold(0, |bits, v| bits | (1 << v)));
    }
    let mut bits = 0u64;
    for part in input.split(',') {
        if part.contains('-') {
            let bounds: Vec<&str> = part.split('-').collect();
            let start = atoi(bounds[0]).map_err(|e| format!("invalid start value in range: {e}"))?;
            let end = atoi(bounds[1]).map_err(|e| format!("invalid end value in range: {e}"))?;
            if start < 0 || end > max || start > end {
                return Err(format!("invalid range {start}-{end}: values must be between 0 and {max}"));
            }
            bits |= (start..=end).fold(0, |b, v| b | (1 << v));
        } else {
            let v = atoi(part).map_err(|e| format!("invalid value: {e}"))?;
            if v < 0 || v > max {
                return Err(format!("invalid value {v}: must be between 0 and {max}"));
            }
            bits |= 1 << v;
        }
    }
    Ok(bits)
}

/// The provider's `CheckOverlap`.
fn ranges_overlap(a: &str, b: &str, max: i64) -> Result<bool, String> {
    Ok(overlap_range(a, max)? & overlap_range(b, max)? != 0)
}

/// The provider's `DaysOverlap`: with an unrestricted day of month on either side only the
/// weekdays are compared, with an unrestricted weekday only the days of month, else either.
fn days_overlap(dom1: &str, dow1: &str, dom2: &str, dow2: &str) -> Result<bool, String> {
    if dom1 == "*" || dom2 == "*" {
        return ranges_overlap(dow1, dow2, 6);
    }
    if dow1 == "*" || dow2 == "*" {
        return ranges_overlap(dom1, dom2, 31);
    }
    Ok(ranges_overlap(dom1, dom2, 31)? || ranges_overlap(dow1, dow2, 6)?)
}

/// The provider's `SchedulesOverlap`: months, then days, then hours must all intersect. The
/// minute field is not looked at.
pub fn schedules_overlap(s1: &str, s2: &str) -> Result<bool, String> {
    let fields = |s: &str| -> Result<Vec<String>, String> {
        let f: Vec<String> = s.split_whitespace().map(str::to_owned).collect();
        if f.len() != 5 {
            return Err(format!(
                "schedule {s:?} has {} fields, expected 5 fields (minute hour day-of-month month day-of-week)",
                f.len()
            ));
        }
        Ok(f)
    };
    let (a, b) = (fields(s1)?, fields(s2)?);
    if !ranges_overlap(&a[3], &b[3], 12).map_err(|e| format!("invalid month range: {e}"))? {
        return Ok(false);
    }
    if !days_overlap(&a[2], &a[4], &b[2], &b[4]).map_err(|e| format!("invalid day range: {e}"))? {
        return Ok(false);
    }
    ranges_overlap(&a[1], &b[1], 23).map_err(|e| format!("invalid hour range: {e}"))
}

/// The provider's `ValidateSchedules`: every pair checked; a set of fewer than two is
/// never parsed here.
pub fn validate_schedules<S: AsRef<str>>(schedules: &[S]) -> Result<(), String> {
    for (i, a) in schedules.iter().enumerate() {
        for b in &schedules[i + 1..] {
            let (a, b) = (a.as_ref(), b.as_ref());
            if schedules_overlap(a, b).map_err(|e| format!("invalid schedule: {e}"))? {
                return Err(format!("schedules overlap: {a} and {b}"));
            }
        }
    }
    Ok(())
}

// --- a preset's schedules -----------------------------------------------------------------

/// A preset's schedule rows: (cron expression, desired instances).
pub type ScheduleRow = (String, i64);

/// Why a preset's schedules do not all apply; the reconciler logs it once per change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleProblem {
    /// None of them applies (no or unknown time zone, or the set is invalid or overlaps):
    /// the default instance count is used.
    SetIgnored(String),
    /// One schedule's cron cannot be read as a time range; the others still apply.
    ScheduleSkipped(String),
}

impl std::fmt::Display for ScheduleProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScheduleProblem::SetIgnored(why) => write!(f, "schedules ignored, the default applies: {why}"),
            ScheduleProblem::ScheduleSkipped(why) => write!(f, "a schedule is skipped: {why}"),
        }
    }
}

/// The desired instance count at `at`, as upstream computes it: the default without
/// schedules, or when the time zone is missing or unknown, or when the set fails the
/// provider's validation; else the first schedule whose range contains `at` (one that cannot
/// be parsed is skipped), else the default. The problem, if any, comes with it.
pub fn desired_at(
    default: i64,
    timezone: &str,
    schedules: &[ScheduleRow],
    at: Timestamp,
) -> (i64, Option<ScheduleProblem>) {
    if schedules.is_empty() {
        return (default, None);
    }
    if timezone.is_empty() {
        return (default, Some(ScheduleProblem::SetIgnored("timezone is not set in prebuild scheduling".to_owned())));
    }
    let Ok(tz) = timezone.parse::<Tz>() else {
        return (default, Some(ScheduleProblem::SetIgnored(format!("invalid timezone {timezone:?}"))));
    };
    let crons: Vec<&str> = schedules.iter().map(|(cron, _)| cron.as_str()).collect();
    if let Err(why) = validate_schedules(&crons) {
        return (default, Some(ScheduleProblem::SetIgnored(why)));
    }
    let mut problem = None;
    for (cron, desired) in schedules {
        match TimeRange::parse(cron) {
            Ok(range) if range.contains(at, tz) => return (*desired, problem),
            Ok(_) => {}
            Err(why) => {
                problem.get_or_insert(ScheduleProblem::ScheduleSkipped(format!("cron expression {cron:?}: {why}")));
            }
        }
    }
    (default, problem)
}

/// Where a preset's scheduling fails the provider's plan-time checks, for loaders that must
/// refuse it (fixtures, the API): `Some(index)` names one schedule, `None` the whole set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulingError {
    pub schedule: Option<usize>,
    pub message: String,
}

/// The provider's checks of a preset's scheduling block, as a template must pass them
/// upstream: a valid time zone when there are schedules, each cron five fields with the
/// minute `*` that robfig's parser accepts, no negative count, and a set of two or more that
/// the overlap helpers accept.
pub fn validate_scheduling(timezone: &str, schedules: &[ScheduleRow]) -> Result<(), SchedulingError> {
    if schedules.is_empty() {
        return Ok(());
    }
    if timezone.parse::<Tz>().is_err() {
        let message = if timezone.is_empty() {
            "a preset with schedules needs a scheduling_timezone (an IANA name such as Europe/Berlin)".to_owned()
        } else {
            format!("unknown time zone {timezone:?} (use an IANA name such as Europe/Berlin)")
        };
        return Err(SchedulingError { schedule: None, message });
    }
    for (i, (cron, desired)) in schedules.iter().enumerate() {
        TimeRange::parse(cron)
            .map_err(|why| SchedulingError { schedule: Some(i), message: format!("invalid cron {cron:?}: {why}") })?;
        if *desired < 0 {
            return Err(SchedulingError {
                schedule: Some(i),
                message: format!("instances must not be negative, got {desired}"),
            });
        }
    }
    let crons: Vec<&str> = schedules.iter().map(|(cron, _)| cron.as_str()).collect();
    validate_schedules(&crons).map_err(|why| SchedulingError {
        schedule: None,
        message: format!(
            "{why} (in a set of two or more schedules upstream's overlap check accepts only numbers, ranges, lists \
             and *, and no two schedules may overlap)"
        ),
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use chrono::Utc;

    use super::*;

    /// Monday 2 June 2025 at `h:m:s` UTC.
    fn monday(h: u32, m: u32, s: u32) -> Timestamp {
        Utc.with_ymd_and_hms(2025, 6, 2, h, m, s).unwrap()
    }

    fn at(h: u32) -> Timestamp {
        monday(h, 0, 0)
    }

    fn rows(schedules: &[(&str, i64)]) -> Vec<ScheduleRow> {
        schedules.iter().map(|(c, n)| ((*c).to_owned(), *n)).collect()
    }

    #[test]
    fn grammar_accepts_names_question_marks_lists_and_steps() {
        for ok in [
            "* 8-18 * * mon-fri",
            "* 8-18 * * MON-FRI",
            "* 9 ? jan-mar sun",
            "* */6 * * 0,6",
            "* 1-20/3 * * *",
            "* 5/2 * * *",
            "* 9 1,15 * *",
            "* * * * ?",
            "* 9-18 * dec *",
        ] {
            assert!(TimeRange::parse(ok).is_ok(), "{ok}: {:?}", TimeRange::parse(ok));
        }
    }

    #[test]
    fn grammar_refuses_what_upstream_refuses() {
        for (bad, why) in [
            ("* * * * 7", "above maximum (6)"),
            ("* * * * 0-7", "above maximum (6)"),
            ("* * L * *", "failed to parse int"),
            ("* * 15W * *", "failed to parse int"),
            ("* * * * 1#2", "failed to parse int"),
            ("0 * * * * *", "5 fields"),
            ("* * * *", "5 fields"),
            ("CRON_TZ=UTC * 9 * * *", "5 fields"),
            ("0 9 * * *", "minute field should be *"),
            ("* 24 * * *", "above maximum (23)"),
            ("* * 0 * *", "below minimum (1)"),
            ("* * * 13 *", "above maximum (12)"),
            ("* 5-1 * * *", "beyond end of range"),
            ("* */0 * * *", "positive number"),
            ("* 1-2-3 * * *", "too many hyphens"),
            ("* 1/2/3 * * *", "too many slashes"),
            ("@daily", "5 fields"),
            ("* * * * funday", "failed to parse int"),
            ("* -1 * * *", "failed to parse int"),
        ] {
            let err = TimeRange::parse(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    /// Upstream's `preset_snapshot_test` vectors.
    #[test]
    fn time_ranges_match_upstream_vectors() {
        let s = rows(&[("* 9-18 * * 1-5", 3)]);
        let utc = |t| desired_at(1, "UTC", &s, t).0;
        assert_eq!(utc(monday(8, 59, 59)), 1);
        assert_eq!(utc(monday(9, 0, 0)), 3);
        assert_eq!(utc(monday(9, 1, 0)), 3);
        assert_eq!(utc(monday(14, 0, 0)), 3);
        assert_eq!(utc(monday(18, 59, 59)), 3);
        assert_eq!(utc(monday(19, 0, 0)), 1);
        assert_eq!(utc(monday(2, 0, 0)), 1);
        assert_eq!(utc(Utc.with_ymd_and_hms(2025, 6, 7, 14, 0, 0).unwrap()), 1, "Saturday");
        assert_eq!(utc(Utc.with_ymd_and_hms(2025, 6, 8, 14, 0, 0).unwrap()), 1, "Sunday");

        let three = rows(&[("* 6-10 * * 1-5", 2), ("* 12-16 * * 1-5", 3), ("* 18-22 * * 1-5", 4)]);
        let got: Vec<i64> = [5, 8, 11, 14, 20, 23].iter().map(|h| desired_at(1, "UTC", &three, at(*h)).0).collect();
        assert_eq!(got, [1, 2, 1, 3, 4, 1]);

        let weekend = rows(&[("* 9-18 * * 1-5", 2), ("* 9-13 * * 6,0", 3)]);
        let saturday = |h| Utc.with_ymd_and_hms(2025, 6, 7, h, 0, 0).unwrap();
        assert_eq!(desired_at(1, "UTC", &weekend, at(14)).0, 2);
        assert_eq!(desired_at(1, "UTC", &weekend, saturday(10)).0, 3);
        assert_eq!(desired_at(1, "UTC", &weekend, saturday(14)).0, 1);

        let la = rows(&[("* 9-13 * * 1-5", 3)]);
        let got: Vec<i64> = [monday(15, 0, 0), monday(16, 0, 0), monday(20, 59, 0), monday(21, 0, 0), monday(23, 0, 0)]
            .iter()
            .map(|t| desired_at(1, "America/Los_Angeles", &la, *t).0)
            .collect();
        assert_eq!(got, [1, 3, 3, 1, 1]);
    }

    /// reference §8.1 scenario 15 (the desired counts).
    #[test]
    fn scenario_15_desired_counts() {
        let p1 = rows(&[("* 2-4 * * 1-5", 2), ("* 6-8 * * 1-5", 3)]);
        let p2 = rows(&[("* 10-12 * * 1-5", 4), ("* 14-16 * * 1-5", 5)]);
        let counts: Vec<(i64, i64)> = [1, 3, 7, 11, 15]
            .iter()
            .map(|h| (desired_at(1, "UTC", &p1, at(*h)).0, desired_at(1, "UTC", &p2, at(*h)).0))
            .collect();
        assert_eq!(counts, [(1, 1), (2, 1), (3, 1), (1, 4), (1, 5)]);
    }

    #[test]
    fn day_fields_combine_as_robfig_does() {
        // Monday 2 June 2025: day 2, weekday 1. Both restricted: either matches.
        assert!(TimeRange::parse("* * 15 * 1").unwrap().contains(at(3), Tz::UTC));
        assert!(TimeRange::parse("* * 2 * 5").unwrap().contains(at(3), Tz::UTC));
        // One unrestricted: both must match.
        assert!(!TimeRange::parse("* * * * 5").unwrap().contains(at(3), Tz::UTC));
        assert!(!TimeRange::parse("* * 15 * ?").unwrap().contains(at(3), Tz::UTC));
        // */2 counts as restricted (robfig drops the star bit for steps over 1), */1 not.
        assert!(TimeRange::parse("* * */2 * 1").unwrap().contains(at(3), Tz::UTC));
        assert!(!TimeRange::parse("* * */1 * 5").unwrap().contains(at(3), Tz::UTC));
    }

    /// The provider's `TestSchedulesOverlap` table.
    #[test]
    fn overlap_rule_matches_the_provider() {
        for (s1, s2, want) in [
            ("* 9-18 * * 1-5", "* 9-18 * * 1-5", Some(true)),
            ("* 9-12 * * 1-5", "* 13-18 * * 1-5", Some(false)),
            ("* 9-14 * * 1-5", "* 12-18 * * 1-5", Some(true)),
            ("* 9-18 * * 1-5", "* 12-14 * * 1-5", Some(true)),
            ("* 9-18 * * 1,3,5", "* 9-18 * * 2,4,6", Some(false)),
            ("* 9-18 * * 1-3", "* 9-18 * * 4-5", Some(false)),
            ("* 9-18 1 * 1-3", "* 9-18 2 * 4-5", Some(false)),
            ("* 9-18 1 * 1-4", "* 9-18 1 * 3-5", Some(true)),
            ("* 9-18 1 * 1,3,5", "* 9-18 1 * 2,4,6", Some(true)),
            ("* * * * 1-5", "* 9-18 * * 1-5", Some(true)),
            ("* 9-18 * * *", "* 9-18 * * 1-5", Some(true)),
            ("* 9-18 * * *", "* 9-18 * * *", Some(true)),
            ("* 9-11,13-15 * * 1-5", "* 12,16-18 * * 1-5", Some(false)),
            ("* 9-11,13-15 * * 1-5", "* 10-12,14-16 * * 1-5", Some(true)),
            ("* 9-18 * * 1-5", "* 10-11,13-14 * * 1-5", Some(true)),
            ("* 25-26 * * 1-5", "* 9-18 * * 1-5", None),
            ("* 9-18 * 13 1-5", "* 9-18 * * 1-5", None),
            ("* 9-18 * *", "* 9-18 * * 1-5", None),
            ("* 9-18 * * 1-5 *", "* 9-18 * * 1-5", None),
            ("* 9-18 * * 1-5", "* 9-18 * *", None),
        ] {
            assert_eq!(schedules_overlap(s1, s2).ok(), want, "{s1} / {s2}");
        }
        // The provider's days rule (TestDaysOverlap).
        for (dom1, dow1, dom2, dow2, want) in [
            ("1-15", "1-3", "10-20", "4-6", true),
            ("1-15", "1-3", "16-31", "3-5", true),
            ("1-15", "1-3", "10-20", "3-5", true),
            ("1-15", "1-3", "16-31", "4-6", false),
            ("1-15", "*", "10-20", "*", true),
            ("1-15", "*", "16-31", "*", false),
        ] {
            assert_eq!(days_overlap(dom1, dow1, dom2, dow2), Ok(want), "{dom1} {dow1} / {dom2} {dow2}");
        }
        // The provider's field parser: numbers, ranges, lists, a bare * only.
        assert_eq!(overlap_range("1-3,5,7-9", 9), Ok(0b11_1010_1110));
        for bad in ["6", "4-6", "3-1", "abc", "-1", "1-", "*/2", "mon", "?", "1,*"] {
            assert!(overlap_range(bad, 5).is_err(), "{bad}");
        }
    }

    /// The provider's `TestValidateSchedules` table.
    #[test]
    fn set_validation_matches_the_provider() {
        assert_eq!(validate_schedules::<&str>(&[]), Ok(()));
        assert_eq!(validate_schedules(&["* 9-18 * * 1-5"]), Ok(()));
        assert_eq!(validate_schedules(&["* 9-12 * * 1-5", "* 13-18 * * 1-5"]), Ok(()));
        assert_eq!(validate_schedules(&["* 9-18 * * 1-5", "* 9-13 * * 6,0"]), Ok(()));
        assert_eq!(
            validate_schedules(&["* 9-14 * * 1-5", "* 12-18 * * 1-5"]),
            Err("schedules overlap: * 9-14 * * 1-5 and * 12-18 * * 1-5".to_owned())
        );
        assert_eq!(
            validate_schedules(&["* 9-11 * * 1-5", "* 12-18 * * 1-5", "* 15-20 * * 1-5"]),
            Err("schedules overlap: * 12-18 * * 1-5 and * 15-20 * * 1-5".to_owned())
        );
        // Names and steps are fine alone, invalid in a set of two.
        assert_eq!(validate_schedules(&["* 8-18 * * mon-fri"]), Ok(()));
        assert!(validate_schedules(&["* 8-12 * * mon-fri", "* 13-18 * * mon-fri"]).is_err());
        assert!(validate_schedules(&["* */2 * * 1-5", "* 13 * * 5"]).is_err());
        // The provider stops at the first field that does not intersect: a step in an hour
        // field it never reaches is not parsed, so this set is valid upstream too.
        assert_eq!(validate_schedules(&["* */2 * * 1-5", "* 13 * * 6"]), Ok(()));
    }

    #[test]
    fn an_invalid_set_falls_back_to_the_default() {
        let s = rows(&[("* 2-4 * * *", 5)]);
        assert_eq!(desired_at(1, "", &s, at(3)).0, 1);
        assert_eq!(desired_at(1, "Mars/Olympus", &s, at(3)).0, 1);
        let overlapping = rows(&[("* 2-4 * * *", 5), ("* 4-6 * * *", 7)]);
        let (n, problem) = desired_at(1, "UTC", &overlapping, at(3));
        assert_eq!(n, 1);
        assert!(matches!(problem, Some(ScheduleProblem::SetIgnored(ref why)) if why.starts_with("schedules overlap")));
        // One unreadable schedule in a set of two invalidates the whole set, as upstream.
        let broken = rows(&[("nonsense", 9), ("* 2-4 * * *", 5)]);
        let (n, problem) = desired_at(1, "UTC", &broken, at(3));
        assert_eq!(n, 1);
        assert!(matches!(problem, Some(ScheduleProblem::SetIgnored(_))));
        // Alone, a schedule that is not a time range is skipped and the default applies.
        let (n, problem) = desired_at(1, "UTC", &rows(&[("0 2-4 * * *", 5)]), at(3));
        assert_eq!(n, 1);
        assert!(matches!(problem, Some(ScheduleProblem::ScheduleSkipped(_))));
        // A set the overlap check accepts, one of whose schedules is not a time range (the
        // overlap check ignores the minute): that one is skipped, the other applies.
        let minute = rows(&[("0 2-4 * * *", 5), ("* 6-8 * * *", 7)]);
        assert_eq!(desired_at(1, "UTC", &minute, at(7)).0, 7);
        // 7 is no weekday upstream: "* 8 * * 0-7" is never active.
        assert_eq!(desired_at(1, "UTC", &rows(&[("* 3 * * 0-7", 4)]), at(3)).0, 1);
        // The common weekday names work.
        assert_eq!(desired_at(1, "UTC", &rows(&[("* 2-4 * * mon-fri", 4)]), at(3)).0, 4);
    }

    #[test]
    fn scheduling_is_validated_as_the_provider_does_at_plan_time() {
        assert_eq!(validate_scheduling("", &[]), Ok(()));
        assert_eq!(validate_scheduling("UTC", &rows(&[("* 8-18 * * mon-fri", 2)])), Ok(()));
        let e = validate_scheduling("", &rows(&[("* 8 * * *", 2)])).unwrap_err();
        assert_eq!(e.schedule, None);
        assert!(e.message.contains("needs a scheduling_timezone"));
        let e = validate_scheduling("Mars/Olympus", &rows(&[("* 8 * * *", 2)])).unwrap_err();
        assert!(e.message.contains("unknown time zone"));
        let e = validate_scheduling("UTC", &rows(&[("* 8 * * *", 2), ("* 9 * * 7", 2)])).unwrap_err();
        assert_eq!(e.schedule, Some(1));
        let e = validate_scheduling("UTC", &rows(&[("* 8-12 * * *", 2), ("* 12 * * *", 2)])).unwrap_err();
        assert_eq!(e.schedule, None);
        assert!(e.message.starts_with("schedules overlap"), "{}", e.message);
        let e = validate_scheduling("UTC", &rows(&[("* 8 * * mon", 2), ("* 9 * * tue", 2)])).unwrap_err();
        assert!(e.message.contains("only numbers, ranges, lists"), "{}", e.message);
        let e = validate_scheduling("UTC", &rows(&[("* 8 * * *", -1)])).unwrap_err();
        assert_eq!(e.schedule, Some(0));
    }
}
