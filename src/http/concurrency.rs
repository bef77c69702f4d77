//! How many requests to one target may be on the wire at once: a limit that rises while
//! the server answers well and falls when it does not (additive increase, multiplicative
//! decrease, as TCP does), between 1 and a cap (the platform's, and `--parallelism`).
//!
//! - Each good answer adds `1 / limit`, so the limit grows by about one per round trip.
//! - A 429, a 503 or 502 or 504, a dropped connection or a timeout halves it, at most
//!   once per round trip, so one burst of failures counts once.
//! - Recent latency growing past twice the usual (plus a margin for a fast loopback
//!   server whose times are all noise) is a server queueing requests: it halves the limit
//!   too. "Recent" and "usual" are a fast and a slow average of the same answers, so a
//!   steady mix of cheap calls and large pages compares like with like, where the best
//!   time ever seen would make every large page look like queueing.
//!
//! A request waiting for a place holds nothing; the limit, the most in flight and the
//! highest limit reached are kept for `--verbose`.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Where the limit starts: what a well-behaved client sends before it knows the server.
pub const START: usize = 4;

/// Latency below this over the usual is noise, not queueing.
const LATENCY_MARGIN: Duration = Duration::from_millis(25);

/// The shortest spell between two decreases when round trips are faster.
const MIN_WINDOW: Duration = Duration::from_millis(50);

/// How an answer bears on the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Signal {
    /// Answered (any status the server meant), after this long.
    Answered(Duration),
    /// Rate limited, unavailable, or the connection failed: too much at once.
    Overloaded,
    /// Says nothing of load: nothing was sent, or our own error.
    Neutral,
}

/// The adaptive limit of one target.
pub(super) struct Limiter {
    cap: usize,
    state: Mutex<State>,
    freed: Notify,
}

#[derive(Debug)]
struct State {
    limit: f64,
    in_flight: usize,
    /// The most requests in flight at once so far.
    peak: usize,
    /// Round trips, averaged slowly (over about 64 answers) and quickly (about 8).
    usual: Option<Duration>,
    recent: Option<Duration>,
    last_decrease: Option<Instant>,
}

/// A place among the requests in flight, given back when dropped; `report` says how the
/// request went.
pub(super) struct Place<'a> {
    limiter: &'a Limiter,
    signal: Signal,
}

/// What the limiter reached, for `--verbose`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reached {
    /// The most requests that were in flight at once.
    pub peak: usize,
    /// The limit now.
    pub limit: usize,
    pub cap: usize,
}

impl Limiter {
    /// A limit starting at `START` (or `cap`, if lower) that never passes `cap`.
    pub(super) fn new(cap: usize) -> Limiter {
        let cap = cap.max(1);
        Limiter {
            cap,
            state: Mutex::new(State {
                limit: START.min(cap) as f64,
                in_flight: 0,
                peak: 0,
                usual: None,
                recent: None,
                last_decrease: None,
            }),
            freed: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Plain numbers, each update whole: a panic elsewhere cannot leave them torn.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a place under the limit.
    pub(super) async fn acquire(&self) -> Place<'_> {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Registered before looking, so a place freed in between wakes this one.
            freed.as_mut().enable();
            {
                let mut state = self.state();
                if state.in_flight < state.limit.floor() as usize {
                    state.in_flight += 1;
                    state.peak = state.peak.max(state.in_flight);
                    return Place {
                        limiter: self,
                        signal: Signal::Neutral,
                    };
                }
            }
            freed.await;
        }
    }

    pub(super) fn reached(&self) -> Reached {
        let state = self.state();
        Reached {
            peak: state.peak,
            limit: state.limit.floor() as usize,
            cap: self.cap,
        }
    }

    fn release(&self, signal: Signal) {
        {
            let mut state = self.state();
            state.in_flight = state.in_flight.saturating_sub(1);
            let now = Instant::now();
            match signal {
                Signal::Neutral => {}
                Signal::Overloaded => state.decrease(now),
                Signal::Answered(took) => {
                    let usual = state.usual.map_or(took, |u| (u * 63 + took) / 64);
                    let recent = state.recent.map_or(took, |r| (r * 7 + took) / 8);
                    state.usual = Some(usual);
                    state.recent = Some(recent);
                    if recent > usual * 2 + LATENCY_MARGIN {
                        state.decrease(now);
                    } else {
                        let limit = state.limit;
                        state.limit = (limit + 1.0 / limit).min(self.cap as f64);
                    }
                }
            }
        }
        self.freed.notify_waiters();
    }
}

