//! A workspace's schedule, as upstream's workspace creation sets it: the autostart schedule
//! (a weekly cron), the next autostart on a day the template allows, and the TTL (default:
//! the template's). Pure.

use crate::clock::Timestamp;
use crate::cron::WeeklySchedule;
use crate::database::models::TemplateScheduling;

/// The shortest TTL upstream accepts.
pub const TTL_MIN_MS: i64 = 60_000;
/// The longest TTL upstream accepts: 30 days.
pub const TTL_MAX_MS: i64 = 30 * 24 * 3_600_000;

/// Upstream's `validWorkspaceTTLMillis`: none or 0 → the template's default (none when that
/// is 0); else truncated to the minute and between one minute and 30 days.
pub fn valid_ttl_ms(requested_ms: Option<i64>, template: &TemplateScheduling) -> Result<Option<i64>, String> {
    let ttl = match requested_ms {
        None | Some(0) => template.default_ttl_ms,
        Some(ms) => {
            let truncated = ms - ms.rem_euclid(60_000);
            if truncated < TTL_MIN_MS {
                return Err("time until shutdown must be at least one minute".to_owned());
            }
            if truncated > TTL_MAX_MS {
                return Err("time until shutdown must be less than 30 days".to_owned());
            }
            truncated
        }
    };
    Ok((ttl > 0).then_some(ttl))
}

/// Upstream's `NextAllowedAutostart`: the next time after `at` the schedule fires on a day
/// (in the schedule's zone) the template allows autostart, looking a week ahead.
pub fn next_allowed_autostart(
    at: Timestamp,
    schedule: &WeeklySchedule,
    template: &TemplateScheduling,
) -> Option<Timestamp> {
    let mut from = at;
    let limit = at + chrono::Duration::days(7);
    while let Some(next) = schedule.next(from) {
        if next > limit + chrono::Duration::days(1) {
            return None;
        }
        let day = chrono::Datelike::weekday(&next.with_timezone(&schedule.location()));
        if template.autostart_allowed(day) {
            return Some(next);
        }
        from = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use chrono::Utc;

    use super::*;

    #[test]
    fn ttl_defaults_to_the_template_and_is_bounded() {
        let mut t = TemplateScheduling::DEFAULT;
        assert_eq!(valid_ttl_ms(None, &t), Ok(None));
        t.default_ttl_ms = 8 * 3_600_000;
        assert_eq!(valid_ttl_ms(None, &t), Ok(Some(8 * 3_600_000)));
        assert_eq!(valid_ttl_ms(Some(0), &t), Ok(Some(8 * 3_600_000)));
        assert_eq!(valid_ttl_ms(Some(90_500), &t), Ok(Some(60_000)), "truncated to the minute");
        assert!(valid_ttl_ms(Some(59_999), &t).unwrap_err().contains("at least one minute"));
        assert!(valid_ttl_ms(Some(TTL_MAX_MS + 60_000), &t).unwrap_err().contains("less than 30 days"));
        assert_eq!(valid_ttl_ms(Some(TTL_MAX_MS), &t), Ok(Some(TTL_MAX_MS)));
    }

    #[test]
    fn next_autostart_skips_days_the_template_blocks() {
        let s = WeeklySchedule::parse("30 9 * * *").unwrap();
        // Monday 2 June 2025, 10:00: the next 9:30 is Tuesday.
        let monday = Utc.with_ymd_and_hms(2025, 6, 2, 10, 0, 0).unwrap();
        let tuesday = Utc.with_ymd_and_hms(2025, 6, 3, 9, 30, 0).unwrap();
        let mut t = TemplateScheduling::DEFAULT;
        assert_eq!(next_allowed_autostart(monday, &s, &t), Some(tuesday));
        // Tuesday to Friday blocked (bits 1-4): the next allowed is Saturday.
        t.autostart_block_days_of_week = 0b0011110;
        assert_eq!(next_allowed_autostart(monday, &s, &t), Some(Utc.with_ymd_and_hms(2025, 6, 7, 9, 30, 0).unwrap()));
        t.autostart_block_days_of_week = 0b1111111;
        assert_eq!(next_allowed_autostart(monday, &s, &t), None);
    }
}
