//! The login rate limit, as upstream's `httpmw.RateLimit` (go-chi's httprate) counts it:
//! per client address (IPv6 by its /64) and path, a sliding window of one minute, 429 with
//! upstream's message once the estimated count reaches the limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;
use std::time::Instant;

use parking_lot::Mutex;

/// Upstream's login limit: 60 requests a minute per client.
pub const DEFAULT_LOGIN_RATE_LIMIT: u32 = 60;

/// The window the limit counts over.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Entries kept before stale ones are swept.
const SWEEP_AT: usize = 4096;

/// A request's verdict, with what httprate's headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the current window ends.
    pub reset_in: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Counts {
    window: u64,
    current: u32,
    previous: u32,
}

/// Sliding-window counters per (client, path). `limit` 0 turns the limit off.
pub struct RateLimiter {
    limit: u32,
    epoch: Instant,
    counts: Mutex<HashMap<(IpAddr, String), Counts>>,
}

/// The address a limit counts by: an IPv6 address by its /64 (one host usually holds a
/// whole /64), an IPv4 address (or IPv4-mapped IPv6) as is.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
        v4 => v4,
    }
}

impl RateLimiter {
    pub fn new(limit: u32) -> Self {
        Self::starting_at(limit, Instant::now())
    }

    fn starting_at(limit: u32, epoch: Instant) -> Self {
        Self { limit, epoch, counts: Mutex::new(HashMap::new()) }
    }

    /// Counts a request from `ip` to `path` at `now` and says whether it may go on.
    pub fn check(&self, ip: IpAddr, path: &str, now: Instant) -> Decision {
        let window_secs = WINDOW.as_secs_f64();
        let since = now.saturating_duration_since(self.epoch);
        let window = since.as_secs() / WINDOW.as_secs();
        let into_window = since.as_secs_f64() - (window * WINDOW.as_secs()) as f64;
        let reset_in = Duration::from_secs_f64(window_secs - into_window);
        if self.limit == 0 {
            return Decision { allowed: true, limit: 0, remaining: 0, reset_in };
        }
        let mut counts = self.counts.lock();
        if counts.len() >= SWEEP_AT {
            counts.retain(|_, c| c.window + 1 >= window);
        }
        let entry =
            counts.entry((client_key(ip), path.to_owned())).or_insert(Counts { window, current: 0, previous: 0 });
        if entry.window != window {
            entry.previous = if entry.window + 1 == window { entry.current } else { 0 };
            entry.current = 0;
            entry.window = window;
        }
        // httprate's estimate: the previous window's count weighted by how much of it the
        // sliding window still covers, plus this window's.
        let estimate = f64::from(entry.previous) * (window_secs - into_window) / window_secs + f64::from(entry.current);
        let limit = f64::from(self.limit);
        if estimate >= limit {
            return Decision { allowed: false, limit: self.limit, remaining: 0, reset_in };
        }
        entry.current += 1;
        let remaining = (limit - estimate - 1.0).max(0.0) as u32;
        Decision { allowed: true, limit: self.limit, remaining, reset_in }
    }

    /// Upstream's 429 message for this limit.
    pub fn message(&self) -> String {
        format!("You've been rate limited for sending more than {} requests in 1m0s.", self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_limited_per_path_and_address() {
        let t0 = Instant::now();
        let limiter = RateLimiter::starting_at(3, t0);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let at = |s: u64| t0 + Duration::from_secs(s);
        for i in 0..3 {
            let d = limiter.check(a, "/api/v2/users/login", at(1));
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 2 - i);
        }
        assert!(!limiter.check(a, "/api/v2/users/login", at(2)).allowed);
        assert!(limiter.check(b, "/api/v2/users/login", at(2)).allowed, "another address");
        assert!(limiter.check(a, "/api/v2/other", at(2)).allowed, "another path");
        // Half-way through the next window, half of the previous window's three still count.
        assert!(limiter.check(a, "/api/v2/users/login", at(90)).allowed);
        assert!(limiter.check(a, "/api/v2/users/login", at(90)).allowed);
        assert!(!limiter.check(a, "/api/v2/users/login", at(90)).allowed);
        // Two windows later, the slate is clean.
        assert!(limiter.check(a, "/api/v2/users/login", at(181)).allowed);
    }

    #[test]
    fn ipv6_counts_by_its_64_and_zero_turns_it_off() {
        let t0 = Instant::now();
        let limiter = RateLimiter::starting_at(1, t0);
        assert!(limiter.check("2001:db8::1".parse().unwrap(), "/l", t0).allowed);
        assert!(!limiter.check("2001:db8::2".parse().unwrap(), "/l", t0).allowed);
        assert!(limiter.check("2001:db8:0:1::1".parse().unwrap(), "/l", t0).allowed);
        let off = RateLimiter::starting_at(0, t0);
        assert!((0..100).all(|_| off.check("10.0.0.1".parse().unwrap(), "/l", t0).allowed));
        assert_eq!(limiter.message(), "You've been rate limited for sending more than 1 requests in 1m0s.");
    }
}
