//! Bitbucket Cloud's rate limiter: per user, a rolling window of `requests` per
//! `per_seconds` over the Bitbucket routes (the vendor's 1,000 an hour by default). Only
//! authenticated requests reach it, as the vendor counts them per user. The Organizations
//! API publishes no figures for its directory calls, so it has no limiter here.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::state::RateLimit;

#[derive(Debug, Default)]
pub struct Limiter {
    /// Each user's requests still inside the window, oldest first.
    seen: HashMap<String, VecDeque<Instant>>,
}

impl Limiter {
    /// Counts a request by `user` at `now`; `false` if it is over the limit (and then it
    /// is not counted: a refused request uses no budget).
    pub fn admit(&mut self, user: &str, limit: RateLimit, now: Instant) -> bool {
        let window = Duration::from_secs(limit.per_seconds);
        let seen = self.seen.entry(user.to_owned()).or_default();
        while seen.front().is_some_and(|at| now.duration_since(*at) >= window) {
            seen.pop_front();
        }
        if seen.len() >= limit.requests as usize {
            return false;
        }
        seen.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rolling_window_per_user() {
        let mut limiter = Limiter::default();
        let limit = RateLimit {
            requests: 2,
            per_seconds: 10,
        };
        let t0 = Instant::now();
        assert!(limiter.admit("a", limit, t0));
        assert!(limiter.admit("a", limit, t0 + Duration::from_secs(5)));
        assert!(!limiter.admit("a", limit, t0 + Duration::from_secs(6)));
        assert!(limiter.admit("b", limit, t0 + Duration::from_secs(6)));
        assert!(limiter.admit("a", limit, t0 + Duration::from_secs(10)));
        assert!(!limiter.admit("a", limit, t0 + Duration::from_secs(11)));
    }
}
