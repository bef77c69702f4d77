//! The overall deadline of one operation on a target: reading it, or applying a plan to
//! it. Retries, server waits and pacing each have their own bounds; this one bounds their
//! sum, so a target that keeps answering slowly, or keeps asking for waits, ends in an
//! error that names it instead of a run that never ends.
//!
//! Time spent waiting for the request budget (pacing) does not count: a plan paced to an
//! hourly quota takes as long as the quota makes it, which says nothing about the target
//! being unwell, so the deadline moves out by every such wait. Only up to a hard maximum,
//! though, so that even a well-behaved run ends in an error rather than going on for a
//! day.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::error::human;

/// How long one operation may take unless the client is built with another limit, not
/// counting its waits for the request budget: generous, since answers and retries are
/// all it bounds.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(15 * 60);

/// The most one operation may take, waits for the request budget included, unless the
/// client is built with another maximum. Three times Bitbucket Cloud's hour: a run that
/// spends a whole hourly quota fits with room for slow answers, one that would not end
/// before the evening does not start.
pub const MAX_DEADLINE: Duration = Duration::from_secs(3 * 3600);

/// Beyond any run: what a limit too large to add to an instant stands for.
const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// What a provider is doing with its target; the clock runs per operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Reading live state: one call, so each read starts the clock again.
    Read,
    /// Applying a plan: a call per batch of changes, all on one clock, started by the
    /// first.
    Apply,
}

/// The clock of the operation under way.
pub(super) struct Clock {
    limit: Duration,
    max: Duration,
    current: Mutex<Option<Run>>,
}

/// The operation under way: what it is, when it started, and how long the client had
/// waited for its request budget by then (what it waits from then on is the operation's).
#[derive(Debug, Clone, Copy)]
struct Run {
    operation: Option<Operation>,
    started: Instant,
    paced_before: Duration,
}

/// When the operation under way must be over, and what to say in an error.
#[derive(Debug, Clone, Copy)]
pub(super) struct Deadline {
    pub at: Instant,
    operation: Option<Operation>,
    limit: Duration,
    max: Duration,
    /// How long the operation has waited for the request budget (waits under way counted
    /// to their end): the time by which the deadline moved out.
    paced: Duration,
    /// The maximum is what holds `at`: more pacing would not move it.
    capped: bool,
}

impl Clock {
    /// A clock allowing `limit` besides the waits for the budget, and `max` in all (never
    /// less than `limit`).
    pub(super) fn new(limit: Duration, max: Duration) -> Self {
        Clock {
            limit,
            max: max.max(limit),
            current: Mutex::new(None),
        }
    }

    fn current(&self) -> std::sync::MutexGuard<'_, Option<Run>> {
        // One value, written whole: a panic elsewhere cannot leave it half-updated.
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts `operation`'s clock, unless it is an apply already under way. `paced` is
    /// how long the client has waited for its budget so far, in all.
    pub(super) fn begin(&self, operation: Operation, paced: Duration) {
        let mut current = self.current();
        let running = matches!(*current, Some(Run { operation: Some(op), .. }) if op == operation);
        if operation == Operation::Read || !running {
            *current = Some(Run {
                operation: Some(operation),
                started: Instant::now(),
                paced_before: paced,
            });
        }
    }

    /// The deadline of the operation under way, given how long the client has waited for
    /// its budget so far, in all. Requests sent outside any operation run on a clock
    /// started by the first of them.
    pub(super) fn deadline(&self, paced: Duration) -> Deadline {
        let run = *self.current().get_or_insert_with(|| Run {
            operation: None,
            started: Instant::now(),
            paced_before: paced,
        });
        let paced = paced.saturating_sub(run.paced_before);
        let allowed = self.limit.saturating_add(paced);
        let capped = allowed >= self.max;
        let allowed = allowed.min(self.max);
        Deadline {
            // A limit too large to add is no limit.
            at: run.started.checked_add(allowed).unwrap_or_else(|| run.started + NEVER),
            operation: run.operation,
            limit: self.limit,
            max: self.max,
            paced,
            capped,
        }
    }
}

impl Deadline {
    pub(super) fn passed(&self, now: Instant) -> bool {
        now >= self.at
    }

    /// The latest the operation may end, however long it waits for its quota: its start
    /// plus the maximum.
    pub(super) fn latest(&self) -> Instant {
        if self.capped {
            return self.at;
        }
        let more = self.max.saturating_sub(self.limit.saturating_add(self.paced));
        self.at.checked_add(more).unwrap_or(self.at + NEVER)
    }

