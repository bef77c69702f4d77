//! When a request is sent again, and how long the client waits first. backon drives the
//! loop; this module says which failures are worth another attempt and how attempts are
//! spaced.
//!
//! Worth another attempt: 429, 502, 503, 504, a refused or dropped connection, a timeout,
//! an answer cut off. Not worth one: any other status, and, for a request that is not
//! safe to send twice, any failure after which the server may have applied it (the
//! caller reads back instead). Attempts are spaced by full-jitter exponential backoff, or
//! as long as the server asks; a server that asks for more than the policy allows, or a
//! wait that would pass the operation's deadline, ends the loop at once with an error
//! that says so.
//!
//! A request is not given up while its target keeps answering others: on a flaky
//! network, among thousands of requests one is bound to fail `max_attempts` times in a
//! row, and failing a whole plan (or a change) for it helps nobody. Its failures count
//! towards `max_attempts` only while no other request to the target succeeds, and it
//! stops at `PERSIST` times that many attempts, or at the deadline, whichever comes
//! first. This holds for writes not safe to repeat as well, since they are only ever
//! tried again after a failure that certainly did not apply them. A target that is down
//! answers nothing, so it still fails after `max_attempts`.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use backon::Retryable;
use reqwest::StatusCode;
use tokio::time::Instant;

use super::error::ErrorKind;
use super::random::jitter;
use super::request::Idempotent;

/// When and how long `send` waits before trying a request again.
///
/// The wait before retry `n` (1 for the first retry) is drawn uniformly from
/// `0..=min(max_delay, base_delay * 2^(n-1))` ("full jitter", so that many requests
/// refused together do not come back together). When the server says how long to wait,
/// the client waits at least that long (plus up to `base_delay`, again to spread a crowd),
/// unless it is more than `max_server_wait`: then the request fails at once with an error
/// that says what the server asked for, rather than hanging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 turns retries off.
    pub max_attempts: u32,
    /// The first backoff's upper bound, doubled at each retry.
    pub base_delay: Duration,
    /// The cap on a computed backoff.
    pub max_delay: Duration,
    /// The longest wait a server may ask for (`Retry-After`, rate-limit reset).
    pub max_server_wait: Duration,
    /// How long one attempt may take, from connecting to the end of the body.
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    /// 6 attempts, backoff from 100 ms doubling to at most 10 s, server waits up to 60 s,
    /// 60 s per attempt.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            max_server_wait: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The computed waits, one per retry the policy allows.
    #[cfg(test)]
    fn backoff(&self) -> FullJitter {
        self.backoff_for(1)
    }

    /// The computed waits for `persist` times the attempts the policy allows.
    fn backoff_for(&self, persist: u32) -> FullJitter {
        FullJitter {
            base: self.base_delay,
            max: self.max_delay,
            retry: 0,
            retries: self.max_attempts.max(1).saturating_mul(persist) - 1,
        }
    }

    /// The wait before a retry given the computed `backoff` and what the server asked,
    /// or `Err` with the server's wait when that is longer than this policy allows.
    fn wait(&self, backoff: Duration, server: Option<Duration>) -> Result<Duration, Duration> {
        match server {
            None => Ok(backoff),
            Some(asked) if asked > self.max_server_wait => Err(asked),
            // Never sooner than asked; the jitter spreads requests that were all told the
            // same second, and the backoff keeps growing when a server keeps saying 0.
            Some(asked) => Ok(asked.max(backoff) + jitter(self.base_delay)),
        }
    }
}

/// Full-jitter exponential backoff, as the iterator backon draws waits from.
struct FullJitter {
    base: Duration,
    max: Duration,
    /// Retries drawn so far.
    retry: u32,
    /// Retries allowed.
    retries: u32,
}

impl Iterator for FullJitter {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.retry >= self.retries {
            return None;
        }
        let doubled = self
            .base
            .checked_mul(2u32.saturating_pow(self.retry))
            .unwrap_or(self.max);
        self.retry += 1;
        Some(jitter(doubled.min(self.max)))
    }
}

/// How many times `max_attempts` a request may be tried while its target answers other
/// requests. With a quarter of requests failing at random, 24 failures in a
/// row come once in 10^14 requests.
pub(super) const PERSIST: u32 = 4;

