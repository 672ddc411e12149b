//! Time for everything: the `Clock` trait, the real clock and `MockClock`.
//!
//! Domain code never reads the system time; it asks a `Clock`. Background loops wait with
//! [`Clock::sleep_until`], which the mock clock wakes when a test moves time, so tests never
//! sleep to wait for a tick: they advance the clock and, if they need to know a loop has
//! gone back to waiting, call [`MockClock::wait_for_sleepers`].

use std::fmt;
use std::sync::Arc;
use std::sync::Weak;
use std::time::Duration;

use chrono::DateTime;
use chrono::TimeZone;
use chrono::Utc;
use parking_lot::Condvar;
use parking_lot::Mutex;

/// A UTC instant with microsecond precision (the storage precision).
pub type Timestamp = DateTime<Utc>;

/// Microseconds since the Unix epoch: the storage representation of a [`Timestamp`].
pub fn to_micros(t: Timestamp) -> i64 {
    t.timestamp_micros()
}

/// The inverse of [`to_micros`]. Out-of-range values clamp to the representable range.
pub fn from_micros(micros: i64) -> Timestamp {
    Utc.timestamp_micros(micros).single().unwrap_or(if micros < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// Truncates to the storage precision so values round-trip through the database unchanged.
pub fn truncate_to_micros(t: Timestamp) -> Timestamp {
    from_micros(to_micros(t))
}

/// RFC 3339 text in UTC with microseconds, the form every JSON output uses.
pub fn format_rfc3339(t: Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The longest service interval, delay or TTL accepted from a flag, env variable or fixture:
/// one year. Checked at parse time, so no later arithmetic on it can overflow.
pub const MAX_INTERVAL: Duration = Duration::from_secs(365 * 86_400);

/// Parses Go-style durations: a sequence of decimal numbers, each with an optional fraction
/// and a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`, and `d` for days), like `500ms`, `1.5s`
/// or `1h30m`; a bare `0` is zero, as in Go. Negative and overflowing values are refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".to_owned());
    }
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.starts_with('-') {
        return Err(format!("invalid duration {text:?}: must not be negative"));
    }
    let too_large = || format!("invalid duration {text:?}: too large");
    let mut total_nanos: u128 = 0;
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(format!("invalid duration {text:?}: expected a number before {rest:?}"));
        }
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            "d" => 86_400 * 1_000_000_000,
            "" => return Err(format!("invalid duration {text:?}: missing unit (ns, us, ms, s, m, h, d)")),
            other => {
                return Err(format!("invalid duration {text:?}: unknown unit {other:?} (ns, us, ms, s, m, h, d)"));
            }
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| too_large())? };
        let mut part = whole.checked_mul(unit_nanos).ok_or_else(too_large)?;
        // Each fraction digit adds digit * unit / 10^k; digits past nanosecond precision drop.
        let mut scale = unit_nanos;
        for digit in fraction.bytes() {
            scale /= 10;
            part = part.checked_add(u128::from(digit - b'0') * scale).ok_or_else(too_large)?;
        }
        total_nanos = total_nanos.checked_add(part).ok_or_else(too_large)?;
    }
    // Anything past a century is a typo; refusing it here keeps every later sum in range.
    if total_nanos > 100 * 365 * 86_400 * 1_000_000_000 {
        return Err(too_large());
    }
    let secs = u64::try_from(total_nanos / 1_000_000_000).map_err(|_| too_large())?;
    Ok(Duration::new(secs, (total_nanos % 1_000_000_000) as u32))
}

/// Parses an interval between runs, a delay or a TTL: a duration greater than zero and at
/// most [`MAX_INTERVAL`].
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)
        .map_err(|e| if e.ends_with("too large") { format!("{e} (allowed: more than 0, up to 365d)") } else { e })?;
    check_interval(d).map_err(|why| format!("invalid interval {:?}: {why}", text.trim()))
}

/// The range rule of [`parse_interval`] for a duration already parsed.
pub fn check_interval(d: Duration) -> Result<Duration, String> {
    if d.is_zero() {
        return Err("must be greater than zero (allowed: more than 0, up to 365d)".to_owned());
    }
    if d > MAX_INTERVAL {
        return Err("must be at most one year (allowed: more than 0, up to 365d)".to_owned());
    }
    Ok(d)
}

