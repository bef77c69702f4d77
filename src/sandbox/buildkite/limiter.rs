//! Buildkite's time-based limits, as `specs/buildkite-docs-graphql-graphql-resource-limits.md`
//! and `specs/buildkite-docs-rest-api-rate-limits.md` give them.
//!
//! GraphQL: actual complexity points are charged to two fixed windows, the token user's
//! (5,000 points per 5 minutes by default) and the organization's (20,000). A request is
//! refused with 429 once either window is used up; a request that is let in is charged
//! in full even past the limit, so `RateLimit-Remaining` can go negative (as it does at
//! the vendor: the Terraform provider's logs show `RateLimit-Remaining: -14`).
//!
//! REST: every request counts against the user's window (50 per minute) and the
//! organization's (200), refused ones too (the docs' example 429 says `"current": 55`
//! against a limit of 50).
//!
//! A window opens with the first request after the previous one ended; `Reset` is the
//! seconds left in it. The counts are behaviour of the running service, not state: they
//! are not saved.

use std::time::{Duration, Instant};

/// One fixed window's count.
#[derive(Debug, Default, Clone, Copy)]
pub struct Window {
    opened: Option<Instant>,
    pub used: i64,
}

impl Window {
    /// Opens a new window if the current one has ended.
    fn roll(&mut self, now: Instant, length: Duration) {
        if self.opened.is_none_or(|at| now.duration_since(at) >= length) {
            self.opened = Some(now);
            self.used = 0;
        }
    }

    /// Seconds until the window resets (at least 1 while one is open).
    pub fn reset_secs(&self, now: Instant, length: Duration) -> u64 {
        match self.opened {
            None => length.as_secs(),
            Some(at) => {
                let left = length.saturating_sub(now.duration_since(at));
                left.as_secs() + u64::from(left.subsec_nanos() > 0)
            }
        }
    }
}

/// The user's and the organization's windows of one API.
#[derive(Debug, Default, Clone, Copy)]
pub struct Windows {
    pub user: Window,
    pub org: Window,
}

/// Which limit a refusal is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    User,
    Org,
}

impl Windows {
    /// Rolls both windows to `now`, then says which limit (if any) is used up.
    pub fn check(&mut self, now: Instant, length: Duration, user_limit: i64, org_limit: i64) -> Option<Exceeded> {
        self.user.roll(now, length);
        self.org.roll(now, length);
        if self.user.used >= user_limit {
            Some(Exceeded::User)
        } else if self.org.used >= org_limit {
            Some(Exceeded::Org)
        } else {
            None
        }
    }

    /// Charges `points` to both windows.
    pub fn charge(&mut self, points: i64) {
        self.user.used = self.user.used.saturating_add(points);
        self.org.used = self.org.used.saturating_add(points);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_once_used_up_and_resets_with_the_window() {
        let length = Duration::from_secs(300);
        let t0 = Instant::now();
        let mut w = Windows::default();
        assert_eq!(w.check(t0, length, 10, 100), None);
        w.charge(12);
        assert_eq!(w.user.used, 12);
        assert_eq!(
            w.check(t0 + Duration::from_secs(10), length, 10, 100),
            Some(Exceeded::User)
        );
        assert_eq!(w.user.reset_secs(t0 + Duration::from_secs(10), length), 290);
        assert_eq!(w.check(t0 + Duration::from_secs(300), length, 10, 100), None);
        assert_eq!(w.user.used, 0);
        w.charge(100);
        assert_eq!(
            w.check(t0 + Duration::from_secs(301), length, 1000, 100),
            Some(Exceeded::Org)
        );
    }
}
