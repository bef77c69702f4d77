//! Graph's throttling for identity and access: a budget of resource units per app and
//! tenant over 10 seconds. Each request costs what `handlers::cost` says; one that would
//! overdraw the budget is refused with a 429 and `Retry-After` (the seconds until enough
//! units are free again) and costs nothing.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The window Graph's identity budgets are counted over.
pub const WINDOW: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub struct Limiter {
    /// The units spent inside the window, oldest first.
    spent: VecDeque<(Instant, u32)>,
}

impl Limiter {
    /// Spends `cost` units of `budget` at `now`, or says how long until it could.
    pub fn spend(&mut self, cost: u32, budget: u32, now: Instant) -> Result<u32, Duration> {
        while self
            .spent
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) >= WINDOW)
        {
            self.spent.pop_front();
        }
        let used: u32 = self.spent.iter().map(|(_, c)| c).sum();
        if used + cost <= budget {
            self.spent.push_back((now, cost));
            return Ok(budget - used - cost);
        }
        // Wait until the oldest spends leave the window and free enough.
        let mut freed = 0;
        for (at, c) in &self.spent {
            freed += c;
            if used - freed + cost <= budget {
                return Err(WINDOW.saturating_sub(now.duration_since(*at)));
            }
        }
        Err(WINDOW)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_of_units_per_ten_seconds() {
        let mut limiter = Limiter::default();
        let t0 = Instant::now();
        assert_eq!(limiter.spend(4, 10, t0), Ok(6));
        assert_eq!(limiter.spend(4, 10, t0 + Duration::from_secs(3)), Ok(2));
        assert_eq!(
            limiter.spend(4, 10, t0 + Duration::from_secs(4)),
            Err(Duration::from_secs(6))
        );
        assert_eq!(limiter.spend(4, 10, t0 + Duration::from_secs(10)), Ok(2));
    }
}