/// How one attempt failed, before the loop decides what to do with it.
#[derive(Debug)]
pub(super) struct Failure {
    pub kind: ErrorKind,
    /// The server's status, when it answered with a failure.
    pub status: Option<StatusCode>,
    /// Already scrubbed of the token.
    pub detail: String,
    pub retryable: bool,
    /// The server may have applied the request.
    pub ambiguous: bool,
    /// How long the server asked us to wait, uncapped.
    pub server_wait: Option<Duration>,
}

impl Failure {
    /// A failure that another attempt cannot mend, found before anything was sent.
    pub(super) fn before_sending(kind: ErrorKind, detail: String) -> Failure {
        Failure {
            kind,
            status: None,
            detail,
            retryable: false,
            ambiguous: false,
            server_wait: None,
        }
    }
}

/// Why the loop ended on a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    /// Another attempt would not help: the failure is the server's answer, or ours.
    Final,
    /// Not safe to send twice, and this attempt may have been applied.
    MayHaveBeenApplied,
    /// Every attempt the policy allows was made.
    GaveUp,
    /// The server asks to wait this long, more than the policy allows.
    ServerWaitTooLong(Duration),
    /// Waiting this long for the next attempt would pass the deadline.
    Deadline(Duration),
}

/// The last failure, why the loop stopped there, and whether an earlier attempt may have
/// been applied.
#[derive(Debug)]
pub(super) struct Failed {
    pub last: Failure,
    pub stop: Stop,
    pub earlier_ambiguous: bool,
}

