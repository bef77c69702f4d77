//! Okta's rate limits: a quota per endpoint bucket for the whole org, counted in fixed
//! windows (a minute at Okta) that start on the clock's whole multiples of the window,
//! reported on every answer as `X-Rate-Limit-Limit`, `X-Rate-Limit-Remaining` and
//! `X-Rate-Limit-Reset` (the window's end, UTC epoch seconds). A request over the quota
//! is a 429 and is not counted.
//!
//! Each route of the emulator is its own bucket. Okta groups its endpoints into buckets
//! by path in a table per plan (vendor documentation, not the description); a bucket per
//! route is that table's shape without its figures, which the state sets.

use std::collections::HashMap;

use super::state::RateLimit;

#[derive(Debug, Default)]
pub struct Limiter {
    /// Per bucket: the window it counts in (epoch seconds / window) and the count.
    windows: HashMap<&'static str, (u64, u32)>,
}

/// What the rate-limit headers say after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub admitted: bool,
    pub limit: u32,
    pub remaining: u32,
    /// The window's end, in epoch seconds.
    pub reset: u64,
}

impl Limiter {
    /// Counts a request to `bucket` at `now` (epoch seconds) against `limit`.
    pub fn admit(&mut self, bucket: &'static str, limit: RateLimit, now: u64) -> Quota {
        let window = now / limit.per_seconds;
        let entry = self.windows.entry(bucket).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        let admitted = entry.1 < limit.requests;
        if admitted {
            entry.1 += 1;
        }
        Quota {
            admitted,
            limit: limit.requests,
            remaining: limit.requests - entry.1,
            reset: (window + 1) * limit.per_seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_window_per_bucket() {
        let mut limiter = Limiter::default();
        let limit = RateLimit {
            requests: 2,
            per_seconds: 60,
        };
        let q = limiter.admit("/users", limit, 120);
        assert_eq!((q.admitted, q.remaining, q.reset), (true, 1, 180));
        assert!(limiter.admit("/users", limit, 150).admitted);
        let refused = limiter.admit("/users", limit, 179);
        assert_eq!((refused.admitted, refused.remaining), (false, 0));
        assert!(limiter.admit("/groups", limit, 179).admitted);
        assert_eq!(limiter.admit("/users", limit, 180).remaining, 1);
    }
}