    /// The sentence for an error: what ran out of time, how the time went, and what to
    /// do about it.
    pub(super) fn explain(&self) -> String {
        let what = match self.operation {
            Some(Operation::Read) => "reading this target",
            Some(Operation::Apply) => "applying the plan to this target",
            None => "this target's requests",
        };
        if self.capped {
            return format!(
                "deadline passed: {what} has taken {}, the most one operation may take even while it waits for the request budget ({} of it went to those waits); do less in one run: split the work over several targets or runs",
                about(self.max),
                about(self.paced.min(self.max))
            );
        }
        let besides = if self.paced.is_zero() {
            String::new()
        } else {
            format!(", not counting {} of waiting for the request budget", about(self.paced))
        };
        format!(
            "deadline passed: {what} has taken the {} one operation may take{besides}; the time went to slow answers, retries and waits the server asked for: try again when it answers promptly",
            human(self.limit)
        )
    }
}

/// A long stretch of time as people say it: to the minute from two minutes on, in hours
/// and minutes from an hour on; shorter ones as [`human`] says them.
fn about(d: Duration) -> String {
    if d < Duration::from_secs(120) {
        return human(d);
    }
    let minutes = (d.as_secs() + 30) / 60;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: Duration = Duration::ZERO;

    #[tokio::test(start_paused = true)]
    async fn a_read_restarts_the_clock_and_the_batches_of_an_apply_share_one() {
        let clock = Clock::new(Duration::from_secs(60), MAX_DEADLINE);
        clock.begin(Operation::Read, NONE);
        let first = clock.deadline(NONE).at;
        tokio::time::sleep(Duration::from_secs(10)).await;
        clock.begin(Operation::Read, NONE);
        assert_eq!(clock.deadline(NONE).at - first, Duration::from_secs(10));

        clock.begin(Operation::Apply, NONE);
        let apply = clock.deadline(NONE).at;
        tokio::time::sleep(Duration::from_secs(30)).await;
        clock.begin(Operation::Apply, NONE);
        assert_eq!(
            clock.deadline(NONE).at,
            apply,
            "the second batch runs on the apply's clock"
        );
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(clock.deadline(NONE).passed(Instant::now()));
        assert_eq!(
            clock.deadline(NONE).explain(),
            "deadline passed: applying the plan to this target has taken the 60 s one operation may take; the time went to slow answers, retries and waits the server asked for: try again when it answers promptly"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn requests_outside_an_operation_run_on_a_clock_of_their_own() {
        let clock = Clock::new(Duration::from_secs(900), MAX_DEADLINE);
        let start = Instant::now();
        let deadline = clock.deadline(NONE);
        assert_eq!(deadline.at - start, Duration::from_secs(900));
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(clock.deadline(NONE).at, deadline.at);
        assert!(deadline
            .explain()
            .contains("this target's requests has taken the 15 min"));
        assert!(Clock::new(Duration::MAX, Duration::MAX).deadline(NONE).at > start);
    }

    #[tokio::test(start_paused = true)]
    async fn waits_for_the_budget_move_the_deadline_out_up_to_the_maximum() {
        let clock = Clock::new(Duration::from_secs(900), Duration::from_secs(3 * 3600));
        let start = Instant::now();
        // Waits before the operation began are not its own.
        let before = Duration::from_secs(600);
        clock.begin(Operation::Read, before);
        assert_eq!(clock.deadline(before).at - start, Duration::from_secs(900));
        // 50 min paced since: 15 min of anything else still allowed.
        let deadline = clock.deadline(before + Duration::from_secs(50 * 60));
        assert_eq!(deadline.at - start, Duration::from_secs(65 * 60));
        assert_eq!(
            deadline.explain(),
            "deadline passed: reading this target has taken the 15 min one operation may take, not counting 50 min of waiting for the request budget; the time went to slow answers, retries and waits the server asked for: try again when it answers promptly"
        );
        // No further than the maximum, however long the waits.
        let deadline = clock.deadline(before + Duration::from_secs((2 * 60 + 50) * 60));
        assert_eq!(deadline.at - start, Duration::from_secs(3 * 3600));
        assert_eq!(
            deadline.explain(),
            "deadline passed: reading this target has taken 3 h, the most one operation may take even while it waits for the request budget (2 h 50 min of it went to those waits); do less in one run: split the work over several targets or runs"
        );
        // A maximum below the limit is the limit.
        let clock = Clock::new(Duration::from_secs(900), Duration::from_secs(60));
        assert_eq!(clock.deadline(NONE).at - Instant::now(), Duration::from_secs(900));
    }

    #[test]
    fn long_stretches_read_in_hours_and_minutes() {
        assert_eq!(about(Duration::from_secs(90)), "90 s");
        assert_eq!(about(Duration::from_secs(3_423)), "57 min");
        assert_eq!(about(Duration::from_secs(3 * 3600)), "3 h");
        assert_eq!(about(Duration::from_secs(2 * 3600 + 50 * 60 + 10)), "2 h 50 min");
    }
}
