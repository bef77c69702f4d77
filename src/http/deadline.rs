//! The overall deadline of one operation on a target: reading it, or applying a plan to
//! it. Retries, server waits and pacing each have their own bounds; this one bounds their
//! sum, so a target that keeps answering slowly, or keeps asking for waits, ends in an
//! error that names it instead of a run that never ends.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::error::human;

/// How long one operation may take unless the client is built with another limit:
/// generous, since a large organisation paced to an hourly quota takes minutes to read.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(15 * 60);

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
    current: Mutex<Option<(Option<Operation>, Instant)>>,
}

/// When the operation under way must be over, and what to call it in an error.
#[derive(Debug, Clone, Copy)]
pub(super) struct Deadline {
    pub at: Instant,
    operation: Option<Operation>,
    limit: Duration,
}

impl Clock {
    pub(super) fn new(limit: Duration) -> Self {
        Clock {
            limit,
            current: Mutex::new(None),
        }
    }

    fn current(&self) -> std::sync::MutexGuard<'_, Option<(Option<Operation>, Instant)>> {
        // One value, written whole: a panic elsewhere cannot leave it half-updated.
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts `operation`'s clock, unless it is an apply already under way.
    pub(super) fn begin(&self, operation: Operation) {
        let mut current = self.current();
        let running = matches!(*current, Some((Some(op), _)) if op == operation);
        if operation == Operation::Read || !running {
            *current = Some((Some(operation), Instant::now()));
        }
    }

    /// The deadline of the operation under way. Requests sent outside any operation run
    /// on a clock started by the first of them.
    pub(super) fn deadline(&self) -> Deadline {
        let (operation, started) = *self.current().get_or_insert_with(|| (None, Instant::now()));
        Deadline {
            // A limit too large to add is no limit.
            at: started
                .checked_add(self.limit)
                .unwrap_or_else(|| started + Duration::from_secs(100 * 365 * 24 * 3600)),
            operation,
            limit: self.limit,
        }
    }
}

impl Deadline {
    pub(super) fn passed(&self, now: Instant) -> bool {
        now >= self.at
    }

    /// The sentence for an error: what ran out of time, and the limit.
    pub(super) fn explain(&self) -> String {
        let what = match self.operation {
            Some(Operation::Read) => "reading this target",
            Some(Operation::Apply) => "applying the plan to this target",
            None => "this target's requests",
        };
        format!(
            "deadline passed: {what} has taken {} or more, the limit for one operation",
            human(self.limit)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_read_restarts_the_clock_and_the_batches_of_an_apply_share_one() {
        let clock = Clock::new(Duration::from_secs(60));
        clock.begin(Operation::Read);
        let first = clock.deadline().at;
        tokio::time::sleep(Duration::from_secs(10)).await;
        clock.begin(Operation::Read);
        assert_eq!(clock.deadline().at - first, Duration::from_secs(10));

        clock.begin(Operation::Apply);
        let apply = clock.deadline().at;
        tokio::time::sleep(Duration::from_secs(30)).await;
        clock.begin(Operation::Apply);
        assert_eq!(clock.deadline().at, apply, "the second batch runs on the apply's clock");
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(clock.deadline().passed(Instant::now()));
        assert_eq!(
            clock.deadline().explain(),
            "deadline passed: applying the plan to this target has taken 60 s or more, the limit for one operation"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn requests_outside_an_operation_run_on_a_clock_of_their_own() {
        let clock = Clock::new(Duration::from_secs(900));
        let start = Instant::now();
        let deadline = clock.deadline();
        assert_eq!(deadline.at - start, Duration::from_secs(900));
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(clock.deadline().at, deadline.at);
        assert!(deadline.explain().contains("this target's requests has taken 15 min"));
        assert!(Clock::new(Duration::MAX).deadline().at > start);
    }
}