impl State {
    /// Halves the limit, unless it was halved within the last round trip: the answers to
    /// requests sent before that decrease say nothing of the new limit.
    fn decrease(&mut self, now: Instant) {
        let window = self.recent.unwrap_or(MIN_WINDOW).max(MIN_WINDOW);
        if self.last_decrease.is_some_and(|at| now.duration_since(at) < window) {
            return;
        }
        self.limit = (self.limit / 2.0).max(1.0);
        self.last_decrease = Some(now);
    }
}

impl Place<'_> {
    /// How the request went; without a report the place says nothing of load.
    pub(super) fn report(&mut self, signal: Signal) {
        self.signal = signal;
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.limiter.release(self.signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(limiter: &Limiter, n: usize, took: Duration) {
        for _ in 0..n {
            let mut state = limiter.state();
            state.in_flight += 1;
            drop(state);
            limiter.release(Signal::Answered(took));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_limit_rises_with_good_answers_up_to_the_cap() {
        let limiter = Limiter::new(32);
        assert_eq!(limiter.reached().limit, START);
        answered(&limiter, 100, Duration::from_millis(50));
        let grown = limiter.reached().limit;
        assert!(
            grown > 10 && grown < 32,
            "about +1 per limit's worth of answers: {grown}"
        );
        answered(&limiter, 2_000, Duration::from_millis(50));
        assert_eq!(limiter.reached().limit, 32);
        assert_eq!(Limiter::new(2).reached().limit, 2, "a cap below the start");
    }

    #[tokio::test(start_paused = true)]
    async fn overload_halves_it_once_per_round_trip_and_never_below_one() {
        let limiter = Limiter::new(64);
        answered(&limiter, 5_000, Duration::from_millis(50));
        assert_eq!(limiter.reached().limit, 64);
        for _ in 0..5 {
            limiter.state().in_flight += 1;
            limiter.release(Signal::Overloaded);
        }
        assert_eq!(limiter.reached().limit, 32, "one burst of failures counts once");
        for _ in 0..10 {
            tokio::time::advance(Duration::from_millis(60)).await;
            limiter.state().in_flight += 1;
            limiter.release(Signal::Overloaded);
        }
        assert_eq!(limiter.reached().limit, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn growing_latency_lowers_the_limit() {
        let limiter = Limiter::new(64);
        answered(&limiter, 500, Duration::from_millis(50));
        let before = limiter.reached().limit;
        answered(&limiter, 20, Duration::from_millis(400));
        assert!(limiter.reached().limit < before, "{:?}", limiter.reached());
    }

    /// Cheap calls and large pages, mixed: the large pages are not taken for queueing,
    /// and the limit still climbs.
    #[tokio::test(start_paused = true)]
    async fn a_steady_mix_of_fast_and_slow_answers_lets_the_limit_rise() {
        let limiter = Limiter::new(32);
        for _ in 0..500 {
            answered(&limiter, 1, Duration::from_millis(2));
            answered(&limiter, 1, Duration::from_millis(150));
            tokio::time::advance(Duration::from_millis(100)).await;
        }
        assert_eq!(limiter.reached().limit, 32, "{:?}", limiter.reached());
    }

    #[tokio::test(start_paused = true)]
    async fn no_more_than_the_limit_are_in_flight_and_a_freed_place_wakes_a_waiter() {
        let limiter = std::sync::Arc::new(Limiter::new(START));
        let mut places = Vec::new();
        for _ in 0..START {
            places.push(limiter.acquire().await);
        }
        let waiting = {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                let _place = limiter.acquire().await;
            })
        };
        tokio::time::advance(Duration::from_millis(10)).await;
        assert!(!waiting.is_finished());
        drop(places.pop());
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("woken")
            .expect("ran");
        assert_eq!(limiter.reached().peak, START);
    }
}
