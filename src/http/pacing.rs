//! When the next request to a target may go: a budget that spaces requests to the
//! vendor's published quota (1,000 an hour is one every 3.6 s), so the quota is kept by
//! pacing rather than found by collecting 429s; and a hold on every request once a server
//! says its quota is used up, until the reset it names.
//!
//! Both only decide *when* a request goes: a request waiting here holds no place among
//! the requests in flight, and a wait that would pass the operation's deadline is not
//! begun. The pacer also keeps count of how long the budget has held requests back, for
//! the deadline, which does not count that time against an operation.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use tokio::time::Instant;

/// A pace: `requests` per `period`, of which at most `burst` may go back to back; the
/// rest are spaced `period / requests` apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    requests: u32,
    period: Duration,
    burst: u32,
}

impl Budget {
    /// `requests` (at least 1) per `period`, evenly spaced: no two requests closer than
    /// `period / requests` (rounded up to the nanosecond), so no window of `period`, open
    /// at one end, ever holds more than `requests`.
    pub fn per(requests: u32, period: Duration) -> Budget {
        Budget {
            requests: requests.max(1),
            period,
            burst: 1,
        }
    }

    /// Lets up to `burst` requests go at once after a quiet spell, then spaces the rest.
    /// A burst spends quota that another client of the same token may need: only as
    /// large as the vendor tolerates. It comes on top of the pace: a window of `period`
    /// may then hold `requests + burst - 1`. For a quota that holds in every window,
    /// see [`Budget::rolling`].
    pub fn with_burst(self, burst: u32) -> Budget {
        Budget {
            burst: burst.clamp(1, self.requests),
            ..self
        }
    }

    /// A vendor's rolling quota: at most `quota` requests in any window of `period`,
    /// however they fall, of which up to `burst` may go back to back. The pace is what the
    /// burst leaves, `quota - burst` per `period`: `n` requests span at least
    /// `(n - burst)` intervals, so the `quota + 1`-th after any request comes more than
    /// `period` after it, even counting a window closed at both ends. The burst is at
    /// most `quota - 1`, so that something is left to pace (a quota of 1 is paced at one
    /// a period).
    pub fn rolling(quota: u32, period: Duration, burst: u32) -> Budget {
        let burst = burst.clamp(1, quota.saturating_sub(1).max(1));
        Budget {
            requests: quota.saturating_sub(burst).max(1),
            period,
            burst,
        }
    }

    /// The spacing between requests once the burst is spent, rounded up to the
    /// nanosecond: rounded down, `requests + 1` of them could fit in a `period`.
    pub fn interval(&self) -> Duration {
        let spacing = self.period / self.requests;
        if spacing * self.requests < self.period {
            spacing + Duration::from_nanos(1)
        } else {
            spacing
        }
    }
}

/// When the next request may go, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Slot {
    pub at: Instant,
    /// How much longer the server's hold runs, when there is one.
    pub held: Option<Duration>,
}

/// The per-target schedule: the budget's theoretical arrival time (GCRA: a request may go
/// once it is no more than the burst's worth of intervals early) and the server's hold.
pub(super) struct Pacer {
    budget: Option<Budget>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// When the next request would go were requests perfectly spaced.
    due: Option<Instant>,
    /// No request before this: the server said its quota is used up until then.
    hold_until: Option<Instant>,
    /// The end of the latest wait the budget imposed, so that waits which overlap (the
    /// requests in flight waiting together) are counted once.
    paced_until: Option<Instant>,
    /// How long, in all, at least one request has been held back by the budget, waits
    /// under way counted to their end.
    paced: Duration,
}