/// Runs `attempt` until it succeeds or the policy says stop. `on_retry` hears of every
/// failure that is tried again, with the wait before the next attempt. `answered` counts
/// the target's successful answers so far, to every request: while it grows, a request
/// keeps its attempts (see the module's header). `deadline` says when the operation must
/// be over, asked before each wait, since waits for the budget move it out.
pub(super) async fn retrying<T, F, Fut>(
    policy: &RetryPolicy,
    idempotent: Idempotent,
    deadline: &(dyn Fn() -> Instant + Sync),
    answered: &(dyn Fn() -> usize + Sync),
    mut on_retry: impl FnMut(&Failure, Duration) + Send,
    attempt: F,
) -> Result<T, Failed>
where
    F: FnMut() -> Fut + Send,
    Fut: Future<Output = Result<T, Failure>> + Send,
{
    let stopped: Mutex<Option<Stop>> = Mutex::new(None);
    let earlier_ambiguous = AtomicBool::new(false);
    let stop = |why: Stop| {
        *stopped.lock().unwrap_or_else(PoisonError::into_inner) = Some(why);
        None
    };
    let worth_another = |f: &Failure| f.retryable && !(f.ambiguous && idempotent == Idempotent::No);
    // Failures since the target last answered anything, and its answers then.
    let stalled = Mutex::new((0u32, answered()));
    let result = attempt
        .retry(policy.backoff_for(PERSIST))
        .when(worth_another)
        .adjust(|f: &Failure, backoff: Option<Duration>| {
            let Some(backoff) = backoff else {
                return stop(Stop::GaveUp);
            };
            {
                let mut stalled = stalled.lock().unwrap_or_else(PoisonError::into_inner);
                let now = answered();
                *stalled = if now > stalled.1 {
                    (1, now)
                } else {
                    (stalled.0 + 1, now)
                };
                if stalled.0 >= policy.max_attempts.max(1) {
                    return stop(Stop::GaveUp);
                }
            }
            let wait = match policy.wait(backoff, f.server_wait) {
                Ok(wait) => wait,
                Err(asked) => return stop(Stop::ServerWaitTooLong(asked)),
            };
            // Sleeping past the deadline only to fail then helps nobody. It is asked now:
            // waits for the budget since the last look have moved it out.
            match Instant::now().checked_add(wait) {
                Some(next) if next < deadline() => Some(wait),
                _ => stop(Stop::Deadline(wait)),
            }
        })
        .notify(|f: &Failure, wait: Duration| {
            earlier_ambiguous.fetch_or(f.ambiguous, Ordering::Relaxed);
            on_retry(f, wait);
        })
        .await;
    result.map_err(|last| {
        let recorded = *stopped.lock().unwrap_or_else(PoisonError::into_inner);
        let stop = recorded.unwrap_or(if last.retryable && last.ambiguous {
            Stop::MayHaveBeenApplied
        } else {
            Stop::Final
        });
        Failed {
            last,
            stop,
            earlier_ambiguous: earlier_ambiguous.load(Ordering::Relaxed),
        }
    })
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::default()
    }

    fn failing(status: u16, ambiguous: bool, server_wait: Option<u64>) -> Failure {
        Failure {
            kind: ErrorKind::Status,
            status: StatusCode::from_u16(status).ok(),
            detail: format!("HTTP {status}"),
            retryable: matches!(status, 429 | 502 | 503 | 504),
            ambiguous,
            server_wait: server_wait.map(Duration::from_secs),
        }
    }

    /// Plays `script` one result per attempt and records when each attempt was made.
    struct Fake {
        script: Mutex<VecDeque<Result<&'static str, Failure>>>,
        made: Mutex<Vec<Duration>>,
        start: Instant,
    }

    impl Fake {
        fn new(script: Vec<Result<&'static str, Failure>>) -> Fake {
            Fake {
                script: Mutex::new(script.into()),
                made: Mutex::new(Vec::new()),
                start: Instant::now(),
            }
        }

        async fn attempt(&self) -> Result<&'static str, Failure> {
            self.made.lock().unwrap().push(Instant::now() - self.start);
            self.script
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(|| Err(failing(500, false, None)))
        }

        fn made(&self) -> Vec<Duration> {
            self.made.lock().unwrap().clone()
        }
    }

    async fn run(fake: &Fake, policy: &RetryPolicy, idempotent: Idempotent) -> Result<&'static str, Failed> {
        run_beside(fake, policy, idempotent, &|| 0).await
    }

    /// `run`, on a target where `answered` counts the answers other requests got.
    async fn run_beside(
        fake: &Fake,
        policy: &RetryPolicy,
        idempotent: Idempotent,
        answered: &(dyn Fn() -> usize + Sync),
    ) -> Result<&'static str, Failed> {
        let deadline = Instant::now() + Duration::from_secs(15 * 60);
        retrying(policy, idempotent, &|| deadline, answered, |_, _| {}, || fake.attempt()).await
    }

    /// A script of `n` answers of 503.
    fn unavailable(n: usize) -> Vec<Result<&'static str, Failure>> {
        (0..n).map(|_| Err(failing(503, false, None))).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_server_is_asked_again_after_growing_jittered_waits() {
        let fake = Fake::new(vec![
            Err(failing(503, false, None)),
            Err(failing(502, true, None)),
            Ok("done"),
        ]);
        assert_eq!(run(&fake, &policy(), Idempotent::Yes).await.unwrap(), "done");
        let made = fake.made();
        assert_eq!(made.len(), 3);
        assert!(made[1] - made[0] <= Duration::from_millis(100), "{made:?}");
        assert!(made[2] - made[1] <= Duration::from_millis(200), "{made:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_server_wait_is_honoured_and_too_long_a_one_fails_at_once() {
        let fake = Fake::new(vec![Err(failing(429, false, Some(5))), Ok("done")]);
        run(&fake, &policy(), Idempotent::Yes).await.unwrap();
        let gap = fake.made()[1] - fake.made()[0];
        assert!(
            gap >= Duration::from_secs(5) && gap <= Duration::from_millis(5_100),
            "{gap:?}"
        );

        let fake = Fake::new(vec![Err(failing(429, false, Some(3600)))]);
        let failed = run(&fake, &policy(), Idempotent::Yes).await.unwrap_err();
        assert_eq!(failed.stop, Stop::ServerWaitTooLong(Duration::from_secs(3600)));
        assert_eq!(fake.made(), [Duration::ZERO]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_not_safe_to_repeat_is_not_sent_again_once_it_may_have_landed() {
        // The connection dropped after sending: stop, whatever the policy allows.
        let fake = Fake::new(vec![Err(failing(504, true, None)), Ok("twice")]);
        let failed = run(&fake, &policy(), Idempotent::No).await.unwrap_err();
        assert_eq!(failed.stop, Stop::MayHaveBeenApplied);
        assert_eq!(fake.made().len(), 1);
        // Refused before it was handled: nothing happened, so it is sent again.
        let fake = Fake::new(vec![Err(failing(503, false, None)), Ok("once")]);
        assert_eq!(run(&fake, &policy(), Idempotent::No).await.unwrap(), "once");
        // The same lost answer on a request safe to repeat is retried, and remembered.
        let fake = Fake::new(vec![Err(failing(504, true, None)), Err(failing(409, false, None))]);
        let failed = run(&fake, &policy(), Idempotent::Yes).await.unwrap_err();
        assert_eq!((failed.stop, failed.earlier_ambiguous), (Stop::Final, true));
        assert_eq!(failed.last.status, Some(StatusCode::CONFLICT));
    }

    #[tokio::test(start_paused = true)]
    async fn it_gives_up_after_the_last_attempt() {
        let fake = Fake::new(unavailable(10));
        let failed = run(&fake, &policy(), Idempotent::Yes).await.unwrap_err();
        assert_eq!(failed.stop, Stop::GaveUp);
        assert_eq!(fake.made().len(), 6);
        let once = RetryPolicy {
            max_attempts: 1,
            ..policy()
        };
        let fake = Fake::new(vec![Err(failing(503, false, None))]);
        assert_eq!(run(&fake, &once, Idempotent::Yes).await.unwrap_err().stop, Stop::GaveUp);
        assert_eq!(fake.made().len(), 1);
    }

    /// Others' answers keep a request going past `max_attempts`, up to `PERSIST` times as
    /// many, a write as much as a read (it is only retried after failures that did not
    /// apply it); while nothing else gets through, it stops at `max_attempts`.
    #[tokio::test(start_paused = true)]
    async fn a_read_keeps_going_while_its_target_answers_others() {
        let others = std::sync::atomic::AtomicUsize::new(0);
        let answered = || others.fetch_add(1, Ordering::Relaxed);
        let policy = policy();
        let mut script = unavailable(10);
        script.push(Ok("done"));
        let fake = Fake::new(script);
        let read = run_beside(&fake, &policy, Idempotent::Yes, &answered).await;
        assert_eq!(read.unwrap(), "done");
        assert_eq!(fake.made().len(), 11);

        for idempotent in [Idempotent::Yes, Idempotent::No] {
            let fake = Fake::new(unavailable(40));
            let failed = run_beside(&fake, &policy, idempotent, &answered).await.unwrap_err();
            assert_eq!(failed.stop, Stop::GaveUp);
            assert_eq!(fake.made().len(), 24, "PERSIST times max_attempts");
        }

        let fake = Fake::new(unavailable(40));
        assert_eq!(
            run(&fake, &policy, Idempotent::No).await.unwrap_err().stop,
            Stop::GaveUp
        );
        assert_eq!(fake.made().len(), 6, "nothing else answered");
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_that_would_pass_the_deadline_is_not_begun() {
        let patient = RetryPolicy {
            max_server_wait: Duration::from_secs(600),
            ..policy()
        };
        let fake = Fake::new((0..10).map(|_| Err(failing(503, false, Some(100)))).collect());
        let deadline = Instant::now() + Duration::from_secs(250);
        let failed = retrying(
            &patient,
            Idempotent::Yes,
            &|| deadline,
            &|| 0,
            |_, _| {},
            || fake.attempt(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(failed.stop, Stop::Deadline(w) if w >= Duration::from_secs(100)),
            "{failed:?}"
        );
        // Attempts at about 0, 100 and 200 s; the fourth would come after 250 s.
        assert_eq!(fake.made().len(), 3, "{:?}", fake.made());
        assert!(Instant::now() < deadline, "gave up without sleeping to the deadline");
    }

    #[test]
    fn waits_grow_with_full_jitter_and_honour_the_server_within_limits() {
        let policy = policy();
        for _ in 0..50 {
            let waits: Vec<Duration> = policy.backoff().collect();
            assert_eq!(waits.len(), 5, "one wait per retry");
            for (retry, wait) in waits.iter().enumerate() {
                let cap = Duration::from_millis(100 * 2u64.pow(retry as u32)).min(policy.max_delay);
                assert!(*wait <= cap, "retry {retry}: {wait:?}");
            }
        }
        // Not every draw is the same (the jitter is real).
        let draws: std::collections::BTreeSet<Duration> = (0..20).filter_map(|_| policy.backoff().nth(4)).collect();
        assert!(draws.len() > 1);
        let asked = Duration::from_secs(2);
        let wait = policy.wait(Duration::from_millis(50), Some(asked)).unwrap();
        assert!(wait >= asked && wait <= asked + policy.base_delay, "{wait:?}");
        assert_eq!(
            policy.wait(Duration::ZERO, Some(Duration::from_secs(61))),
            Err(Duration::from_secs(61))
        );
        let long = RetryPolicy {
            max_attempts: 200,
            ..policy.clone()
        };
        assert!(long.backoff().all(|w| w <= policy.max_delay));
    }
}