/// Milliseconds rounded to a tenth, for log fields and outputs (`took_ms=9.1`, not
/// `9.101339999999999`).
pub fn rounded_millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// `t + d`, saturating at the latest representable instant instead of panicking.
pub fn add_duration(t: Timestamp, d: Duration) -> Timestamp {
    chrono::Duration::from_std(d).ok().and_then(|d| t.checked_add_signed(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `t - d`, saturating at the earliest representable instant instead of panicking.
pub fn sub_duration(t: Timestamp, d: Duration) -> Timestamp {
    chrono::Duration::from_std(d).ok().and_then(|d| t.checked_sub_signed(d)).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Parses a timestamp as fixtures and the CLI write them: RFC 3339, `now`, or `now` plus or
/// minus a duration (`now-2h30m`, `now+1d`).
pub fn parse_time(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix("now") {
        if rest.is_empty() {
            return Ok(now);
        }
        let (sign, amount) = match rest.split_at(1) {
            ("-", amount) => (-1, amount),
            ("+", amount) => (1, amount),
            _ => return Err(format!("invalid time {text:?}: expected now, now-<duration> or now+<duration>")),
        };
        let d = parse_duration(amount).map_err(|e| format!("invalid time {text:?}: {e}"))?;
        return Ok(if sign < 0 { sub_duration(now, d) } else { add_duration(now, d) });
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| truncate_to_micros(t.with_timezone(&chrono::Utc)))
        .map_err(|e| format!("invalid time {text:?}: expected RFC 3339 or now[+-]<duration>: {e}"))
}

/// The source of time. Implementations are cheap to share behind an `Arc`.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time, truncated to microseconds.
    fn now(&self) -> Timestamp;

    /// Blocks until `deadline` has passed on this clock or `cancel` is triggered.
    /// Returns true when the deadline was reached, false when cancelled.
    fn sleep_until(&self, deadline: Timestamp, cancel: &Cancel) -> bool;
}

/// A shareable handle to a clock.
pub type SharedClock = Arc<dyn Clock>;

/// A cancellation signal for waits: services stop when it fires.
#[derive(Clone, Default)]
pub struct Cancel {
    inner: Arc<CancelInner>,
}

#[derive(Default)]
struct CancelInner {
    cancelled: Mutex<bool>,
    condvar: Condvar,
}

impl fmt::Debug for Cancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancel").field("cancelled", &self.is_cancelled()).finish()
    }
}

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    /// Fires the signal; every current and future wait on it returns at once.
    pub fn cancel(&self) {
        *self.inner.cancelled.lock() = true;
        self.inner.condvar.notify_all();
    }

    pub fn is_cancelled(&self) -> bool {
        *self.inner.cancelled.lock()
    }

    /// Blocks until the signal fires.
    pub fn wait(&self) {
        let mut cancelled = self.inner.cancelled.lock();
        while !*cancelled {
            self.inner.condvar.wait(&mut cancelled);
        }
    }

    /// Wakes waiters so they re-check their condition (used by the mock clock).
    fn wake(&self) {
        let _guard = self.inner.cancelled.lock();
        self.inner.condvar.notify_all();
    }
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealClock;

impl Clock for RealClock {
    fn now(&self) -> Timestamp {
        truncate_to_micros(Utc::now())
    }

    fn sleep_until(&self, deadline: Timestamp, cancel: &Cancel) -> bool {
        let mut cancelled = cancel.inner.cancelled.lock();
        loop {
            if *cancelled {
                return false;
            }
            let remaining = deadline - self.now();
            let Ok(remaining) = remaining.to_std() else {
                return true;
            };
            if remaining.is_zero() {
                return true;
            }
            cancel.inner.condvar.wait_for(&mut cancelled, remaining);
        }
    }
}

/// A clock that moves only when a test says so.
///
/// `set` and `advance` wake every thread sleeping on it; a sleeper whose deadline has passed
/// is removed from the sleeper count at once, before the call returns, and counts again only
/// when it goes back to sleep. So after an advance, `wait_for_sleepers(n)` returns once the
/// woken loops have finished their work and are waiting again: tickers built on
/// `sleep_until` fire deterministically.
#[derive(Clone)]
pub struct MockClock {
    inner: Arc<MockInner>,
}

struct MockInner {
    now: Mutex<Timestamp>,
    sleepers: Mutex<Sleepers>,
    sleepers_changed: Condvar,
}

#[derive(Default)]
struct Sleepers {
    next_token: u64,
    entries: Vec<Sleeper>,
}

struct Sleeper {
    token: u64,
    deadline: Timestamp,
    cancel: Weak<CancelInner>,
    /// The sleeping thread's name: [`MockClock::step_to`] wakes services by name, in order.
    thread: Option<String>,
}

impl fmt::Debug for MockClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockClock").field("now", &self.now()).finish()
    }
}