impl Pacer {
    pub(super) fn new(budget: Option<Budget>) -> Self {
        Pacer {
            budget,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is two instants, each written whole: a panic elsewhere cannot leave
        // it half-updated.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the next request's place and says when it may go. Places are taken in the
    /// order requests ask, so concurrent requests are spaced too.
    pub(super) fn reserve(&self, now: Instant) -> Slot {
        let mut state = self.state();
        let held = state.hold_until.filter(|h| *h > now).map(|h| h - now);
        // After a hold the budget spaces requests from its end, not from now: otherwise
        // everything that waited would go at once.
        let earliest = now.max(state.hold_until.unwrap_or(now));
        let at = match self.budget {
            None => earliest,
            Some(budget) => {
                let interval = budget.interval();
                let tolerance = interval.saturating_mul(budget.burst.saturating_sub(1));
                let due = state.due.unwrap_or(earliest);
                let at = due.checked_sub(tolerance).map_or(earliest, |t| t.max(earliest));
                state.due = Some(due.max(at) + interval);
                // Only the budget's part: a server's hold is a wait the server asked for,
                // which the deadline does count.
                let from = state.paced_until.map_or(earliest, |p| p.max(earliest));
                if at > from {
                    state.paced += at - from;
                    state.paced_until = Some(at);
                }
                at
            }
        };
        Slot { at, held }
    }

    /// How long, in all, the budget has held requests back: time during which at least
    /// one request waited for its turn, counted once however many waited together, and
    /// counted to its end as soon as a wait is begun.
    pub(super) fn paced(&self) -> Duration {
        self.state().paced
    }

    /// Reads an answer's headers: when they say the quota is used up, nothing goes to
    /// this target until it resets.
    pub(super) fn observe(&self, headers: &HeaderMap, now: SystemTime, instant: Instant) {
        if let Some(wait) = super::rate_limit::exhausted_for(headers, now) {
            self.hold(instant + wait.min(Duration::from_secs(365 * 24 * 3600)));
        }
    }

    /// Counts a wait the provider made itself for its vendor's quota (Buildkite's
    /// complexity window), from `from` to `until`, as the budget's own: overlapping
    /// waits once.
    pub(super) fn excuse(&self, from: Instant, until: Instant) {
        let mut state = self.state();
        let from = state.paced_until.map_or(from, |p| p.max(from));
        if until > from {
            state.paced += until - from;
            state.paced_until = Some(until);
        }
    }

    /// No request before `until`; a later hold already in place stays.
    pub(super) fn hold(&self, until: Instant) {
        let mut state = self.state();
        state.hold_until = Some(state.hold_until.map_or(until, |h| h.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `n` requests one after another through the pacer, each as soon as it may,
    /// and returns when each went, from the start.
    async fn send_in_turn(pacer: &Pacer, n: usize) -> Vec<Duration> {
        let start = Instant::now();
        let mut went = Vec::new();
        for _ in 0..n {
            let slot = pacer.reserve(Instant::now());
            tokio::time::sleep_until(slot.at).await;
            went.push(Instant::now() - start);
        }
        went
    }

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_budget_spaces_requests_evenly() {
        let pacer = Pacer::new(Some(Budget::per(4, Duration::from_secs(1))));
        assert_eq!(send_in_turn(&pacer, 5).await, ms(&[0, 250, 500, 750, 1000]));
        // After a quiet spell the next one goes at once, and the spacing starts again.
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(send_in_turn(&pacer, 2).await, ms(&[0, 250]));
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_goes_at_once_then_the_spacing_applies() {
        let pacer = Pacer::new(Some(Budget::per(4, Duration::from_secs(1)).with_burst(3)));
        assert_eq!(send_in_turn(&pacer, 6).await, ms(&[0, 0, 0, 250, 500, 750]));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_requests_take_their_places_in_turn() {
        let pacer = Pacer::new(Some(Budget::per(10, Duration::from_secs(1))));
        let start = Instant::now();
        let went = futures_util::future::join_all((0..4).map(|_| async {
            tokio::time::sleep_until(pacer.reserve(Instant::now()).at).await;
            Instant::now() - start
        }))
        .await;
        assert_eq!(went, ms(&[0, 100, 200, 300]));
    }

    #[tokio::test(start_paused = true)]
    async fn an_hourly_quota_is_never_exceeded_in_any_hour() {
        // Bitbucket Cloud: 1,000 requests an hour.
        let budget = Budget::per(1000, Duration::from_secs(3600));
        assert_eq!(budget.interval(), Duration::from_millis(3600));
        let pacer = Pacer::new(Some(budget));
        let now = Instant::now();
        let slots: Vec<Instant> = (0..2001).map(|_| pacer.reserve(now).at).collect();
        for window in slots.windows(1001) {
            assert!(window[1000] - window[0] >= Duration::from_secs(3600));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_time_paced_counts_waits_together_once_and_leaves_out_holds() {
        let pacer = Pacer::new(Some(Budget::per(4, Duration::from_secs(1)).with_burst(2)));
        let start = Instant::now();
        // Two go at once, the next three wait 250, 500 and 750 ms, all at the same time.
        for _ in 0..5 {
            pacer.reserve(start);
        }
        assert_eq!(pacer.paced(), Duration::from_millis(750));
        // A request at 900 ms waits 100 ms (its place is at 1 s): only that is added.
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert_eq!(pacer.reserve(Instant::now()).at - start, Duration::from_secs(1));
        assert_eq!(pacer.paced(), Duration::from_millis(850));
        // The server's hold is not the budget's wait; what the budget adds after it is.
        let now = Instant::now();
        pacer.hold(now + Duration::from_secs(10));
        assert_eq!(pacer.reserve(now).at - now, Duration::from_secs(10));
        assert_eq!(pacer.reserve(now).at - now, Duration::from_secs(10));
        assert_eq!(pacer.reserve(now).at - now, Duration::from_millis(10_250));
        assert_eq!(pacer.paced(), Duration::from_millis(1_100));
    }

    #[test]
    fn an_interval_is_rounded_up_and_a_rolling_quota_paces_what_the_burst_leaves() {
        let hour = Duration::from_secs(3600);
        // 3,785,488,958.99 ns: rounded down, 952 would fit in an hour.
        assert_eq!(Budget::per(951, hour).interval(), Duration::from_nanos(3_785_488_959));
        assert_eq!(
            Budget::per(4, Duration::from_secs(1)).interval(),
            Duration::from_millis(250)
        );
        assert_eq!(Budget::rolling(1000, hour, 50), Budget::per(950, hour).with_burst(50));
        // A burst as large as the quota leaves one to pace.
        let most = Budget::rolling(3, hour, 10);
        assert_eq!((most.requests, most.burst), (1, 2));
    }

    /// Bitbucket Cloud's budget as configured, burst included, keeps its quota in every
    /// rolling hour: through a steady stream, a quiet spell that lets the burst build up
    /// again, and a second stream right after it. Any hour, closed at both ends, holds at
    /// most 1,000 requests: the 1,001st after any request is more than an hour later.
    #[tokio::test(start_paused = true)]
    async fn bitbucket_clouds_budget_keeps_its_quota_in_every_rolling_hour() {
        use crate::provider::bitbucket_cloud::{Tuning, HOURLY_QUOTA};
        let pacer = Pacer::new(Tuning::vendor().budget);
        let mut went = send_in_turn(&pacer, 1200).await;
        tokio::time::sleep(Duration::from_secs(20 * 60)).await;
        let resumed = *went.last().unwrap() + Duration::from_secs(20 * 60);
        went.extend(send_in_turn(&pacer, 1300).await.into_iter().map(|d| resumed + d));
        let quota = HOURLY_QUOTA as usize;
        for (i, window) in went.windows(quota + 1).enumerate() {
            let span = window[quota] - window[0];
            assert!(
                span > Duration::from_secs(3600),
                "requests {i} to {}: {span:?}",
                i + quota
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_budget_requests_go_at_once() {
        let pacer = Pacer::new(None);
        assert_eq!(send_in_turn(&pacer, 3).await, ms(&[0, 0, 0]));
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[tokio::test(start_paused = true)]
    async fn a_used_up_quota_holds_every_request_until_its_reset() {
        let pacer = Pacer::new(None);
        let start = Instant::now();
        // Plenty left: no hold.
        let left = headers(&[("x-ratelimit-remaining", "12"), ("x-ratelimit-reset", "30")]);
        pacer.observe(&left, SystemTime::now(), start);
        assert_eq!(pacer.reserve(start), Slot { at: start, held: None });
        // Nothing left, reset in 30 s: every request waits for it, and says why.
        let none = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "30")]);
        pacer.observe(&none, SystemTime::now(), start);
        let slot = pacer.reserve(start);
        assert_eq!(slot.at - start, Duration::from_secs(30));
        assert_eq!(slot.held, Some(Duration::from_secs(30)));
        assert_eq!(send_in_turn(&pacer, 2).await, ms(&[30_000, 30_000]));
        // Past the reset, nothing holds.
        let slot = pacer.reserve(Instant::now());
        assert_eq!((slot.at, slot.held), (Instant::now(), None));
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_hold_the_budget_spaces_from_its_end() {
        let pacer = Pacer::new(Some(Budget::per(2, Duration::from_secs(1))));
        let start = Instant::now();
        pacer.hold(start + Duration::from_secs(5));
        assert_eq!(send_in_turn(&pacer, 3).await, ms(&[5_000, 5_500, 6_000]));
    }

    /// A provider's own waits for its quota count as the budget's, overlapping ones
    /// once, so the deadline moves out by the time waited, not by the waits' sum.
    #[tokio::test(start_paused = true)]
    async fn a_providers_own_waits_count_once_however_they_overlap() {
        let pacer = Pacer::new(None);
        let t0 = Instant::now();
        let s = Duration::from_secs;
        pacer.excuse(t0, t0 + s(300));
        pacer.excuse(t0 + s(100), t0 + s(300)); // a second query waiting for the same reset
        pacer.excuse(t0 + s(600), t0 + s(900));
        assert_eq!(pacer.paced(), s(600));
    }
}
