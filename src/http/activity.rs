//! What each target and identity source being read is doing right now, for a live
//! display on a terminal: how many requests it has sent, since when it is being read, and
//! whether it is waiting (for the request budget, a server's rate limit, a retry, or a
//! quota a provider keeps itself).
//!
//! The HTTP client and the engine write here; a display polls [`snapshot`]. Providers
//! know nothing of a display: they send through the client, which counts. Nothing is
//! recorded unless a [`Watch`] is open, so a run without a display (stderr not a
//! terminal, `--quiet`, JSON logs) pays one atomic load per request and keeps no state.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::time::Instant;

/// What is being read: a target, or an identity source the manifests take people from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Source,
    Target,
}

/// What a request is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Its turn in the pace the vendor's published quota sets.
    Budget,
    /// The reset of a quota the server said is used up.
    RateLimit,
    /// Its next attempt, after a 429, a 503 or a dropped connection.
    Retry,
    /// The reset of a quota the provider keeps itself (Buildkite's complexity windows).
    Window,
}

impl Wait {
    /// How a display ends "waiting 41 s …".
    pub fn reason(self) -> &'static str {
        match self {
            Wait::Budget => "for the request budget",
            Wait::RateLimit => "for the server's rate limit to reset",
            Wait::Retry => "to ask again",
            Wait::Window => "for the quota window to reset",
        }
    }
}

/// One read as a display sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub name: String,
    pub role: Role,
    /// Requests sent since the read began, every attempt counted.
    pub requests: usize,
    pub began: Instant,
    /// When the read ended, successful or not.
    pub ended: Option<Instant>,
    /// The soonest a wait under way ends, and what it is for: the next thing to happen.
    pub waiting: Option<(Instant, Wait)>,
}

struct Entry {
    role: Role,
    requests: usize,
    began: Instant,
    ended: Option<Instant>,
    /// Waits begun and not over, each until when; expired ones are dropped as new come.
    waits: Vec<(Instant, Wait)>,
}

/// How many watches are open: recording is on while one is.
static WATCHERS: AtomicUsize = AtomicUsize::new(0);

/// The reads under way or done since the first watch opened, by name.
static BOARD: Mutex<BTreeMap<String, Entry>> = Mutex::new(BTreeMap::new());

fn board() -> MutexGuard<'static, BTreeMap<String, Entry>> {
    // Every update is whole under the lock: a panic elsewhere cannot leave it half-done.
    BOARD.lock().unwrap_or_else(PoisonError::into_inner)
}

fn watched() -> bool {
    WATCHERS.load(Ordering::Relaxed) > 0
}

/// Turns recording on for as long as it lives; the board is emptied when the last one
/// closes, so the next display starts afresh.
pub struct Watch(());

impl Watch {
    pub fn open() -> Watch {
        WATCHERS.fetch_add(1, Ordering::SeqCst);
        Watch(())
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if WATCHERS.fetch_sub(1, Ordering::SeqCst) == 1 {
            board().clear();
        }
    }
}

/// A read of `name` begins (again, if it was read before: the count starts over).
pub fn begin(name: &str, role: Role) {
    if !watched() {
        return;
    }
    board().insert(
        name.to_owned(),
        Entry {
            role,
            requests: 0,
            began: Instant::now(),
            ended: None,
            waits: Vec::new(),
        },
    );
}

/// The read of `name` is over.
pub fn end(name: &str) {
    if !watched() {
        return;
    }
    if let Some(entry) = board().get_mut(name) {
        entry.ended.get_or_insert_with(Instant::now);
        entry.waits.clear();
    }
}

/// A request to `name` went on the wire. Requests outside a read (an apply's) are not
/// counted here.
pub(crate) fn sent(name: &str) {
    if !watched() {
        return;
    }
    if let Some(entry) = board().get_mut(name).filter(|e| e.ended.is_none()) {
        entry.requests += 1;
    }
}

/// A request to `name` waits until `until` for `why`.
pub fn waiting(name: &str, until: Instant, why: Wait) {
    if !watched() {
        return;
    }
    let now = Instant::now();
    if until <= now {
        return;
    }
    if let Some(entry) = board().get_mut(name).filter(|e| e.ended.is_none()) {
        entry.waits.retain(|(end, _)| *end > now);
        entry.waits.push((until, why));
    }
}

/// Every read since recording began, by name, each with its soonest wait still under
/// way.
pub fn snapshot() -> Vec<Seen> {
    let now = Instant::now();
    let mut board = board();
    board
        .iter_mut()
        .map(|(name, entry)| {
            entry.waits.retain(|(end, _)| *end > now);
            Seen {
                name: name.clone(),
                role: entry.role,
                requests: entry.requests,
                began: entry.began,
                ended: entry.ended,
                waiting: entry.waits.iter().min_by_key(|(end, _)| *end).copied(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Other tests in this process send requests too, under their own names, and may
    /// watch at the same time: only this test's names are looked at, while it watches.
    fn seen(name: &str) -> Option<Seen> {
        snapshot().into_iter().find(|s| s.name == name)
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_is_counted_while_watched_and_its_soonest_wait_shown() {
        let name = "activity-test-read";
        let watch = Watch::open();
        let began = Instant::now();
        begin(name, Role::Target);
        sent(name);
        sent(name);
        sent("activity-test-never-begun");
        assert_eq!(seen("activity-test-never-begun"), None);
        waiting(name, began + Duration::from_secs(40), Wait::Budget);
        waiting(name, began + Duration::from_secs(5), Wait::Retry);
        waiting(name, began, Wait::Retry); // already over: not a wait
        let s = seen(name).unwrap();
        assert_eq!((s.role, s.requests, s.began, s.ended), (Role::Target, 2, began, None));
        assert_eq!(s.waiting, Some((began + Duration::from_secs(5), Wait::Retry)));

        // Once the retry's wait is over, the budget's is the next thing to happen.
        tokio::time::sleep(Duration::from_secs(6)).await;
        let s = seen(name).unwrap();
        assert_eq!(s.waiting, Some((began + Duration::from_secs(40), Wait::Budget)));

        end(name);
        sent(name);
        let s = seen(name).unwrap();
        assert_eq!((s.requests, s.ended, s.waiting), (2, Some(Instant::now()), None));

        // Read again: the count starts over.
        begin(name, Role::Source);
        let s = seen(name).unwrap();
        assert_eq!((s.role, s.requests, s.ended), (Role::Source, 0, None));
        drop(watch);
    }
}