impl MockClock {
    /// A mock clock at `start` (truncated to microseconds).
    pub fn new(start: Timestamp) -> Self {
        Self {
            inner: Arc::new(MockInner {
                now: Mutex::new(truncate_to_micros(start)),
                sleepers: Mutex::new(Sleepers::default()),
                sleepers_changed: Condvar::new(),
            }),
        }
    }

    /// Sets the time (it may move backwards) and wakes sleepers whose deadline passed.
    pub fn set(&self, t: Timestamp) {
        let now = truncate_to_micros(t);
        *self.inner.now.lock() = now;
        self.wake_due(now);
    }

    /// Moves the time forward by `d` and wakes sleepers whose deadline passed.
    pub fn advance(&self, d: Duration) {
        let now = {
            let mut now = self.inner.now.lock();
            *now = add_duration(*now, d);
            *now
        };
        self.wake_due(now);
    }

    /// The number of threads blocked in `sleep_until` on this clock whose deadline is ahead.
    pub fn sleepers(&self) -> usize {
        let mut sleepers = self.inner.sleepers.lock();
        sleepers.entries.retain(|s| s.cancel.strong_count() > 0);
        sleepers.entries.len()
    }

    /// Blocks until at least `n` threads sleep on this clock: the deterministic way for a test
    /// to know that background loops finished their work and wait for their next tick.
    /// Panics after 10 s of real time, which only a broken test reaches.
    pub fn wait_for_sleepers(&self, n: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut sleepers = self.inner.sleepers.lock();
        loop {
            sleepers.entries.retain(|s| s.cancel.strong_count() > 0);
            if sleepers.entries.len() >= n {
                return;
            }
            if self.inner.sleepers_changed.wait_until(&mut sleepers, deadline).timed_out() {
                panic!("mock clock: expected {n} sleepers, have {}", sleepers.entries.len());
            }
        }
    }

    /// The earliest deadline among current sleepers: what a test advances to next.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.inner.sleepers.lock().entries.iter().map(|s| s.deadline).min()
    }

    /// Moves the clock to `target` one due deadline at a time, as a virtual clock of a whole
    /// server does: first waits until every thread named in `services` sleeps on the clock;
    /// then, for each deadline up to `target` in time order, sets the clock to it and wakes
    /// its due sleepers one thread at a time (in the order of `services`, other threads last),
    /// waiting after each until every service sleeps again. So each tick sees the time it was
    /// due at and the effects of the ticks before it. Answers the number of wake-ups; an error
    /// when a service did not go back to sleep within `timeout` of real time (it is stuck, or
    /// stopped). Never moves the clock backwards.
    pub fn step_to(&self, target: Timestamp, services: &[&str], timeout: Duration) -> Result<u64, String> {
        let target = truncate_to_micros(target);
        let give_up = std::time::Instant::now() + timeout;
        let mut woken = 0u64;
        self.wait_until_asleep(services, give_up)?;
        while let Some(at) = self.next_deadline().filter(|at| *at <= target) {
            {
                let mut now = self.inner.now.lock();
                *now = (*now).max(at);
            }
            while let Some(cancel) = self.take_first_due(services) {
                Cancel { inner: cancel }.wake();
                woken += 1;
                self.wait_until_asleep(services, give_up)?;
            }
        }
        let mut now = self.inner.now.lock();
        *now = (*now).max(target);
        Ok(woken)
    }

    /// Removes the due sleeper that comes first in `order` (threads not named there last) and
    /// answers its signal to wake.
    fn take_first_due(&self, order: &[&str]) -> Option<Arc<CancelInner>> {
        let now = self.now();
        let mut sleepers = self.inner.sleepers.lock();
        sleepers.entries.retain(|s| s.cancel.strong_count() > 0);
        let rank = |s: &Sleeper| {
            s.thread.as_deref().and_then(|name| order.iter().position(|o| *o == name)).unwrap_or(order.len())
        };
        let idx = (0..sleepers.entries.len())
            .filter(|&i| sleepers.entries[i].deadline <= now)
            .min_by_key(|&i| (rank(&sleepers.entries[i]), sleepers.entries[i].token))?;
        let sleeper = sleepers.entries.remove(idx);
        self.inner.sleepers_changed.notify_all();
        sleeper.cancel.upgrade()
    }

    /// Blocks until a thread of each name in `names` sleeps on this clock, or `give_up`.
    fn wait_until_asleep(&self, names: &[&str], give_up: std::time::Instant) -> Result<(), String> {
        let mut sleepers = self.inner.sleepers.lock();
        loop {
            sleepers.entries.retain(|s| s.cancel.strong_count() > 0);
            let awake: Vec<&str> = names
                .iter()
                .copied()
                .filter(|n| !sleepers.entries.iter().any(|s| s.thread.as_deref() == Some(*n)))
                .collect();
            if awake.is_empty() {
                return Ok(());
            }
            if self.inner.sleepers_changed.wait_until(&mut sleepers, give_up).timed_out() {
                return Err(format!("{} did not finish its tick (still busy, or stopped)", awake.join(", ")));
            }
        }
    }

    fn wake_due(&self, now: Timestamp) {
        let due: Vec<Arc<CancelInner>> = {
            let mut sleepers = self.inner.sleepers.lock();
            let mut due = Vec::new();
            sleepers.entries.retain(|s| {
                if s.deadline > now {
                    return true;
                }
                due.extend(s.cancel.upgrade());
                false
            });
            self.inner.sleepers_changed.notify_all();
            due
        };
        for inner in due {
            Cancel { inner }.wake();
        }
    }

    fn register(&self, deadline: Timestamp, cancel: &Cancel) -> u64 {
        let mut sleepers = self.inner.sleepers.lock();
        sleepers.next_token += 1;
        let token = sleepers.next_token;
        let thread = std::thread::current().name().map(str::to_owned);
        sleepers.entries.push(Sleeper { token, deadline, cancel: Arc::downgrade(&cancel.inner), thread });
        self.inner.sleepers_changed.notify_all();
        token
    }

    fn is_registered(&self, token: u64) -> bool {
        self.inner.sleepers.lock().entries.iter().any(|s| s.token == token)
    }

    fn unregister(&self, token: u64) {
        let mut sleepers = self.inner.sleepers.lock();
        sleepers.entries.retain(|s| s.token != token);
        self.inner.sleepers_changed.notify_all();
    }
}

impl Clock for MockClock {
    fn now(&self) -> Timestamp {
        *self.inner.now.lock()
    }

    fn sleep_until(&self, deadline: Timestamp, cancel: &Cancel) -> bool {
        // The sleeper waits on its cancel signal's condvar, which both a cancellation and a
        // clock move notify.
        let mut cancelled = cancel.inner.cancelled.lock();
        if *cancelled {
            return false;
        }
        if self.now() >= deadline {
            return true;
        }
        let token = self.register(deadline, cancel);
        let reached = loop {
            if *cancelled {
                break false;
            }
            // Woken only by the clock taking this sleeper off its list (`set`, `advance`,
            // `step_to`), never by another sleeper's wake-up on a shared cancel signal: a
            // virtual clock wakes services one at a time. The clock takes the sleeper off
            // before waking, and waking takes this mutex, so a wake-up cannot be missed.
            if !self.is_registered(token) {
                break true;
            }
            cancel.inner.condvar.wait(&mut cancelled);
        };
        drop(cancelled);
        self.unregister(token);
        reached
    }
}

/// Fires at a fixed period on a clock. `next` is the instant of the next tick.
#[derive(Debug)]
pub struct Ticker {
    clock: SharedClock,
    period: Duration,
    next: Timestamp,
}

impl Ticker {
    /// A ticker whose first tick is `period` from now.
    pub fn new(clock: SharedClock, period: Duration) -> Self {
        let next = add_duration(clock.now(), period);
        Self { clock, period, next }
    }

    /// The instant of the next tick.
    pub fn next(&self) -> Timestamp {
        self.next
    }

    /// Waits for the next tick. Returns false when cancelled. A tick that is already past
    /// fires at once; the following tick is scheduled from the missed one, skipping ticks
    /// that fell entirely in the past so that a slow iteration never causes a burst.
    pub fn wait(&mut self, cancel: &Cancel) -> bool {
        if !self.clock.sleep_until(self.next, cancel) {
            return false;
        }
        let now = self.clock.now();
        self.next = add_duration(self.next, self.period);
        if self.next <= now {
            self.next = add_duration(now, self.period);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use std::thread;

    use super::*;

    fn at(s: &str) -> Timestamp {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn parses_units_and_sums() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
    }

    #[test]
    fn parses_go_style_fractions_and_units() {
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration(".5m"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2.25h"), Ok(Duration::from_secs(8100)));
        assert_eq!(parse_duration("1us"), Ok(Duration::from_micros(1)));
        assert_eq!(parse_duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
    }

    #[test]
    fn refuses_overflow_and_negative() {
        for text in [
            "18446744073709551615s1s",
            "5124095576030432h",
            "1000000000000h",
            "101000d",
            "99999999999999999999999999999999999999999s",
        ] {
            assert!(parse_duration(text).unwrap_err().contains("too large"), "{text}");
        }
        assert!(parse_duration("-1s").unwrap_err().contains("negative"));
        assert!(parse_duration("1..5s").is_err());
        assert!(parse_duration("1.2.3s").is_err());
    }

    #[test]
    fn intervals_are_more_than_zero_and_at_most_a_year() {
        assert_eq!(parse_interval("365d"), Ok(MAX_INTERVAL));
        assert!(parse_interval("366d").unwrap_err().contains("at most one year"));
        assert!(parse_interval("8761h").unwrap_err().contains("at most one year"));
        assert!(parse_interval("0").unwrap_err().contains("greater than zero"));
        assert!(parse_interval("0s").unwrap_err().contains("greater than zero"));
        assert_eq!(parse_interval("1ms"), Ok(Duration::from_millis(1)));
    }

    #[test]
    fn timestamp_arithmetic_saturates() {
        let t = at("2024-01-01T00:00:00Z");
        assert_eq!(add_duration(t, Duration::from_secs(u64::MAX)), DateTime::<Utc>::MAX_UTC);
        assert_eq!(sub_duration(t, Duration::from_secs(u64::MAX)), DateTime::<Utc>::MIN_UTC);
        assert_eq!(add_duration(t, Duration::from_secs(60)), at("2024-01-01T00:01:00Z"));
        // A ticker with the longest allowed period and one far past it never panics.
        let clock: SharedClock = Arc::new(MockClock::new(t));
        let ticker = Ticker::new(clock.clone(), MAX_INTERVAL);
        assert_eq!(ticker.next(), add_duration(t, MAX_INTERVAL));
        let far = Ticker::new(clock, Duration::from_secs(u64::MAX / 2));
        assert_eq!(far.next(), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn rejects_bad_input_naming_it() {
        assert!(parse_duration("5").unwrap_err().contains("missing unit"));
        assert!(parse_duration("5x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("m5").unwrap_err().contains("\"m5\""));
    }

    #[test]
    fn micros_round_trip() {
        let t = at("2024-05-06T07:08:09.123456789Z");
        assert_eq!(from_micros(to_micros(t)), truncate_to_micros(t));
        assert_eq!(format_rfc3339(truncate_to_micros(t)), "2024-05-06T07:08:09.123456Z");
    }

    #[test]
    fn mock_sleep_wakes_on_advance() {
        let clock = MockClock::new(at("2024-01-01T00:00:00Z"));
        let cancel = Cancel::new();
        let sleeper = {
            let clock = clock.clone();
            let cancel = cancel.clone();
            thread::spawn(move || clock.sleep_until(at("2024-01-01T00:01:00Z"), &cancel))
        };
        clock.wait_for_sleepers(1);
        clock.advance(Duration::from_secs(30));
        // Still asleep: the deadline has not been reached.
        clock.wait_for_sleepers(1);
        clock.advance(Duration::from_secs(30));
        assert!(sleeper.join().unwrap());
        assert_eq!(clock.sleepers(), 0);
    }

    #[test]
    fn step_to_runs_each_due_tick_at_its_time_in_service_order() {
        let clock = MockClock::new(at("2024-01-01T00:00:00Z"));
        let cancel = Cancel::new();
        let seen = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
        // "late" is listed first in the order, so at a shared instant it runs first.
        let spawn = |name: &'static str, period: u64| {
            let (clock, cancel, seen) = (clock.clone(), cancel.clone(), seen.clone());
            thread::Builder::new()
                .name(name.to_owned())
                .spawn(move || {
                    let mut ticker = Ticker::new(Arc::new(clock.clone()), Duration::from_secs(period));
                    while ticker.wait(&cancel) {
                        seen.lock().push((name.to_owned(), format_rfc3339(clock.now())));
                    }
                })
                .unwrap()
        };
        let threads = [spawn("early", 20), spawn("late", 30)];
        let woken = clock.step_to(at("2024-01-01T00:01:05Z"), &["late", "early"], Duration::from_secs(10)).unwrap();
        assert_eq!(woken, 5);
        assert_eq!(
            *seen.lock(),
            [
                ("early", "2024-01-01T00:00:20.000000Z"),
                ("late", "2024-01-01T00:00:30.000000Z"),
                ("early", "2024-01-01T00:00:40.000000Z"),
                ("late", "2024-01-01T00:01:00.000000Z"),
                ("early", "2024-01-01T00:01:00.000000Z"),
            ]
            .map(|(n, t)| (n.to_owned(), t.to_owned()))
        );
        assert_eq!(clock.now(), at("2024-01-01T00:01:05Z"));
        let err = clock.step_to(at("2024-01-01T00:02:00Z"), &["missing"], Duration::from_millis(50)).unwrap_err();
        assert!(err.contains("missing"), "{err}");
        cancel.cancel();
        for t in threads {
            t.join().unwrap();
        }
    }

    #[test]
    fn mock_sleep_returns_false_on_cancel() {
        let clock = MockClock::new(at("2024-01-01T00:00:00Z"));
        let cancel = Cancel::new();
        let sleeper = {
            let clock = clock.clone();
            let cancel = cancel.clone();
            thread::spawn(move || clock.sleep_until(at("2024-01-02T00:00:00Z"), &cancel))
        };
        clock.wait_for_sleepers(1);
        cancel.cancel();
        assert!(!sleeper.join().unwrap());
    }

    #[test]
    fn ticker_fires_each_period_and_skips_missed_ticks() {
        let clock = MockClock::new(at("2024-01-01T00:00:00Z"));
        let mut ticker = Ticker::new(Arc::new(clock.clone()), Duration::from_secs(60));
        let cancel = Cancel::new();
        clock.advance(Duration::from_secs(60));
        assert!(ticker.wait(&cancel));
        assert_eq!(ticker.next(), at("2024-01-01T00:02:00Z"));
        // Five periods pass at once: one tick fires, the next is a full period later.
        clock.advance(Duration::from_secs(300));
        assert!(ticker.wait(&cancel));
        assert_eq!(ticker.next(), at("2024-01-01T00:07:00Z"));
    }

    #[test]
    fn real_clock_sleep_is_cancellable() {
        let cancel = Cancel::new();
        cancel.cancel();
        let far = RealClock.now() + chrono::Duration::hours(1);
        assert!(!RealClock.sleep_until(far, &cancel));
        assert!(RealClock.sleep_until(RealClock.now(), &Cancel::new()));
    }
}
